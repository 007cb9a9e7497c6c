//! `hybridc bench`: compiles each model for a Cortex-M target, runs it once
//! under QEMU with the profiler on a fixed pseudo-random input, and prints
//! one table row per model, beside the same model built with the portable
//! kernels. Figures are instruction counts and cycle
//! estimates (see `profile`), not board measurements.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::profile::Profile;
use crate::{run_project, RunOptions};
use hybridc_core::npy;
use hybridc_core::codegen::Manifest;
use hybridc_core::codegen::Kernels;
use hybridc_core::lower::CompileOptions;

/// One model's profiles; in the JSON file, the value of the model's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The model's name (the JSON file's key).
    #[serde(skip)]
    pub model: String,
    /// With the DSP kernels, on targets that have them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsp: Option<Profile>,
    /// With the portable kernels (the baseline of the ratios).
    pub portable: Profile,
    /// DSP builds under arena budgets, least arena first (`pareto`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pareto: Vec<Point>,
}

/// A DSP build of the model under an arena budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// What the budget is: the least arena, the default, or one between.
    pub label: String,
    pub budget_bytes: usize,
    pub arena_bytes: usize,
    pub cycles_estimate: u64,
    pub mac_per_cycle: f64,
    pub flash_bytes: u64,
    pub ram_bytes: u64,
}

impl Row {
    /// Which kernels [`Row::profile`] was measured with.
    pub fn kernels(&self) -> &'static str {
        if self.dsp.is_some() { "dsp" } else { "portable" }
    }

    /// The profile the table reports: DSP kernels when measured, else portable.
    pub fn profile(&self) -> &Profile {
        self.dsp.as_ref().unwrap_or(&self.portable)
    }
}

/// The rows as the `--json` file holds them: by model name.
pub fn by_model(rows: &[Row]) -> std::collections::BTreeMap<&str, &Row> {
    rows.iter().map(|r| (r.model.as_str(), r)).collect()
}

/// A deterministic int8 input of the model's shape (xorshift, seed 1).
fn input_for(m: &Manifest) -> npy::Array {
    let io = &m.inputs[0];
    let mut state: u32 = 0x9E37_79B9;
    let data = (0..io.bytes)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect();
    npy::Array { shape: io.shape.clone(), descr: io.dtype.clone(), data }
}

/// Compiles `model` into `out` with `kernels` (and an arena budget) and profiles one inference.
fn profile(model: &Path, target: &str, kernels: Kernels, budget: Option<usize>, out: PathBuf) -> Result<(Manifest, Profile)> {
    let o = CompileOptions { kernels, arena_budget: budget.map(|b| b as u64), ..CompileOptions::new(model, target, out.clone()) };
    let m = crate::compile::compile(&o).with_context(|| format!("cannot compile {} with the {kernels} kernels", model.display()))?;
    let input = input_for(&m);
    let opts = RunOptions { project: out, trace: false, profile: true, timeout: Duration::from_secs(600), gateway: None };
    let r = run_project(&opts, &input, Path::new("bench input"))?;
    Ok((m, r.profile.context("no profile")?))
}

pub fn bench(models: &[PathBuf], target: &str, kernels: Kernels) -> Result<Vec<Row>> {
    let dsp = kernels.use_dsp(&hybridc_core::target::load(target)?)?;
    let dir = tempfile::tempdir()?;
    let mut rows = vec![];
    for (i, model) in models.iter().enumerate() {
        let (m, portable) = profile(model, target, Kernels::Portable, None, dir.path().join(format!("m{i}-portable")))?;
        let (dsp, pareto) = match dsp {
            true => {
                let d = profile(model, target, Kernels::Dsp, None, dir.path().join(format!("m{i}-dsp")))?.1;
                let p = pareto(model, target, d.arena_bytes, &dir.path().join(format!("m{i}-budget")))?;
                (Some(d), p)
            }
            false => (None, vec![]),
        };
        rows.push(Row { model: m.model.clone(), dsp, portable, pareto });
    }
    Ok(rows)
}

/// The DSP build under the least arena any choice of variants allows, two
/// budgets between it and the default's arena, and the default (`default`
/// bytes), each profiled.
fn pareto(model: &Path, target: &str, default: usize, dir: &Path) -> Result<Vec<Point>> {
    let least = hybridc_core::codegen::dsp::choose::least_arena(&hybridc_core::lower::lower_any(model, &[], &Default::default(), None)?.graph);
    let mut budgets = vec![("least".to_string(), least)];
    if default > least {
        let step = (default - least) / 3;
        budgets.extend([("between".to_string(), least + step), ("between".to_string(), least + 2 * step)]);
    }
    budgets.push(("default".to_string(), default));
    budgets.dedup_by_key(|b| b.1);
    let mut points = vec![];
    for (k, (label, budget)) in budgets.into_iter().enumerate() {
        let p = profile(model, target, Kernels::Dsp, Some(budget), dir.join(k.to_string()))?.1;
        let (arena_bytes, cycles_estimate, mac_per_cycle) = (p.arena_bytes, p.cycles_estimate, p.mac_per_cycle);
        points.push(Point { label, budget_bytes: budget, arena_bytes, cycles_estimate, mac_per_cycle, flash_bytes: p.flash_bytes, ram_bytes: p.ram_bytes });
    }
    Ok(points)
}

/// Each model's arena budgets against estimated cycles, as a Markdown table.
pub fn pareto_table(rows: &[Row]) -> String {
    let mut s = String::from("| model | budget | budget B | arena B | est. cycles | MAC/cycle | flash B | RAM B |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        for p in &r.pareto {
            s += &format!(
                "| {} | {} | {} | {} | {} | {:.3} | {} | {} |\n",
                r.model, p.label, p.budget_bytes, p.arena_bytes, p.cycles_estimate, p.mac_per_cycle, p.flash_bytes, p.ram_bytes
            );
        }
    }
    s
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| model | kernels | MACs | instructions | est. cycles | MAC/cycle | MACs skipped | MAC/cycle on MACs run | est. latency ms | flash B | RAM B | portable est. cycles | speed-up vs portable | portable flash B | flash vs portable | portable RAM B |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let (p, b) = (r.profile(), &r.portable);
        s += &format!(
            "| {} | {} | {} | {} | {} | {:.3} | {} | {:.3} | {:.1} | {} | {} | {} | {:.2}x | {} | {:+.1}% | {} |\n",
            r.model,
            r.kernels(),
            p.macs,
            p.instructions,
            p.cycles_estimate,
            p.mac_per_cycle,
            p.skipped_macs,
            p.run_mac_per_cycle,
            p.latency_ms,
            p.flash_bytes,
            p.ram_bytes,
            b.cycles_estimate,
            b.cycles_estimate as f64 / (p.cycles_estimate as f64).max(1.0),
            b.flash_bytes,
            100.0 * (p.flash_bytes as f64 / (b.flash_bytes as f64).max(1.0) - 1.0),
            b.ram_bytes,
        );
    }
    s
}
