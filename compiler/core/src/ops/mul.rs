//! Mul, int8 with broadcasting (TFLite reference_integer_ops::Mul: the
//! product of the centred inputs times in1 x in2 / out scale), run by the
//! broadcasting kernel of ops/add.rs.

use anyhow::Result;

use super::add::{add_params, binary, operands, Binary};
use super::{Built, OnnxOp, Pending};
use crate::frontend::{broadcast_shape, Act8, Importer};
use crate::ir::{Activation, QParams};
use crate::quant::fixedpoint::quantize_multiplier;

pub static ONNX: &[OnnxOp] = &[OnnxOp { onnx: "Mul", import, keeps_scale: false }];

#[derive(Debug, Clone)]
struct PendingMul {
    a: Act8,
    b: Act8,
}

impl Pending for PendingMul {
    fn finish(self: Box<Self>, im: &mut Importer, logical: &[usize], act: Activation, q: QParams) -> Result<Built> {
        let o = operands(im, &self.a, &self.b, logical)?;
        // The offsets and range as Add's; the output multiplier is Mul's own.
        let mut p = add_params(self.a.q, self.b.q, q, o.len, act);
        (p.output_multiplier, p.output_shift) = quantize_multiplier(self.a.q.scale as f64 * self.b.q.scale as f64 / q.scale as f64);
        Ok(Built { kind: Box::new(Binary { p: binary(true, &o, p) }), inputs: o.inputs, perm: o.perm })
    }
}

fn import(im: &mut Importer) -> Result<()> {
    let (a, b) = (im.operand(0)?, im.operand(1)?);
    let logical = broadcast_shape(&a.logical, &b.logical)?;
    im.pending(Box::new(PendingMul { a, b }), logical);
    Ok(())
}
