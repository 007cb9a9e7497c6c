//! First-fit placement in a given order: each buffer goes to the lowest
//! offset where it collides with no buffer already placed and live at the
//! same time, ties allowing their overlaps. Every placement algorithm here
//! is an order.

use super::problem::Problem;

pub fn first_fit(p: &Problem, order: &[usize]) -> Vec<usize> {
    let mut offsets = vec![0usize; p.buffers.len()];
    let mut placed: Vec<usize> = Vec::with_capacity(p.buffers.len());
    let mut forbidden: Vec<(i64, i64)> = Vec::new();
    for &i in order {
        let b = &p.buffers[i];
        let size = b.size as i64;
        // Offsets in the open interval (lo, hi) collide.
        forbidden.clear();
        for &j in &placed {
            let o = &p.buffers[j];
            if !o.overlaps_in_time(b) {
                continue;
            }
            let (start, end) = (offsets[j] as i64, (offsets[j] + o.size) as i64);
            match p.tie(i, j) {
                None => forbidden.push((start - size, end)),
                Some(t) if t.exact => forbidden.extend([(start - size, start), (start, end)]),
                // i is the output, at least lag below its placed input j.
                Some(t) if t.buffer == i => forbidden.push(((start - size).max(start - t.lag as i64), end)),
                // i is the input, at least lag above its placed output j.
                Some(t) => forbidden.push((start - size, end.min(start + t.lag as i64))),
            }
        }
        forbidden.sort_unstable();
        let mut at: i64 = 0;
        for &(lo, hi) in &forbidden {
            if at <= lo {
                break;
            }
            at = at.max(hi);
        }
        offsets[i] = at as usize;
        placed.push(i);
    }
    offsets
}
