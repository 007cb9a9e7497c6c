//! Writes the generated project directory.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use askama::Template;

use super::dsp;
use super::layers::{self, LayerC};
use super::manifest::{IoInfo, LayerInfo, Manifest};
use crate::ir::Graph;
use crate::plan::Plan;
use crate::quant::params::Params;
use crate::target::{self, Target};

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
    /// DSP projects: the kernel headers' includes and the scratch buffer.
    dsp_prelude: &'a str,
}

#[derive(Template)]
#[template(path = "c/main.c", escape = "none")]
struct MainC<'a> {
    version: &'a str,
}

#[derive(Template)]
#[template(path = "c/Makefile", escape = "none")]
struct Makefile<'a> {
    target: &'a Target,
    kernels: &'a [&'a str],
    platform: &'a str,
    startup: &'a str,
}

/// Portable kernel sources every project carries (runtime-c/kernels).
pub const KERNELS: &[&str] = &[
    "hyb_kernels.h",
    "hyb_fixedpoint.h",
    "fixedpoint.c",
    "conv_s8.c",
    "depthwise_conv_s8.c",
    "fully_connected_s8.c",
    "add_s8.c",
    "avg_pool_s8.c",
    "softmax_s8.c",
];

fn io(g: &Graph, plan: &Plan, ids: &[usize]) -> Vec<IoC> {
    ids.iter()
        .map(|&t| {
            let tensor = &g.tensors[t];
            let q = tensor.quant.unwrap_or(crate::ir::QParams { scale: 1.0, zero_point: 0 });
            IoC {
                name: layers::comment_safe(&tensor.name),
                shape: format!("{:?}", tensor.shape),
                dtype: tensor.dtype.c_type(),
                scale: q.scale,
                zero_point: q.zero_point,
                bytes: tensor.bytes(),
                offset: plan.offsets[g.base(t)].expect("planned"),
            }
        })
        .collect()
}

fn io_info(g: &Graph, plan: &Plan, ids: &[usize]) -> Vec<IoInfo> {
    ids.iter()
        .map(|&t| {
            let tensor = &g.tensors[t];
            let q = tensor.quant.unwrap_or(crate::ir::QParams { scale: 1.0, zero_point: 0 });
            IoInfo {
                name: tensor.name.clone(),
                shape: tensor.shape.clone(),
                dtype: tensor.dtype.npy_descr().to_string(),
                bytes: tensor.bytes(),
                offset: plan.offsets[g.base(t)].expect("planned"),
                scale: q.scale,
                zero_point: q.zero_point,
            }
        })
        .collect()
}

/// Per-layer C; with `dsp`, layers a DSP kernel does exactly use it. Also
/// returns what the DSP layers share: specialised functions and the int32
/// words of scratch they need.
fn layers_c(g: &Graph, params: &[Params], plan: &Plan, dsp: bool) -> (Vec<LayerC>, Vec<dsp::Function>, usize) {
    let (mut functions, mut scratch) = (Vec::<dsp::Function>::new(), 0);
    let layers = g
        .ops
        .iter()
        .zip(params)
        .enumerate()
        .map(|(i, (op, p))| {
            let mut l = layers::layer(i, g, op, p, plan);
            if dsp {
                let arena = |k: usize| op.inputs.get(k).map(|&t| layers::arena(plan, g, t)).unwrap_or_default();
                let output = layers::arena(plan, g, op.output);
                let io = dsp::Operands { input: &arena(0), second: &arena(1), output: &output };
                if let Some(d) = dsp::layer(i, op, p, &io) {
                    scratch = scratch.max(d.scratch_words);
                    let f = functions.iter().position(|f| *f == d.function).unwrap_or_else(|| {
                        functions.push(d.function);
                        functions.len() - 1
                    });
                    (l.data, l.call) = (d.data, format!("hyb_dsp_fn{f}({});", d.args));
                }
            }
            l
        })
        .collect();
    (layers, functions, scratch)
}

