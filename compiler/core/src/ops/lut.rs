//! Element-wise functions that run on int8 as 256-entry lookup tables
//! (Sigmoid, Tanh, HardSwish, ..., and a standalone Relu or Clip): each
//! entry is the float function of the dequantized input, requantized to the
//! output's scale. Computed once at compile time, so the reference and the
//! generated code agree by construction.

use anyhow::{bail, Result};
use tract_onnx::pb;

use super::{emit, Built, CCode, CSite, OnnxOp, OpKind, Pending, RustCode, RustSite};
use crate::frontend::{Act8, Importer};
use crate::ir::{Activation, QParams};

pub static ONNX: &[OnnxOp] = &[
    OnnxOp { onnx: "Sigmoid", import, keeps_scale: false },
    OnnxOp { onnx: "Tanh", import, keeps_scale: false },
    OnnxOp { onnx: "HardSwish", import, keeps_scale: false },
    OnnxOp { onnx: "HardSigmoid", import, keeps_scale: false },
    OnnxOp { onnx: "LeakyRelu", import, keeps_scale: false },
    OnnxOp { onnx: "Elu", import, keeps_scale: false },
    OnnxOp { onnx: "Exp", import, keeps_scale: false },
    OnnxOp { onnx: "Sqrt", import, keeps_scale: false },
    OnnxOp { onnx: "Neg", import, keeps_scale: false },
    OnnxOp { onnx: "Abs", import, keeps_scale: false },
    OnnxOp { onnx: "Softplus", import, keeps_scale: false },
];

/// out[i] = table[in[i] + 128].
#[derive(Debug, Clone)]
pub struct Lut {
    pub function: String,
    pub len: usize,
    pub table: Vec<i8>,
}

impl OpKind for Lut {
    fn name(&self) -> &'static str { "Lut" }

    fn flash_bytes(&self) -> usize { self.table.len() }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        let table: &[i8; 256] = self.table.as_slice().try_into().expect("256 entries");
        hybridc_kernels::elementwise::lut(self.len, table, arena, at.inputs[0], at.output);
    }

    fn in_place(&self, _g: &super::Graph, _op: &super::Op) -> Vec<super::Mode> { vec![super::Mode::Lag { lag: 0 }] }

    fn c(&self, s: &CSite) -> CCode {
        CCode {
            data: emit::c_array(&s.l, "table", "int8_t", &self.table, false),
            call: format!("hyb_lut_s8({}, {}_table, {}, {});", self.len, s.l, s.inputs[0], s.output),
        }
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        let (input, output) = (s.input(0)?, s.output()?);
        let table = s.array("TABLE", "i8", &self.table);
        Ok(RustCode { consts: String::new(), call: format!("lut({}, &{table}, arena, {input}, {output});", self.len), uses: vec!["elementwise::lut".into()] })
    }
}

/// A function of a dequantized tensor waiting for its output quantization.
#[derive(Debug, Clone)]
pub struct PendingLut {
    pub x: Act8,
    pub f: Function,
}

impl Pending for PendingLut {
    fn finish(self: Box<Self>, im: &mut Importer, _logical: &[usize], act: Activation, q: QParams) -> Result<Built> {
        if act != Activation::None {
            bail!("an activation after an element-wise function is not supported");
        }
        let perm = self.x.perm.clone();
        let xin = im.storage(&self.x, &perm, "element-wise op")?;
        let lut = Lut { function: self.f.name(), len: im.g.tensors[xin].len(), table: self.f.table(self.x.q, q) };
        Ok(Built { kind: Box::new(lut), inputs: vec![xin], perm })
    }
}

fn import(im: &mut Importer) -> Result<()> {
    let Some(f) = Function::from_node(&im.node.op_type, im.node) else { bail!("{} is not an element-wise function", im.node.op_type) };
    let x = im.deq(0)?;
    let logical = x.logical.clone();
    im.pending(Box::new(PendingLut { x, f }), logical);
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Function {
    Sigmoid,
    Tanh,
    HardSwish,
    HardSigmoid { alpha: f32, beta: f32 },
    LeakyRelu { alpha: f32 },
    Elu { alpha: f32 },
    Exp,
    Sqrt,
    Neg,
    Abs,
    Softplus,
    Clip(f32, f32),
}

impl Function {
    pub fn from_node(op: &str, n: &pb::NodeProto) -> Option<Function> {
        let f = |name: &str, def: f32| n.attribute.iter().find(|a| a.name == name).map(|a| a.f).unwrap_or(def);
        Some(match op {
            "Sigmoid" => Function::Sigmoid,
            "Tanh" => Function::Tanh,
            "HardSwish" => Function::HardSwish,
            "HardSigmoid" => Function::HardSigmoid { alpha: f("alpha", 0.2), beta: f("beta", 0.5) },
            "LeakyRelu" => Function::LeakyRelu { alpha: f("alpha", 0.01) },
            "Elu" => Function::Elu { alpha: f("alpha", 1.0) },
            "Exp" => Function::Exp,
            "Sqrt" => Function::Sqrt,
            "Neg" => Function::Neg,
            "Abs" => Function::Abs,
            "Softplus" => Function::Softplus,
            _ => return None,
        })
    }

    pub fn name(&self) -> String {
        format!("{self:?}")
    }

    pub fn eval(&self, x: f64) -> f64 {
        match *self {
            Function::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Function::Tanh => x.tanh(),
            Function::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Function::HardSigmoid { alpha, beta } => (alpha as f64 * x + beta as f64).clamp(0.0, 1.0),
            Function::LeakyRelu { alpha } => if x < 0.0 { alpha as f64 * x } else { x },
            Function::Elu { alpha } => if x < 0.0 { alpha as f64 * (x.exp() - 1.0) } else { x },
            Function::Exp => x.exp(),
            Function::Sqrt => x.sqrt(),
            Function::Neg => -x,
            Function::Abs => x.abs(),
            Function::Softplus => x.exp().ln_1p(),
            Function::Clip(lo, hi) => x.clamp(lo as f64, hi as f64),
        }
    }

    /// The table: entry q + 128 is f(dequantize(q)) quantized with `out`;
    /// LeakyRelu and HardSwish as TFLite Micro's integer kernels compute them.
    pub fn table(&self, input: QParams, out: QParams) -> Vec<i8> {
        match *self {
            Function::LeakyRelu { alpha } => return super::lut_tflite::leaky_relu(alpha, input, out),
            Function::HardSwish => return super::lut_tflite::hard_swish(input, out),
            _ => {}
        }
        (-128i32..=127)
            .map(|q| {
                let x = (q - input.zero_point) as f64 * input.scale as f64;
                let y = self.eval(x);
                let y = if y.is_nan() { 0.0 } else { y.clamp(-1e30, 1e30) };
                super::quantize_one(y as f32, out.scale, out.zero_point)
            })
            .collect()
    }
}
