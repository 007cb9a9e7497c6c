//! Conv2D and DepthwiseConv2D, int8 NHWC with per-channel weights (TFLite
//! reference_integer_ops ConvPerChannel / DepthwiseConvPerChannel), from
//! ONNX Conv. The DSP variants are in codegen/dsp.

use anyhow::{anyhow, bail, Result};
use hybridc_kernels::conv as k;

use super::inplace::{align, window_lag, Mode};
use super::{activation_range, emit, Built, CCode, CSite, OnnxOp, OpKind, Pending, RustCode, RustSite};
use crate::frontend::constant::{Constant, Data};
use crate::frontend::layout::{storage_shape, NCHW_AS_NHWC};
use crate::frontend::{out_dim, Act8, ConvAttrs, Importer, Val};
use crate::ir::{Activation, QParams};

pub static ONNX: &[OnnxOp] = &[OnnxOp { onnx: "Conv", import, keeps_scale: false }];

/// A convolution with its prepared parameters; `p`'s slices are empty,
/// the layer's constants are the vectors beside it (see [`Conv::kernel`]).
#[derive(Debug, Clone)]
pub struct Conv {
    pub p: k::Conv<'static>,
    /// Depthwise: [kh][kw][out_c]; regular: [out_c][kh][kw][in_c].
    pub weights: Vec<i8>,
    pub bias: Vec<i32>,
    pub multiplier: Vec<i32>,
    pub shift: Vec<i32>,
}

impl Conv {
    /// The kernel's parameters, borrowing the layer's constants.
    pub fn kernel(&self) -> k::Conv<'_> {
        k::Conv { weights: &self.weights, bias: &self.bias, multiplier: &self.multiplier, shift: &self.shift, ..self.p }
    }

    /// The layer's constants and its `hyb_conv_params` in C.
    pub fn c_data(&self, l: &str) -> String {
        let p = &self.p;
        let mut data = emit::c_array(l, "weights", "int8_t", &self.weights, true);
        data += &emit::c_array(l, "bias", "int32_t", &self.bias, false);
        data += &emit::c_array(l, "multiplier", "int32_t", &self.multiplier, false);
        data += &emit::c_array(l, "shift", "int32_t", &self.shift, false);
        data += &format!(
            "static const hyb_conv_params {l}_params = {{\n    .in_h = {}, .in_w = {}, .in_c = {}, .out_h = {}, .out_w = {}, .out_c = {},\n    .k_h = {}, .k_w = {}, .stride_h = {}, .stride_w = {}, .dil_h = {}, .dil_w = {}, .pad_top = {}, .pad_left = {},\n    .depth_multiplier = {}, .input_offset = {}, .output_offset = {}, .act_min = {}, .act_max = {},\n    .multiplier = {l}_multiplier, .shift = {l}_shift, .weights = {l}_weights, .bias = {l}_bias,\n}};\n",
            p.in_hwc[0], p.in_hwc[1], p.in_hwc[2], p.out_hwc[0], p.out_hwc[1], p.out_hwc[2],
            p.kernel[0], p.kernel[1], p.stride[0], p.stride[1], p.dilation[0], p.dilation[1], p.pad[0], p.pad[1],
            p.depth_multiplier, p.input_offset, p.output_offset, p.act[0], p.act[1]
        );
        data
    }

    /// The layer's statics and its `Conv` constant in Rust.
    pub fn rust_consts(&self, s: &mut RustSite) -> String {
        let w = s.array("WEIGHTS", "i8", &self.weights);
        let b = s.array("BIAS", "i32", &self.bias);
        let m = s.array("MULTIPLIER", "i32", &self.multiplier);
        let sh = s.array("SHIFT", "i32", &self.shift);
        let p = &self.p;
        format!(
            "const {}: Conv = Conv {{ depthwise: {}, in_hwc: {:?}, out_hwc: {:?}, kernel: {:?}, stride: {:?}, dilation: {:?}, pad: {:?}, depth_multiplier: {}, input_offset: {}, output_offset: {}, act: {:?}, weights: &{w}, bias: &{b}, multiplier: &{m}, shift: &{sh} }};\n",
            s.l, p.depthwise, p.in_hwc, p.out_hwc, p.kernel, p.stride, p.dilation, p.pad, p.depth_multiplier, p.input_offset, p.output_offset, p.act
        )
    }
}

