//! Quantize (float32 -> int8) and Dequantize (int8 -> float32) at the
//! model's float boundaries and around float ops (TFLite's Quantize and
//! Dequantize).

use anyhow::Result;
use hybridc_kernels::elementwise as k;

use super::{emit, CCode, CSite, OpKind, RustCode, RustSite};
use crate::ir::QParams;

/// `quantize`: float -> int8 with the output's parameters; else int8 ->
/// float with the input's.
#[derive(Debug, Clone)]
pub struct Quantize {
    pub quantize: bool,
    pub p: k::Quant,
}

impl Quantize {
    pub fn new(quantize: bool, len: usize, q: QParams) -> Quantize {
        Quantize { quantize, p: k::Quant::flat(len, q.scale, q.zero_point) }
    }

    /// (De)quantizes a tensor of shape `in_shape` into storage whose dim i
    /// is input dim perm[i] (NCHW float input -> NHWC int8, NHWC int8 result
    /// -> NCHW float output, in the same pass); None when the permutation
    /// does not reduce to 4 dims.
    pub fn permuted(quantize: bool, in_shape: &[usize], perm: &[usize], q: QParams) -> Option<Quantize> {
        let (out_shape, in_strides) = super::transpose::permuted_loop(in_shape, perm)?;
        let len = in_shape.iter().product();
        Some(Quantize { quantize, p: k::Quant { len, scale: q.scale, zero_point: q.zero_point, out_shape, in_strides } })
    }
}

impl OpKind for Quantize {
    fn name(&self) -> &'static str {
        if self.quantize { "Quantize" } else { "Dequantize" }
    }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        let run = if self.quantize { k::quantize } else { k::dequantize };
        run(&self.p, arena, at.inputs[0], at.output);
    }

    fn c(&self, s: &CSite) -> CCode {
        let p = &self.p;
        let data = format!(
            "static const hyb_quant_params {}_params = {{ .len = {}, .zero_point = {}, .scale = {:e}f, .out_shape = {{{}}}, .in_strides = {{{}}} }};\n",
            s.l,
            p.len,
            p.zero_point,
            p.scale,
            emit::join(&p.out_shape),
            emit::join(&p.in_strides)
        );
        let f = if self.quantize { "hyb_quantize_f32_s8" } else { "hyb_dequantize_s8_f32" };
        s.code(f, data)
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        s.code("elementwise", if self.quantize { "quantize" } else { "dequantize" }, "Quant", &self.p, "")
    }

}
