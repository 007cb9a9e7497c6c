//! Writes the generated project directory.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use askama::Template;

use super::dsp;
use super::hybrid::HybridIo;
use super::layers::{self, LayerC};
use super::manifest::{IoInfo, Manifest};
use crate::ir::HybridInfo;
use crate::ir::Graph;
use crate::ops::Mode;
use crate::plan::{KernelNeeds, Plan};
use crate::target::Target;

pub struct IoC {
    pub name: String,
    pub shape: String,
    pub dtype: &'static str,
    pub scale: f32,
    pub zero_point: i32,
    pub bytes: usize,
    pub offset: usize,
}

#[derive(Template)]
#[template(path = "c/model.h", escape = "none")]
struct ModelH<'a> {
    model_name: &'a str,
    version: &'a str,
    target: &'a str,
    arena_bytes: usize,
    inputs: &'a [IoC],
    outputs: &'a [IoC],
    layers: &'a [LayerC],
}

#[derive(Template)]
#[template(path = "c/model.c", escape = "none")]
struct ModelC<'a> {
    model_name: &'a str,
    version: &'a str,
    target: &'a str,
    arena_bytes: usize,
    lower_bound_bytes: usize,
    macs: u64,
    inputs: &'a [IoC],
    outputs: &'a [IoC],
    layers: &'a [LayerC],
    constants: &'a str,
    /// DSP projects: the kernel headers' includes and the scratch buffer.
    dsp_prelude: &'a str,
}

#[derive(Template)]
#[template(path = "c/main.c", escape = "none")]
struct MainC<'a> {
    version: &'a str,
}

#[derive(Template)]
#[template(path = "c/main_hybrid.c", escape = "none")]
struct MainHybridC<'a> {
    version: &'a str,
}

#[derive(Template)]
#[template(path = "c/hybrid.c", escape = "none")]
struct HybridC<'a> {
    model_name: &'a str,
    version: &'a str,
    info: &'a HybridInfo,
    io: &'a HybridIo,
    threshold: String,
    edge_is_float: i32,
    router_is_float: i32,
    edge_scale: String,
    router_scale: String,
    query_scale: String,
    query_dims: String,
}

/// Runtime sources of a hybrid (runtime-c/hybrid) and its transports (runtime-c/platform).
pub const HYBRID_RUNTIME: &[&str] = &["hyb_hybrid.h", "hyb_frame.h", "hyb_frame.c", "hyb_hybrid.c"];

fn hybrid_c(model_name: &str, version: &str, g: &Graph, info: &HybridInfo) -> Result<String> {
    let io = HybridIo::of(g, info)?;
    let c_float = |v: f32| format!("{v:e}f");
    Ok(HybridC {
        model_name,
        version,
        info,
        threshold: if info.threshold.is_finite() { c_float(info.threshold) } else { "__builtin_inff()".into() },
        edge_is_float: io.edge_float as i32,
        router_is_float: io.router_float as i32,
        edge_scale: c_float(io.edge_q.scale),
        router_scale: c_float(io.router_q.scale),
        query_scale: c_float(io.query_q.scale),
        query_dims: io.dims("u"),
        io: &io,
    }
    .render()?)
}

#[derive(Template)]
#[template(path = "c/Makefile", escape = "none")]
struct Makefile<'a> {
    target: &'a Target,
    has_hybrid: bool,
    kernels: &'a [&'a str],
    platform: &'a str,
    startup: &'a str,
}

/// The same build for CMake: a library a firmware project adds with
/// `add_subdirectory`, and the standalone test firmware.
#[derive(Template)]
#[template(path = "c/CMakeLists.txt", escape = "none")]
struct CMakeLists<'a> {
    target: &'a Target,
    has_hybrid: bool,
    /// Runtime sources of the library (kernels, hybrid runtime).
    lib_runtime: &'a [&'a str],
    platform: &'a str,
    /// Runtime sources of the standalone firmware only (transport, startup).
    app_runtime: &'a [&'a str],
}

#[derive(Template)]
#[template(path = "c/cmake/arm-none-eabi-gcc.cmake", escape = "none")]
struct GccToolchain<'a> {
    target: &'a Target,
}

#[derive(Template)]
#[template(path = "c/cmake/arm-none-eabi-clang.cmake", escape = "none")]
struct ClangToolchain<'a> {
    target: &'a Target,
}


/// The model's inputs or outputs as model.h describes them.
fn io(g: &Graph, infos: &[IoInfo], ids: &[usize]) -> Vec<IoC> {
    infos
        .iter()
        .zip(ids)
        .map(|(i, &t)| IoC {
            name: layers::comment_safe(&i.name),
            shape: format!("{:?}", i.shape),
            dtype: g.tensors[t].dtype.c_type(),
            scale: i.scale,
            zero_point: i.zero_point,
            bytes: i.bytes,
            offset: i.offset,
        })
        .collect()
}

