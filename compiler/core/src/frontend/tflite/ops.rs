//! TFLite operators as ONNX nodes, each with TFLite's semantics: SAME
//! padding as TFLite computes it, weights re-laid-out from OHWI (conv),
//! 1HWO (depthwise) to ONNX's OIHW, fused activations as Relu/Clip before
//! the QuantizeLinear (the importer folds them as TFLite does).

use anyhow::{anyhow, bail, Result};
use tract_tflite::tflite::{ActivationFunctionType as Act, BuiltinOperator as B, Operator, Padding};

use super::build::{float_attr, ints_attr, string_attr, Builder, TO_NCHW, TO_NHWC};
use super::tensor::Elem;
use crate::quant::ptq::proto::int_attr;

/// The operators hybridc translates (docs/tflite.md).
pub const SUPPORTED: &[&str] = &[
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN", "RESHAPE",
    "SQUEEZE", "EXPAND_DIMS", "SOFTMAX", "LOGISTIC", "TANH", "RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "HARD_SWISH",
    "CONCATENATION", "PAD", "PADV2", "QUANTIZE", "DEQUANTIZE", "STRIDED_SLICE", "TRANSPOSE", "RESIZE_NEAREST_NEIGHBOR",
];

/// Operand `i` of the operator (-1: absent).
fn operand(op: &Operator, i: usize) -> Option<usize> {
    op.inputs().and_then(|v| (i < v.len()).then(|| v.get(i))).filter(|&t| t >= 0).map(|t| t as usize)
}

fn input(op: &Operator, i: usize) -> Result<usize> {
    operand(op, i).ok_or_else(|| anyhow!("missing input {i}"))
}

fn output(op: &Operator) -> Result<usize> {
    match op.outputs() {
        Some(v) if v.len() == 1 && v.get(0) >= 0 => Ok(v.get(0) as usize),
        _ => bail!("expected one output"),
    }
}

fn options<T>(o: Option<T>) -> Result<T> {
    o.ok_or_else(|| anyhow!("its options are missing"))
}

pub fn translate(b: &mut Builder, op: &Operator, code: B) -> Result<()> {
    let out = output(op)?;
    match code {
        B::CONV_2D => {
            let o = options(op.builtin_options_as_conv_2_doptions())?;
            conv(b, op, out, Window::of(o.padding(), [o.stride_h(), o.stride_w()], [o.dilation_h_factor(), o.dilation_w_factor()]), false, o.fused_activation_function())
        }
        B::DEPTHWISE_CONV_2D => {
            let o = options(op.builtin_options_as_depthwise_conv_2_doptions())?;
            conv(b, op, out, Window::of(o.padding(), [o.stride_h(), o.stride_w()], [o.dilation_h_factor(), o.dilation_w_factor()]), true, o.fused_activation_function())
        }
        B::FULLY_CONNECTED => {
            let o = options(op.builtin_options_as_fully_connected_options())?;
            fully_connected(b, op, out, o.fused_activation_function())
        }
        B::AVERAGE_POOL_2D | B::MAX_POOL_2D => {
            let o = options(op.builtin_options_as_pool_2_doptions())?;
            let w = Window::of(o.padding(), [o.stride_h(), o.stride_w()], [1, 1]);
            pool(b, op, out, w, [o.filter_height(), o.filter_width()], code == B::MAX_POOL_2D, o.fused_activation_function())
        }
        B::ADD => binary(b, op, out, "Add", options(op.builtin_options_as_add_options())?.fused_activation_function()),
        B::MUL => binary(b, op, out, "Mul", options(op.builtin_options_as_mul_options())?.fused_activation_function()),
        B::MEAN => mean(b, op, out),
        B::RESHAPE | B::SQUEEZE | B::EXPAND_DIMS => reshape(b, op, out),
        B::SOFTMAX => {
            let beta = op.builtin_options_as_softmax_options().map_or(1.0, |o| o.beta());
            if beta != 1.0 {
                bail!("Softmax with beta {beta} is not supported (beta 1 only)");
            }
            unary(b, op, out, "Softmax", vec![int_attr("axis", -1)])
        }
        B::LOGISTIC => unary(b, op, out, "Sigmoid", vec![]),
        B::TANH => unary(b, op, out, "Tanh", vec![]),
        B::HARD_SWISH => unary(b, op, out, "HardSwish", vec![]),
        B::LEAKY_RELU => {
            let alpha = options(op.builtin_options_as_leaky_relu_options())?.alpha();
            unary(b, op, out, "LeakyRelu", vec![float_attr("alpha", alpha)])
        }
        B::RELU => activation(b, op, out, Act::RELU),
        B::RELU6 => activation(b, op, out, Act::RELU6),
        B::RELU_N1_TO_1 => activation(b, op, out, Act::RELU_N1_TO_1),
        B::CONCATENATION => {
            let o = options(op.builtin_options_as_concatenation_options())?;
            concat(b, op, out, o.axis(), o.fused_activation_function())
        }
        B::PAD | B::PADV2 => pad(b, op, out),
        B::QUANTIZE => quantize(b, op, out),
        B::DEQUANTIZE => {
            let x = b.real(input(op, 0)?)?;
            b.store(out, &x, Act::NONE)
        }
        B::STRIDED_SLICE => strided_slice(b, op, out),
        B::TRANSPOSE => transpose(b, op, out),
        B::RESIZE_NEAREST_NEIGHBOR => {
            let o = options(op.builtin_options_as_resize_nearest_neighbor_options())?;
            resize_nearest(b, op, out, o.align_corners(), o.half_pixel_centers())
        }
        other => bail!(
            "operator {} is not supported by hybridc (supported TFLite operators: {})",
            other.variant_name().unwrap_or("unknown"),
            SUPPORTED.join(", ")
        ),
    }
}

