//! Quantize (float32 -> int8) and Dequantize (int8 -> float32) at the
//! model's float boundaries and around float ops (TFLite's Quantize and
//! Dequantize).

use anyhow::Result;
use hybridc_kernels::elementwise as k;

use super::{CCode, CSite, OpKind, RustCode, RustSite};
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
        Quantize { quantize, p: k::Quant { len, scale: q.scale, zero_point: q.zero_point } }
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
        let data = format!("static const hyb_quant_params {}_params = {{ .len = {}, .zero_point = {}, .scale = {:e}f }};\n", s.l, p.len, p.zero_point, p.scale);
        let f = if self.quantize { "hyb_quantize_f32_s8" } else { "hyb_dequantize_s8_f32" };
        s.code(f, data)
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        s.code("elementwise", if self.quantize { "quantize" } else { "dequantize" }, "Quant", &self.p, "")
    }

}
