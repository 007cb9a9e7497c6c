//! Verification: builds a generated project and runs it over a batch of
//! inputs (host build with the system C compiler), compares with the reference.

pub mod host;
pub mod npy;
pub mod run;

pub use run::{run_project, RunOptions, RunResult};