/// Strides, dilations and padding mode of a windowed op.
struct Window {
    same: bool,
    stride: [usize; 2],
    dilation: [usize; 2],
}

impl Window {
    fn of(p: Padding, stride: [i32; 2], dilation: [i32; 2]) -> Self {
        let pos = |v: i32| v.max(1) as usize;
        Window { same: p == Padding::SAME, stride: stride.map(pos), dilation: dilation.map(pos) }
    }

    /// ONNX attributes over an NHWC input of (h, w) and a (kh, kw) kernel:
    /// TFLite's ComputePaddingHeightWidth for SAME (the extra pixel after).
    fn attrs(&self, hw: [usize; 2], k: [usize; 2]) -> Result<Vec<tract_onnx::pb::AttributeProto>> {
        let mut pads = [0i64; 4];
        if self.same {
            for d in 0..2 {
                let eff = k[d].checked_sub(1).and_then(|x| x.checked_mul(self.dilation[d])).ok_or_else(|| anyhow!("kernel size 0"))? + 1;
                let out = hw[d].div_ceil(self.stride[d]);
                let total = ((out.max(1) - 1) * self.stride[d] + eff).saturating_sub(hw[d]);
                pads[d] = (total / 2) as i64;
                pads[d + 2] = (total - total / 2) as i64;
            }
        }
        Ok(vec![
            ints_attr("kernel_shape", &[k[0] as i64, k[1] as i64]),
            ints_attr("strides", &[self.stride[0] as i64, self.stride[1] as i64]),
            ints_attr("pads", &pads),
        ])
    }
}

/// The (h, w) of an NHWC tensor.
fn nhwc_hw(b: &Builder, t: usize) -> Result<[usize; 2]> {
    let s = &b.info(t)?.shape;
    if s.len() != 4 {
        bail!("input '{}' of shape {s:?} is not a 4-D NHWC tensor", b.info(t)?.name);
    }
    Ok([s[1], s[2]])
}

