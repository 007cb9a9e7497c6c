//! The int8 reference interpreter: THE semantics of hybridc.
//!
//! One file per op, each a direct transcription of TFLite's reference int8
//! kernel where TFLite has one. Generated C must equal this bit for bit.
//! Tensor values are raw little-endian bytes, as in the device's arena.

mod add;
mod conv;
mod elementwise;
mod float;
mod fully_connected;
mod pooling;
mod shape;
mod softmax;

use anyhow::{bail, Result};

pub use elementwise::quantize_one;
use bytemuck::{cast_slice, cast_slice_mut};

use crate::ir::{Graph, OpKind};
use crate::quant::params::Params;

/// Runs the graph on one batch-1 input per graph input (raw bytes); returns
/// the bytes of every tensor (None for tensors the schedule never computes).
pub fn run(graph: &Graph, params: &[Params], inputs: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
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
    for (op, p) in graph.ops.iter().zip(params) {
        let mut out = vec![0u8; graph.tensors[op.output].bytes()];
        let ins: Vec<&[u8]> = op
            .inputs
            .iter()
            .map(|&t| values[graph.base(t)].as_deref())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| anyhow::anyhow!("node '{}': an input is computed after its use", op.name))?;
        let i8in = |i: usize| -> &[i8] { cast_slice(ins[i]) };
        match (p, &op.kind) {
            (Params::Quantize(q), _) => elementwise::quantize(q, &f32s(ins[0]), cast_slice_mut(&mut out)),
            (Params::Float(fp), OpKind::Float(f)) => {
                let inputs: Vec<Vec<f32>> = ins.iter().map(|b| f32s(b)).collect();
                let mut r = vec![0f32; graph.tensors[op.output].len()];
                float::run(f, fp, &inputs, &mut r);
                out = r.iter().flat_map(|v| v.to_le_bytes()).collect();
            }
            (Params::Dequantize(q), _) => {
                let mut f = vec![0f32; q.len];
                elementwise::dequantize(q, i8in(0), &mut f);
                out = f.iter().flat_map(|v| v.to_le_bytes()).collect();
            }
            (p, kind) => int8_op(p, kind, &op.name, &ins, cast_slice_mut(&mut out))?,
        }
        values[op.output] = Some(out);
    }
    // Views read their base tensor's bytes.
    for id in 0..graph.tensors.len() {
        if graph.tensors[id].alias_of.is_some() {
            values[id] = values[graph.base(id)].clone();
        }
    }
    Ok(values)
}

fn int8_op(p: &Params, kind: &OpKind, name: &str, ins: &[&[u8]], out: &mut [i8]) -> Result<()> {
    let i = |k: usize| -> &[i8] { cast_slice(ins[k]) };
    match (p, kind) {
        (Params::Conv(cp), OpKind::Conv2d(c)) if cp.depthwise => conv::depthwise_conv(cp, &c.weights, &c.bias, i(0), out),
        (Params::Conv(cp), OpKind::Conv2d(c)) => conv::conv(cp, &c.weights, &c.bias, i(0), out),
        (Params::Fc(fp), OpKind::FullyConnected(f)) => fully_connected::fully_connected(fp, &f.weights, &f.bias, i(0), out),
        (Params::Add(ap), _) => add::add(ap, i(0), i(1), out),
        (Params::Binary(bp), _) => elementwise::binary(bp, i(0), i(1), out),
        (Params::AvgPool(pp), _) => pooling::average_pool(pp, i(0), out),
        (Params::MaxPool(pp), _) => pooling::max_pool(pp, i(0), out),
        (Params::Softmax(sp), _) => softmax::softmax(sp, i(0), out),
        (Params::Concat(cp), _) => shape::concat(cp, &ins.iter().map(|b| cast_slice::<u8, i8>(b)).collect::<Vec<_>>(), out),
        (Params::Pad(pp), _) => shape::pad(pp, i(0), out),
        (Params::Transpose(tp), _) => shape::transpose(tp, i(0), out),
        (Params::Lut, OpKind::Lut { table, .. }) => elementwise::lut(table, i(0), out),
        _ => bail!("node '{name}': parameters do not match the op"),
    }
    Ok(())
}

/// Little-endian bytes as f32 values (a copy: byte buffers need not be aligned).
pub fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[inline]
pub(crate) fn clamp_i8(v: i32, min: i32, max: i32) -> i8 {
    v.clamp(min, max) as i8
}
