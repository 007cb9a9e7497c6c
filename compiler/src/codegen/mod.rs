//! Code generation: askama templates -> a self-contained C project.
//!
//! The project holds the model API header, the schedule, weights as `const`
//! arrays, one static arena, the portable kernels and the I/O glue, plus
//! `hybridc.json` (what `hybridc run` needs) and `report.json`.

mod inplace;
mod layers;
pub mod manifest;
mod project;

pub use manifest::{IoInfo, LayerInfo, Manifest};
pub use project::write_project;
