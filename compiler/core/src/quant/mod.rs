//! Quantization: TFLite's fixed-point arithmetic and the integer parameters
//! each int8 kernel needs, derived from tensor scales as TFLite Micro's
//! `*_common.cc` Prepare functions do (double precision from float32 scales).

pub mod fixedpoint;
pub mod params;
pub mod ptq;
pub mod sqnr;