fn conv(b: &mut Builder, op: &Operator, out: usize, win: Window, depthwise: bool, act: Act) -> Result<()> {
    let (x, w) = (input(op, 0)?, input(op, 1)?);
    let hw = nhwc_hw(b, x)?;
    let in_c = b.info(x)?.shape[3];
    let ws = b.info(w)?.shape.clone();
    if ws.len() != 4 {
        bail!("weights of shape {ws:?} are not 4-D");
    }
    let (perm, group): (&[usize], usize) = if depthwise {
        ([3, 0, 1, 2].as_slice(), in_c) // 1HWO -> O1HW, one group per input channel
    } else {
        if ws[3] == 0 || in_c % ws[3] != 0 {
            bail!("weights of shape {ws:?} do not fit {in_c} input channels");
        }
        ([0, 3, 1, 2].as_slice(), in_c / ws[3]) // OHWI -> OIHW
    };
    let mut attrs = win.attrs(hw, [ws[1], ws[2]])?;
    attrs.push(ints_attr("dilations", &[win.dilation[0] as i64, win.dilation[1] as i64]));
    attrs.push(int_attr("group", group as i64));
    let wv = b.real_permuted(w, perm, 0, 0)?;
    let xv = b.real(x)?;
    let xv = b.transpose(&xv, &TO_NCHW);
    let mut ins = vec![xv, wv];
    if let Some(bias) = operand(op, 2) {
        ins.push(b.real(bias)?);
    }
    let y = b.fresh(&b.info(out)?.name.clone());
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    b.push("Conv", &refs, &y, attrs);
    store_nchw(b, out, &y, act)
}

/// Stores an NCHW result into NHWC tensor `out`: activation, quantize,
/// then the Transpose back (a view in the importer).
fn store_nchw(b: &mut Builder, out: usize, y: &str, act: Act) -> Result<()> {
    let info = b.info(out)?.clone();
    if info.elem == Elem::F32 {
        let y = b.activation(y, act)?;
        let v = b.transpose(&y, &TO_NHWC);
        b.store(out, &v, Act::NONE)?;
        // The next NCHW op reads `y` itself, not a transpose of a transpose.
        b.remember_transpose(&info.name, &TO_NCHW, &y);
        return Ok(());
    }
    // The int8 tensor keeps the TFLite name (what --outputs finds); its NHWC
    // view is what later operators read.
    let s = &info.shape;
    if s.len() != 4 {
        bail!("output '{}' of shape {s:?} is not a 4-D NHWC tensor", info.name);
    }
    let tmp = b.fresh_tensor(out, &[s[0], s[3], s[1], s[2]])?;
    b.store(tmp, y, act)?;
    let q = b.value(tmp)?;
    let v = b.fresh(&format!("{}#nhwc", info.name));
    b.push("Transpose", &[&q], &v, vec![ints_attr("perm", &TO_NHWC)]);
    b.bind(out, v)
}

fn pool(b: &mut Builder, op: &Operator, out: usize, win: Window, k: [i32; 2], max: bool, act: Act) -> Result<()> {
    let x = input(op, 0)?;
    let hw = nhwc_hw(b, x)?;
    if k.iter().any(|&d| d <= 0) {
        bail!("filter size {k:?} is not positive");
    }
    let attrs = win.attrs(hw, [k[0] as usize, k[1] as usize])?;
    let xv = b.real(x)?;
    let xv = b.transpose(&xv, &TO_NCHW);
    let y = b.fresh(&b.info(out)?.name.clone());
    b.push(if max { "MaxPool" } else { "AveragePool" }, &[&xv], &y, attrs);
    store_nchw(b, out, &y, act)
}

fn fully_connected(b: &mut Builder, op: &Operator, out: usize, act: Act) -> Result<()> {
    let (x, w) = (input(op, 0)?, input(op, 1)?);
    let ws = b.info(w)?.shape.clone();
    if ws.len() != 2 || ws[1] == 0 {
        bail!("weights of shape {ws:?} are not [outputs, inputs]");
    }
    let n = b.info(x)?.len();
    if n % ws[1] != 0 {
        bail!("input of {n} values does not fit weights {ws:?}");
    }
    let rows = n / ws[1];
    let per_channel = b.info(w)?.quant.as_ref().is_some_and(|q| q.scales.len() > 1);
    if rows > 1 || per_channel {
        return fc_as_conv(b, op, out, [rows, ws[1], ws[0]], act);
    }
    let mut xv = b.real(x)?;
    if b.info(x)?.shape != [n / ws[1], ws[1]] {
        let shape = b.ints("shape", &[(n / ws[1]) as i64, ws[1] as i64]);
        let r = b.fresh(&xv);
        b.push("Reshape", &[&xv, &shape], &r, vec![]);
        xv = r;
    }
    let wv = b.real(w)?;
    let mut ins = vec![xv, wv];
    if let Some(bias) = operand(op, 2) {
        ins.push(b.real(bias)?);
    }
    let y = b.fresh(&b.info(out)?.name.clone());
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    b.push("Gemm", &refs, &y, vec![int_attr("transB", 1)]);
    // keep_num_dims or a batch of rows: the output's own shape.
    let want = b.info(out)?.shape.clone();
    if want != [n / ws[1], ws[0]] {
        let tmp = b.fresh_tensor(out, &[n / ws[1], ws[0]])?;
        b.store(tmp, &y, act)?;
        let v = b.value(tmp)?;
        return reshape_value(b, &v, out);
    }
    b.store(out, &y, act)
}

