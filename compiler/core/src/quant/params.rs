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
    /// Average pooling into another scale (TFLite's Mean): the sum of
    /// (x - input zero point) is multiplied by in/out scale, then divided by
    /// the count. None: input and output share quantization (AveragePool2D).
    pub requant: Option<PoolRequant>,
}

#[derive(Debug, Clone, Copy)]
pub struct PoolRequant {
    pub input_offset: i32,
    pub output_offset: i32,
    pub multiplier: i32,
    pub shift: i32,
}

#[derive(Debug, Clone)]
pub struct SoftmaxParams {
    pub rows: usize,
    pub depth: usize,
    pub input_multiplier: i32,
    pub input_left_shift: i32,
    pub diff_min: i32,
}

/// Broadcasting Add or Mul over up to 4 storage dims (strides 0 broadcast).
#[derive(Debug, Clone)]
pub struct BinaryParams {
    pub mul: bool,
    pub out_shape: [usize; 4],
    pub a_strides: [usize; 4],
    pub b_strides: [usize; 4],
    /// Add: as [`AddParams`]; Mul: only output_multiplier/shift are used.
    pub add: AddParams,
}

#[derive(Debug, Clone)]
pub struct QuantizeParams {
    pub len: usize,
    pub scale: f32,
    pub zero_point: i32,
}

#[derive(Debug, Clone)]
pub struct ConcatInput {
    pub inner: usize,
    pub input_offset: i32,
    /// None when the input already has the output's quantization.
    pub requant: Option<(i32, i32)>,
}

#[derive(Debug, Clone)]
pub struct ConcatParams {
    pub outer: usize,
    pub output_offset: i32,
    pub inputs: Vec<ConcatInput>,
}

#[derive(Debug, Clone)]
pub struct PadParams {
    pub in_shape: [usize; 4],
    pub out_shape: [usize; 4],
    pub before: [usize; 4],
    pub value: i8,
}

#[derive(Debug, Clone)]
pub struct TransposeParams {
    /// Output shape (4-D) and, per output dim, the input's stride.
    pub out_shape: [usize; 4],
    pub in_strides: [usize; 4],
}

/// A float32 op's shapes, strides and options (one struct for all kinds).
#[derive(Debug, Clone, Default)]
pub struct FloatParams {
    pub out_shape: [usize; 4],
    /// Per output dim, the stride of the (first) input; 0 broadcasts.
    pub a_strides: [usize; 4],
    pub b_strides: [usize; 4],
    /// Reductions: the reduced dims' sizes and input strides.
    pub red_shape: [usize; 4],
    pub red_strides: [usize; 4],
    /// Strided copies: start offset and signed strides.
    pub offset: usize,
    pub strides: [isize; 4],
    /// Softmax / TopK rows over the innermost axis.
    pub rows: usize,
    pub depth: usize,
    pub k: usize,
    /// Concat: outer count and each input's contiguous chunk.
    pub outer: usize,
    pub inners: Vec<usize>,
}

#[derive(Debug, Clone)]
pub enum Params {
    Conv(ConvParams),
    Fc(FcParams),
    Add(AddParams),
    Binary(BinaryParams),
    AvgPool(PoolParams),
    MaxPool(PoolParams),
    Softmax(SoftmaxParams),
    Concat(ConcatParams),
    Pad(PadParams),
    Lut,
    Transpose(TransposeParams),
    Quantize(QuantizeParams),
    Dequantize(QuantizeParams),
    Float(FloatParams),
}

fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut st = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        st[d] = st[d + 1] * shape[d + 1];
    }
    st
}

/// Parameters of a float op.
pub fn float_params(graph: &Graph, op: &Op, f: &crate::ir::FloatOp) -> FloatParams {
    use crate::ir::FloatOp;
    let out = &graph.tensors[op.output];
    let a = &graph.tensors[op.inputs[0]];
    let mut p = FloatParams { out_shape: shape4(&out.shape), ..Default::default() };
    match f {
        FloatOp::Unary(_) => p.a_strides = broadcast_strides(shape4(&a.shape), p.out_shape),
        FloatOp::Binary(_) => {
            p.a_strides = broadcast_strides(shape4(&a.shape), p.out_shape);
            p.b_strides = broadcast_strides(shape4(&graph.tensors[op.inputs[1]].shape), p.out_shape);
        }
        FloatOp::Reduce { axes, .. } => {
            let n = a.shape.len();
            let st = contiguous_strides(&a.shape);
            let mut a_st = [0; 4];
            let mut red_shape = [1; 4];
            let mut red_st = [0; 4];
            for d in 0..n {
                let k = 4 - n + d;
                if axes.contains(&d) {
                    red_shape[k] = a.shape[d];
                    red_st[k] = st[d];
                } else {
                    a_st[k] = st[d];
                }
            }
            p.a_strides = a_st;
            p.red_shape = red_shape;
            p.red_strides = red_st;
        }
        FloatOp::Softmax | FloatOp::TopK { .. } => {
            p.depth = *a.shape.last().unwrap_or(&1);
            p.rows = a.len() / p.depth.max(1);
            if let FloatOp::TopK { k, .. } = f {
                p.k = *k;
            }
        }
        FloatOp::Concat { axis } => {
            p.outer = out.shape[..*axis].iter().product();
            p.inners = op.inputs.iter().map(|&t| graph.tensors[t].shape[*axis..].iter().product()).collect();
        }
        FloatOp::Strided { offset, strides } => {
            p.offset = *offset;
            let n = strides.len();
            for (d, &s) in strides.iter().enumerate() {
                p.strides[4 - n + d] = s;
            }
        }
    }
    p
}

