//! The Rust backend: the model as a `#![no_std]` crate (no heap, no
//! `unsafe`): weights as `static` arrays, one statically sized arena, one
//! kernel call per layer specialised for the layer's constant parameters,
//! and a `Model` type borrowing the arena. The kernels
//! (`templates/rust/runtime`) are a port of the reference interpreter; the
//! crate does not depend on hybridc. Beside it, `harness/` is what
//! `hybridc run` builds: a host program or cortex-m-rt firmware reading
//! input.bin and writing output.bin (and trace.bin) like the C projects.

mod layers;

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use askama::Template;

use super::manifest::{IoInfo, Manifest};
use crate::ir::HybridInfo;
use crate::ir::{DType, Graph};
use crate::plan::Plan;
use crate::target::Target;
use super::hybrid::HybridIo;
use layers::LayerRs;

/// The manifest of the kernels crate every generated crate carries in
/// `kernels/` (its sources are the kernels crate's own files).
const KERNELS_TOML: &str = "# hybridc's kernels (the hybridc-kernels crate), vendored by hybridc. Do not edit.\n[package]\nname = \"hybridc-kernels\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n";

pub struct IoRs {
    pub name: String,
    pub shape: String,
    pub len: usize,
    pub bytes: usize,
    pub offset: usize,
    pub scale: String,
    pub zero_point: i32,
}

#[derive(Template)]
#[template(path = "rust/Cargo.toml", escape = "none")]
struct CargoToml<'a> {
    model_name: &'a str,
    version: &'a str,
    target: &'a str,
    crate_name: &'a str,
}

#[derive(Template)]
#[template(path = "rust/lib.rs", escape = "none")]
struct LibRs<'a> {
    model_name: &'a str,
    version: &'a str,
    target: &'a str,
    crate_name: &'a str,
    layers: usize,
    macs: u64,
    weights_bytes: usize,
    arena_bytes: usize,
    inputs: &'a [IoRs],
    outputs: &'a [IoRs],
    /// One input and one output: `infer` with typed arrays.
    typed: bool,
    input_type: &'a str,
    output_type: &'a str,
    output_ret: &'a str,
    hybrid: bool,
}

#[derive(Template)]
#[template(path = "rust/hybrid.rs", escape = "none")]
struct HybridRs<'a> {
    info: &'a HybridInfo,
    io: &'a HybridIo,
    threshold: String,
    router_scale: String,
    query_scale: String,
    query_dims: String,
    input_float: bool,
    input_type: &'a str,
}

/// A float literal Rust accepts (infinities included).
fn f32_lit(v: f32) -> String {
    if v.is_finite() {
        format!("{v:?}")
    } else if v > 0.0 {
        "f32::INFINITY".into()
    } else {
        "f32::NEG_INFINITY".into()
    }
}

/// src/hybrid.rs: the hybrid's configuration and decision, as hybrid.c and
/// runtime-c/hybrid do for C.
fn hybrid_rs(g: &Graph, info: &HybridInfo) -> Result<String> {
    let io = HybridIo::of(g, info)?;
    let input_float = g.tensors[g.inputs[0]].dtype == DType::F32;
    Ok(HybridRs {
        info,
        threshold: f32_lit(info.threshold),
        router_scale: f32_lit(io.router_q.scale),
        query_scale: f32_lit(io.query_q.scale),
        query_dims: io.dims(""),
        input_float,
        input_type: if input_float { "f32" } else { "i8" },
        io: &io,
    }
    .render()?)
}

#[derive(Template)]
#[template(path = "rust/model.rs", escape = "none")]
struct ModelRs<'a> {
    model_name: &'a str,
    uses: &'a str,
    layers: &'a [LayerRs],
}

#[derive(Template)]
#[template(path = "rust/harness/Cargo.toml", escape = "none")]
struct HarnessToml<'a> {
    crate_name: &'a str,
    host: bool,
}

#[derive(Template)]
#[template(path = "rust/harness/config.toml", escape = "none")]
struct HarnessConfig<'a> {
    target: &'a str,
    cpu: &'a str,
}

#[derive(Template)]
#[template(path = "rust/harness/memory.x", escape = "none")]
struct MemoryX<'a> {
    target: &'a str,
    machine: &'a str,
    flash_origin: &'a str,
    flash_length: &'a str,
    ram_origin: &'a str,
    ram_length: &'a str,
}

