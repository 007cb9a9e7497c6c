//! The int8 reference interpreter: THE semantics of hybridc. Each op runs
//! its kernel from the kernels crate (TFLite Micro's semantics; the same
//! code every generated Rust crate runs) on an arena of its own that holds
//! its inputs and output. Generated C must equal this bit for bit.
//! Tensor values are raw little-endian bytes, as in the device's arena.

use anyhow::{bail, Result};

use crate::ir::Graph;
use crate::ops::Offsets;

/// Runs the graph on one batch-1 input per graph input (raw bytes); returns
/// the bytes of every tensor (None for tensors the schedule never computes).
pub fn run(graph: &Graph, inputs: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
    let mut values: Vec<Option<Vec<u8>>> = vec![None; graph.tensors.len()];
    if inputs.len() != graph.inputs.len() {
        bail!("the model has {} inputs, {} given", graph.inputs.len(), inputs.len());
    }
    for (id, t) in graph.tensors.iter().enumerate() {
        if let Some(d) = &t.data {
            values[id] = Some(d.clone());
        }
    }
    for (&id, data) in graph.inputs.iter().zip(inputs) {
        let t = &graph.tensors[id];
        if data.len() != t.bytes() {
            bail!("input '{}' needs {} bytes, got {}", t.name, t.bytes(), data.len());
        }
        values[graph.base(id)] = Some(data.to_vec());
    }
    for op in &graph.ops {
        let ins: Vec<&[u8]> = op
            .inputs
            .iter()
            .map(|&t| values[graph.base(t)].as_deref())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| anyhow::anyhow!("node '{}': an input is computed after its use", op.name))?;
        // The op's arena: its inputs one after the other, then its output.
        let mut at = Offsets { inputs: Vec::with_capacity(ins.len()), output: 0 };
        let mut arena: Vec<i8> = Vec::new();
        for b in &ins {
            at.inputs.push(arena.len());
            arena.extend(b.iter().map(|&x| x as i8));
        }
        at.output = arena.len();
        let out_bytes = graph.tensors[op.output].bytes();
        arena.resize(at.output + out_bytes, 0);
        op.kind.eval(&mut arena, &at);
        values[op.output] = Some(arena[at.output..].iter().map(|&x| x as u8).collect());
    }
    // Views read their base tensor's bytes.
    for id in 0..graph.tensors.len() {
        if graph.tensors[id].alias_of.is_some() {
            values[id] = values[graph.base(id)].clone();
        }
    }
    Ok(values)
}

/// Little-endian bytes as f32 values (a copy: byte buffers need not be aligned).
pub fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}
