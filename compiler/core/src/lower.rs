//! The compiler's pipeline up to code generation: read the model (merging a
//! router into it), quantize a float model, import, prune, schedule, prepare
//! each op's parameters and plan the arena.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::codegen;
use crate::hybrid::precision::{self, float_nodes, Precision};
use crate::ir::{Graph, HybridInfo, Route};
use crate::quant::ptq::{self, Method};
use crate::npy;
use crate::{frontend, passes, plan};

pub struct CompileOptions {
    pub model: PathBuf,
    pub target: String,
    pub out: PathBuf,
    pub outputs: Vec<String>,
    pub sram: Option<u64>,
    pub flash: Option<u64>,
    /// Arena bytes the DSP build's kernel variants are chosen under
    /// (`codegen::dsp::choose`); None: `--sram` if given, else the default.
    pub arena_budget: Option<u64>,
    pub quant: QuantOptions,
    pub hybrid: Option<HybridOptions>,
    pub kernels: codegen::Kernels,
}

impl CompileOptions {
    /// `model` for `target` into `out`, every other option at its default.
    pub fn new(model: impl Into<PathBuf>, target: &str, out: impl Into<PathBuf>) -> CompileOptions {
        CompileOptions {
            model: model.into(),
            target: target.to_string(),
            out: out.into(),
            outputs: vec![],
            sram: None,
            flash: None,
            arena_budget: None,
            quant: QuantOptions::default(),
            hybrid: None,
            kernels: codegen::Kernels::default(),
        }
    }
}

/// Edge + router: `--router` (or a baseline `--route`), `--bind`, `--threshold`.
#[derive(Clone, Debug, Default)]
pub struct HybridOptions {
    pub router: Option<PathBuf>,
    /// A baseline (max-softmax or entropy) when there is no learned router.
    pub route: Option<Route>,
    pub binds: Vec<(String, String)>,
    pub threshold: Option<f32>,
    /// The edge output holding the class scores, when it has several.
    pub scores: Option<String>,
    /// Which router layers run in float32 (`--router-precision`).
    pub precision: Precision,
}

/// How a float model is quantized.
#[derive(Clone, Debug)]
pub struct QuantOptions {
    /// Calibration inputs (.npy, float32, leading dim = samples).
    pub calib: Option<PathBuf>,
    pub method: Method,
    /// Keep int8 at the model's boundary instead of float32.
    pub int8_io: bool,
    /// ONNX values whose nodes run in float32 (a hybrid's router layers).
    pub float_nodes: Vec<String>,
}

impl Default for QuantOptions {
    fn default() -> Self {
        QuantOptions { calib: None, method: Method::Percentile, int8_io: false, float_nodes: vec![] }
    }
}

/// A model ready for code generation (also what the tests run the reference on).
pub struct Compiled {
    pub graph: Graph,
    pub plan: plan::Plan,
    /// Per-layer SQNR against tract's float result (float models only).
    pub sqnr_db: Vec<Option<f64>>,
    /// The hybrid's runtime description, for edge + router programs.
    pub hybrid: Option<HybridInfo>,
    /// What the user should know of the result (e.g. router layers that
    /// lose too much in int8).
    pub warnings: Vec<String>,
}

/// Frontend, passes, quantization parameters and memory plan of a QDQ model.
pub fn lower(model: &Path, outputs: &[String]) -> Result<Compiled> {
    lower_with(model, outputs, &QuantOptions::default())
}

