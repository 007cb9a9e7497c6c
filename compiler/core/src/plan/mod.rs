//! Memory planning: one static arena for every activation and scratch buffer.
//!
//! Placement algorithms see only a `Problem` (buffer sizes, lifetimes and
//! ties that allow in-place execution), so they can be swapped without
//! touching the rest of the compiler. This module turns a scheduled graph
//! into problems, tries the in-place modes the ops allow, and keeps the
//! smallest arena (ties broken towards plain kernels, deterministically).

mod greedy;
mod place;
pub mod problem;
pub mod schedule;
pub mod search;

use serde::Serialize;

use crate::ops::{Graph, Mode};
pub use crate::ops::inplace::{self, align, ALIGN};
pub use problem::{Buffer, Problem, Tie};

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Offset of each IR tensor's storage in the arena (views share their base's).
    pub offsets: Vec<Option<usize>>,
    /// Per op: how it shares memory with its input.
    pub modes: Vec<Mode>,
    /// Per op: the offset of its ring scratch when it runs in place with one.
    pub ring_scratch: Vec<Option<usize>>,
    /// Per op: the offset of the scratch its kernel asked for (`plan_with_kernels`).
    pub op_scratch: Vec<Option<usize>>,
    /// Per op: the DSP kernel variant it runs (`codegen::dsp::choose`),
    /// empty for the fastest everywhere.
    pub kernel_levels: Vec<usize>,
    pub arena_bytes: usize,
    /// The largest sum of bytes live at one step, counting in-place reuse.
    pub lower_bound_bytes: usize,
    /// The same without in-place reuse (every output in its own buffer).
    pub plain_lower_bound_bytes: usize,
    /// Every buffer as placed, for drawing the plan (report.html).
    pub blocks: Vec<Block>,
}

/// What a placed buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    /// The storage of IR tensor `of`.
    Tensor,
    /// The ring buffer of op `of` running in place.
    Ring,
    /// The kernel scratch of op `of`.
    Scratch,
}

/// A buffer as placed: `bytes` at `offset`, live from step `first` to `last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Block {
    pub kind: BlockKind,
    pub of: usize,
    pub offset: usize,
    pub bytes: usize,
    pub first: usize,
    pub last: usize,
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

/// What an op's kernel, when not the portable one (the DSP kernels), asks
/// of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KernelNeeds {
    /// Bytes of scratch at the op's step, placed in the arena.
    pub scratch: usize,
    /// It may write its output exactly over its input (a ring): it reads
    /// every input byte a later output needs before overwriting it, so the
    /// plan gives it no ring buffer. Otherwise it honours a lag only.
    pub exact_in_place: bool,
}

/// A problem for the graph with one mode per op, and where each tensor
/// (`tensor_buffer`), each ring (`ring_buffer`) and each op's scratch
/// (`scratch_buffer`) went. Only inputs that die at the op (and are not graph
/// outputs) get ties. An op's scratch lives at its step only, so it never
/// overlaps the op's operands but may reuse any memory dead by then.
pub struct Built {
    pub problem: Problem,
    pub tensor_buffer: Vec<Option<usize>>,
    pub ring_buffer: Vec<Option<usize>>,
    pub scratch_buffer: Vec<Option<usize>>,
}

pub fn build(g: &Graph, modes: &[Mode], kernels: &[Option<KernelNeeds>]) -> Built {
    let own = |step: usize| kernels.get(step).copied().flatten();
    let life = lifetimes(g);
    let mut problem = Problem::default();
    let mut tensor_buffer = vec![None; g.tensors.len()];
    for (t, l) in life.iter().enumerate() {
        if let Some(b) = l {
            tensor_buffer[t] = Some(problem.buffers.len());
            problem.buffers.push(*b);
        }
    }
    let outputs: Vec<usize> = g.outputs.iter().map(|&o| g.base(o)).collect();
    let dies_at = |t: usize, step: usize| life[t].is_some_and(|b| b.last == step) && !outputs.contains(&t);
    let mut ring_buffer = vec![None; g.ops.len()];
    for (step, (op, mode)) in g.ops.iter().zip(modes).enumerate() {
        let out = g.base(op.output);
        let buffer = tensor_buffer[out].unwrap();
        let mut inputs: Vec<usize> = op.inputs.iter().map(|&t| g.base(t)).filter(|&t| t != out && dies_at(t, step)).collect();
        inputs.dedup();
        match *mode {
            Mode::Off => {}
            Mode::Lag { lag } => {
                for t in inputs {
                    problem.ties.push(Tie { anchor: tensor_buffer[t].unwrap(), buffer, lag, exact: false });
                }
            }
            Mode::Ring { ring } => {
                let input = g.base(op.inputs[0]);
                if inputs.contains(&input) {
                    if own(step).is_none() {
                        ring_buffer[step] = Some(problem.buffers.len());
                        problem.buffers.push(Buffer { size: ring, first: step, last: step });
                    }
                    problem.ties.push(Tie { anchor: tensor_buffer[input].unwrap(), buffer, lag: 0, exact: true });
                }
            }
        }
    }
    let mut scratch_buffer = vec![None; g.ops.len()];
    for step in 0..g.ops.len() {
        if let Some(k) = own(step).filter(|k| k.scratch > 0) {
            scratch_buffer[step] = Some(problem.buffers.len());
            problem.buffers.push(Buffer { size: align(k.scratch), first: step, last: step });
        }
    }
    Built { problem, tensor_buffer, ring_buffer, scratch_buffer }
}

