//! `hybridc bench`: compiles each model for a Cortex-M target, runs it once
//! under QEMU with the profiler on a fixed pseudo-random input, and prints
//! one table row per model. Figures are instruction counts and cycle
//! estimates (see `profile`), not board measurements.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::{npy, run_project, RunOptions};
use crate::codegen::Manifest;
use crate::driver::{self, CompileOptions};

pub struct Row {
    pub model: String,
    pub profile: serde_json::Value,
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

pub fn bench(models: &[PathBuf], target: &str) -> Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let mut rows = vec![];
    for (i, model) in models.iter().enumerate() {
        let out = dir.path().join(format!("m{i}"));
        let m = driver::compile(&CompileOptions {
            model: model.clone(),
            target: target.to_string(),
            out: out.clone(),
            outputs: vec![],
            sram: None,
            flash: None,
            quant: Default::default(),
            hybrid: None,
        })
        .with_context(|| format!("cannot compile {}", model.display()))?;
        let input = input_for(&m);
        let opts = RunOptions { project: out, trace: false, profile: true, timeout: Duration::from_secs(600), gateway: None };
        let r = run_project(&opts, &input, Path::new("bench input"))?;
        rows.push(Row { model: m.model.clone(), profile: r.profile.context("no profile")? });
    }
    Ok(rows)
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| model | MACs | arena B | flash B | RAM B | instructions | est. cycles | MAC/cycle | est. latency ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let p = &r.profile;
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.3} | {:.1} |\n",
            r.model,
            p["macs"],
            p["arena_bytes"],
            p["flash_bytes"],
            p["ram_bytes"],
            p["instructions"],
            p["cycles_estimate"],
            p["mac_per_cycle"].as_f64().unwrap_or(0.0),
            p["latency_ms"].as_f64().unwrap_or(0.0)
        );
    }
    s
}
