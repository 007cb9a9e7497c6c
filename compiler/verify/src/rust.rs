//! Builds the harness of a crate written by `--emit rust` with cargo: a host
//! program, or cortex-m-rt firmware for `thumbv7em-none-eabihf`. Every
//! crate's dependencies and intermediate files go to one shared cargo
//! build directory (`HYBRIDC_CARGO_BUILD_DIR`, else `~/.cache/hybridc/cargo`),
//! so builds after the first take seconds; the binaries stay in the project.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use hybridc_core::codegen::rust::CORTEX_M_TRIPLE;

/// True when `project` is a crate written by `--emit rust`.
pub fn is_crate(project: &Path) -> bool {
    project.join("Cargo.toml").exists() && project.join("harness").is_dir()
}

/// The cargo build directory shared by every generated crate.
pub fn shared_build_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HYBRIDC_CARGO_BUILD_DIR") {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("hybridc/cargo")
}

/// A cargo command in `dir` that ignores the caller's cargo settings (a test
/// run's target directory, RUSTFLAGS) and uses the shared build directory.
pub fn cargo(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(dir);
    for v in ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS"] {
        cmd.env_remove(v);
    }
    cmd.env("CARGO_BUILD_BUILD_DIR", shared_build_dir());
    cmd
}

/// Builds the harness binary `bin` (model, model-trace, model-profile) in
/// release, with the harness's `features` (firmware: `uart`); returns its path.
pub fn build(project: &Path, host: bool, bin: &str, features: &[&str]) -> Result<PathBuf> {
    let harness = project.join("harness");
    let target_dir = harness.join("target");
    let out = cargo(&harness)
        .env("CARGO_TARGET_DIR", &target_dir)
        .args(["build", "--release", "--quiet", "--bin", bin])
        .args(if features.is_empty() { vec![] } else { vec!["--features".to_string(), features.join(",")] })
        .output()
        .context("cannot run cargo (install Rust with rustup)")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let hint = if stderr.contains("can't find crate for `core`") {
            format!("\n(install the target: rustup target add {CORTEX_M_TRIPLE})")
        } else {
            String::new()
        };
        bail!(
            "cargo build of {} failed:\n{}{hint}",
            harness.display(),
            stderr.lines().filter(|l| !l.trim().is_empty()).take(30).collect::<Vec<_>>().join("\n")
        );
    }
    let dir = if host { target_dir.join("release") } else { target_dir.join(CORTEX_M_TRIPLE).join("release") };
    Ok(dir.join(bin))
}