/// Offsets for a problem: the better of greedy-by-size and the search
/// (greedy on a tie), checked before use.
pub fn place(p: &Problem) -> Vec<usize> {
    let greedy = greedy::by_size(p);
    let searched = search::best_order(p);
    let best = if p.extent(&searched) < p.extent(&greedy) { searched } else { greedy };
    if let Err(e) = p.check(&best) {
        panic!("memory planner produced an invalid placement: {e}");
    }
    best
}

/// The arena of the graph as scheduled. Ties only allow overlaps, so the
/// choice left is ring kernels or plain ones for the convolutions that
/// allow both: start from rings everywhere or nowhere, whichever is
/// smaller, then flip op by op, keeping a flip that shrinks the arena or
/// keeps it and returns to a plain kernel.
pub fn plan(g: &Graph) -> Plan {
    plan_with_kernels(g, &[])
}

/// The same for ops some of which run other kernels: `kernels[step]` says
/// what the kernel of the op at `step` needs (the DSP ones), `None` (or
/// missing) for the portable kernels, which allow every mode.
/// Graphs with more ops get a quicker plan (no per-op in-place search, no
/// reordering): each trial places the whole arena.
pub const LARGE_GRAPH_OPS: usize = 400;

pub fn plan_with_kernels(g: &Graph, kernels: &[Option<KernelNeeds>]) -> Plan {
    let scratch = kernels;
    let options: Vec<Vec<Mode>> = g
        .ops
        .iter()
        .enumerate()
        .map(|(step, op)| {
            let mut m = op.kind.in_place(g, op);
            if kernels.get(step).copied().flatten().is_some_and(|k| !k.exact_in_place) {
                m.retain(|m| !matches!(m, Mode::Ring { .. }));
            }
            m
        })
        .collect();
    let eager: Vec<Mode> = options.iter().map(|o| o[0]).collect();
    let plain: Vec<Mode> = options.iter().map(|o| *o.last().unwrap()).collect();
    let (mut modes, mut best) = (plain.clone(), arena_of(g, &plain, scratch));
    let a = arena_of(g, &eager, scratch);
    if a < best {
        (modes, best) = (eager, a);
    }
    // One full placement per op and mode: on large graphs (hundreds of ops)
    // keep the better of all-plain and all-eager.
    let steps = if g.ops.len() > LARGE_GRAPH_OPS { 0 } else { g.ops.len() };
    for step in 0..steps {
        for (k, &m) in options[step].iter().enumerate() {
            if m == modes[step] {
                continue;
            }
            let mut trial = modes.clone();
            trial[step] = m;
            let a = arena_of(g, &trial, scratch);
            let plainer = k + 1 == options[step].len();
            if a < best || (a == best && plainer) {
                (modes, best) = (trial, a);
            }
        }
    }
    finish(g, &modes, scratch)
}

fn arena_of(g: &Graph, modes: &[Mode], scratch: &[Option<KernelNeeds>]) -> usize {
    let b = build(g, modes, scratch);
    b.problem.extent(&place(&b.problem))
}

fn finish(g: &Graph, modes: &[Mode], scratch: &[Option<KernelNeeds>]) -> Plan {
    let b = build(g, modes, scratch);
    let placed = place(&b.problem);
    let offsets: Vec<Option<usize>> = (0..g.tensors.len()).map(|t| b.tensor_buffer[g.base(t)].map(|k| placed[k])).collect();
    // What each op does in the end: a ring only where output == input, a
    // lag wherever the output overlaps an input.
    let mut effective = vec![Mode::Off; g.ops.len()];
    let mut ring_scratch = vec![None; g.ops.len()];
    for (step, op) in g.ops.iter().enumerate() {
        let out = offsets[op.output].unwrap();
        let out_end = out + g.tensors[op.output].bytes();
        let overlaps = op.inputs.iter().any(|&t| {
            let o = offsets[t].unwrap();
            o < out_end && out < o + g.tensors[t].bytes()
        });
        match modes[step] {
            Mode::Ring { .. } if offsets[op.inputs[0]] == Some(out) => {
                ring_scratch[step] = b.ring_buffer[step].map(|k| placed[k]);
                effective[step] = modes[step];
            }
            Mode::Ring { .. } | Mode::Lag { .. } if overlaps => {
                effective[step] = op.kind.in_place(g, op).into_iter().find(|m| matches!(m, Mode::Lag { .. })).unwrap();
            }
            _ => {}
        }
    }
    let op_scratch = b.scratch_buffer.iter().map(|k| k.map(|k| placed[k])).collect();
    let plain = build(g, &vec![Mode::Off; g.ops.len()], scratch).problem;
    let block = |kind, of, k: usize| {
        let b = b.problem.buffers[k];
        Block { kind, of, offset: placed[k], bytes: b.size, first: b.first, last: b.last }
    };
    let kinds = [(BlockKind::Tensor, &b.tensor_buffer), (BlockKind::Ring, &b.ring_buffer), (BlockKind::Scratch, &b.scratch_buffer)];
    let blocks = kinds.iter().flat_map(|&(kind, map)| map.iter().enumerate().filter_map(move |(of, k)| k.map(|k| block(kind, of, k)))).collect();
    Plan {
        offsets,
        modes: effective,
        ring_scratch,
        op_scratch,
        kernel_levels: Vec::new(),
        arena_bytes: b.problem.extent(&placed),
        lower_bound_bytes: b.problem.lower_bound(),
        plain_lower_bound_bytes: plain.lower_bound(),
        blocks,
    }
}

#[cfg(test)]
mod tests;