/// A FULLY_CONNECTED of `rows` rows of `k` values, or with per-channel
/// weights: a 1x1 convolution over an NHWC [1, rows, 1, k] map, the same
/// arithmetic as TFLite's FullyConnected(PerChannel) row by row.
fn fc_as_conv(b: &mut Builder, op: &Operator, out: usize, [rows, k, o]: [usize; 3], act: Act) -> Result<()> {
    let xv = b.real(input(op, 0)?)?;
    let shape = b.ints("shape", &[1, rows as i64, 1, k as i64]);
    let r = b.fresh(&xv);
    b.push("Reshape", &[&xv, &shape], &r, vec![]);
    let xv = b.transpose(&r, &TO_NCHW);
    let wv = b.real_permuted(input(op, 1)?, &[0, 1], 0, 2)?;
    let mut ins = vec![xv, wv];
    if let Some(bias) = operand(op, 2) {
        ins.push(b.real(bias)?);
    }
    let y = b.fresh(&b.info(out)?.name.clone());
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    b.push("Conv", &refs, &y, vec![ints_attr("kernel_shape", &[1, 1])]);
    let tmp = b.fresh_tensor(out, &[1, rows, 1, o])?;
    store_nchw(b, tmp, &y, act)?;
    let v = b.value(tmp)?;
    reshape_value(b, &v, out)
}

fn binary(b: &mut Builder, op: &Operator, out: usize, onnx: &str, act: Act) -> Result<()> {
    let (x, y) = (b.real(input(op, 0)?)?, b.real(input(op, 1)?)?);
    let z = b.fresh(&b.info(out)?.name.clone());
    b.push(onnx, &[&x, &y], &z, vec![]);
    b.store(out, &z, act)
}

fn unary(b: &mut Builder, op: &Operator, out: usize, onnx: &str, attrs: Vec<tract_onnx::pb::AttributeProto>) -> Result<()> {
    let x = b.real(input(op, 0)?)?;
    let z = b.fresh(&b.info(out)?.name.clone());
    b.push(onnx, &[&x], &z, attrs);
    b.store(out, &z, Act::NONE)
}

/// RELU, RELU6, RELU_N1_TO_1: the activation alone (a requantizing clamp).
fn activation(b: &mut Builder, op: &Operator, out: usize, act: Act) -> Result<()> {
    let x = b.real(input(op, 0)?)?;
    b.store(out, &x, act)
}

fn concat(b: &mut Builder, op: &Operator, out: usize, axis: i32, act: Act) -> Result<()> {
    let count = op.inputs().map_or(0, |v| v.len());
    let mut ins = vec![];
    for i in 0..count {
        let t = input(op, i)?;
        ins.push(b.real(t)?);
    }
    let rank = b.info(out)?.rank() as i64;
    let axis = if axis < 0 { axis as i64 + rank } else { axis as i64 };
    if !(0..rank).contains(&axis) {
        bail!("axis {axis} is out of range for rank {rank}");
    }
    let z = b.fresh(&b.info(out)?.name.clone());
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    b.push("Concat", &refs, &z, vec![int_attr("axis", axis)]);
    b.store(out, &z, act)
}

/// RESHAPE, SQUEEZE, EXPAND_DIMS: the output tensor's shape (static), the
/// bytes unchanged (int8 values keep their quantization).
fn reshape(b: &mut Builder, op: &Operator, out: usize) -> Result<()> {
    let x = input(op, 0)?;
    same_quantization(b, x, out)?;
    let v = b.value(x)?;
    reshape_value(b, &v, out)
}

