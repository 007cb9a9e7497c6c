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
    pub len: usize,
    pub q: QParams,
}

impl OpKind for Quantize {
    fn name(&self) -> &'static str {
        if self.quantize {
            "Quantize"
        } else {
            "Dequantize"
        }
    }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        let run = if self.quantize { k::quantize } else { k::dequantize };
        run(self.len, self.q.scale, self.q.zero_point, arena, at.inputs[0], at.output);
    }

    fn c(&self, s: &CSite) -> CCode {
        let data = format!("static const hyb_quant_params {}_params = {{ .len = {}, .zero_point = {}, .scale = {:e}f }};\n", s.l, self.len, self.q.zero_point, self.q.scale);
        let f = if self.quantize { "hyb_quantize_f32_s8" } else { "hyb_dequantize_s8_f32" };
        CCode { data, call: format!("{f}(&{}_params, {}, {});", s.l, s.inputs[0], s.output) }
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        let f = if self.quantize { "quantize" } else { "dequantize" };
        Ok(RustCode {
            consts: String::new(),
            call: format!("{f}({}, {:?}, {}, arena, {}, {});", self.len, self.q.scale, self.q.zero_point, s.input(0)?, s.output()?),
            uses: vec![if self.quantize { "elementwise::quantize" } else { "elementwise::dequantize" }],
        })
    }
}