fn dsp_prelude(functions: &[dsp::Function], scratch_words: usize) -> String {
    let mut s: String = dsp::HEADERS.iter().map(|h| format!("#include \"dsp/{h}\"\n")).collect();
    if scratch_words > 0 {
        s += &format!(
            "/* Scratch of the DSP kernels: im2col columns, patches, zero-point padded inputs. */\nstatic int32_t {}[{scratch_words}] __attribute__((aligned(8)));\n",
            dsp::SCRATCH
        );
    }
    s += "/* The kernels specialised for this model's layers (shapes and quantization as constants). */\n";
    for (i, f) in functions.iter().enumerate() {
        s += &format!("static __attribute__((noinline)) void hyb_dsp_fn{i}({}) {{\n    {}\n}}\n", f.params, f.body);
    }
    s
}

/// Writes the project into `dir` (which must exist and be empty).
pub fn write_project(dir: &Path, model_name: &str, g: &Graph, params: &[Params], plan: &Plan, target: &Target, dsp: bool) -> Result<Manifest> {
    let version = env!("CARGO_PKG_VERSION");
    let (layers, functions, scratch_words) = layers_c(g, params, plan, dsp);
    let prelude = if dsp { dsp_prelude(&functions, scratch_words) } else { String::new() };
    let inputs = io(g, plan, &g.inputs);
    let outputs = io(g, plan, &g.outputs);
    let macs: u64 = g.ops.iter().map(|op| g.macs(op)).sum();
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
            dsp_prelude: &prelude,
        }
        .render()?,
    )?;
    write("main.c", MainC { version }.render()?)?;

    // Runtime sources, copied so the project builds on its own.
    let root = target::root();
    let rt = dir.join("runtime");
    fs::create_dir_all(&rt)?;
    let copy = |from: &Path, to: &str| -> Result<()> {
        fs::copy(from, rt.join(to)).map(|_| ()).with_context(|| format!("cannot copy {}", from.display()))
    };
    for k in KERNELS {
        copy(&root.join("runtime-c/kernels").join(k), k)?;
    }
    if dsp {
        fs::create_dir_all(rt.join("dsp"))?;
        for h in dsp::HEADERS {
            copy(&root.join("runtime-c/kernels/dsp").join(h), &format!("dsp/{h}"))?;
        }
    }
    copy(&root.join("runtime-c/include/hyb_io.h"), "hyb_io.h")?;
    let platform = if target.is_host() { "host_io.c" } else { "semihost.c" };
    copy(&root.join("runtime-c/platform").join(platform), platform)?;
    let mut startup = String::new();
    if let Some(s) = &target.startup {
        copy(&target::targets_dir().join(s), "startup.c")?;
        startup = "runtime/startup.c".into();
    }
    if let Some(ld) = &target.linker_script {
        copy(&target::targets_dir().join(ld), "link.ld")?;
    }
    let c_kernels: Vec<&str> = KERNELS.iter().copied().filter(|k| k.ends_with(".c")).collect();
    write("Makefile", Makefile { target, kernels: &c_kernels, platform, startup: &startup }.render()?)?;

    let manifest = Manifest {
        hybridc_version: version.to_string(),
        model: model_name.to_string(),
        target: target.name.clone(),
        inputs: io_info(g, plan, &g.inputs),
        outputs: io_info(g, plan, &g.outputs),
        layers: g
            .ops
            .iter()
            .map(|op| {
                let t = &g.tensors[op.output];
                LayerInfo {
                    name: op.name.clone(),
                    op: op.kind.name().to_string(),
                    output: t.name.clone(),
                    output_shape: t.shape.clone(),
                    bytes: t.bytes(),
                    macs: g.macs(op),
                }
            })
            .collect(),
        arena_bytes: plan.arena_bytes,
    };
    write(super::manifest::FILE, serde_json::to_string_pretty(&manifest)?)?;
    Ok(manifest)
}
