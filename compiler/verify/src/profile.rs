//! Firmware profile: per-layer executed instructions counted by our QEMU TCG
//! plugin (runtime-c/qemu-plugin), turned into cycle estimates with a
//! per-instruction cost table. QEMU's DWT cycle counter reads 0, so these are
//! estimates from executed instructions, not measurements.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use hybridc_core::target;

/// Executed instruction counts of one region, by the plugin's cost classes.
pub type Counts = BTreeMap<String, u64>;

/// Region of instructions run before the first layer (startup).
pub const BEFORE_FIRST_MARK: u32 = u32::MAX;

/// Parses the plugin's output file ("hyb_profile v1" then one line per region).
pub fn parse(text: &str) -> Result<BTreeMap<u32, Counts>> {
    let mut lines = text.lines();
    if lines.next() != Some("hyb_profile v1") {
        bail!("the profiler's output is not in the expected format (hyb_profile v1)");
    }
    let mut regions = BTreeMap::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        if it.next() != Some("region") {
            bail!("unexpected profiler line: {line}");
        }
        let id: u32 = it.next().and_then(|s| s.parse().ok()).with_context(|| format!("bad region in: {line}"))?;
        let mut counts = Counts::new();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            counts.insert(k.to_string(), v.parse().with_context(|| format!("bad count in: {line}"))?);
        }
        regions.insert(id, counts);
    }
    Ok(regions)
}

/// The cost table, documented in docs/performance.md: a simplified Cortex-M4 table
/// that, applied to CMSIS-NN kernels built -O2, lands at about 0.86 of the
/// cycles a real NUCLEO-L4R5ZI takes.
pub const COST_TABLE: &str = "cortex-m4-simplified: ALU/IT/SIMD/MUL/MLA/SMLAD/SMLAxy/SMULL 1, LDR/STR 2, LDRD/STRD 3, LDM/STM/PUSH/POP 1+N, SDIV/UDIV 7, branch 1 not taken / 3 taken, TBB/TBH 4, load or pop into pc +2, VFP 1, VLDR/VSTR/VLDM/VSTM 1+N";

pub fn cycles(c: &Counts) -> u64 {
    let g = |k: &str| c.get(k).copied().unwrap_or(0);
    let single = ["alu", "it", "simd", "mul", "mla", "smlad", "smlaxy", "smull", "fpu", "mve", "other"];
    let mut cy: u64 = single.iter().map(|k| g(k)).sum();
    cy += 2 * (g("ldr") + g("str"));
    cy += 3 * (g("ldrd") + g("strd"));
    for k in ["ldm", "stm", "push", "pop", "fpu_ldst"] {
        cy += g(k) + g(&format!("{k}_regs"));
    }
    cy += 7 * g("div");
    cy += 3 * g("branch_taken") + g("branch_not_taken");
    cy += 4 * g("tbb");
    cy += 2 * g("pc_load");
    cy
}

