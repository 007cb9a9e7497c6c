//! Post-training int8 quantization of float ONNX models with calibration
//! data: clean the float graph, find the quantization points, measure their
//! ranges with tract (the float oracle), choose scales, and write the result
//! as a QDQ graph for the frontend's QDQ importer.

pub mod calibrate;
mod canonical;
pub mod insert;
pub mod proto;

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use tract_onnx::pb;

pub use calibrate::Method;

use crate::frontend::float_oracle::{self, FloatRunner};
use crate::ir::QParams;

/// The quantized model and what the SQNR report needs.
pub struct Quantized {
    pub model: pb::ModelProto,
    /// Runs the float model, returning the quantization points' values.
    pub runner: FloatRunner,
    /// Quantization points in the runner's output order (graph input excluded).
    pub points: Vec<String>,
}

/// Every node left after clean-up is an operator hybridc compiles, or the
/// first that is not is named.
fn check_supported(model: &pb::ModelProto) -> Result<()> {
    let supported = crate::ops::supported();
    let g = model.graph.as_ref().context("no graph")?;
    match g.node.iter().find(|n| !supported.contains(&n.op_type.as_str())) {
        Some(n) => Err(crate::ops::unsupported(&n.op_type)
            .context(format!("node '{}' ({})", crate::frontend::node_label(n), n.op_type))),
        None => Ok(()),
    }
}

/// `float_nodes`: ONNX values whose nodes run in float32 (their weights stay float).
pub fn quantize(model: &pb::ModelProto, calib: &[Vec<f32>], method: Method, int8_io: bool, float_nodes: &std::collections::HashSet<String>) -> Result<Quantized> {
    if calib.is_empty() {
        bail!("the calibration data holds no samples");
    }
    // An operator tract cannot type stops here, named, before tract's own error.
    let facts = float_oracle::facts(model).map_err(|e| check_supported(model).err().unwrap_or(e))?;
    let mut m = model.clone();
    canonical::canonicalize(&mut m, &facts)?;
    check_supported(&m)?;
    let g = m.graph.as_ref().context("no graph")?;
    if g.input.len() != 1 {
        bail!("float models with {} inputs are not supported yet (one input)", g.input.len());
    }
    let rank_of = |v: &str| facts.get(v).and_then(|f| f.shape.as_ref().map(|s| s.len()));
    let mut plan = insert::plan(g, &rank_of, float_nodes);
    if int8_io {
        // An int8 API needs int8 outputs: quantize float outputs too.
        for o in &g.output {
            if plan.float_nodes.contains(&o.name) && !plan.points.contains(&o.name) {
                plan.points.push(o.name.clone());
            }
        }
    }
    let points = plan.points.clone();
    let input_name = g.input[0].name.clone();
    let inner: Vec<String> = points.iter().filter(|p| **p != input_name).cloned().collect();
    let runner = FloatRunner::new(&m, &inner)?;

    let mut stats: HashMap<String, calibrate::Stats> = HashMap::new();
    for (k, x) in calib.iter().enumerate() {
        if x.iter().any(|v| !v.is_finite()) {
            bail!("calibration sample {k} contains NaN or Inf; clean the data");
        }
        stats.entry(input_name.clone()).or_default().add(x);
        let outs = runner.run(x).with_context(|| format!("float run on calibration sample {k}"))?;
        for (name, v) in inner.iter().zip(outs) {
            stats.entry(name.clone()).or_default().add(&v);
        }
    }

    let g = m.graph.as_mut().context("no graph")?;
    let producers: HashMap<String, pb::NodeProto> =
        g.node.iter().flat_map(|n| n.output.iter().map(move |o| (o.clone(), n.clone()))).collect();
    let mut emitter = insert::Emitter::new(g, HashMap::new(), int8_io);
    emitter.float_nodes = plan.float_nodes;
    for p in &points {
        let op = producers.get(p).map(|n| n.op_type.as_str()).unwrap_or("");
        let q = if op == "Softmax" {
            QParams { scale: 1.0 / 256.0, zero_point: -128 } // TFLite's int8 softmax output
        } else if crate::ops::keeps_scale(op) {
            let input = &producers[p].input[0];
            emitter.params_of(input).with_context(|| format!("'{p}' reads an unquantized value"))?
        } else {
            calibrate::choose(&stats[p], method)
        };
        emitter.params.insert(p.clone(), q);
    }
    // As TFLite's converter does, inputs of a Concat that feed nothing else
    // take the Concat's quantization, so it copies bytes without requantizing.
    for n in producers.values().filter(|n| n.op_type == "Concat") {
        let Some(&q) = emitter.params.get(&n.output[0]) else { continue };
        for i in &n.input {
            let sole = emitter.g.node.iter().filter(|m| m.input.contains(i)).count() == 1;
            if sole && emitter.params.contains_key(i) && !producers.get(i).is_some_and(|p| crate::ops::keeps_scale(&p.op_type)) {
                emitter.params.insert(i.clone(), q);
            }
        }
    }
    emitter.emit(&points)?;
    Ok(Quantized { model: m, runner, points: inner })
}
