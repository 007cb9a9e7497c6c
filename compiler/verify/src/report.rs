//! report.json: what a compile found out, for the whole model and layer by
//! layer; and how hybridc writes its JSON files.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::elf::Memory;
use hybridc_core::lower::Compiled;
use hybridc_core::plan::inplace::Mode;
use hybridc_core::plan::{Block, BlockKind};
use hybridc_core::target::Target;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub target: String,
    pub arena_bytes: usize,
    pub arena_lower_bound_bytes: usize,
    pub arena_plain_lower_bound_bytes: usize,
    pub weights_bytes: usize,
    pub macs: u64,
    pub sram_budget_bytes: u64,
    pub flash_budget_bytes: u64,
    pub layers: Vec<LayerReport>,
    /// DSP builds: the arena budget the kernel variants were chosen under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arena_budget_bytes: Option<usize>,
    /// DSP builds: the cost model's estimated cycles of the chosen variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub est_cycles: Option<u64>,
    /// The kernels the project runs: portable, dsp or rust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernels: Option<String>,
    /// The linked firmware's memory (Cortex-M C projects, when the toolchain is there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<Memory>,
    /// What the compile warned of (e.g. an int8 router layer under 20 dB).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The arena plan: every buffer as placed (report.html draws it).
    #[serde(default)]
    pub plan: Vec<BlockReport>,
}

/// A buffer of the arena plan: `bytes` at `offset`, live over schedule steps
/// (layers) `first_step..=last_step`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockReport {
    /// `tensor`, `ring` (an in-place layer's ring buffer) or `scratch` (a kernel's).
    pub kind: String,
    /// The tensor's name, or the layer's for a ring or scratch.
    pub name: String,
    pub offset: usize,
    pub bytes: usize,
    pub first_step: usize,
    pub last_step: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerReport {
    pub name: String,
    /// The op's name; float32 ops end with [`FLOAT_OP`].
    pub op: String,
    pub macs: u64,
    pub output: String,
    pub output_shape: Vec<usize>,
    pub arena_offset: Option<usize>,
    pub in_place: Mode,
    /// Float models: SQNR of the int8 output against tract's float result (dB, 2 decimals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqnr_db: Option<f64>,
    /// DSP builds: the kernel variant the layer runs and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelReport>,
}

/// A DSP build's choice for one layer (`codegen::dsp::choose`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelReport {
    pub variant: String,
    pub scratch_bytes: usize,
    pub est_cycles: u64,
    pub why: String,
    /// Every variant: name, scratch bytes, estimated cycles.
    pub variants: Vec<(String, usize, u64)>,
}

/// The suffix of an op's name when it runs in float32 (`OpKind::name`).
pub const FLOAT_OP: &str = " (float)";

impl LayerReport {
    /// The op's name without [`FLOAT_OP`] when the layer runs in float32.
    pub fn float_op(&self) -> Option<&str> {
        self.op.strip_suffix(FLOAT_OP)
    }
}

impl Report {
    /// The report of a lowered model for `target` (no kernels or firmware yet).
    /// Each DSP layer's variant, and the budget and estimated cycles of the choice.
    pub fn set_kernels(&mut self, ch: &hybridc_core::codegen::dsp::choose::Choice) {
        for (i, l) in self.layers.iter_mut().enumerate() {
            let Some(v) = ch.variants[i].get(ch.levels[i]) else { continue };
            l.kernel = Some(KernelReport {
                variant: v.name.clone(),
                scratch_bytes: v.scratch_bytes,
                est_cycles: v.est_cycles,
                why: ch.why[i].clone(),
                variants: ch.variants[i].iter().map(|v| (v.name.clone(), v.scratch_bytes, v.est_cycles)).collect(),
            });
        }
        self.arena_budget_bytes = Some(ch.budget);
        self.est_cycles = Some(ch.est_cycles);
    }

    pub fn new(c: &Compiled, target: &Target) -> Report {
        let g = &c.graph;
        let layers = g
            .ops
            .iter()
            .enumerate()
            .map(|(i, op)| LayerReport {
                name: op.name.clone(),
                op: op.kind.name().to_string(),
                macs: op.kind.macs(g, op),
                output: g.tensors[op.output].name.clone(),
                output_shape: g.tensors[op.output].shape.clone(),
                arena_offset: c.plan.offsets[g.base(op.output)],
                in_place: c.plan.modes[i],
                sqnr_db: c.sqnr_db.get(i).copied().flatten().map(|db| (db * 100.0).round() / 100.0),
                kernel: None,
            })
            .collect();
        Report {
            target: target.name.clone(),
            arena_bytes: c.plan.arena_bytes,
            arena_lower_bound_bytes: c.plan.lower_bound_bytes,
            arena_plain_lower_bound_bytes: c.plan.plain_lower_bound_bytes,
            weights_bytes: hybridc_core::ops::weights_bytes(g),
            macs: hybridc_core::ops::total_macs(g),
            sram_budget_bytes: target.sram_bytes,
            flash_budget_bytes: target.flash_bytes,
            layers,
            arena_budget_bytes: None,
            est_cycles: None,
            kernels: None,
            firmware: None,
            warnings: c.warnings.clone(),
            plan: c.plan.blocks.iter().map(|b| block_report(g, b)).collect(),
        }
    }
}

fn block_report(g: &hybridc_core::ops::Graph, b: &Block) -> BlockReport {
    let (kind, name) = match b.kind {
        BlockKind::Tensor => ("tensor", &g.tensors[b.of].name),
        BlockKind::Ring => ("ring", &g.ops[b.of].name),
        BlockKind::Scratch => ("scratch", &g.ops[b.of].name),
    };
    BlockReport { kind: kind.into(), name: name.clone(), offset: b.offset, bytes: b.bytes, first_step: b.first, last_step: b.last }
}

/// `x` as hybridc writes its JSON files: pretty, with every object's keys
/// sorted (through a `Value`, whose map sorts them), so that the files stay
/// byte for byte what they were when they were built as `json!` values.
pub fn json_text<T: Serialize>(x: &T) -> Result<String> {
    Ok(serde_json::to_string_pretty(&serde_json::to_value(x)?)?)
}

/// Writes `x` to `path` as [`json_text`], creating its folder.
pub fn write_json<T: Serialize>(path: &Path, x: &T) -> Result<()> {
    write_file(path, json_text(x)?)
}

/// Writes a file the user named, creating its folder first, so that
/// `--json out/x.json` works where `out/` does not exist yet.
pub fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    create_parent(path)?;
    std::fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))
}

/// Creates the folder `path` goes in, if missing.
pub fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
        }
        _ => Ok(()),
    }
}