fn reshape_value(b: &mut Builder, v: &str, out: usize) -> Result<()> {
    let shape: Vec<i64> = b.info(out)?.shape.iter().map(|&d| d as i64).collect();
    let s = b.ints("shape", &shape);
    let z = b.fresh(&b.info(out)?.name.clone());
    b.push("Reshape", &[v, &s], &z, vec![]);
    b.bind(out, z)
}

/// Layout-only ops keep the quantization (TFLite requires it).
fn same_quantization(b: &Builder, x: usize, out: usize) -> Result<()> {
    let (a, o) = (b.info(x)?, b.info(out)?);
    if a.elem != o.elem || a.per_tensor() != o.per_tensor() {
        bail!("input '{}' and output '{}' differ in type or quantization", a.name, o.name);
    }
    Ok(())
}

fn transpose(b: &mut Builder, op: &Operator, out: usize) -> Result<()> {
    let x = input(op, 0)?;
    same_quantization(b, x, out)?;
    let perm = const_ints(b, input(op, 1)?)?;
    let rank = b.info(x)?.rank();
    let mut sorted = perm.clone();
    sorted.sort();
    if sorted != (0..rank as i64).collect::<Vec<_>>() {
        bail!("perm {perm:?} is not a permutation of {rank} dims");
    }
    let v = b.value(x)?;
    let z = b.fresh(&b.info(out)?.name.clone());
    b.push("Transpose", &[&v], &z, vec![ints_attr("perm", &perm)]);
    b.bind(out, z)
}

/// An int32 or int64 constant tensor's values.
fn const_ints(b: &Builder, t: usize) -> Result<Vec<i64>> {
    let info = b.info(t)?;
    let data = info.data.ok_or_else(|| anyhow!("'{}' must be a constant", info.name))?;
    Ok(match info.elem {
        Elem::I32 => data.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64).collect(),
        Elem::I64 => data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect(),
        _ => bail!("'{}' must be an int32 constant", info.name),
    })
}

fn mean(b: &mut Builder, op: &Operator, out: usize) -> Result<()> {
    let x = input(op, 0)?;
    let rank = b.info(x)?.rank() as i64;
    let mut axes: Vec<i64> = const_ints(b, input(op, 1)?)?.iter().map(|&a| if a < 0 { a + rank } else { a }).collect();
    axes.sort();
    if rank != 4 || axes != [1, 2] {
        bail!("MEAN is supported over the spatial axes [1, 2] of a 4-D NHWC tensor (got axes {axes:?})");
    }
    let xv = b.real(x)?;
    let xv = b.transpose(&xv, &TO_NCHW);
    let y = b.fresh(&b.info(out)?.name.clone());
    b.push("ReduceMean", &[&xv], &y, vec![ints_attr("axes", &[2, 3])]);
    // [N, C, 1, 1] -> NHWC [N, 1, 1, C], then the output's own shape.
    let tmp = b.fresh_tensor(out, &[b.info(x)?.shape[0], 1, 1, b.info(x)?.shape[3]])?;
    store_nchw(b, tmp, &y, Act::NONE)?;
    let v = b.value(tmp)?;
    reshape_value(b, &v, out)
}

fn pad(b: &mut Builder, op: &Operator, out: usize) -> Result<()> {
    let x = input(op, 0)?;
    let rank = b.info(x)?.rank();
    let p = const_ints(b, input(op, 1)?)?;
    if p.len() != 2 * rank || p.iter().any(|&v| v < 0) {
        bail!("paddings {p:?} are not [{rank}, 2] non-negative values");
    }
    // TFLite [[before, after]...] -> ONNX [befores..., afters...].
    let pads: Vec<i64> = (0..rank).map(|d| p[2 * d]).chain((0..rank).map(|d| p[2 * d + 1])).collect();
    let pads = b.ints("pads", &pads);
    let xv = b.real(x)?;
    let mut ins = vec![xv, pads];
    if let Some(c) = operand(op, 2) {
        ins.push(b.real(c)?);
    }
    let z = b.fresh(&b.info(out)?.name.clone());
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    b.push("Pad", &refs, &z, vec![]);
    b.store(out, &z, Act::NONE)
}