/// Calibration samples shaped like the model's (batch-1) input.
fn read_calib(path: &Path, input_shape: &[usize]) -> Result<Vec<Vec<f32>>> {
    let a = npy::read(path)?;
    if a.descr != "<f4" {
        bail!("{} holds dtype {}; calibration data must be float32 (<f4) model inputs", path.display(), a.descr);
    }
    let item: &[usize] = if input_shape.first() == Some(&1) { &input_shape[1..] } else { input_shape };
    if a.shape.len() != item.len() + 1 || a.shape[1..] != *item {
        bail!(
            "{} has shape {:?}; calibration data for this model must be [N, {}]",
            path.display(), a.shape, item.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    if a.shape[0] == 0 {
        bail!("{} holds no samples; give a few hundred representative inputs", path.display());
    }
    let values = crate::reference::f32s(&a.data);
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        bail!("{} contains NaN or Inf (sample {}); clean the calibration data", path.display(), i / item.iter().product::<usize>().max(1));
    }
    let n: usize = item.iter().product();
    Ok(values.chunks_exact(n).map(|c| c.to_vec()).collect())
}

/// As [`lower`], quantizing float models with calibration data.
pub fn lower_with(model: &Path, outputs: &[String], q: &QuantOptions) -> Result<Compiled> {
    lower_any(model, outputs, q, None)
}

/// Merges the router (or a baseline) into the edge model.
fn with_router(edge: tract_onnx::pb::ModelProto, h: &HybridOptions) -> Result<(tract_onnx::pb::ModelProto, HybridInfo)> {
    if frontend::is_quantized(&edge) {
        bail!("a hybrid is compiled from the float edge model (with --calib), not an already quantized one");
    }
    let (router, route) = match (&h.router, h.route) {
        (Some(r), None) => (frontend::read_model(r)?, Route::Router),
        (None, Some(kind)) => {
            let classes = output_classes(&edge, h.scores.as_deref())?;
            (crate::hybrid::baseline::router(kind, classes)?, kind)
        }
        (Some(_), Some(_)) => bail!("give either --router ROUTER.onnx or --route max-softmax|entropy, not both"),
        (None, None) => bail!("a hybrid needs --router ROUTER.onnx or --route max-softmax|entropy"),
    };
    let threshold = match (h.threshold, route) {
        (Some(t), _) => t,
        (None, Route::Router) => 0.5,
        (None, _) => bail!("--route {route} needs --threshold T (query the cloud when the score exceeds T)"),
    };
    let (merged, edge_out, router_out) = crate::hybrid::merge(&edge, &router, &h.binds, h.scores.as_deref())?;
    let info = HybridInfo {
        threshold,
        route,
        model_id: 0,
        edge_output: edge_out,
        router_output: router_out,
        query_tensor: String::new(),
    };
    Ok((merged, info))
}

fn output_classes(m: &tract_onnx::pb::ModelProto, scores: Option<&str>) -> Result<usize> {
    use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
    let g = m.graph.as_ref().context("no graph")?;
    let name = crate::hybrid::scores_output(g, scores)?;
    let o = g.output.iter().find(|o| o.name == name).context("the edge model has no output")?;
    let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) = o.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        bail!("edge output '{}' is not a tensor", o.name);
    };
    match t.shape.as_ref().and_then(|s| s.dim.last()).and_then(|d| d.value.clone()) {
        Some(Dim::DimValue(v)) if v > 0 => Ok(v as usize),
        _ => bail!("edge output '{}' has no static class count", o.name),
    }
}

/// The pipeline for a plain model or an edge + router hybrid. A hybrid's
/// router runs in int8 unless `--router-precision` says float, or (auto)
/// its int8 layers lose too much on the calibration data: then those layers
/// and the router after them run in float32, and if that is not enough the
/// whole router does.
pub fn lower_any(model: &Path, outputs: &[String], q: &QuantOptions, hybrid: Option<&HybridOptions>) -> Result<Compiled> {
    let mut proto = frontend::read_model(model)?;
    let mut info = None;
    if let Some(h) = hybrid {
        let (merged, i) = with_router(proto, h).with_context(|| format!("cannot build the hybrid of {}", model.display()))?;
        proto = merged;
        info = Some(i);
    }
    let precision = hybrid.map_or(Precision::Int8, |h| h.precision);
    // The edge values the router reads.
    let bound: Vec<String> = match (hybrid, &info) {
        (Some(h), Some(i)) if h.binds.is_empty() => vec![i.edge_output.clone()],
        (Some(h), _) => h.binds.iter().map(|(_, e)| e.clone()).collect(),
        _ => vec![],
    };
    let with_float = |nodes: Vec<String>| QuantOptions { float_nodes: [q.float_nodes.clone(), nodes].concat(), ..q.clone() };
    let mut c = match precision {
        Precision::Float => lower_proto(&proto, model, outputs, &with_float(float_nodes(&proto, None, &bound)), info.clone())?,
        _ => lower_proto(&proto, model, outputs, q, info.clone())?,
    };
    if let (Precision::Auto, Some(i), Some(calib)) = (precision, &info, &q.calib) {
        // Keep the cheapest compile whose decisions agree with the float
        // router's on the calibration inputs: int8, then float32 from the
        // layers under 20 dB on, then the whole router in float32.
        let samples = read_calib(calib, &float_input_shape(&proto)?)?;
        let want = precision::float_scores(&proto, &i.router_output, &samples)?;
        let weak = precision::weak_layers(&c);
        if !weak.is_empty() || precision::agreement(&c, &samples, &want)? < precision::MIN_AGREEMENT {
            let mut done = false;
            if !weak.is_empty() {
                c = lower_proto(&proto, model, outputs, &with_float(float_nodes(&proto, Some(&weak), &bound)), info.clone())?;
                done = precision::agreement(&c, &samples, &want)? >= precision::MIN_AGREEMENT;
            }
            if !done {
                c = lower_proto(&proto, model, outputs, &with_float(float_nodes(&proto, None, &bound)), info.clone())?;
            }
        }
    }
    c.warnings = crate::hybrid::precision::warnings(&c);
    Ok(c)
}

