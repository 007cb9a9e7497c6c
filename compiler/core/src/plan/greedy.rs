//! Greedy-by-size placement (as in TFLite Micro's GreedyMemoryPlanner):
//! largest buffers first, each at the lowest offset that fits.

use super::place::first_fit;
use super::problem::Problem;

pub fn by_size(p: &Problem) -> Vec<usize> {
    let b = &p.buffers;
    let mut order: Vec<usize> = (0..b.len()).collect();
    // Deterministic: size descending, then earlier first use, then index.
    order.sort_by_key(|&i| (std::cmp::Reverse(b[i].size), b[i].first, i));
    first_fit(p, &order)
}
