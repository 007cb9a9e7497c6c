//! Cortex-M builds: `make` with the target's arm-none-eabi toolchain, then a
//! run under QEMU with semihosting (input.bin in, output.bin out).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::run::run_with_timeout;
use hybridc_core::target::Target;

/// Builds the project's firmware in `build/<variant>` with extra C flags.
pub fn build(project: &Path, variant: &str, cflags: &str) -> Result<PathBuf> {
    build_with(project, variant, cflags, &[])
}

/// As [`build`], with extra make variables (`NAME=VALUE`).
pub fn build_with(project: &Path, variant: &str, cflags: &str, vars: &[String]) -> Result<PathBuf> {
    let out = Command::new("make")
        .current_dir(project)
        .arg("-s")
        .arg(format!("BUILD=build/{variant}"))
        .arg(format!("HYB_CFLAGS={cflags}"))
        .args(vars)
        .output()
        .context("cannot run make (install make and gcc-arm-none-eabi)")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if let Some(line) = stderr.lines().find(|l| l.contains("budget exceeded")) {
            bail!("the firmware does not fit the target: {}", line.trim());
        }
        bail!(
            "firmware build of {} failed:\n{}",
            project.display(),
            stderr.lines().take(20).collect::<Vec<_>>().join("\n")
        );
    }
    Ok(project.join("build").join(variant).join("model.elf"))
}

/// The QEMU command line for `elf` on `target`, with extra arguments (plugins).
pub fn qemu_command(target: &Target, elf: &Path, extra: &[String]) -> Result<Command> {
    let q = target
        .qemu
        .as_ref()
        .with_context(|| format!("target '{}' has no QEMU machine to run on", target.name))?;
    let mut cmd = Command::new(&q.binary);
    cmd.arg("-M").arg(&q.machine);
    if let Some(cpu) = &q.cpu {
        cmd.arg("-cpu").arg(cpu);
    }
    // An explicit -serial replaces the target's (QEMU maps each -serial to the next UART).
    let mut args: Vec<&String> = q.args.iter().collect();
    if extra.iter().any(|a| a == "-serial") {
        if let Some(i) = args.iter().position(|a| *a == "-serial") {
            args.drain(i..(i + 2).min(args.len()));
        }
    }
    cmd.args(args).args(extra).arg("-kernel").arg(elf);
    Ok(cmd)
}

/// Runs the firmware in `dir` (which holds input.bin) and checks its exit.
pub fn run(target: &Target, elf: &Path, dir: &Path, extra: &[String], timeout: Duration) -> Result<()> {
    let mut cmd = qemu_command(target, elf, extra)?;
    cmd.current_dir(dir);
    let what = format!("the firmware under {}", target.qemu.as_ref().map(|q| q.binary.as_str()).unwrap_or("qemu"));
    let out = run_with_timeout(cmd, &what, timeout).map_err(|e| {
        if e.to_string().contains("cannot start") {
            e.context("qemu-system-arm is missing: install it (apt-get install qemu-system-arm) or run tests/run.sh")
        } else {
            e
        }
    })?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        let msg = msg.lines().filter(|l| !l.trim().is_empty()).last().unwrap_or("no message");
        bail!("the firmware failed under QEMU ({}): {}", out.status, msg.trim());
    }
    Ok(())
}

/// True when the target's C compiler can be found on PATH.
pub fn toolchain_available(target: &Target) -> bool {
    Command::new(&target.cc).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Links the firmware with the budget checks lifted, then compares what it
/// uses with the target's budgets, so an error can give both figures.
pub fn check_budgets(project: &Path, target: &Target) -> Result<super::elf::Memory> {
    let lifted = ["HYB_FLASH_BUDGET=0xFFFFFFFF".to_string(), "HYB_SRAM_BUDGET=0xFFFFFFFF".to_string()];
    let elf = build_with(project, "plain", "", &lifted)?;
    let mem = super::elf::memory(&elf)?;
    if mem.flash_bytes > target.flash_bytes {
        bail!(
            "the firmware needs {} bytes of flash (code, weights and constants), over the {}-byte budget of target '{}'; use --flash SIZE for a part with more flash, or a smaller model",
            mem.flash_bytes, target.flash_bytes, target.name
        );
    }
    if mem.ram_bytes > target.sram_bytes {
        bail!(
            "the firmware needs {} bytes of SRAM (arena, stack and data: {}), over the {}-byte budget of target '{}'; use --sram SIZE for a part with more SRAM, or a smaller model",
            mem.ram_bytes,
            mem.sections.iter().filter(|(n, _)| [".bss", ".data", ".stack"].contains(&n.as_str())).map(|(n, s)| format!("{n} {s}")).collect::<Vec<_>>().join(", "),
            target.sram_bytes, target.name
        );
    }
    Ok(mem)
}
