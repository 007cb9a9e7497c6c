//! Softmax int8 -> int8 over the innermost axis (TFLite Micro's reference:
//! output scale 1/256, zero point -128).

use anyhow::{bail, Result};
use hybridc_kernels::softmax as k;

use super::{Built, CCode, CSite, OnnxOp, OpKind, Pending, RustCode, RustSite};
use crate::frontend::layout::{identity, same_order};
use crate::frontend::{Act8, Importer};
use crate::ir::{Activation, QParams};
use crate::quant::fixedpoint::{calculate_input_radius, preprocess_softmax_scaling};

pub static ONNX: &[OnnxOp] = &[OnnxOp { onnx: "Softmax", import, keeps_scale: false }];

#[derive(Debug, Clone)]
pub struct Softmax {
    pub p: k::Softmax,
}

impl OpKind for Softmax {
    fn name(&self) -> &'static str { "Softmax" }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        k::softmax(&self.p, arena, at.inputs[0], at.output);
    }

    fn c(&self, s: &CSite) -> CCode {
        let p = &self.p;
        let data = format!(
            "static const hyb_softmax_params {}_params = {{\n    .rows = {}, .depth = {}, .input_multiplier = {}, .input_left_shift = {}, .diff_min = {},\n}};\n",
            s.l, p.rows, p.depth, p.input_multiplier, p.input_left_shift, p.diff_min
        );
        s.code("hyb_softmax_s8", data)
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> { s.code("softmax", "softmax", "Softmax", &self.p, "") }
}

#[derive(Debug, Clone)]
struct PendingSoftmax {
    x: Act8,
}

impl Pending for PendingSoftmax {
    fn finish(self: Box<Self>, im: &mut Importer, _logical: &[usize], act: Activation, q: QParams) -> Result<Built> {
        if act != Activation::None {
            bail!("an activation after Softmax is not supported");
        }
        if q.zero_point != -128 || q.scale != 1.0 / 256.0 {
            bail!("int8 Softmax output must have scale 1/256 and zero point -128 (got {} and {})", q.scale, q.zero_point);
        }
        let perm = identity(self.x.logical.len());
        let xin = im.storage(&self.x, &perm, "Softmax")?;
        let (input_multiplier, input_left_shift) = preprocess_softmax_scaling(1.0, self.x.q.scale as f64, 5);
        let t = &im.g.tensors[xin];
        let depth = *t.shape.last().unwrap_or(&1);
        let p = k::Softmax { rows: t.len() / depth.max(1), depth, input_multiplier, input_left_shift, diff_min: -calculate_input_radius(5, input_left_shift) };
        Ok(Built { kind: Box::new(Softmax { p }), inputs: vec![xin], perm })
    }
}

fn import(im: &mut Importer) -> Result<()> {
    let x = im.deq(0)?;
    let rank = x.logical.len() as i64;
    let axis = im.attr_i("axis")?.unwrap_or(-1);
    let axis = if axis < 0 { axis + rank } else { axis };
    if axis != rank - 1 || !same_order(&x.logical, &x.perm, &identity(x.logical.len())) {
        bail!("Softmax is supported over the last axis of a row-major tensor only");
    }
    let logical = x.logical.clone();
    im.pending(Box::new(PendingSoftmax { x }), logical);
    Ok(())
}
