//! Host build of a generated project with the system C compiler (cc crate).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use hybridc_core::codegen::Manifest;
use hybridc_core::target::RUNTIME_CFLAGS;

/// The system C compiler (honours CC), as the cc crate finds it.
pub fn compiler() -> Result<cc::Tool> {
    let triple = env!("HYBRIDC_HOST_TRIPLE");
    cc::Build::new()
        .cargo_metadata(false)
        .cargo_warnings(false)
        .target(triple)
        .host(triple)
        .opt_level(2)
        .try_get_compiler()
        .context("no host C compiler found (install gcc or clang, or set CC)")
}

/// Compiles `project` into an executable under `project/build/`; returns its path.
pub fn build(project: &Path, m: &Manifest, trace: bool) -> Result<PathBuf> {
    build_with(project, m, trace, &[])
}

/// As [`build`] with extra C defines (e.g. HYB_OFFLOAD_TCP); each set of
/// defines gets its own executable.
pub fn build_with(project: &Path, _m: &Manifest, trace: bool, defines: &[&str]) -> Result<PathBuf> {
    let compiler = compiler()?;
    let build = project.join("build");
    std::fs::create_dir_all(&build)?;
    let mut exe_name = if trace { "model_trace".to_string() } else { "model".to_string() };
    for d in defines {
        exe_name += &format!("_{}", d.to_ascii_lowercase());
    }
    let exe = build.join(exe_name);
    let mut sources: Vec<PathBuf> = vec![project.join("model.c"), project.join("main.c"), project.join("runtime/host_io.c")];
    if project.join("hybrid.c").exists() {
        sources.push(project.join("hybrid.c"));
    }
    for entry in std::fs::read_dir(project.join("runtime"))? {
        let p = entry?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".c") && name != "host_io.c" && name != "semihost.c" && name != "startup.c" {
            sources.push(p);
        }
    }
    let mut cmd: Command = compiler.to_command();
    cmd.args(RUNTIME_CFLAGS).arg("-I").arg(project.join("runtime")).arg("-I").arg(project);
    if trace {
        cmd.arg("-DHYB_TRACE");
    }
    for d in defines {
        cmd.arg(format!("-D{d}"));
    }
    cmd.args(&sources).arg("-o").arg(&exe).arg("-lm");
    let out = cmd.output().with_context(|| format!("cannot run the host C compiler {:?}", compiler.path()))?;
    if !out.status.success() {
        bail!(
            "host build of {} failed:\n{}",
            project.display(),
            String::from_utf8_lossy(&out.stderr).lines().take(20).collect::<Vec<_>>().join("\n")
        );
    }
    Ok(exe)
}
