//! The int8 reference interpreter: THE semantics of hybridc.
//!
//! One file per op, each a direct transcription of TFLite's reference int8
//! kernel. Generated C must equal this bit for bit.

mod add;
mod conv;
mod fully_connected;
mod pooling;
mod softmax;

use anyhow::{bail, Result};

use crate::ir::Graph;
use crate::quant::params::Params;

/// Runs the graph on one batch-1 input per graph input; returns the value of
/// every tensor (None for tensors the schedule never computes).
pub fn run(graph: &Graph, params: &[Params], inputs: &[&[i8]]) -> Result<Vec<Option<Vec<i8>>>> {
    let mut values: Vec<Option<Vec<i8>>> = vec![None; graph.tensors.len()];
    if inputs.len() != graph.inputs.len() {
        bail!("the model has {} inputs, {} given", graph.inputs.len(), inputs.len());
    }
    for (&id, data) in graph.inputs.iter().zip(inputs) {
        let t = &graph.tensors[id];
        if data.len() != t.len() {
            bail!("input '{}' needs {} values, got {}", t.name, t.len(), data.len());
        }
        values[graph.base(id)] = Some(data.to_vec());
    }
    for (op, p) in graph.ops.iter().zip(params) {
        let mut out = vec![0i8; graph.tensors[op.output].len()];
        let input = |i: usize| -> Result<&[i8]> {
            match &values[graph.base(op.inputs[i])] {
                Some(v) => Ok(v.as_slice()),
                None => bail!("node '{}': input {} computed after use", op.name, i),
            }
        };
        match (p, &op.kind) {
            (Params::Conv(cp), crate::ir::OpKind::Conv2d(c)) => {
                if cp.depthwise {
                    conv::depthwise_conv(cp, &c.weights, &c.bias, input(0)?, &mut out)
                } else {
                    conv::conv(cp, &c.weights, &c.bias, input(0)?, &mut out)
                }
            }
            (Params::Fc(fp), crate::ir::OpKind::FullyConnected(f)) => {
                fully_connected::fully_connected(fp, &f.weights, &f.bias, input(0)?, &mut out)
            }
            (Params::Add(ap), _) => add::add(ap, input(0)?, input(1)?, &mut out),
            (Params::AvgPool(pp), _) => pooling::average_pool(pp, input(0)?, &mut out),
            (Params::Softmax(sp), _) => softmax::softmax(sp, input(0)?, &mut out),
            _ => bail!("node '{}': parameters do not match the op", op.name),
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

#[inline]
pub(crate) fn clamp_i8(v: i32, min: i32, max: i32) -> i8 {
    v.clamp(min, max) as i8
}