/// Each op's DSP layer at variant `levels[op]` (0 where missing) without
/// arena addresses (None: the portable kernel).
pub fn dsp_layers(g: &Graph, levels: &[usize]) -> Vec<Option<dsp::DspLayer>> {
    g.ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let known = op.inputs.first().map(|&t| dsp::constant_channels(g, t)).unwrap_or_default();
            dsp::layer(i, op, &dsp::Operands { input: "", second: "", output: "" }, &known, levels.get(i).copied().unwrap_or(0))
        })
        .collect()
}

/// What a DSP layer needs from the plan (scratch, whether it may run
/// exactly in place): what `plan::plan_with_kernels` takes per op.
pub fn kernel_needs(d: &dsp::DspLayer) -> KernelNeeds {
    KernelNeeds { scratch: 4 * d.scratch_words, exact_in_place: d.exact_in_place }
}

/// Per op, what its fastest DSP kernel needs from the plan, or None where
/// the op keeps its portable kernel.
pub fn dsp_kernels(g: &Graph) -> Vec<Option<KernelNeeds>> {
    dsp_layers(g, &[]).iter().map(|d| d.as_ref().map(kernel_needs)).collect()
}

/// Weight bytes the DSP kernels do not store: a layer that skips dead
/// channels skips a weight byte per MAC it skips at an output pixel.
pub fn dsp_skipped_weight_bytes(g: &Graph, levels: &[usize]) -> u64 {
    let pixels = |t: usize| g.tensors[t].hwc()[..2].iter().product::<usize>().max(1) as u64;
    dsp_layers(g, levels).iter().zip(&g.ops).map(|(d, op)| d.as_ref().map_or(0, |d| d.skipped_macs / pixels(op.output))).sum()
}

/// Per-layer C; with `dsp`, layers a DSP kernel does exactly use it. Also
/// returns the specialised functions the DSP layers share and the int32
/// words of scratch outside the arena they need (plans made without
/// `dsp_scratch`).
fn layers_c(g: &Graph, plan: &Plan, dsp: bool) -> (Vec<LayerC>, Vec<dsp::Function>, usize) {
    let (mut functions, mut scratch) = (Vec::<dsp::Function>::new(), 0);
    let layers = g
        .ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let mut l = layers::layer(i, g, op, plan);
            // A ring (output exactly over the input) needs the portable in-place kernel.
            let ring = plan.ring_scratch.get(i).copied().flatten().is_some();
            if dsp && !ring {
                let arena = |k: usize| op.inputs.get(k).map(|&t| layers::arena(plan, g, t)).unwrap_or_default();
                let output = layers::arena(plan, g, op.output);
                let io = dsp::Operands { input: &arena(0), second: &arena(1), output: &output };
                let known = op.inputs.first().map(|&t| dsp::constant_channels(g, t)).unwrap_or_default();
                if let Some(d) = dsp::layer(i, op, &io, &known, plan.kernel_levels.get(i).copied().unwrap_or(0)) {
                    // An exact in-place op without a ring buffer: planned for this kernel.
                    let exact = matches!(plan.modes.get(i), Some(Mode::Ring { .. }));
                    assert!(!exact || d.exact_in_place, "layer {i}: planned in place for a kernel that cannot run so");
                    let f = functions.iter().position(|f| *f == d.function).unwrap_or_else(|| {
                        functions.push(d.function);
                        functions.len() - 1
                    });
                    let scratch_arg = match plan.op_scratch.get(i).copied().flatten() {
                        _ if d.scratch_words == 0 => String::new(),
                        Some(at) => format!(", (int32_t *)(hyb_arena + {at})"),
                        None => {
                            scratch = scratch.max(d.scratch_words);
                            format!(", {}", dsp::SCRATCH)
                        }
                    };
                    l.call = format!("hyb_dsp_fn{f}({}{scratch_arg});", d.args);
                    l.data = d.data;
                    l.skipped_macs = d.skipped_macs;
                }
            }
            l
        })
        .collect();
    (layers, functions, scratch)
}

fn dsp_prelude(functions: &[dsp::Function], scratch_words: usize) -> String {
    let mut s = dsp::limits_c();
    s += &dsp::HEADERS.iter().map(|h| format!("#include \"dsp/{h}\"\n")).collect::<String>();
    if scratch_words > 0 {
        s += &format!(
            "/* Scratch of the DSP kernels: im2col columns, patches, zero-point padded inputs. */\nstatic int32_t {}[{scratch_words}] __attribute__((aligned(8)));\n",
            dsp::SCRATCH
        );
    }
    s += "/* The kernels specialised for this model's layers (shapes and quantization as constants). */\n";
    for (i, f) in functions.iter().enumerate() {
        s += &format!("HYB_DSP_FN void hyb_dsp_fn{i}({}) {{\n    {}\n}}\n", f.params, f.body);
    }
    s
}