impl OpKind for Conv {
    fn name(&self) -> &'static str {
        if self.p.depthwise { "DepthwiseConv2D" } else { "Conv2D" }
    }

    fn macs(&self, g: &super::Graph, op: &super::Op) -> u64 {
        let per_out = self.p.kernel[0] * self.p.kernel[1] * if self.p.depthwise { 1 } else { self.p.in_hwc[2] };
        (g.tensors[op.output].len() * per_out) as u64
    }

    fn flash_bytes(&self) -> usize { self.weights.len() + 4 * self.bias.len() }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        let mut acc = vec![0; self.p.out_hwc[2]];
        k::conv(&self.kernel(), arena, at.inputs[0], at.output, None, &mut acc);
    }

    fn in_place(&self, _g: &super::Graph, _op: &super::Op) -> Vec<Mode> {
        let p = &self.p;
        let mut m = vec![Mode::Lag { lag: align(window_lag(p.in_hwc, p.out_hwc, p.stride, p.pad)) }];
        if p.stride == [1, 1] && p.in_hwc == p.out_hwc {
            let pixels = p.pad[0] * p.in_hwc[1] + p.pad[1] + 1;
            m.insert(0, Mode::Ring { ring: align(pixels * p.in_hwc[2]) });
        }
        m
    }

    fn c(&self, s: &CSite) -> CCode {
        let (p, l) = (&self.p, &s.l);
        let data = self.c_data(l);
        let dw = if p.depthwise { "depthwise_" } else { "" };
        let call = match s.ring {
            // Exactly in place: each input pixel is saved in the ring before it is overwritten.
            Some(ring) => format!("hyb_{dw}conv_s8_inplace(&{l}_params, {}, hyb_arena + {ring});", s.output),
            None => format!("hyb_{dw}conv_s8(&{l}_params, {}, {});", s.inputs[0], s.output),
        };
        CCode { data, call }
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        let (input, output) = (s.input(0)?, s.output()?);
        let (p, consts) = (&self.p, self.rust_consts(s));
        let ring = s.ring.map_or("None".to_string(), |r| format!("Some({r})"));
        Ok(RustCode {
            consts,
            call: format!("conv(&{}, arena, {input}, {output}, {ring}, &mut [0; {}]);", s.l, p.out_hwc[2]),
            uses: vec!["conv::conv".into(), "conv::Conv".into()],
        })
    }
}

/// A Conv waiting for its output quantization (and maybe a bias Add).
#[derive(Debug, Clone)]
struct PendingConv {
    x: Act8,
    w: Constant,
    b: Option<Constant>,
    attrs: ConvAttrs,
}

impl Pending for PendingConv {
    fn finish(self: Box<Self>, im: &mut Importer, logical: &[usize], act: Activation, q: QParams) -> Result<Built> {
        let xin = im.storage(&self.x, &NCHW_AS_NHWC, "Conv")?;
        let in_hwc = im.g.tensors[xin].hwc();
        let (logical4, perm) = lift(logical);
        let out_hwc = hybridc_ir::hwc(&storage_shape(&logical4, &NCHW_AS_NHWC));
        let conv = prepare(&self, in_hwc, out_hwc, act, q)?;
        Ok(Built { kind: Box::new(conv), inputs: vec![xin], perm })
    }

    fn with_bias(self: Box<Self>, bias: Constant) -> Result<Box<dyn Pending>> {
        if self.b.is_some() {
            bail!("adding a constant is only supported as the bias of a MatMul or Conv");
        }
        Ok(Box::new(PendingConv { b: Some(bias), ..*self }))
    }
}

/// A windowed op's output: its logical shape as 2-D NCHW, and the storage
/// order of the real rank (NHWC, or N L C for a 1-D op).
pub fn lift(logical: &[usize]) -> (Vec<usize>, Vec<usize>) {
    match logical {
        &[n, c, l] => (vec![n, c, 1, l], vec![0, 2, 1]),
        _ => (logical.to_vec(), NCHW_AS_NHWC.to_vec()),
    }
}

