//! Quantization: TFLite's fixed-point arithmetic (the kernels crate's, plus
//! the compile-time quantizing of multipliers), post-training quantization
//! of float models, and the per-layer SQNR it reaches. Each op prepares its
//! integer parameters itself (ops/), as TFLite Micro's Prepare functions do.

pub mod fixedpoint;
pub mod ptq;
pub mod sqnr;
