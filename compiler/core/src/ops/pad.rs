//! Pad with the quantized zero (ONNX Pad, constant mode), int8.

use anyhow::{anyhow, bail, Result};
use hybridc_kernels::shape as k;

use super::{emit, shape4, Built, CCode, CSite, OnnxOp, OpKind, Pending, RustCode, RustSite};
use crate::frontend::constant::Data;
use crate::frontend::{Act8, Importer, Val};
use crate::ir::{Activation, QParams};

pub static ONNX: &[OnnxOp] = &[OnnxOp { onnx: "Pad", import, keeps_scale: true }];

#[derive(Debug, Clone)]
pub struct Pad {
    pub p: k::Pad,
}

impl OpKind for Pad {
    fn name(&self) -> &'static str { "Pad" }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        k::pad(&self.p, arena, at.inputs[0], at.output);
    }

    fn c(&self, s: &CSite) -> CCode {
        let p = &self.p;
        let data = format!(
            "static const hyb_pad_params {}_params = {{ .in_shape = {{{}}}, .out_shape = {{{}}}, .before = {{{}}}, .value = {} }};\n",
            s.l,
            emit::join(&p.in_shape),
            emit::join(&p.out_shape),
            emit::join(&p.before),
            p.value
        );
        s.code("hyb_pad_s8", data)
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> { s.code("shape", "pad", "Pad", &self.p, "") }
}

#[derive(Debug, Clone)]
struct PendingPad {
    x: Act8,
    before: Vec<usize>,
}

impl Pending for PendingPad {
    fn finish(self: Box<Self>, im: &mut Importer, logical: &[usize], act: Activation, q: QParams) -> Result<Built> {
        super::same_quantization("Pad", act, self.x.q, q)?;
        let perm = self.x.perm.clone();
        let xin = im.storage(&self.x, &perm, "Pad")?;
        let in_shape = im.g.tensors[xin].shape.clone();
        let n = in_shape.len();
        let mut before = [0; 4];
        for (k, &d) in perm.iter().enumerate() {
            before[4 - n + k] = self.before[d];
        }
        let out = crate::frontend::layout::storage_shape(logical, &perm);
        let p = k::Pad { in_shape: shape4(&in_shape), out_shape: shape4(&out), before, value: q.zero_point.clamp(-128, 127) as i8 };
        Ok(Built { kind: Box::new(Pad { p }), inputs: vec![xin], perm })
    }
}

fn import(im: &mut Importer) -> Result<()> {
    let x = im.deq(0)?;
    let rank = x.logical.len();
    let pads = match im.opt_input(1)? {
        Some(Val::Const(c)) => c.as_i64(),
        Some(_) => bail!("pads must be constant"),
        None => im.attr_ints("pads")?,
    }
    .ok_or_else(|| anyhow!("Pad needs pads"))?;
    if pads.len() != 2 * rank || pads.iter().any(|&p| p < 0) {
        bail!("pads {pads:?} are not supported (non-negative, one pair per axis)");
    }
    if let Some(Val::Const(c)) = im.opt_input(2)? {
        let zero = match (&c.data, &c.quant) {
            (Data::F32(v), _) => v.iter().all(|&x| x == 0.0),
            (Data::I8(v), Some(q)) => v.iter().all(|&x| x as i32 == q.zero_points[0]),
            _ => false,
        };
        if !zero {
            bail!("only padding with zeros is supported");
        }
    }
    let mode = im.node.attribute.iter().find(|a| a.name == "mode").map(|a| String::from_utf8_lossy(&a.s).to_string());
    if mode.as_deref().is_some_and(|m| m != "constant") {
        bail!("Pad mode {mode:?} is not supported (constant only)");
    }
    let before: Vec<usize> = pads[..rank].iter().map(|&p| p as usize).collect();
    let logical: Vec<usize> = (0..rank).map(|d| x.logical[d] + pads[d] as usize + pads[d + rank] as usize).collect();
    im.pending(Box::new(PendingPad { x, before }), logical);
    Ok(())
}
