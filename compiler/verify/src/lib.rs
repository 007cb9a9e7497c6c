//! hybridc's verification: builds a generated project (host C compiler,
//! arm-none-eabi-gcc, cargo) and runs it over a batch of inputs, on the host
//! or under QEMU, with profiles; the `compile`, `bench` and `tune` commands
//! that need those runs.

pub mod bench;
pub mod compile;
pub mod elf;
pub mod firmware;
pub mod host;
pub mod html;
pub mod profile;
pub mod report;
pub mod run;
pub mod rust;
pub mod tune;

pub use run::{run_project, RunOptions, RunResult};
