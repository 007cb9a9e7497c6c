//! Code generation: askama templates -> a self-contained C project.
//!
//! The project holds the model API header, the schedule, weights as `const`
//! arrays, one static arena, the kernels (portable, or specialised per layer
//! for cores with the DSP extension) and the I/O glue, plus
//! `hybridc.json` (what `hybridc run` needs) and `report.json`.

pub mod dsp;
mod hybrid;
mod kernels;
mod layers;
pub mod manifest;
mod project;

pub use dsp::{depthwise3x3_c, limits_c as dsp_limits_c};
pub use kernels::Kernels;
pub use manifest::{IoInfo, LayerInfo, Manifest};
pub use project::{dsp_kernels, dsp_skipped_weight_bytes, write_project};
pub mod rust;

/// What `compile` writes: the C project or the Rust crate (`--emit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Emit {
    #[default]
    C,
    Rust,
}

impl std::str::FromStr for Emit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        crate::choice::parse(s, "output kind", &[("c", Emit::C), ("rust", Emit::Rust)])
    }
}
