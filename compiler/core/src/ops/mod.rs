//! The ops: one module each (TFLite Micro's one file per kernel, applied to
//! a compiler). A module holds everything hybridc knows of its op: the ONNX
//! import, the parameters prepared at import (TFLite's Prepare), the
//! reference evaluation through the kernels crate, the in-place rules for
//! the planner, and the C and Rust emission. Its C kernel lives in
//! runtime-c/kernels. Adding an op is a module here plus one line in
//! [`REGISTRY`].

pub mod add;
pub mod concat;
pub mod conv;
pub mod conv_transpose;
pub mod emit;
pub mod float;
pub mod fully_connected;
pub mod inplace;
pub mod lut;
pub mod lut_tflite;
pub mod pad;
pub mod pool;
pub mod quantize;
pub mod resize;
pub mod slice;
pub mod softmax;
pub mod transpose;

use std::any::Any;
use std::fmt::Debug;

use anyhow::Result;

use crate::frontend::Importer;
use crate::ir::{Activation, QParams};
use crate::quant::fixedpoint::quantize_value;
pub use emit::{CCode, CSite, RustCode, RustSite};
pub use inplace::Mode;

/// The compiler's graph: the IR's, with ops of any module.
pub type Graph = hybridc_ir::Graph<Box<dyn OpKind>>;
pub type Op = hybridc_ir::Op<Box<dyn OpKind>>;

/// What the pipeline asks of an op. Parameters are prepared when the op is
/// built (import knows every scale), so each method reads them only.
pub trait OpKind: OpBase + Debug + Send + Sync {
    /// The op's name in reports and profiles (TFLite's, e.g. "Conv2D").
    fn name(&self) -> &'static str;
    /// Multiply-accumulates, as TFLite Micro's benchmarks count them.
    fn macs(&self, _g: &Graph, _op: &Op) -> u64 { 0 }
    /// Bytes of constants the op keeps in flash (weights, biases, tables).
    fn flash_bytes(&self) -> usize { 0 }
    /// The reference: runs the op's kernel (kernels crate) on `arena`, whose
    /// inputs and output lie at the byte offsets of `at`.
    fn eval(&self, arena: &mut [i8], at: &Offsets);
    /// How the output may share memory with a dying input, most saving first.
    fn in_place(&self, _g: &Graph, _op: &Op) -> Vec<Mode> { vec![Mode::Off] }
    /// The layer's portable C: constant data and the kernel call.
    fn c(&self, site: &CSite) -> CCode;
    /// The layer's Rust: constants, statics and the kernel call.
    fn rust(&self, site: &mut RustSite) -> Result<RustCode>;
}

/// Weight bytes in flash: the ops' weights, biases and tables, and the
/// constant tensors.
pub fn weights_bytes(g: &Graph) -> usize {
    g.ops.iter().map(|op| op.kind.flash_bytes()).sum::<usize>() + g.constant_bytes()
}

/// Multiply-accumulates of the whole graph.
pub fn total_macs(g: &Graph) -> u64 {
    g.ops.iter().map(|op| op.kind.macs(g, op)).sum()
}

/// Byte offsets of an op's operands in the arena the reference gives it.
pub struct Offsets {
    pub inputs: Vec<usize>,
    pub output: usize,
}

/// Cloning and downcasting boxed ops; implemented for every op type.
pub trait OpBase: Any {
    fn clone_box(&self) -> Box<dyn OpKind>;
    fn as_any(&self) -> &dyn Any;
}

impl<T: OpKind + Clone> OpBase for T {
    fn clone_box(&self) -> Box<dyn OpKind> { Box::new(self.clone()) }
    fn as_any(&self) -> &dyn Any { self }
}

impl Clone for Box<dyn OpKind> {
    fn clone(&self) -> Self { self.clone_box() }
}

impl dyn OpKind {
    /// The op as its module's type, when it is one.
    pub fn downcast<T: OpKind>(&self) -> Option<&T> {
        self.as_any().downcast_ref()
    }
    pub fn is<T: OpKind>(&self) -> bool {
        self.as_any().is::<T>()
    }
}

/// A float op waiting for the QuantizeLinear that fixes its output
/// quantization (QDQ import): then it becomes an int8 op.
pub trait Pending: Debug + PendingClone {
    /// Builds the op once its output quantization `q` and fused activation
    /// are known; returns it with its input tensors and the output's storage
    /// order (a permutation of the logical dims).
    fn finish(self: Box<Self>, im: &mut Importer, logical: &[usize], act: Activation, q: QParams) -> Result<Built>;
    /// Folds a constant Add into the op as its bias (MatMul, Conv).
    fn with_bias(self: Box<Self>, _bias: crate::frontend::Constant) -> Result<Box<dyn Pending>> {
        anyhow::bail!("adding a constant is only supported as the bias of a MatMul or Conv")
    }
}

pub trait PendingClone {
    fn clone_box(&self) -> Box<dyn Pending>;
}

impl<T: Pending + Clone + 'static> PendingClone for T {
    fn clone_box(&self) -> Box<dyn Pending> { Box::new(self.clone()) }
}

