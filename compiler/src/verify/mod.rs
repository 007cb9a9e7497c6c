//! Verification: builds a generated project and runs it over a batch of
//! inputs (host build with the system C compiler), compares with the reference.

pub mod bench;
pub mod elf;
pub mod firmware;
pub mod host;
pub mod npy;
pub mod profile;
pub mod run;
pub mod rust;
pub mod sqnr;

pub use run::{run_project, RunOptions, RunResult};