/// Right-aligns `shape` to 4 dims.
pub fn shape4(shape: &[usize]) -> [usize; 4] {
    let mut s = [1; 4];
    let n = shape.len().min(4);
    s[4 - n..].copy_from_slice(&shape[shape.len() - n..]);
    s
}

/// Strides of `shape` broadcast to `out` (0 where broadcast).
fn broadcast_strides(shape: [usize; 4], out: [usize; 4]) -> [usize; 4] {
    let mut st = [0; 4];
    let mut acc = 1;
    for d in (0..4).rev() {
        st[d] = if shape[d] == 1 && out[d] != 1 { 0 } else { acc };
        acc *= shape[d];
    }
    st
}

fn add_params(qa: QParams, qb: QParams, qo: QParams, len: usize, act: Activation) -> AddParams {
    let left_shift = 20;
    let twice_max = 2.0 * qa.scale.max(qb.scale) as f64;
    let (m1, s1) = quantize_multiplier(qa.scale as f64 / twice_max);
    let (m2, s2) = quantize_multiplier(qb.scale as f64 / twice_max);
    let (mo, so) = quantize_multiplier(twice_max / ((1i64 << left_shift) as f64 * qo.scale as f64));
    let (act_min, act_max) = activation_range(act, qo);
    AddParams {
        len,
        input1_offset: -qa.zero_point,
        input2_offset: -qb.zero_point,
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
    }
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
    // Float tensors (Quantize's input, Dequantize's output) carry no int8 parameters.
    let unit = QParams { scale: 1.0, zero_point: 0 };
    let qi = if in_t.dtype == crate::ir::DType::F32 { unit } else { q(graph, op, op.inputs[0])? };
    let qo = if out_t.dtype == crate::ir::DType::F32 { unit } else { q(graph, op, op.output)? };
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
        OpKind::Add { activation } | OpKind::Mul { activation } => {
            let q2 = q(graph, op, op.inputs[1])?;
            let (a, b) = (&graph.tensors[op.inputs[0]], &graph.tensors[op.inputs[1]]);
            let mut ap = add_params(qi, q2, qo, out_t.len(), *activation);
            let mul = matches!(op.kind, OpKind::Mul { .. });
            if mul {
                let (m, s) = quantize_multiplier(qi.scale as f64 * q2.scale as f64 / qo.scale as f64);
                ap.output_multiplier = m;
                ap.output_shift = s;
            }
            if !mul && a.shape == b.shape {
                Params::Add(ap)
            } else {
                let out = shape4(&out_t.shape);
                Params::Binary(BinaryParams {
                    mul,
                    out_shape: out,
                    a_strides: broadcast_strides(shape4(&a.shape), out),
                    b_strides: broadcast_strides(shape4(&b.shape), out),
                    add: ap,
                })
            }
        }
        OpKind::MaxPool(p) => {
            if qi != qo {
                bail!("node '{}': int8 MaxPool needs equal input and output quantization", op.name);
            }
            let (act_min, act_max) = activation_range(p.activation, qo);
            Params::MaxPool(PoolParams {
                in_hwc: in_t.hwc(),
                out_hwc: out_t.hwc(),
                kernel: p.kernel,
                stride: p.stride,
                pad_top: p.pad_top,
                pad_left: p.pad_left,
                act_min,
                act_max,
                requant: None,
            })
        }
        OpKind::Concat { axis } => {
            let outer: usize = out_t.shape[..*axis].iter().product();
            let mut inputs = vec![];
            for &t in &op.inputs {
                let qt = q(graph, op, t)?;
                let inner: usize = graph.tensors[t].shape[*axis..].iter().product();
                let requant = (qt != qo).then(|| quantize_multiplier(qt.scale as f64 / qo.scale as f64));
                inputs.push(ConcatInput { inner, input_offset: -qt.zero_point, requant });
            }
            Params::Concat(ConcatParams { outer, output_offset: qo.zero_point, inputs })
        }
        OpKind::Pad { before, .. } => {
            if qi != qo {
                bail!("node '{}': int8 Pad needs equal input and output quantization", op.name);
            }
            let n = in_t.shape.len();
            let mut b4 = [0; 4];
            for (k, &v) in before.iter().enumerate() {
                b4[4 - n + k] = v;
            }
            Params::Pad(PadParams {
                in_shape: shape4(&in_t.shape),
                out_shape: shape4(&out_t.shape),
                before: b4,
                value: qo.zero_point.clamp(-128, 127) as i8,
            })
        }
        OpKind::Lut { .. } => Params::Lut,
        OpKind::Transpose { perm } => {
            let n = in_t.shape.len();
            let mut strides = vec![1; n];
            for d in (0..n.saturating_sub(1)).rev() {
                strides[d] = strides[d + 1] * in_t.shape[d + 1];
            }
            let mut in_strides = [0; 4];
            for (i, &p) in perm.iter().enumerate() {
                in_strides[4 - n + i] = strides[p];
            }
            Params::Transpose(TransposeParams { out_shape: shape4(&out_t.shape), in_strides })
        }
        OpKind::Quantize => Params::Quantize(QuantizeParams { len: out_t.len(), scale: qo.scale, zero_point: qo.zero_point }),
        OpKind::Dequantize => Params::Dequantize(QuantizeParams { len: in_t.len(), scale: qi.scale, zero_point: qi.zero_point }),
        OpKind::Float(f) => Params::Float(float_params(graph, op, f)),
        OpKind::AveragePool(p) => {
            let requant = (qi != qo).then(|| {
                let (multiplier, shift) = quantize_multiplier(qi.scale as f64 / qo.scale as f64);
                PoolRequant { input_offset: -qi.zero_point, output_offset: qo.zero_point, multiplier, shift }
            });
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
                requant,
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