/// Weights re-laid-out for the kernels, bias checked, and TFLite's Prepare:
/// per output channel, input scale x weight scale / output scale as a
/// quantized multiplier.
fn prepare(pc: &PendingConv, in_hwc: [usize; 3], out_hwc: [usize; 3], act: Activation, qo: QParams) -> Result<Conv> {
    let (x, w, a) = (&pc.x, &pc.w, &pc.attrs);
    let q = w.quant.as_ref().ok_or_else(|| anyhow!("weights must be int8 behind a DequantizeLinear"))?;
    let Data::I8(data) = &w.data else { bail!("weights must be int8") };
    if q.zero_points.iter().any(|&z| z != 0) {
        bail!("weights must be symmetric (zero point 0), as TFLite's int8 spec");
    }
    let (o, ipg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
    if [kh, kw] != a.kernel && a.kernel != [0, 0] {
        bail!("kernel_shape {:?} does not match weights {:?}", a.kernel, w.shape);
    }
    let scales: Vec<f32> = match q.scales.len() {
        1 => vec![q.scales[0]; o],
        n if n == o && q.axis == 0 => q.scales.clone(),
        _ => bail!("weights must be quantized per tensor or per output channel (axis 0)"),
    };
    let in_c = x.logical[1];
    let depthwise = a.group > 1;
    if depthwise && (a.group != in_c || ipg != 1 || o % in_c != 0) {
        bail!("grouped convolution with {} groups is not supported (only regular and depthwise)", a.group);
    }
    let mut weights = vec![0i8; data.len()];
    for oc in 0..o {
        for ky in 0..kh {
            for kx in 0..kw {
                for ic in 0..ipg {
                    let src = ((oc * ipg + ic) * kh + ky) * kw + kx;
                    let dst = if depthwise { (ky * kw + kx) * o + oc } else { ((oc * kh + ky) * kw + kx) * ipg + ic };
                    weights[dst] = data[src];
                }
            }
        }
    }
    let bias = bias_values(pc.b.as_ref(), o, x.q.scale, &scales)?;
    let (multiplier, shift) = scales.iter().map(|&ws| super::requant_multiplier(x.q.scale as f64 * ws as f64 / qo.scale as f64)).collect::<Result<Vec<_>>>()?.into_iter().unzip();
    let p = k::Conv {
        depthwise,
        in_hwc,
        out_hwc,
        kernel: [kh, kw],
        stride: a.stride,
        dilation: a.dilation,
        pad: [a.pads[0], a.pads[1]],
        depth_multiplier: if depthwise { out_hwc[2] / in_hwc[2] } else { 1 },
        input_offset: -x.q.zero_point,
        output_offset: qo.zero_point,
        act: activation_range(act, qo),
        weights: &[],
        bias: &[],
        multiplier: &[],
        shift: &[],
    };
    Ok(Conv { p, weights, bias, multiplier, shift })
}

/// The int32 bias of `n` outputs, checked against TFLite's int8 spec.
pub fn bias_values(b: Option<&Constant>, n: usize, in_scale: f32, w_scales: &[f32]) -> Result<Vec<i32>> {
    let Some(b) = b else { return Ok(vec![0; n]) };
    let Data::I32(v) = &b.data else { bail!("bias must be int32 behind a DequantizeLinear") };
    if v.len() != n {
        bail!("bias has {} values, expected {n}", v.len());
    }
    if let Some(q) = &b.quant {
        if q.zero_points.iter().any(|&z| z != 0) {
            bail!("bias zero point must be 0");
        }
        // The bias scale must be input scale x weight scale (TFLite's int8 spec).
        for (i, &s) in q.scales.iter().enumerate() {
            let ws = w_scales[if w_scales.len() == 1 { 0 } else { i }];
            let expect = in_scale as f64 * ws as f64;
            if ((s as f64 - expect) / expect).abs() > 1e-3 {
                bail!("bias scale {s} is not input scale x weight scale ({expect}) for channel {i}");
            }
        }
    }
    Ok(v.clone())
}

/// An optional constant bias input.
pub fn bias_input(im: &Importer, i: usize) -> Result<Option<Constant>> {
    match im.opt_input(i)? {
        Some(Val::Const(c)) => Ok(Some(c.clone())),
        Some(_) => bail!("bias must be a constant"),
        None => Ok(None),
    }
}

/// A 1-D [N, C, L] activation seen as 2-D [N, C, 1, L] (H = 1), in the
/// same bytes: the new size-1 dim goes anywhere in storage order.
pub fn as_2d(x: &Act8) -> Act8 {
    let mut perm: Vec<usize> = x.perm.iter().map(|&d| if d >= 2 { d + 1 } else { d }).collect();
    perm.push(2);
    let logical = vec![x.logical[0], x.logical[1], 1, x.logical[2]];
    Act8 { logical, perm, ..x.clone() }
}

/// The window attributes of a 1-D op (Conv1d, MaxPool1d, ...) over a
/// length-`len` input, as a 2-D window of height 1.
pub fn attrs_1d(im: &Importer, len: usize, kernel_default: Option<usize>) -> Result<ConvAttrs> {
    let one = |name: &str, def: usize| -> Result<usize> {
        match im.attr_ints(name)?.as_deref() {
            Some(&[v]) if v > 0 => Ok(v as usize),
            None => Ok(def),
            Some(v) => bail!("attribute {name}={v:?} is not one positive value (1-D op)"),
        }
    };
    let kernel = match (im.attr_ints("kernel_shape")?.as_deref(), kernel_default) {
        (Some(&[k]), _) if k > 0 => k as usize,
        (None, Some(k)) => k,
        (v, _) => bail!("kernel_shape {v:?} is not a 1-D kernel"),
    };
    let (stride, dilation) = (one("strides", 1)?, one("dilations", 1)?);
    let auto_pad = im.node.attribute.iter().find(|a| a.name == "auto_pad").map(|a| String::from_utf8_lossy(&a.s).to_string());
    let (before, after) = match auto_pad.as_deref().unwrap_or("NOTSET") {
        "NOTSET" => match im.attr_ints("pads")?.as_deref() {
            Some(&[a, b]) if a >= 0 && b >= 0 => (a as usize, b as usize),
            Some(p) => bail!("pads {p:?} not supported (1-D op)"),
            None => (0, 0),
        },
        "VALID" => (0, 0),
        mode @ ("SAME_UPPER" | "SAME_LOWER") => {
            let eff = kernel.checked_sub(1).and_then(|k| k.checked_mul(dilation)).ok_or_else(|| anyhow!("kernel or dilation too large"))? + 1;
            let total = ((len.div_ceil(stride).max(1) - 1) * stride + eff).saturating_sub(len);
            let (small, big) = (total / 2, total - total / 2);
            if mode == "SAME_UPPER" { (small, big) } else { (big, small) }
        }
        other => bail!("auto_pad={other} not supported"),
    };
    let group = im.attr_i("group")?.unwrap_or(1).max(1) as usize;
    Ok(ConvAttrs { kernel: [1, kernel], stride: [1, stride], dilation: [1, dilation], pads: [0, before, 0, after], group })
}

/// ONNX Conv: 2-D, or 1-D on [N, C, L] run as 2-D with H = 1.
fn import(im: &mut Importer) -> Result<()> {
    let x = im.deq(0)?;
    let one_d = x.logical.len() == 3;
    if x.logical.len() != 4 && !one_d {
        bail!("only 1-D and 2-D convolution (3-D or 4-D input) are supported, input is {:?}", x.logical);
    }
    let mut w = im.constant(1)?;
    if w.quant.is_none() || !matches!(w.data, Data::I8(_)) {
        bail!("weights must be int8 behind a DequantizeLinear");
    }
    let b = bias_input(im, 2)?;
    if one_d && w.shape.len() == 3 {
        w.shape.insert(2, 1);
    }
    if w.shape.len() != 4 {
        bail!("weights {:?} do not match a {}-D convolution", w.shape, if one_d { 1 } else { 2 });
    }
    let (x, attrs) = if one_d {
        let a = attrs_1d(im, x.logical[2], Some(w.shape[3]))?;
        (as_2d(&x), a)
    } else {
        let a = im.conv_attrs([x.logical[2], x.logical[3]], Some([w.shape[2], w.shape[3]]))?;
        (x, a)
    };
    let [n, c, h, wd] = [x.logical[0], x.logical[1], x.logical[2], x.logical[3]];
    let o = w.shape[0];
    let oh = out_dim(h, attrs.kernel[0], attrs.stride[0], attrs.dilation[0], attrs.pads[0] + attrs.pads[2])?;
    let ow = out_dim(wd, attrs.kernel[1], attrs.stride[1], attrs.dilation[1], attrs.pads[1] + attrs.pads[3])?;
    if w.shape[1] * attrs.group != c {
        bail!("weights {:?} do not fit input channels {c} with group {}", w.shape, attrs.group);
    }
    let logical = if one_d { vec![n, o, ow] } else { vec![n, o, oh, ow] };
    im.pending(Box::new(PendingConv { x, w, b, attrs }), logical);
    Ok(())
}