/// Quantizes (float models), imports, schedules and plans a read model.
fn lower_proto(proto: &tract_onnx::pb::ModelProto, model: &Path, outputs: &[String], q: &QuantOptions, mut info: Option<HybridInfo>) -> Result<Compiled> {
    let mut quantized = None;
    let mut samples = vec![];
    let mut graph = if frontend::is_quantized(proto) {
        frontend::import(proto).with_context(|| format!("cannot compile {}", model.display()))?
    } else {
        let Some(calib) = &q.calib else {
            bail!("{} is a float model: give calibration inputs with --calib X.npy to quantize it to int8", model.display());
        };
        let input_shape = float_input_shape(proto)?;
        samples = read_calib(calib, &input_shape)?;
        check_weights_finite(proto)?;
        let float_nodes = q.float_nodes.iter().cloned().collect();
        let qz = ptq::quantize(proto, &samples, q.method, q.int8_io, &float_nodes).with_context(|| format!("cannot quantize {}", model.display()))?;
        let g = frontend::import(&qz.model).with_context(|| format!("cannot compile {}", model.display()))?;
        quantized = Some(qz);
        g
    };
    if let Some(i) = &mut info {
        if !outputs.is_empty() {
            bail!("--outputs does not apply to a hybrid (its outputs are the label, source and score)");
        }
        // The device sends the int8 input to the cloud: keep it to the end.
        let input = graph.inputs[0];
        let query = graph
            .ops
            .iter()
            .find(|op| op.inputs == [input] && op.kind.downcast::<crate::ops::quantize::Quantize>().is_some_and(|q| q.quantize))
            .map(|op| op.output)
            .unwrap_or(input);
        i.query_tensor = graph.tensors[query].name.clone();
        i.model_id = hybridc_kernels::frame::fnv1a(&model_name(model));
        graph.outputs.push(query);
    }
    if !outputs.is_empty() {
        passes::select_outputs(&mut graph, outputs)?;
    }
    passes::prune(&mut graph);
    plan::schedule::reorder(&mut graph);
    let plan = plan::plan(&graph);
    let mut c = Compiled { graph, plan, sqnr_db: vec![], hybrid: info, warnings: vec![] };
    if let Some(qz) = &quantized {
        let n = samples.len().min(32);
        c.sqnr_db = crate::quant::sqnr::per_layer(&c, qz, &samples[..n])?;
    }
    Ok(c)
}

fn float_input_shape(proto: &tract_onnx::pb::ModelProto) -> Result<Vec<usize>> {
    use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
    let g = proto.graph.as_ref().context("no graph")?;
    let inits: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    let input = g.input.iter().find(|i| !inits.contains(&i.name.as_str())).context("the model has no input")?;
    let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) = input.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        bail!("graph input '{}' is not a tensor", input.name);
    };
    let dims = t.shape.as_ref().map(|s| s.dim.clone()).unwrap_or_default();
    dims.iter()
        .enumerate()
        .map(|(i, d)| match &d.value {
            Some(Dim::DimValue(v)) if *v > 0 => Ok(*v as usize),
            _ => bail!(
                "graph input '{}' has a dynamic dimension at axis {i}; hybridc compiles static shapes: export the model with a fixed shape (batch 1)",
                input.name
            ),
        })
        .collect()
}

/// NaN or Inf in float weights would poison every scale; name the tensor.
fn check_weights_finite(proto: &tract_onnx::pb::ModelProto) -> Result<()> {
    for t in &proto.graph.as_ref().context("no graph")?.initializer {
        if let Ok(c) = frontend::Constant::from_proto(t) {
            if let Some(v) = c.as_f32() {
                if v.iter().any(|x| !x.is_finite()) {
                    bail!("weight tensor '{}' contains NaN or Inf; fix the trained model", t.name);
                }
            }
        }
    }
    Ok(())
}

/// One line per model: its arena against the lower bounds (`hybridc plan`).
pub fn plan_table(models: &[PathBuf]) -> Result<String> {
    let mut s = String::from("| model | arena B | lower bound B (in place) | plain lower bound B | ops in place |\n|---|---:|---:|---:|---:|\n");
    for m in models {
        let c = lower(m, &[])?;
        let in_place = c.plan.modes.iter().filter(|&&m| m != plan::inplace::Mode::Off).count();
        s += &format!(
            "| {} | {} | {} | {} | {}/{} |\n",
            model_name(m), c.plan.arena_bytes, c.plan.lower_bound_bytes, c.plan.plain_lower_bound_bytes, in_place, c.graph.ops.len()
        );
    }
    Ok(s)
}

pub fn model_name(path: &Path) -> String {
    path.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string()
}