/// Builds the plugin for the host into `dir`; returns the shared object.
pub fn build_plugin(dir: &Path) -> Result<PathBuf> {
    let so = dir.join("libhyb_profile.so");
    let src = dir.join("src");
    std::fs::create_dir_all(&src)?;
    for f in hybridc_core::files::list("runtime-c/qemu-plugin")?.iter().filter(|f| f.ends_with(".c") || f.ends_with(".h")) {
        hybridc_core::files::copy(&format!("runtime-c/qemu-plugin/{f}"), &src.join(f))?;
    }
    let cc = super::host::compiler()?;
    let out: std::process::Output = {
        let mut cmd: Command = cc.to_command();
        cmd.args(["-shared", "-fPIC", "-O2", "-fvisibility=hidden"])
            .arg("-I")
            .arg(&src)
            .arg(src.join("hyb_profile.c"))
            .arg("-o")
            .arg(&so)
            .arg("-lpthread");
        cmd.output().context("cannot run the host C compiler")?
    };
    if !out.status.success() {
        bail!("building the QEMU profiler plugin failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(so)
}

/// Per-inference figures of a firmware run under QEMU (`hybridc run --profile`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub target: String,
    pub core: String,
    pub clock_hz: u64,
    pub batch: usize,
    /// How the figures were obtained (counted, not measured).
    pub method: String,
    /// [`COST_TABLE`].
    pub cost_table: String,
    pub instructions: u64,
    pub cycles_estimate: u64,
    pub macs: u64,
    pub mac_per_cycle: f64,
    /// MACs the kernels skip (zero weights of dead channels).
    pub skipped_macs: u64,
    /// MAC/cycle counting only the MACs run.
    pub run_mac_per_cycle: f64,
    pub latency_ms: f64,
    pub flash_bytes: u64,
    /// .data + .bss + the stack: its measured high-water mark when the
    /// firmware reported one (`stack_bytes`), else the whole stack section.
    pub ram_bytes: u64,
    /// Stack high-water mark of the run (painted at reset, read after main).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_bytes: Option<u64>,
    pub arena_bytes: usize,
    pub sram_budget_bytes: u64,
    pub flash_budget_bytes: u64,
    /// Size of each allocated section of the ELF.
    pub sections: BTreeMap<String, u64>,
    /// Instructions before the first layer.
    pub startup_instructions: u64,
    pub layers: Vec<LayerProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerProfile {
    pub name: String,
    pub op: String,
    pub instructions: u64,
    pub cycles_estimate: u64,
    pub macs: u64,
    /// MACs the kernel skips (zero weights of dead channels).
    pub skipped_macs: u64,
    pub mac_per_cycle: f64,
    pub latency_ms: f64,
}

impl Profile {
    /// Counts the stack by its high-water mark `used` (stack.txt, written by
    /// targets/common/startup.c) instead of its section's size.
    pub fn set_stack(&mut self, used: u64) {
        let section = self.sections.get(".stack").copied().unwrap_or(0);
        self.ram_bytes = self.ram_bytes.saturating_sub(section) + used;
        self.stack_bytes = Some(used);
    }
}

/// Plugin arguments for a firmware ELF: where hyb_prof_mark and its array are.
pub fn plugin_arg(so: &Path, elf: &Path, out: &Path) -> Result<String> {
    let data = std::fs::read(elf)?;
    let (mark, mark_size) = super::elf::symbol(&data, "hyb_prof_mark")
        .context("the firmware has no hyb_prof_mark (was it built with -DHYB_PROFILE?)")?;
    let (marks, _) = super::elf::symbol(&data, "hyb_prof_marks").context("the firmware has no hyb_prof_marks")?;
    let lo = mark & !1; // Thumb symbols have bit 0 set
    Ok(format!(
        "{},out={},mark_lo={:#x},mark_hi={:#x},marks={:#x}",
        so.display(),
        out.display(),
        lo,
        lo + mark_size.max(2),
        marks
    ))
}

/// Per-inference figures from the plugin's counts over `batch` items.
pub fn summarize(
    regions: &BTreeMap<u32, Counts>,
    m: &hybridc_core::codegen::Manifest,
    t: &target::Target,
    batch: usize,
    memory: &super::elf::Memory,
) -> Profile {
    let clock = t.clock_hz.max(1) as f64;
    let b = batch.max(1) as u64;
    let mut layers = vec![];
    let (mut insns, mut cyc, mut macs, mut skipped) = (0u64, 0u64, 0u64, 0u64);
    for (i, l) in m.layers.iter().enumerate() {
        let c = regions.get(&(i as u32)).cloned().unwrap_or_default();
        let li = c.get("insns").copied().unwrap_or(0) / b;
        let lc = cycles(&c) / b;
        insns += li;
        cyc += lc;
        macs += l.macs;
        skipped += l.skipped_macs;
        layers.push(LayerProfile {
            name: l.name.clone(),
            op: l.op.clone(),
            instructions: li,
            cycles_estimate: lc,
            macs: l.macs,
            skipped_macs: l.skipped_macs,
            mac_per_cycle: if lc > 0 { l.macs as f64 / lc as f64 } else { 0.0 },
            latency_ms: lc as f64 / clock * 1e3,
        });
    }
    let startup = regions.get(&BEFORE_FIRST_MARK).and_then(|c| c.get("insns")).copied().unwrap_or(0);
    Profile {
        target: t.name.clone(),
        core: t.core.clone(),
        clock_hz: t.clock_hz,
        batch,
        method: "executed instructions counted by a QEMU TCG plugin; cycles estimated with a per-instruction cost table (not measured: QEMU's DWT cycle counter reads 0)".into(),
        cost_table: COST_TABLE.into(),
        instructions: insns,
        cycles_estimate: cyc,
        macs,
        mac_per_cycle: if cyc > 0 { macs as f64 / cyc as f64 } else { 0.0 },
        skipped_macs: skipped,
        run_mac_per_cycle: if cyc > 0 { (macs - skipped) as f64 / cyc as f64 } else { 0.0 },
        latency_ms: cyc as f64 / clock * 1e3,
        flash_bytes: memory.flash_bytes,
        ram_bytes: memory.ram_bytes,
        stack_bytes: None,
        arena_bytes: m.arena_bytes,
        sram_budget_bytes: t.sram_bytes,
        flash_budget_bytes: t.flash_bytes,
        sections: memory.sections.clone(),
        startup_instructions: startup,
        layers,
    }
}