/// The Rust target triple every Cortex-M build uses.
pub const CORTEX_M_TRIPLE: &str = "thumbv7em-none-eabihf";

/// Memory map (flash origin, length, RAM origin, length) of the Cortex-M
/// targets the Rust backend supports, as QEMU emulates them.
fn memory_map(t: &Target) -> Result<[&'static str; 4]> {
    match t.name.as_str() {
        "cortex-m4" | "cortex-m7" => Ok(["0x00000000", "4M", "0x20000000", "4M"]),
        other => bail!("the Rust backend builds for host, cortex-m4 and cortex-m7 (Armv7E-M), not '{other}'; use --emit c"),
    }
}

/// A crate name from a model name: lowercase, `_` for anything else.
pub fn crate_name(model_name: &str) -> String {
    let s: String = model_name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("{}{s}_model", if s.starts_with(|c: char| c.is_ascii_digit()) { "m" } else { "" })
}

/// The model's inputs or outputs as lib.rs describes them, and as the manifest does.
fn io(g: &Graph, plan: &Plan, ids: &[usize]) -> Vec<IoRs> {
    IoInfo::of(g, &plan.offsets, ids)
        .iter()
        .map(|i| IoRs {
            name: i.name.replace('`', "'"),
            shape: format!("{:?}", i.shape),
            len: i.shape.iter().product(),
            bytes: i.bytes,
            offset: i.offset,
            scale: format!("{:?}", i.scale),
            zero_point: i.zero_point,
        })
        .collect()
}

/// The `use` lines model.rs needs.
fn uses(layers: &[LayerRs]) -> String {
    let items: std::collections::BTreeSet<&str> = layers.iter().flat_map(|l| l.uses.iter().map(String::as_str)).collect();
    let mut s: String = items.iter().map(|i| format!("use crate::kernels::{i};\n")).collect();
    if layers.iter().any(|l| !l.statics.is_empty()) {
        s += "use crate::weights;\n";
    }
    s
}

