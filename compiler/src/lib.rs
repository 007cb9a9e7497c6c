//! hybridc: compiles hybrid edge/cloud classifiers (ONNX) into int8 C
//! firmware for Arm Cortex-M. Modules follow the pipeline (DESIGN §1):
//! frontend -> passes -> quant -> reference -> plan -> codegen -> verify.

pub mod cloud;
pub mod codegen;
pub mod driver;
pub mod frontend;
pub mod hybrid;
pub mod ir;
pub mod passes;
pub mod plan;
pub mod quant;
pub mod reference;
pub mod target;
pub mod verify;
