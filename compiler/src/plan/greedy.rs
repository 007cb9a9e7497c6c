//! Greedy-by-size placement (as in TFLite Micro's GreedyMemoryPlanner):
//! largest buffers first, each at the lowest offset that does not collide
//! with an already placed buffer live at the same time.

use super::Buffer;

pub fn by_size(buffers: &[Buffer]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..buffers.len()).collect();
    // Deterministic: size descending, then earlier first use, then index.
    order.sort_by_key(|&i| (std::cmp::Reverse(buffers[i].size), buffers[i].first, i));
    let mut offsets = vec![0usize; buffers.len()];
    let mut placed: Vec<usize> = Vec::new();
    for &i in &order {
        let b = &buffers[i];
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&j| buffers[j].overlaps_in_time(b))
            .map(|&j| (offsets[j], offsets[j] + buffers[j].size))
            .collect();
        busy.sort();
        let mut at = 0;
        for (start, end) in busy {
            if at + b.size <= start {
                break;
            }
            at = at.max(end);
        }
        offsets[i] = at;
        placed.push(i);
    }
    offsets
}
