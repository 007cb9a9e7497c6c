//! TransposeConv, int8 NHWC with per-channel requantization (TFLite
//! reference_integer_ops::TransposeConv with bias), from ONNX ConvTranspose
//! (2-D, group 1, dilation 1: the decoders of autoencoders). No DSP
//! variant: Cortex-M targets run the portable kernel.

use anyhow::{anyhow, bail, Result};
use hybridc_kernels::conv as k;

use super::conv::{bias_input, bias_values, Conv};
use super::{activation_range, Built, CCode, CSite, OnnxOp, OpKind, Pending, RustCode, RustSite};
use crate::frontend::constant::{Constant, Data};
use crate::frontend::layout::{storage_shape, NCHW_AS_NHWC};
use crate::frontend::{Act8, Importer};
use crate::ir::{Activation, QParams};

pub static ONNX: &[OnnxOp] = &[OnnxOp { onnx: "ConvTranspose", import, keeps_scale: false }];

/// A transposed convolution: a [`Conv`]'s parameters and constants (regular
/// weights [out_c][kh][kw][in_c]; `pad` cut from the top and left).
#[derive(Debug, Clone)]
pub struct ConvTranspose(pub Conv);

impl OpKind for ConvTranspose {
    fn name(&self) -> &'static str { "TransposeConv" }

    fn macs(&self, _g: &super::Graph, _op: &super::Op) -> u64 {
        let p = &self.0.p;
        (p.in_hwc.iter().product::<usize>() * p.kernel[0] * p.kernel[1] * p.out_hwc[2]) as u64
    }

    fn flash_bytes(&self) -> usize { self.0.flash_bytes() }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        let mut acc = vec![0; self.0.p.out_hwc[2]];
        k::conv_transpose(&self.0.kernel(), arena, at.inputs[0], at.output, &mut acc);
    }

    fn c(&self, s: &CSite) -> CCode { s.code("hyb_conv_transpose_s8", self.0.c_data(&s.l)) }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        let (input, output) = (s.input(0)?, s.output()?);
        let consts = self.0.rust_consts(s);
        Ok(RustCode {
            consts,
            call: format!("conv_transpose(&{}, arena, {input}, {output}, &mut [0; {}]);", s.l, self.0.p.out_hwc[2]),
            uses: vec!["conv::conv_transpose".into(), "conv::Conv".into()],
        })
    }
}

#[derive(Debug, Clone)]
struct PendingConvTranspose {
    x: Act8,
    w: Constant,
    b: Option<Constant>,
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
}

impl Pending for PendingConvTranspose {
    fn finish(self: Box<Self>, im: &mut Importer, logical: &[usize], act: Activation, q: QParams) -> Result<Built> {
        let xin = im.storage(&self.x, &NCHW_AS_NHWC, "ConvTranspose")?;
        let in_hwc = im.g.tensors[xin].hwc();
        let out_hwc = hybridc_ir::hwc(&storage_shape(logical, &NCHW_AS_NHWC));
        let (x, w) = (&self.x, &self.w);
        let wq = w.quant.as_ref().ok_or_else(|| anyhow!("weights must be int8 behind a DequantizeLinear"))?;
        let Data::I8(data) = &w.data else { bail!("weights must be int8") };
        if wq.zero_points.iter().any(|&z| z != 0) {
            bail!("weights must be symmetric (zero point 0), as TFLite's int8 spec");
        }
        // ONNX weights are [in_c][out_c][kh][kw].
        let (ic, oc, [kh, kw]) = (w.shape[0], w.shape[1], self.kernel);
        let scales: Vec<f32> = match wq.scales.len() {
            1 => vec![wq.scales[0]; oc],
            n if n == oc && wq.axis == 1 => wq.scales.clone(),
            _ => bail!("ConvTranspose weights must be quantized per tensor or per output channel (axis 1)"),
        };
        let mut weights = vec![0i8; data.len()];
        for i in 0..ic {
            for o in 0..oc {
                for ky in 0..kh {
                    for kx in 0..kw {
                        weights[((o * kh + ky) * kw + kx) * ic + i] = data[((i * oc + o) * kh + ky) * kw + kx];
                    }
                }
            }
        }
        let bias = bias_values(self.b.as_ref(), oc, x.q.scale, &scales)?;
        let (multiplier, shift) = scales.iter().map(|&ws| super::requant_multiplier(x.q.scale as f64 * ws as f64 / q.scale as f64)).collect::<Result<Vec<_>>>()?.into_iter().unzip();
        let p = k::Conv {
            depthwise: false,
            in_hwc,
            out_hwc,
            kernel: self.kernel,
            stride: self.stride,
            dilation: [1, 1],
            pad: self.pad,
            depth_multiplier: 1,
            input_offset: -x.q.zero_point,
            output_offset: q.zero_point,
            act: activation_range(act, q),
            weights: &[],
            bias: &[],
            multiplier: &[],
            shift: &[],
        };
        let conv = Conv { p, weights, bias, multiplier, shift };
        Ok(Built { kind: Box::new(ConvTranspose(conv)), inputs: vec![xin], perm: NCHW_AS_NHWC.to_vec() })
    }
}