impl Clone for Box<dyn Pending> {
    fn clone(&self) -> Self { PendingClone::clone_box(self.as_ref()) }
}

/// An int8 op built from a pending one.
pub struct Built {
    pub kind: Box<dyn OpKind>,
    pub inputs: Vec<hybridc_ir::TensorId>,
    pub perm: Vec<usize>,
}

/// An ONNX operator and the function that imports it.
pub struct OnnxOp {
    pub onnx: &'static str,
    pub import: fn(&mut Importer) -> Result<()>,
    /// Its int8 output keeps its input's quantization (the quantizer ties them).
    pub keeps_scale: bool,
}

/// Every op module's ONNX operators.
pub static REGISTRY: &[&[OnnxOp]] = &[
    conv::ONNX,
    fully_connected::ONNX,
    add::ONNX,
    pool::ONNX,
    softmax::ONNX,
    concat::ONNX,
    pad::ONNX,
    lut::ONNX,
    resize::ONNX,
    conv_transpose::ONNX,
    slice::ONNX,
];

/// The importer of an ONNX operator, if an op module has one.
pub fn onnx_op(op_type: &str) -> Option<&'static OnnxOp> {
    REGISTRY.iter().flat_map(|ops| ops.iter()).find(|o| o.onnx == op_type)
}

/// Whether an ONNX operator's int8 output keeps its input's quantization.
pub fn keeps_scale(op_type: &str) -> bool {
    onnx_op(op_type).is_some_and(|o| o.keeps_scale)
}

/// ONNX operators the op modules import.
pub fn onnx_names() -> Vec<&'static str> {
    REGISTRY.iter().flat_map(|ops| ops.iter().map(|o| o.onnx)).collect()
}

/// ONNX operators the importer handles itself: fused activations, layout
/// views, constants and the QDQ pairs.
pub const BUILTIN: &[&str] = &[
    "Relu", "Clip", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity", "Dropout", "Constant",
    "QuantizeLinear", "DequantizeLinear",
];

/// Every ONNX operator hybridc compiles: the op modules', the importer's
/// own and the float32 ones.
pub fn supported() -> Vec<&'static str> {
    let mut all = onnx_names();
    for op in BUILTIN.iter().chain(float::FLOAT_ONLY) {
        if !all.contains(op) {
            all.push(op);
        }
    }
    all
}

/// The one error for an operator hybridc does not compile.
pub fn unsupported(op_type: &str) -> anyhow::Error {
    anyhow::anyhow!("operator {op_type} is not supported by hybridc (supported: {})", supported().join(", "))
}

/// An op that moves int8 values without arithmetic (Pad, Resize): no
/// fused activation, and the output keeps the input's quantization.
pub fn same_quantization(what: &str, act: Activation, input: QParams, output: QParams) -> Result<()> {
    if act != Activation::None {
        anyhow::bail!("an activation after {what} is not supported");
    }
    if input != output {
        anyhow::bail!("int8 {what} needs equal input and output quantization");
    }
    Ok(())
}

/// TFLite CalculateActivationRangeQuantized for int8.
pub fn activation_range(act: Activation, out: QParams) -> [i32; 2] {
    let (lo, hi) = act.range();
    let mut min = -128;
    let mut max = 127;
    if let Some(lo) = lo {
        min = min.max(quantize_value(lo, out.scale, out.zero_point));
    }
    if let Some(hi) = hi {
        max = max.min(quantize_value(hi, out.scale, out.zero_point));
    }
    [min, max]
}

/// TFLite's QuantizeMultiplier of `real`, refused when the kernels'
/// `x << shift` would overflow int32 (a ratio of scales of 2^31 or more:
/// broken weights or scales), so such a model stops with an error.
pub fn requant_multiplier(real: f64) -> Result<(i32, i32)> {
    let (m, shift) = crate::quant::fixedpoint::quantize_multiplier(real);
    if !real.is_finite() || shift > 30 {
        anyhow::bail!("a requantization scale ratio of {real:e} is out of int8 range; check the model's weights and scales");
    }
    Ok((m, shift))
}

/// TFLite's Quantize of one value: zp + round(x / scale), saturated to int8.
pub fn quantize_one(x: f32, scale: f32, zero_point: i32) -> i8 {
    hybridc_kernels::elementwise::quantize_one(x, scale, zero_point)
}

/// Right-aligns `shape` to 4 dims.
pub fn shape4(shape: &[usize]) -> [usize; 4] {
    let mut s = [1; 4];
    let n = shape.len().min(4);
    s[4 - n..].copy_from_slice(&shape[shape.len() - n..]);
    s
}

/// Row-major strides of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut st = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        st[d] = st[d + 1] * shape[d + 1];
    }
    st
}

/// Strides of `shape` broadcast to `out` (0 where broadcast).
pub fn broadcast_strides(shape: [usize; 4], out: [usize; 4]) -> [usize; 4] {
    let mut st = [0; 4];
    let mut acc = 1;
    for d in (0..4).rev() {
        st[d] = if shape[d] == 1 && out[d] != 1 { 0 } else { acc };
        acc *= shape[d];
    }
    st
}
