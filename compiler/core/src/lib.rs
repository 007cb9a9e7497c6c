//! hybridc's compiler: ONNX in, a C project or a Rust crate out. Modules
//! follow the pipeline (docs/ARCHITECTURE.md): frontend -> passes -> quant
//! -> reference -> plan -> codegen; `lower` runs them in order.


pub mod choice;
pub mod codegen;
pub mod files;
pub mod frontend;
pub mod guard;
pub mod hybrid;
pub mod lower;
pub mod npy;
pub mod ops;
pub mod passes;
pub mod plan;
pub mod quant;
pub mod reference;
pub mod target;

/// The IR with the compiler's op type: `Graph` and `Op` hold the ops of
/// any op module (`ops`).
pub mod ir {
    pub use crate::ops::{Graph, Op};
    pub use hybridc_ir::{Activation, DType, HybridInfo, QParams, Route, Tensor, TensorId};
}