fn import(im: &mut Importer) -> Result<()> {
    let x = im.deq(0)?;
    if x.logical.len() != 4 {
        bail!("only 2-D ConvTranspose (4-D input) is supported, input is {:?}", x.logical);
    }
    let w = im.constant(1)?;
    if w.quant.is_none() || !matches!(w.data, Data::I8(_)) {
        bail!("weights must be int8 behind a DequantizeLinear");
    }
    if w.shape.len() != 4 || w.shape[0] != x.logical[1] {
        bail!("weights {:?} do not fit input {:?} (expected [in_c, out_c, kh, kw])", w.shape, x.logical);
    }
    let b = bias_input(im, 2)?;
    if im.attr_i("group")?.unwrap_or(1) != 1 {
        bail!("grouped ConvTranspose is not supported");
    }
    let two = |name: &str, def: i64, min: i64| -> Result<[usize; 2]> {
        match im.attr_ints(name)?.as_deref() {
            None => Ok([def as usize; 2]),
            Some(&[a, b]) if a >= min && b >= min && a <= 1 << 16 && b <= 1 << 16 => Ok([a as usize, b as usize]),
            Some(v) => bail!("ConvTranspose {name}={v:?} is not supported"),
        }
    };
    if two("dilations", 1, 1)? != [1, 1] {
        bail!("dilated ConvTranspose is not supported");
    }
    let kernel = [w.shape[2], w.shape[3]];
    if im.attr_ints("kernel_shape")?.is_some_and(|k| k.len() != 2 || k[0] as usize != kernel[0] || k[1] as usize != kernel[1]) {
        bail!("kernel_shape does not match weights {:?}", w.shape);
    }
    let stride = two("strides", 1, 1)?;
    let extra = two("output_padding", 0, 0)?;
    if im.attr_ints("output_shape")?.is_some() {
        bail!("ConvTranspose with output_shape is not supported (give pads and output_padding)");
    }
    let auto_pad = im.node.attribute.iter().find(|a| a.name == "auto_pad").map(|a| String::from_utf8_lossy(&a.s).to_string());
    if auto_pad.as_deref().is_some_and(|m| m != "NOTSET") {
        bail!("ConvTranspose auto_pad={auto_pad:?} is not supported (give pads)");
    }
    let pads = match im.attr_ints("pads")?.as_deref() {
        None => [0; 4],
        Some(&[a, b, c, d]) if [a, b, c, d].iter().all(|&v| (0..=1 << 16).contains(&v)) => [a as usize, b as usize, c as usize, d as usize],
        Some(p) => bail!("ConvTranspose pads {p:?} are not supported"),
    };
    // out = stride (in - 1) + output_padding + k - pad_begin - pad_end.
    let mut out = [0; 2];
    for d in 0..2 {
        let full = (x.logical[2 + d] - 1)
            .checked_mul(stride[d])
            .and_then(|v| v.checked_add(extra[d] + kernel[d]))
            .ok_or_else(|| anyhow!("ConvTranspose output too large"))?;
        out[d] = full
            .checked_sub(pads[d] + pads[d + 2])
            .filter(|&o| o > 0)
            .ok_or_else(|| anyhow!("ConvTranspose pads {pads:?} leave no output"))?;
    }
    let (n, o) = (x.logical[0], w.shape[1]);
    let pad = [pads[0], pads[1]];
    im.pending(Box::new(PendingConvTranspose { x, w, b, kernel, stride, pad }), vec![n, o, out[0], out[1]]);
    Ok(())
}
