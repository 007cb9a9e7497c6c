//! hybridc's compiler: ONNX in, a C project or a Rust crate out. Modules
//! follow the pipeline (docs/ARCHITECTURE.md): frontend -> passes -> quant
//! -> reference -> plan -> codegen; `lower` runs them in order.

pub use hybridc_ir as ir;

pub mod codegen;
pub mod files;
pub mod frontend;
pub mod hybrid;
pub mod lower;
pub mod npy;
pub mod passes;
pub mod plan;
pub mod quant;
pub mod reference;
pub mod target;
