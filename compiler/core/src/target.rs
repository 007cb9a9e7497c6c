//! Targets: one TOML per board class in `targets/` (core, ISA features,
//! memory budgets, clock, toolchain flags, linker script, QEMU machine).

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// C flags of every build of generated C and of `runtime-c`, whatever the
/// target (the generated Makefile, the host build, the tests that compile
/// kernels directly). `-std=c11` keeps `-ffp-contract=off` (see
/// hyb_floatmath.h). `-fwrapv`: the kernels accumulate in `int32_t` with
/// `+=`, and the reference defines that accumulator to wrap at 32 bits
/// (`wrapping_add` in hybridc-kernels); without the flag a signed overflow is
/// undefined behaviour in C, which gcc may assume never happens (see
/// docs/ARCHITECTURE.md, hybridc-kernels).
pub const RUNTIME_CFLAGS: [&str; 2] = ["-std=c11", "-fwrapv"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Qemu {
    pub binary: String,
    pub machine: String,
    pub cpu: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub core: String,
    #[serde(default)]
    pub features: Vec<String>,
    pub sram_bytes: u64,
    pub flash_bytes: u64,
    #[serde(default)]
    pub clock_hz: u64,
    pub cc: String,
    #[serde(default)]
    pub cflags: Vec<String>,
    #[serde(default)]
    pub ldflags: Vec<String>,
    pub linker_script: Option<String>,
    pub startup: Option<String>,
    pub qemu: Option<Qemu>,
}

impl Target {
    pub fn is_host(&self) -> bool {
        self.core == "host"
    }
    pub fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
    /// The target's C flags followed by [`RUNTIME_CFLAGS`].
    pub fn c_flags(&self) -> Vec<&str> {
        self.cflags.iter().map(String::as_str).chain(RUNTIME_CFLAGS).collect()
    }
}

/// Names of the available targets.
pub fn available() -> Vec<String> {
    crate::files::list("targets")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| f.strip_suffix(".toml").map(str::to_string))
        .collect()
}

pub fn load(name: &str) -> Result<Target> {
    let path = format!("targets/{name}.toml");
    if name.contains(['/', '\\']) || !crate::files::exists(&path) {
        bail!("unknown target '{name}'; available targets: {}", available().join(", "));
    }
    let text = crate::files::read_text(&path)?;
    let t: Target = toml::from_str(&text).with_context(|| format!("{path} is not a valid target file"))?;
    Ok(t)
}

/// Parses sizes like `64KiB`, `1MiB`, `512K`, `2M`, `65536`.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().with_context(|| format!("'{s}' is not a size (e.g. 64KiB, 1MiB, 65536)"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => bail!("'{s}' has an unknown unit (use B, KiB or MiB)"),
    };
    Ok(n * mult)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("64KiB").unwrap(), 65536);
        assert_eq!(super::parse_size("2M").unwrap(), 2 << 20);
        assert!(super::parse_size("lots").is_err());
    }
}
