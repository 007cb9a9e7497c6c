//! The `compile` pipeline end to end, writing the project atomically: it is
//! built in a scratch directory next to the destination and renamed into
//! place only when everything succeeded.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::codegen::{self, Manifest};
use crate::ir::Graph;
use crate::quant::params::{self, Params};
use crate::{frontend, passes, plan, target};

pub struct CompileOptions {
    pub model: PathBuf,
    pub target: String,
    pub out: PathBuf,
    pub outputs: Vec<String>,
    pub sram: Option<u64>,
    pub flash: Option<u64>,
    pub kernels: codegen::Kernels,
}

/// A model ready for code generation (also what the tests run the reference on).
pub struct Compiled {
    pub graph: Graph,
    pub params: Vec<Params>,
    pub plan: plan::Plan,
}

/// Frontend, passes, quantization parameters and memory plan.
pub fn lower(model: &Path, outputs: &[String]) -> Result<Compiled> {
    let mut graph = frontend::load(model)?;
    if !outputs.is_empty() {
        passes::select_outputs(&mut graph, outputs)?;
    }
    passes::prune(&mut graph);
    let params = graph.ops.iter().map(|op| params::prepare(&graph, op)).collect::<Result<Vec<_>>>()?;
    let plan = plan::plan(&graph);
    Ok(Compiled { graph, params, plan })
}

pub fn report(c: &Compiled, target: &target::Target) -> serde_json::Value {
    let g = &c.graph;
    let layers: Vec<_> = g
        .ops
        .iter()
        .map(|op| {
            json!({
                "name": op.name,
                "op": op.kind.name(),
                "macs": g.macs(op),
                "output": g.tensors[op.output].name,
                "output_shape": g.tensors[op.output].shape,
            })
        })
        .collect();
    json!({
        "target": target.name,
        "arena_bytes": c.plan.arena_bytes,
        "arena_lower_bound_bytes": c.plan.lower_bound_bytes,
        "weights_bytes": g.weights_bytes(),
        "macs": g.ops.iter().map(|op| g.macs(op)).sum::<u64>(),
        "sram_budget_bytes": target.sram_bytes,
        "flash_budget_bytes": target.flash_bytes,
        "layers": layers,
    })
}

fn model_name(path: &Path) -> String {
    path.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string()
}

pub fn compile(o: &CompileOptions) -> Result<Manifest> {
    let mut t = target::load(&o.target)?;
    if let Some(s) = o.sram {
        t.sram_bytes = s;
    }
    if let Some(f) = o.flash {
        t.flash_bytes = f;
    }
    let dsp = o.kernels.use_dsp(&t)?;
    let c = lower(&o.model, &o.outputs)?;
    if c.plan.arena_bytes as u64 > t.sram_bytes {
        bail!(
            "the activation arena needs {} bytes, over the {} bytes of SRAM of target '{}'; use a board with more SRAM (or --sram SIZE if yours has it), or a smaller model",
            c.plan.arena_bytes, t.sram_bytes, t.name
        );
    }
    let weights = c.graph.weights_bytes() as u64;
    if weights > t.flash_bytes {
        bail!(
            "the weights need {weights} bytes, over the {} bytes of flash of target '{}'; use --flash SIZE for a bigger part, or a smaller model",
            t.flash_bytes, t.name
        );
    }
    let scratch = prepare_destination(&o.out)?;
    let result = (|| -> Result<Manifest> {
        let m = codegen::write_project(scratch.path(), &model_name(&o.model), &c.graph, &c.params, &c.plan, &t, dsp)?;
        let mut report = report(&c, &t);
        report["kernels"] = json!(if dsp { "dsp" } else { "portable" });
        if !t.is_host() {
            if crate::verify::firmware::toolchain_available(&t) {
                let mem = crate::verify::firmware::check_budgets(scratch.path(), &t)?;
                report["firmware"] = serde_json::to_value(&mem)?;
            } else {
                eprintln!(
                    "hybridc: warning: {} not found, so the firmware was not linked; only the arena and weights were checked against the budgets",
                    t.cc
                );
            }
        }
        std::fs::write(scratch.path().join("report.json"), serde_json::to_string_pretty(&report)?)?;
        Ok(m)
    })();
    let manifest = result?; // scratch is removed on drop if anything failed
    if o.out.exists() {
        std::fs::remove_dir_all(&o.out).with_context(|| format!("cannot replace {}", o.out.display()))?;
    }
    let kept = scratch.keep();
    std::fs::rename(&kept, &o.out).with_context(|| format!("cannot create {}", o.out.display()))?;
    Ok(manifest)
}

/// Checks that `out` may be (re)written and makes a scratch directory beside it.
fn prepare_destination(out: &Path) -> Result<tempfile::TempDir> {
    if out.exists() {
        let is_project = out.join(codegen::manifest::FILE).exists();
        let is_empty = out.read_dir().map(|mut d| d.next().is_none()).unwrap_or(false);
        if !out.is_dir() || !(is_project || is_empty) {
            bail!(
                "{} exists and is not a hybridc project; choose another -o directory or remove it",
                out.display()
            );
        }
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    tempfile::Builder::new()
        .prefix(".hybridc-tmp-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot write in {}", parent.display()))
}