/// Writes the project into `dir` (which must exist and be empty).
pub fn write_project(
    dir: &Path,
    model_name: &str,
    g: &Graph,
    plan: &Plan,
    target: &Target,
    hybrid: Option<&HybridInfo>,
    dsp: bool,
) -> Result<Manifest> {
    let version = env!("CARGO_PKG_VERSION");
    let (layers, functions, scratch_words) = layers_c(g, plan, dsp);
    let prelude = if dsp { dsp_prelude(&functions, scratch_words) } else { String::new() };
    let inputs = io(g, &IoInfo::of(g, &plan.offsets, &g.inputs), &g.inputs);
    let outputs = io(g, &IoInfo::of(g, &plan.offsets, &g.outputs), &g.outputs);
    let macs: u64 = crate::ops::total_macs(g);
    let write = |name: &str, text: String| -> Result<()> {
        fs::write(dir.join(name), text).with_context(|| format!("cannot write {}", dir.join(name).display()))
    };
    write(
        "model.h",
        ModelH { model_name, version, target: &target.name, arena_bytes: plan.arena_bytes, inputs: &inputs, outputs: &outputs, layers: &layers }.render()?,
    )?;
    write(
        "model.c",
        ModelC {
            model_name,
            version,
            target: &target.name,
            arena_bytes: plan.arena_bytes,
            lower_bound_bytes: plan.lower_bound_bytes,
            macs,
            inputs: &inputs,
            outputs: &outputs,
            layers: &layers,
            constants: &layers::constants(g),
            dsp_prelude: &prelude,
        }
        .render()?,
    )?;
    match hybrid {
        Some(info) => {
            write("main.c", MainHybridC { version }.render()?)?;
            write("hybrid.c", hybrid_c(model_name, version, g, info)?)?;
        }
        None => write("main.c", MainC { version }.render()?)?,
    }

    // Runtime sources, copied so the project builds on its own.
    let rt = dir.join("runtime");
    fs::create_dir_all(&rt)?;
    let copy = |from: &str, to: &str| crate::files::copy(from, &rt.join(to));
    // Every portable kernel (a project's ops need some of them).
    let kernels = crate::files::list("runtime-c/kernels")?;
    for k in &kernels {
        copy(&format!("runtime-c/kernels/{k}"), k)?;
    }
    if dsp {
        fs::create_dir_all(rt.join("dsp"))?;
        for h in dsp::HEADERS {
            copy(&format!("runtime-c/kernels/dsp/{h}"), &format!("dsp/{h}"))?;
        }
    }
    copy("runtime-c/include/hyb_io.h", "hyb_io.h")?;
    let platform = if target.is_host() { "host_io.c" } else { "semihost.c" };
    copy(&format!("runtime-c/platform/{platform}"), platform)?;
    let mut lib_runtime: Vec<&str> = kernels.iter().map(String::as_str).filter(|k| k.ends_with(".c")).collect();
    let mut app_runtime: Vec<&str> = vec![];
    if hybrid.is_some() {
        for f in HYBRID_RUNTIME {
            copy(&format!("runtime-c/hybrid/{f}"), f)?;
        }
        let transport = if target.is_host() { "offload_tcp.c" } else { "offload_uart.c" };
        copy(&format!("runtime-c/platform/{transport}"), transport)?;
        lib_runtime.extend(["hyb_frame.c", "hyb_hybrid.c"]);
        app_runtime.push(transport);
    }
    let mut startup = String::new();
    if let Some(s) = &target.startup {
        copy(&format!("targets/{s}"), "startup.c")?;
        startup = "runtime/startup.c".into();
        app_runtime.push("startup.c");
    }
    if let Some(ld) = &target.linker_script {
        copy(&format!("targets/{ld}"), "link.ld")?;
    }
    let has_hybrid = hybrid.is_some();
    let c_kernels: Vec<&str> = lib_runtime.iter().chain(app_runtime.iter().filter(|f| **f != "startup.c")).copied().collect();
    write("Makefile", Makefile { target, has_hybrid, kernels: &c_kernels, platform, startup: &startup }.render()?)?;
    write("CMakeLists.txt", CMakeLists { target, has_hybrid, lib_runtime: &lib_runtime, platform, app_runtime: &app_runtime }.render()?)?;
    if !target.is_host() {
        fs::create_dir_all(dir.join("cmake"))?;
        write("cmake/arm-none-eabi-gcc.cmake", GccToolchain { target }.render()?)?;
        write("cmake/arm-none-eabi-clang.cmake", ClangToolchain { target }.render()?)?;
    }

    let skipped: Vec<u64> = layers.iter().map(|l| l.skipped_macs).collect();
    let manifest = Manifest::of(model_name, &target.name, g, plan, &skipped, hybrid);
    write(super::manifest::FILE, serde_json::to_string_pretty(&manifest)?)?;
    Ok(manifest)
}
