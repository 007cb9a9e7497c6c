//! Integer kernel parameters, the contract between reference and codegen.

use anyhow::{bail, Result};

use super::fixedpoint::{
    calculate_input_radius, preprocess_softmax_scaling, quantize_multiplier, quantize_value,
};
use crate::ir::{Activation, Graph, Op, OpKind, QParams};

#[derive(Debug, Clone)]
pub struct ConvParams {
    pub depthwise: bool,
    pub in_hwc: [usize; 3],
    pub out_hwc: [usize; 3],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub pad_top: usize,
    pub pad_left: usize,
    pub depth_multiplier: usize,
    pub input_offset: i32,
    pub output_offset: i32,
    pub multiplier: Vec<i32>,
    pub shift: Vec<i32>,
    pub act_min: i32,
    pub act_max: i32,
}

#[derive(Debug, Clone)]
pub struct FcParams {
    pub in_len: usize,
    pub out_len: usize,
    pub input_offset: i32,
    pub output_offset: i32,
    pub multiplier: i32,
    pub shift: i32,
    pub act_min: i32,
    pub act_max: i32,
}

#[derive(Debug, Clone)]
pub struct AddParams {
    pub len: usize,
    pub input1_offset: i32,
    pub input2_offset: i32,
    pub output_offset: i32,
    pub left_shift: i32,
    pub input1_multiplier: i32,
    pub input1_shift: i32,
    pub input2_multiplier: i32,
    pub input2_shift: i32,
    pub output_multiplier: i32,
    pub output_shift: i32,
    pub act_min: i32,
    pub act_max: i32,
}

#[derive(Debug, Clone)]
pub struct PoolParams {
    pub in_hwc: [usize; 3],
    pub out_hwc: [usize; 3],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pad_top: usize,
    pub pad_left: usize,
    pub act_min: i32,
    pub act_max: i32,
}

#[derive(Debug, Clone)]
pub struct SoftmaxParams {
    pub rows: usize,
    pub depth: usize,
    pub input_multiplier: i32,
    pub input_left_shift: i32,
    pub diff_min: i32,
}

#[derive(Debug, Clone)]
pub enum Params {
    Conv(ConvParams),
    Fc(FcParams),
    Add(AddParams),
    AvgPool(PoolParams),
    Softmax(SoftmaxParams),
}

fn q(graph: &Graph, op: &Op, t: usize) -> Result<QParams> {
    let tensor = &graph.tensors[t];
    match tensor.quant {
        Some(qp) => Ok(qp),
        None => bail!("node '{}': tensor '{}' has no int8 quantization parameters", op.name, tensor.name),
    }
}

/// TFLite CalculateActivationRangeQuantized for int8.
pub fn activation_range(act: Activation, out: QParams) -> (i32, i32) {
    let (lo, hi) = act.range();
    let mut min = -128;
    let mut max = 127;
    if let Some(lo) = lo {
        min = min.max(quantize_value(lo, out.scale, out.zero_point));
    }
    if let Some(hi) = hi {
        max = max.min(quantize_value(hi, out.scale, out.zero_point));
    }
    (min, max)
}

/// Prepares the integer parameters of one op.
pub fn prepare(graph: &Graph, op: &Op) -> Result<Params> {
    let out_t = &graph.tensors[op.output];
    let in_t = &graph.tensors[op.inputs[0]];
    let qi = q(graph, op, op.inputs[0])?;
    let qo = q(graph, op, op.output)?;
    Ok(match &op.kind {
        OpKind::Conv2d(c) => {
            let out_c = out_t.hwc()[2];
            let (mut multiplier, mut shift) = (Vec::with_capacity(out_c), Vec::with_capacity(out_c));
            for &ws in &c.weight_scales {
                let real = qi.scale as f64 * ws as f64 / qo.scale as f64;
                let (m, s) = quantize_multiplier(real);
                multiplier.push(m);
                shift.push(s);
            }
            let (act_min, act_max) = activation_range(c.activation, qo);
            let in_hwc = in_t.hwc();
            Params::Conv(ConvParams {
                depthwise: c.depthwise,
                in_hwc,
                out_hwc: out_t.hwc(),
                kernel: c.kernel,
                stride: c.stride,
                dilation: c.dilation,
                pad_top: c.pad_top,
                pad_left: c.pad_left,
                depth_multiplier: if c.depthwise { out_c / in_hwc[2] } else { 1 },
                input_offset: -qi.zero_point,
                output_offset: qo.zero_point,
                multiplier,
                shift,
                act_min,
                act_max,
            })
        }
        OpKind::FullyConnected(f) => {
            let real = qi.scale as f64 * f.weight_scale as f64 / qo.scale as f64;
            let (multiplier, shift) = quantize_multiplier(real);
            let (act_min, act_max) = activation_range(f.activation, qo);
            Params::Fc(FcParams {
                in_len: in_t.len(),
                out_len: out_t.len(),
                input_offset: -qi.zero_point,
                output_offset: qo.zero_point,
                multiplier,
                shift,
                act_min,
                act_max,
            })
        }
        OpKind::Add { activation } => {
            let q2 = q(graph, op, op.inputs[1])?;
            let left_shift = 20;
            let twice_max = 2.0 * qi.scale.max(q2.scale) as f64;
            let (m1, s1) = quantize_multiplier(qi.scale as f64 / twice_max);
            let (m2, s2) = quantize_multiplier(q2.scale as f64 / twice_max);
            let (mo, so) =
                quantize_multiplier(twice_max / ((1i64 << left_shift) as f64 * qo.scale as f64));
            let (act_min, act_max) = activation_range(*activation, qo);
            Params::Add(AddParams {
                len: out_t.len(),
                input1_offset: -qi.zero_point,
                input2_offset: -q2.zero_point,
                output_offset: qo.zero_point,
                left_shift,
                input1_multiplier: m1,
                input1_shift: s1,
                input2_multiplier: m2,
                input2_shift: s2,
                output_multiplier: mo,
                output_shift: so,
                act_min,
                act_max,
            })
        }
        OpKind::AveragePool(p) => {
            if qi != qo {
                bail!(
                    "node '{}': int8 AveragePool needs equal input and output quantization (got {:?} and {:?})",
                    op.name, qi, qo
                );
            }
            let (act_min, act_max) = activation_range(p.activation, qo);
            Params::AvgPool(PoolParams {
                in_hwc: in_t.hwc(),
                out_hwc: out_t.hwc(),
                kernel: p.kernel,
                stride: p.stride,
                pad_top: p.pad_top,
                pad_left: p.pad_left,
                act_min,
                act_max,
            })
        }
        OpKind::Softmax { beta } => {
            if qo.zero_point != -128 || qo.scale != 1.0 / 256.0 {
                bail!(
                    "node '{}': int8 Softmax output must have scale 1/256 and zero point -128 (got {} and {})",
                    op.name, qo.scale, qo.zero_point
                );
            }
            let (input_multiplier, input_left_shift) =
                preprocess_softmax_scaling(*beta as f64, qi.scale as f64, 5);
            let depth = *in_t.shape.last().unwrap_or(&1);
            Params::Softmax(SoftmaxParams {
                rows: in_t.len() / depth.max(1),
                depth,
                input_multiplier,
                input_left_shift,
                diff_min: -calculate_input_radius(5, input_left_shift),
            })
        }
    })
}
