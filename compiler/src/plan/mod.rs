//! Memory planning: one static arena for every activation.
//!
//! The planner sees only buffer sizes and lifetimes (steps of the schedule),
//! so algorithms can be swapped without touching the rest of the compiler.

mod greedy;

use serde::Serialize;

use crate::ir::Graph;

/// A buffer to place: live from step `first` to step `last`, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    pub size: usize,
    pub first: usize,
    pub last: usize,
}

impl Buffer {
    pub fn overlaps_in_time(&self, o: &Buffer) -> bool {
        self.first <= o.last && o.first <= self.last
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Offset of each IR tensor's storage in the arena (views share their base's).
    pub offsets: Vec<Option<usize>>,
    pub arena_bytes: usize,
    /// The largest sum of buffer sizes live at one step.
    pub lower_bound_bytes: usize,
}

/// Alignment of every buffer in the arena (word access for the kernels).
pub const ALIGN: usize = 4;

pub fn align(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// Lifetimes of the graph's base tensors, in schedule steps. Inputs are live
/// from step 0, outputs until the end.
pub fn lifetimes(g: &Graph) -> Vec<Option<Buffer>> {
    let steps = g.ops.len();
    let mut life: Vec<Option<(usize, usize)>> = vec![None; g.tensors.len()];
    let mut touch = |t: usize, step: usize| {
        let e = life[t].get_or_insert((step, step));
        e.0 = e.0.min(step);
        e.1 = e.1.max(step);
    };
    for &i in &g.inputs {
        touch(g.base(i), 0);
    }
    for (step, op) in g.ops.iter().enumerate() {
        touch(g.base(op.output), step);
        for &i in &op.inputs {
            touch(g.base(i), step);
        }
    }
    for &o in &g.outputs {
        touch(g.base(o), steps.saturating_sub(1));
    }
    life.iter()
        .enumerate()
        .map(|(t, l)| l.map(|(first, last)| Buffer { size: align(g.tensors[t].bytes()), first, last }))
        .collect()
}

/// The peak of live bytes over the schedule.
pub fn lower_bound(buffers: &[Buffer]) -> usize {
    let steps = buffers.iter().map(|b| b.last + 1).max().unwrap_or(0);
    (0..steps)
        .map(|s| buffers.iter().filter(|b| b.first <= s && s <= b.last).map(|b| b.size).sum())
        .max()
        .unwrap_or(0)
}

pub fn plan(g: &Graph) -> Plan {
    let life = lifetimes(g);
    let ids: Vec<usize> = (0..life.len()).filter(|&t| life[t].is_some()).collect();
    let buffers: Vec<Buffer> = ids.iter().map(|&t| life[t].unwrap()).collect();
    let placed = greedy::by_size(&buffers);
    let mut offsets = vec![None; g.tensors.len()];
    for (k, &t) in ids.iter().enumerate() {
        offsets[t] = Some(placed[k]);
    }
    for t in 0..g.tensors.len() {
        if g.tensors[t].alias_of.is_some() {
            offsets[t] = offsets[g.base(t)];
        }
    }
    let arena_bytes = buffers.iter().zip(&placed).map(|(b, o)| o + b.size).max().unwrap_or(0);
    Plan { offsets, arena_bytes, lower_bound_bytes: lower_bound(&buffers) }
}
