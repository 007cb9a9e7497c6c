//! AveragePool2D and MaxPool2D, int8 (TFLite reference_integer_ops), from
//! ONNX AveragePool, GlobalAveragePool, ReduceMean over H and W (TFLite's
//! Mean: average pooling into another scale) and MaxPool.

use anyhow::{bail, Result};
use hybridc_kernels::pool as k;

use super::conv::{as_2d, attrs_1d, lift};
use super::inplace::window_modes;
use super::{activation_range, Built, CCode, CSite, OnnxOp, OpKind, Pending, RustCode, RustSite};
use crate::frontend::layout::{identity, storage_shape, NCHW_AS_NHWC};
use crate::frontend::{out_dim, Act8, ConvAttrs, Importer, Val};
use crate::ir::{Activation, QParams};

pub static ONNX: &[OnnxOp] = &[
    OnnxOp { onnx: "AveragePool", import: average, keeps_scale: false },
    OnnxOp { onnx: "GlobalAveragePool", import: global_average, keeps_scale: false },
    OnnxOp { onnx: "ReduceMean", import: reduce_mean, keeps_scale: false },
    OnnxOp { onnx: "MaxPool", import: max, keeps_scale: true },
];

#[derive(Debug, Clone)]
pub struct Pool {
    pub max: bool,
    pub p: k::Pool,
}

impl OpKind for Pool {
    fn name(&self) -> &'static str {
        if self.max { "MaxPool2D" } else { "AveragePool2D" }
    }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        let mut acc = vec![0; self.p.in_hwc[2]];
        let run = if self.max { k::max_pool } else { k::average_pool };
        run(&self.p, arena, at.inputs[0], at.output, &mut acc);
    }

    fn in_place(&self, _g: &super::Graph, _op: &super::Op) -> Vec<super::Mode> { window_modes(self.p.in_hwc, self.p.out_hwc, self.p.stride, self.p.pad) }

    fn c(&self, s: &CSite) -> CCode {
        let (p, l) = (&self.p, &s.l);
        let [io, oo, m, sh] = p.requant.unwrap_or([0; 4]);
        let data = format!(
            "static const hyb_pool_params {l}_params = {{\n    .in_h = {}, .in_w = {}, .channels = {}, .out_h = {}, .out_w = {},\n    .k_h = {}, .k_w = {}, .stride_h = {}, .stride_w = {}, .pad_top = {}, .pad_left = {}, .act_min = {}, .act_max = {},\n    .requant = {}, .input_offset = {io}, .output_offset = {oo}, .multiplier = {m}, .shift = {sh},\n}};\n",
            p.in_hwc[0], p.in_hwc[1], p.in_hwc[2], p.out_hwc[0], p.out_hwc[1], p.kernel[0], p.kernel[1], p.stride[0], p.stride[1],
            p.pad[0], p.pad[1], p.act[0], p.act[1], if p.folded { 2 } else { p.requant.is_some() as i32 }
        );
        let f = if self.max { "hyb_max_pool_s8" } else { "hyb_avg_pool_s8" };
        s.code(f, data)
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        // The kernel's accumulator row: one word per channel.
        let acc = format!(", &mut [0; {}]", self.p.in_hwc[2]);
        s.code("pool", if self.max { "max_pool" } else { "average_pool" }, "Pool", &self.p, &acc)
    }

}

/// A pool waiting for its output quantization.
#[derive(Debug, Clone)]
struct PendingPool {
    x: Act8,
    attrs: ConvAttrs,
    max: bool,
    /// ReduceMean (TFLite's MEAN): 1 / count folded into the multiplier.
    mean: bool,
}

/// TFLite Micro's Mean: the multiplier takes 1 / count with as many bits
/// as the count has (at most 32, and no further than shift 31 allows).
fn fold_count([io, oo, multiplier, shift]: [i32; 4], count: usize) -> [i32; 4] {
    let count = count.max(1) as i64;
    let bits = (63 - (count as u64).leading_zeros() as i32).min(32).min(31 + shift).max(0);
    let folded = ((multiplier as i64) << bits) / count;
    [io, oo, folded as i32, shift - bits]
}

impl Pending for PendingPool {
    fn finish(self: Box<Self>, im: &mut Importer, logical: &[usize], act: Activation, q: QParams) -> Result<Built> {
        let what = if self.max { "MaxPool" } else { "AveragePool" };
        let xin = im.storage(&self.x, &NCHW_AS_NHWC, what)?;
        // A mean without keepdims gives [N, C]: already channels last.
        let (out_store, perm) = match logical.len() {
            2 => (logical.to_vec(), identity(2)),
            _ => {
                let (logical4, perm) = lift(logical);
                (storage_shape(&logical4, &NCHW_AS_NHWC), perm)
            }
        };
        let qi = self.x.q;
        if self.max && qi != q {
            bail!("int8 MaxPool needs equal input and output quantization");
        }
        // TFLite's Mean: the sum of (x - input zero point) times in/out scale.
        let a = &self.attrs;
        let in_hwc = im.g.tensors[xin].hwc();
        let (multiplier, shift) = crate::quant::fixedpoint::quantize_multiplier(qi.scale as f64 / q.scale as f64);
        let requant = (qi != q || self.mean).then_some([-qi.zero_point, q.zero_point, multiplier, shift]);
        let requant = if self.mean { requant.map(|r| fold_count(r, in_hwc[0] * in_hwc[1])) } else { requant };
        let p = k::Pool {
            in_hwc,
            folded: self.mean,
            out_hwc: hybridc_ir::hwc(&out_store),
            kernel: a.kernel,
            stride: a.stride,
            pad: [a.pads[0], a.pads[1]],
            act: activation_range(act, q),
            requant,
        };
        Ok(Built { kind: Box::new(Pool { max: self.max, p }), inputs: vec![xin], perm })
    }
}

