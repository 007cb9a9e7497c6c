//! Search over placement orders, keeping the best first-fit result.
//!
//! Ordering buffers by their offsets in an optimal placement and placing them
//! first-fit reproduces an arena no larger (each lands at or below its optimal
//! offset; a lag tie stays usable since the output comes first), so trying
//! every order is exact for problems without exact ties; small problems get
//! that. Larger ones get a deterministic hill climb from several orders.

use super::place::first_fit;
use super::problem::Problem;

/// Buffers up to which every order is tried (6! = 720 first-fit runs).
const EXACT_BUFFERS: usize = 6;
/// Buffer pairs first_fit may visit over one climb (about a second).
const CLIMB_WORK: usize = 200_000_000;
const CLIMB_STEPS: usize = 300;

pub fn best_order(p: &Problem) -> Vec<usize> {
    if p.buffers.len() <= EXACT_BUFFERS {
        exact(p)
    } else {
        climb(p)
    }
}

fn exact(p: &Problem) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.buffers.len()).collect();
    let mut best = (p.extent(&first_fit(p, &order)), order.clone());
    // Heap's algorithm: every permutation, in a fixed sequence.
    let n = order.len();
    let mut c = vec![0usize; n];
    let mut i = 0;
    while i < n {
        if c[i] < i {
            order.swap(if i % 2 == 0 { 0 } else { c[i] }, i);
            let e = p.extent(&first_fit(p, &order));
            if e < best.0 {
                best = (e, order.clone());
            }
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    first_fit(p, &best.1)
}

/// Hill climb (move one buffer elsewhere in the order, keep it unless the
/// arena grows) from several orders: by size, by first use, by last use
/// backwards (outputs before the inputs they may overlap), by area.
fn climb(p: &Problem) -> Vec<usize> {
    let b = &p.buffers;
    let n = b.len();
    let keys: [&dyn Fn(usize) -> (i64, i64); 4] = [
        &|i| (-(b[i].size as i64), b[i].first as i64),
        &|i| (b[i].first as i64, -(b[i].size as i64)),
        &|i| (-(b[i].last as i64), -(b[i].first as i64)),
        &|i| (-((b[i].size * (b[i].last - b[i].first + 1)) as i64), b[i].first as i64),
    ];
    let eval = |o: &[usize]| p.extent(&first_fit(p, o));
    let mut best: Option<(usize, Vec<usize>)> = None;
    let mut rng = SplitMix(0x6879_6272_6964_63);
    for key in keys {
        let mut start: Vec<usize> = (0..n).collect();
        start.sort_by_key(|&i| (key(i), i));
        let mut cur = (eval(&start), start);
        // first_fit costs up to n^2: bound the climb's work on large graphs.
        let steps = CLIMB_STEPS.min(CLIMB_WORK / (n * n).max(1)).max(8);
        for _ in 0..steps {
            let (from, to) = (rng.below(n), rng.below(n));
            let mut next = cur.1.clone();
            let moved = next.remove(from);
            next.insert(to, moved);
            let e = eval(&next);
            if e <= cur.0 {
                cur = (e, next);
            }
        }
        if best.as_ref().map_or(true, |b| cur.0 < b.0) {
            best = Some(cur);
        }
    }
    first_fit(p, &best.expect("at least one start").1)
}

/// A small deterministic PRNG (splitmix64).
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
