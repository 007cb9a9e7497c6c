//! Element-wise functions that run on int8 as 256-entry lookup tables: each
//! entry is the float function of the dequantized input, requantized to the
//! output's scale. Computed once at compile time, shared by the reference
//! and the generated C, so the two agree by construction.

use tract_onnx::pb;

use crate::ir::QParams;
use crate::reference::quantize_one;

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
    pub const NAMES: &'static [&'static str] =
        &["Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "LeakyRelu", "Elu", "Exp", "Sqrt", "Neg", "Abs", "Softplus"];

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

    /// The table: entry q + 128 is f(dequantize(q)) quantized with `out`.
    pub fn table(&self, input: QParams, out: QParams) -> Vec<i8> {
        (-128i32..=127)
            .map(|q| {
                let x = (q - input.zero_point) as f64 * input.scale as f64;
                let y = self.eval(x);
                let y = if y.is_nan() { 0.0 } else { y.clamp(-1e30, 1e30) };
                quantize_one(y as f32, out.scale, out.zero_point)
            })
            .collect()
    }
}