/// The dequantized NCHW input of a 2-D pool, or of a 1-D pool lifted to
/// 2-D (H = 1); `true` for 1-D.
fn pool_input(im: &Importer) -> Result<(Act8, bool)> {
    let x = im.deq(0)?;
    match x.logical.len() {
        4 => Ok((x, false)),
        3 => Ok((as_2d(&x), true)),
        _ => bail!("only 1-D and 2-D pooling are supported, input is {:?}", x.logical),
    }
}

/// The window attributes of a pool over `x`.
fn pool_attrs(im: &Importer, x: &Act8, one_d: bool) -> Result<ConvAttrs> {
    if one_d {
        attrs_1d(im, x.logical[3], None)
    } else {
        im.conv_attrs([x.logical[2], x.logical[3]], None)
    }
}

/// Output size of a pool. With ceil_mode the last window may hang over the
/// border (the kernels clip it, TFLite-style), but must start inside the
/// input or its leading padding.
fn pool_dim(input: usize, k: usize, stride: usize, pads: [usize; 2], ceil: bool) -> Result<usize> {
    let floor = out_dim(input, k, stride, 1, pads[0] + pads[1])?;
    if !ceil {
        return Ok(floor);
    }
    let mut out = (input + pads[0] + pads[1] - k).div_ceil(stride) + 1;
    if (out - 1) * stride >= input + pads[0] {
        out -= 1;
    }
    Ok(out)
}

fn windowed(im: &mut Importer, (x, one_d): (Act8, bool), attrs: ConvAttrs, max: bool) -> Result<()> {
    let ceil = im.attr_i("ceil_mode")?.unwrap_or(0) != 0;
    let (h, w) = (x.logical[2], x.logical[3]);
    let oh = pool_dim(h, attrs.kernel[0], attrs.stride[0], [attrs.pads[0], attrs.pads[2]], ceil)?;
    let ow = pool_dim(w, attrs.kernel[1], attrs.stride[1], [attrs.pads[1], attrs.pads[3]], ceil)?;
    let logical = if one_d { vec![x.logical[0], x.logical[1], ow] } else { vec![x.logical[0], x.logical[1], oh, ow] };
    im.pending(Box::new(PendingPool { x, attrs, max, mean: false }), logical);
    Ok(())
}

/// A window over the whole image.
fn whole(x: &Act8) -> ConvAttrs {
    ConvAttrs { kernel: [x.logical[2], x.logical[3]], stride: [1, 1], dilation: [1, 1], pads: [0; 4], group: 1 }
}

fn average(im: &mut Importer) -> Result<()> {
    let x = pool_input(im)?;
    let a = pool_attrs(im, &x.0, x.1)?;
    if im.attr_i("count_include_pad")?.unwrap_or(0) != 0 && a.pads.iter().any(|&p| p > 0) {
        bail!("count_include_pad=1 with padding is not supported (TFLite excludes padding)");
    }
    windowed(im, x, a, false)
}

fn global_average(im: &mut Importer) -> Result<()> {
    let x = pool_input(im)?;
    let a = whole(&x.0);
    windowed(im, x, a, false)
}

fn max(im: &mut Importer) -> Result<()> {
    let x = pool_input(im)?;
    if im.attr_ints("dilations")?.is_some_and(|d| d.iter().any(|&v| v != 1)) {
        bail!("dilated MaxPool is not supported");
    }
    let a = pool_attrs(im, &x.0, x.1)?;
    windowed(im, x, a, true)
}

/// ReduceMean over H and W is a global average pool.
fn reduce_mean(im: &mut Importer) -> Result<()> {
    let x = im.deq(0)?;
    let axes = match im.opt_input(1)? {
        Some(Val::Const(c)) => c.as_i64(),
        Some(_) => bail!("axes must be constant"),
        None => im.attr_ints("axes")?,
    }
    .unwrap_or_default();
    let rank = x.logical.len() as i64;
    let mut axes: Vec<i64> = axes.iter().map(|&a| if a < 0 { a + rank } else { a }).collect();
    axes.sort();
    if rank != 4 || axes != [2, 3] {
        bail!("ReduceMean is supported over the spatial axes [2, 3] of an NCHW tensor (got axes {axes:?})");
    }
    let keep = im.attr_i("keepdims")?.unwrap_or(1) != 0;
    let (n, c) = (x.logical[0], x.logical[1]);
    let attrs = whole(&x);
    let logical = if keep { vec![n, c, 1, 1] } else { vec![n, c] };
    im.pending(Box::new(PendingPool { x, attrs, max: false, mean: true }), logical);
    Ok(())
}