fn quantize(b: &mut Builder, op: &Operator, out: usize) -> Result<()> {
    let x = input(op, 0)?;
    match b.info(x)?.elem {
        Elem::F32 => {
            let v = b.value(x)?;
            b.store(out, &v, Act::NONE)
        }
        _ if b.info(x)?.per_tensor() == b.info(out)?.per_tensor() => {
            let v = b.value(x)?;
            b.bind(out, v)
        }
        _ => bail!("requantizing int8 '{}' to new parameters is not supported", b.info(x)?.name),
    }
}

fn strided_slice(b: &mut Builder, op: &Operator, out: usize) -> Result<()> {
    let o = options(op.builtin_options_as_strided_slice_options())?;
    if o.ellipsis_mask() != 0 || o.new_axis_mask() != 0 {
        bail!("STRIDED_SLICE with an ellipsis or new axis mask is not supported");
    }
    let x = input(op, 0)?;
    same_quantization(b, x, out)?;
    let shape = b.info(x)?.shape.clone();
    let (begin, end, strides) = (const_ints(b, input(op, 1)?)?, const_ints(b, input(op, 2)?)?, const_ints(b, input(op, 3)?)?);
    let rank = shape.len();
    if begin.len() != rank || end.len() != rank || strides.len() != rank || strides.iter().any(|&s| s <= 0) {
        bail!("STRIDED_SLICE needs {rank} begins, ends and positive strides (got {begin:?}, {end:?}, {strides:?})");
    }
    let bit = |m: i32, d: usize| (m >> d) & 1 == 1;
    let clamp = |v: i64, dim: i64| if v < 0 { (v + dim).max(0) } else { v.min(dim) };
    let (mut starts, mut ends) = (vec![], vec![]);
    for d in 0..rank {
        let dim = shape[d] as i64;
        let s = if bit(o.begin_mask(), d) { 0 } else { clamp(begin[d], dim) };
        let e = if bit(o.shrink_axis_mask(), d) { s + 1 } else if bit(o.end_mask(), d) { dim } else { clamp(end[d], dim) };
        starts.push(s);
        ends.push(e.max(s));
    }
    let xv = b.real(x)?;
    let axes: Vec<i64> = (0..rank as i64).collect();
    let ins = [xv, b.ints("starts", &starts), b.ints("ends", &ends), b.ints("axes", &axes), b.ints("steps", &strides)];
    let z = b.fresh(&b.info(out)?.name.clone());
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    b.push("Slice", &refs, &z, vec![]);
    let sliced: Vec<usize> = (0..rank).map(|d| ((ends[d] - starts[d] + strides[d] - 1) / strides[d]) as usize).collect();
    if sliced == b.info(out)?.shape {
        return b.store(out, &z, Act::NONE);
    }
    // Shrunk axes: the slice, then the output's shape.
    let tmp = b.fresh_tensor(out, &sliced)?;
    b.store(tmp, &z, Act::NONE)?;
    let v = b.value(tmp)?;
    reshape_value(b, &v, out)
}

fn resize_nearest(b: &mut Builder, op: &Operator, out: usize, align_corners: bool, half_pixel: bool) -> Result<()> {
    let x = input(op, 0)?;
    same_quantization(b, x, out)?;
    let s = b.info(x)?.shape.clone();
    let size = const_ints(b, input(op, 1)?)?;
    if s.len() != 4 || size.len() != 2 || size.iter().any(|&v| v <= 0) {
        bail!("RESIZE_NEAREST_NEIGHBOR needs a 4-D input and a size of 2 positive values");
    }
    // TFLite's nearest: align_corners rounds, half_pixel_centers uses
    // TF's half-pixel rule, else the source index is floor(dst * scale).
    let (coords, rounding) = match (align_corners, half_pixel) {
        (true, _) => ("align_corners", "round_prefer_ceil"),
        (false, true) => ("tf_half_pixel_for_nn", "floor"),
        _ => ("asymmetric", "floor"),
    };
    let xv = b.real(x)?;
    let xv = b.transpose(&xv, &TO_NCHW);
    let sizes = b.ints("sizes", &[s[0] as i64, s[3] as i64, size[0], size[1]]);
    let z = b.fresh(&b.info(out)?.name.clone());
    let attrs = vec![string_attr("mode", "nearest"), string_attr("coordinate_transformation_mode", coords), string_attr("nearest_mode", rounding)];
    b.push("Resize", &[&xv, "", "", &sizes], &z, attrs);
    store_nchw(b, out, &z, Act::NONE)
}
