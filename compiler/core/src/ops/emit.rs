//! What an op module needs to write its layer's C and Rust: where its
//! operands live (as the code generators address them) and text helpers.

use std::fmt::Write;

use anyhow::{bail, Result};

use super::{Graph, Op};
use crate::ir::DType;

/// A layer's operands as C expressions.
pub struct CSite<'a> {
    /// The layer's name prefix for its constants ("L3").
    pub l: String,
    pub g: &'a Graph,
    pub op: &'a Op,
    /// C expressions of the inputs' and the output's storage.
    pub inputs: Vec<String>,
    pub output: String,
    /// Arena offset of the ring when the plan runs the op exactly in place.
    pub ring: Option<usize>,
}

/// A layer's C: constant data and the statement that runs it.
pub struct CCode {
    pub data: String,
    pub call: String,
}

impl CSite<'_> {
    /// `data` and the call `f(&L_params, inputs..., output)`.
    pub fn code(&self, f: &str, data: String) -> CCode {
        let operands: Vec<&str> = self.inputs.iter().chain([&self.output]).map(String::as_str).collect();
        CCode { data, call: format!("{f}(&{}_params, {});", self.l, operands.join(", ")) }
    }
}

/// A layer's operands for the Rust backend, and where its statics go.
pub struct RustSite<'a> {
    pub l: String,
    pub g: &'a Graph,
    pub op: &'a Op,
    /// Arena offsets of the graph's base tensors (the plan's).
    pub offsets: &'a [Option<usize>],
    pub ring: Option<usize>,
    /// Weights, biases and tables (weights.rs).
    pub statics: String,
}

/// A layer's Rust: constant parameters (model.rs), the kernel call, and the
/// kernel items it uses (paths under `crate::kernels`).
pub struct RustCode {
    pub consts: String,
    pub call: String,
    pub uses: Vec<String>,
}

impl RustSite<'_> {
    /// A layer of kernel `module::f` reading input 0 of the arena (then the
    /// arguments `more`): its parameters `p` (of type `module::ty`) as a
    /// constant, whose Debug text is their Rust literal.
    pub fn code<P: std::fmt::Debug>(&self, module: &str, f: &str, ty: &str, p: &P, more: &str) -> Result<RustCode> {
        Ok(RustCode {
            consts: format!("const {}: {ty} = {p:?};\n", self.l),
            call: format!("{f}(&{}, arena, {}, {}{more});", self.l, self.input(0)?, self.output()?),
            uses: vec![format!("{module}::{f}"), format!("{module}::{ty}")],
        })
    }

    /// The arena offset of a tensor; constants are not supported as operands.
    pub fn offset(&self, t: usize) -> Result<usize> {
        let base = self.g.base(t);
        if self.g.tensors[base].data.is_some() {
            bail!(
                "node '{}': the Rust backend takes operands from the arena only, not constant tensor '{}'",
                self.op.name,
                self.g.tensors[base].name
            );
        }
        Ok(self.offsets[base].expect("planned tensor"))
    }

    pub fn input(&self, i: usize) -> Result<usize> {
        self.offset(self.op.inputs[i])
    }

    pub fn output(&self) -> Result<usize> {
        self.offset(self.op.output)
    }

    /// A `static` in weights.rs named `{l}_{suffix}`; returns its path.
    pub fn array<T: std::fmt::Display>(&mut self, suffix: &str, ty: &str, values: &[T]) -> String {
        let name = format!("{}_{suffix}", self.l);
        self.statics += &rust_array(&name, ty, values);
        format!("weights::{name}")
    }

    /// An operand of type `dtype` (F32: `float::Src`, I8: `S8`): the arena,
    /// or a constant tensor as a static of the layer in flash.
    pub fn operand(&mut self, t: usize, dtype: DType) -> Result<String> {
        let base = self.g.base(t);
        let tensor = &self.g.tensors[base];
        let ty = if dtype == DType::F32 { "Src" } else { "S8" };
        let Some(d) = &tensor.data else {
            return Ok(format!("{ty}::Arena({})", self.offset(t)?));
        };
        if tensor.dtype != dtype {
            bail!("node '{}': the Rust backend reads {dtype:?} constants here, not {:?} constant '{}'", self.op.name, tensor.dtype, tensor.name);
        }
        let name = format!("{}_C{base}", self.l);
        if !self.statics.contains(&format!("pub static {name}:")) {
            self.statics += &match dtype {
                DType::F32 => {
                    let values: Vec<String> = d
                        .chunks_exact(4)
                        .map(|c| {
                            let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                            if v.is_finite() {
                                format!("{v:?}")
                            } else {
                                format!("f32::from_bits({:#x})", v.to_bits())
                            }
                        })
                        .collect();
                    rust_array(&name, "f32", &values)
                }
                _ => rust_array(&name, "i8", &d.iter().map(|&b| b as i8).collect::<Vec<_>>()),
            };
        }
        Ok(format!("{ty}::Const(&weights::{name})"))
    }
}

/// A `static` array of `values` (weights.rs is not run through rustfmt).
pub fn rust_array<T: std::fmt::Display>(name: &str, ty: &str, values: &[T]) -> String {
    let mut s = format!("pub static {name}: [{ty}; {}] = [", values.len());
    s += &array_body(values);
    s + "];\n"
}

/// The comma-separated body of an array, 24 values a line (C and Rust).
pub fn array_body<T: std::fmt::Display>(values: &[T]) -> String {
    let mut s = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i % 24 == 0 {
            s.push_str("\n    ");
        }
        write!(s, "{v},").unwrap();
    }
    s.push('\n');
    s
}

/// A C `static const` array named `{l}_{suffix}`.
pub fn c_array<T: std::fmt::Display>(l: &str, suffix: &str, ty: &str, values: &[T], aligned: bool) -> String {
    let align = if aligned { " __attribute__((aligned(4)))" } else { "" };
    format!("static const {ty} {l}_{suffix}[{}]{align} = {{{}}};\n", values.len(), array_body(values))
}

/// Values joined by ", " (C initializers of fixed-size arrays).
pub fn join<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
}

/// Text safe inside a C block comment.
pub fn comment_safe(s: &str) -> String {
    s.replace("*/", "* /").replace("/*", "/ *")
}
