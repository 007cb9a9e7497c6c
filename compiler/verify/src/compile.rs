//! The `compile` command end to end, writing the project atomically: it is
//! built in a scratch directory next to the destination and renamed into
//! place only when everything succeeded. Firmware is linked there to check
//! the target's budgets.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::report::{write_json, Report};
use hybridc_core::codegen::{self, Manifest};
use hybridc_core::lower::{lower_any, model_name, CompileOptions};
use hybridc_core::target;

pub fn compile(o: &CompileOptions) -> Result<Manifest> {
    compile_emit(o, codegen::Emit::C)
}

/// As [`compile`], writing the C project or the Rust crate.
pub fn compile_emit(o: &CompileOptions, emit: codegen::Emit) -> Result<Manifest> {
    Ok(compile_reported(o, emit)?.0)
}

/// As [`compile_emit`], also returning what the project's report.json holds.
pub fn compile_reported(o: &CompileOptions, emit: codegen::Emit) -> Result<(Manifest, Report)> {
    let rust = emit == codegen::Emit::Rust;
    let mut t = target::load(&o.target)?;
    if let Some(s) = o.sram {
        t.sram_bytes = s;
    }
    if let Some(f) = o.flash {
        t.flash_bytes = f;
    }
    let dsp = o.kernels.use_dsp(&t)? && !rust;
    if rust {
        codegen::rust::check_target(&t)?;
    }
    let mut c = lower_any(&o.model, &o.outputs, &o.quant, o.hybrid.as_ref())?;
    let mut choice = None;
    if dsp {
        // The DSP kernels' scratch goes into the arena, over memory dead at
        // its layer; their variants are chosen under the budget.
        let budget = o.arena_budget.or(o.sram).map(|b| b as usize);
        let mut ch = codegen::dsp::choose::choose(&c.graph, budget)?;
        if budget.is_none() && ch.plan.arena_bytes as u64 > t.sram_bytes {
            ch = codegen::dsp::choose::choose(&c.graph, Some(t.sram_bytes as usize))?;
        }
        c.plan = ch.plan.clone();
        choice = Some(ch);
    } else if let Some(b) = o.arena_budget.filter(|&b| c.plan.arena_bytes as u64 > b) {
        bail!("the arena needs {} bytes with the portable kernels, over the --arena-budget of {b} bytes; the plan has no variants to trade", c.plan.arena_bytes);
    }
    if c.plan.arena_bytes as u64 > t.sram_bytes {
        bail!(
            "the activation arena needs {} bytes, over the {} bytes of SRAM of target '{}'; use a board with more SRAM (or --sram SIZE if yours has it), or a smaller model",
            c.plan.arena_bytes, t.sram_bytes, t.name
        );
    }
    // The DSP kernels store no weights of dead channels.
    let skipped = if dsp { codegen::dsp_skipped_weight_bytes(&c.graph, &c.plan.kernel_levels) } else { 0 };
    let weights = (hybridc_core::ops::weights_bytes(&c.graph) as u64).saturating_sub(skipped);
    if weights > t.flash_bytes {
        bail!(
            "the weights need {weights} bytes, over the {} bytes of flash of target '{}'; use --flash SIZE for a bigger part, or a smaller model",
            t.flash_bytes, t.name
        );
    }
    let scratch = prepare_destination(&o.out)?;
    let result = (|| -> Result<(Manifest, Report)> {
        let name = model_name(&o.model);
        let m = if rust {
            codegen::rust::write_crate(scratch.path(), &name, &c.graph, &c.plan, &t, c.hybrid.as_ref())?
        } else {
            codegen::write_project(scratch.path(), &name, &c.graph, &c.plan, &t, c.hybrid.as_ref(), dsp)?
        };
        let mut report = Report::new(&c, &t);
        if let Some(ch) = &choice {
            report.set_kernels(ch);
        }
        report.kernels = Some(if rust { "rust" } else if dsp { "dsp" } else { "portable" }.to_string());
        if !t.is_host() && !rust {
            if crate::firmware::toolchain_available(&t) {
                let mem = crate::firmware::check_budgets(scratch.path(), &t)?;
                report.firmware = Some(mem);
            } else {
                eprintln!(
                    "hybridc: warning: {} not found, so the firmware was not linked; only the arena and weights were checked against the budgets",
                    t.cc
                );
            }
        }
        write_json(&scratch.path().join("report.json"), &report)?;
        crate::html::render(scratch.path())?;
        Ok((m, report))
    })();
    let written = result?; // scratch is removed on drop if anything failed
    if o.out.exists() {
        std::fs::remove_dir_all(&o.out).with_context(|| format!("cannot replace {}", o.out.display()))?;
    }
    let kept = scratch.keep();
    std::fs::rename(&kept, &o.out).with_context(|| format!("cannot create {}", o.out.display()))?;
    Ok(written)
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