/// Writes the crate into `dir` (which must exist and be empty).
pub fn write_crate(dir: &Path, model_name: &str, g: &Graph, plan: &Plan, target: &Target, hybrid: Option<&HybridInfo>) -> Result<Manifest> {
    let version = env!("CARGO_PKG_VERSION");
    let crate_name = crate_name(model_name);
    let layers = g
        .ops
        .iter()
        .enumerate()
        .map(|(i, op)| layers::layer(i, g, op, plan))
        .collect::<Result<Vec<_>>>()?;
    let (inputs, outputs) = (io(g, plan, &g.inputs), io(g, plan, &g.outputs));
    let ty = |t: usize| if g.tensors[t].dtype == DType::F32 { "f32" } else { "i8" };
    let typed = g.inputs.len() == 1 && g.outputs.len() == 1 && g.tensors[g.outputs[0]].dtype != DType::I32;
    let (input_type, output_type) = (ty(g.inputs[0]), ty(g.outputs[0]));
    let output_ret = if output_type == "i8" { "&[i8; OUTPUT_LEN]" } else { "[f32; OUTPUT_LEN]" };
    let src = dir.join("src");
    fs::create_dir_all(&src)?;
    let write = |path: &Path, text: String| -> Result<()> {
        fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    let t = target.name.as_str();
    write(&dir.join("Cargo.toml"), CargoToml { model_name, version, target: t, crate_name: &crate_name }.render()?)?;
    let lib = LibRs {
        model_name,
        version,
        target: t,
        crate_name: &crate_name,
        layers: layers.len(),
        macs: crate::ops::total_macs(g),
        weights_bytes: crate::ops::weights_bytes(g),
        arena_bytes: plan.arena_bytes,
        inputs: &inputs,
        outputs: &outputs,
        typed,
        input_type,
        output_type,
        output_ret,
        hybrid: hybrid.is_some(),
    };
    write(&src.join("lib.rs"), lib.render()?)?;
    if let Some(info) = hybrid {
        if g.inputs.len() != 1 {
            bail!("a hybrid has one input");
        }
        write(&src.join("hybrid.rs"), hybrid_rs(g, info)?)?;
    }
    write(&src.join("model.rs"), ModelRs { model_name, uses: &uses(&layers), layers: &layers }.render()?)?;
    let weights: String = layers.iter().map(|l| l.statics.as_str()).collect();
    write(&src.join("weights.rs"), format!("//! Weights, biases, requantization and tables of `{model_name}`, in flash.\n\n{weights}"))?;
    let kernels = dir.join("kernels/src");
    fs::create_dir_all(&kernels)?;
    write(&dir.join("kernels/Cargo.toml"), KERNELS_TOML.to_string())?;
    for f in crate::files::list("kernels")? {
        crate::files::copy(&format!("kernels/{f}"), &kernels.join(&f))?;
    }
    write_harness(&dir.join("harness"), &crate_name, target, hybrid.is_some())?;
    format_crate(dir);

    let manifest = Manifest::of(model_name, &target.name, g, plan, &[], hybrid);
    write(&dir.join(super::manifest::FILE), serde_json::to_string_pretty(&manifest)?)?;
    Ok(manifest)
}

/// The harness crate: host program or cortex-m-rt firmware, one binary per
/// variant (plain, trace, profile) so that variants never rebuild each other.
fn write_harness(dir: &Path, crate_name: &str, target: &Target, hybrid: bool) -> Result<()> {
    let host = target.is_host();
    let templates = "templates/rust/harness";
    fs::create_dir_all(dir.join("src/bin"))?;
    fs::write(dir.join("Cargo.toml"), HarnessToml { crate_name, host }.render()?)?;
    // The common part, then the `run` of a model or of a hybrid.
    let lib = if host { "host.rs" } else { "firmware.rs" };
    let run = format!("run_{}{}.rs", if host { "host" } else { "firmware" }, if hybrid { "_hybrid" } else { "" });
    let read = |f: &str| crate::files::read_text(&format!("{templates}/{f}"));
    fs::write(dir.join("src/lib.rs"), read(lib)? + &read(&run)?)?;
    let variants: &[(&str, bool, bool)] =
        if host { &[("model", false, false), ("model_trace", true, false)] } else { &[("model", false, false), ("model_trace", true, false), ("model_profile", false, true)] };
    for &(name, trace, profile) in variants {
        let text = if host {
            format!("//! `hybridc run` on the host{}.\n\nfn main() {{\n    std::process::exit(hybridc_harness::run({trace}));\n}}\n", if trace { ", writing trace.bin" } else { "" })
        } else {
            format!(
                "//! Firmware for `hybridc run`{}.\n#![no_std]\n#![no_main]\n\nuse model::Arena;\n\n#[cortex_m_rt::entry]\nfn main() -> ! {{\n    // cortex-m-rt turns this into a `&'static mut` to an arena in .bss.\n    static mut ARENA: Arena = Arena::new();\n    hybridc_harness::run(ARENA, {trace}, {profile})\n}}\n",
                if trace { ", writing trace.bin" } else if profile { ", with profiling marks" } else { "" }
            )
        };
        fs::write(dir.join("src/bin").join(format!("{name}.rs")), text)?;
    }
    if !host {
        let [flash_origin, flash_length, ram_origin, ram_length] = memory_map(target)?;
        let q = target.qemu.as_ref().map(|q| q.machine.as_str()).unwrap_or("");
        fs::write(dir.join("memory.x"), MemoryX { target: &target.name, machine: q, flash_origin, flash_length, ram_origin, ram_length }.render()?)?;
        fs::create_dir_all(dir.join(".cargo"))?;
        fs::write(dir.join(".cargo/config.toml"), HarnessConfig { target: &target.name, cpu: &target.core }.render()?)?;
        crate::files::copy(&format!("{templates}/build.rs"), &dir.join("build.rs"))?;
    }
    Ok(())
}

/// Runs rustfmt over the crate (weights.rs is skipped), so that
/// `cargo fmt --check` passes; without rustfmt the code stays as generated.
fn format_crate(dir: &Path) {
    let mut files = vec![dir.join("src/lib.rs"), dir.join("harness/src/lib.rs")];
    files.extend(fs::read_dir(dir.join("harness/src/bin")).into_iter().flatten().flatten().map(|e| e.path()));
    let ok = std::process::Command::new("rustfmt").args(["--edition", "2021"]).args(&files).status().map(|s| s.success()).unwrap_or(false);
    if !ok {
        eprintln!("hybridc: warning: rustfmt is not available; the generated crate is not formatted");
    }
}

/// Checks, before anything is written, that the backend can build for `target`.
pub fn check_target(target: &Target) -> Result<()> {
    if !target.is_host() {
        memory_map(target)?;
    }
    Ok(())
}
