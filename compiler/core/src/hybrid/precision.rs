//! Router fidelity: which router layers run in float32. A router is a few
//! thousand MACs and the targets have an FPU, so the layers whose int8
//! result loses too much (typically a Concat of features with very
//! different ranges and the MLP after it) run in float32 instead; the float
//! kernels give the same bits on the host, every target and the reference.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use anyhow::{Context, Result};
use tract_onnx::pb;

use super::PREFIX;
use crate::ir::DType;
use crate::lower::Compiled;
use crate::quant::ptq::insert::{float_name, FUSABLE};

/// `--router-precision`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// int8, except the layers that lose too much (and the router after them).
    #[default]
    Auto,
    Int8,
    Float,
}

impl FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Precision::Auto),
            "int8" => Ok(Precision::Int8),
            "float" => Ok(Precision::Float),
            _ => Err(format!("'{s}' is not a router precision (auto, int8, float)")),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Precision::Auto => "auto",
            Precision::Int8 => "int8",
            Precision::Float => "float",
        })
    }
}

/// An int8 layer under this SQNR (dB, on the calibration data) is flagged.
pub const MIN_LAYER_DB: f64 = 20.0;

/// Auto mode keeps a router compile whose decisions agree with the float
/// router's on at least this share of the calibration inputs, at each
/// threshold giving a 10-50 % query rate.
pub const MIN_AGREEMENT: f64 = 0.995;

/// The int8 router layers of `c` under MIN_LAYER_DB, as ONNX values.
pub fn weak_layers(c: &Compiled) -> HashSet<String> {
    let mut weak = HashSet::new();
    for (k, op) in c.graph.ops.iter().enumerate() {
        let Some(db) = c.sqnr_db.get(k).copied().flatten() else { continue };
        if op.name.starts_with(PREFIX) && db < MIN_LAYER_DB {
            weak.insert(float_name(&c.graph.tensors[op.output].name).to_string());
        }
    }
    weak
}

/// The lowest share of `samples` on which the compiled router (the
/// reference, i.e. the device's bits) decides as the float router
/// (`float_scores`, from tract) over thresholds giving 10-50 % query rates.
pub fn agreement(c: &Compiled, samples: &[Vec<f32>], float_scores: &[f32]) -> Result<f64> {
    let info = c.hybrid.as_ref().context("not a hybrid")?;
    let (_, r, _) = info.output_indices(&c.graph).map_err(anyhow::Error::msg)?;
    let t = &c.graph.tensors[c.graph.outputs[r]];
    let mut device = vec![];
    for x in samples {
        let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        let values = crate::reference::run(&c.graph, &[&bytes])?;
        let v = values[c.graph.outputs[r]].as_ref().context("the router's score was not computed")?;
        device.push(match (t.dtype, t.quant) {
            (DType::F32, _) => f32::from_le_bytes([v[0], v[1], v[2], v[3]]),
            (_, Some(q)) => (v[0] as i8 as i32 - q.zero_point) as f32 * q.scale,
            _ => v[0] as i8 as f32,
        });
    }
    let mut sorted = float_scores.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let n = sorted.len();
    let mut worst = 1.0f64;
    for rate in [0.1, 0.2, 0.3, 0.4, 0.5] {
        let th = sorted[((n as f64 * (1.0 - rate)) as usize).min(n - 1)];
        let same = float_scores.iter().zip(&device).filter(|(f, d)| (**f > th) == (**d > th)).count();
        worst = worst.min(same as f64 / n as f64);
    }
    Ok(worst)
}

/// The float router's scores on `samples` (tract on the merged float model).
pub fn float_scores(merged: &pb::ModelProto, router_output: &str, samples: &[Vec<f32>]) -> Result<Vec<f32>> {
    let runner = crate::frontend::float_oracle::FloatRunner::new(merged, &[router_output.to_string()])?;
    samples.iter().map(|x| Ok(runner.run(x)?.first().and_then(|v| v.first().copied()).unwrap_or(0.0))).collect()
}

/// The outputs of the nodes (in the merged graph) that run in float32 so
/// that `seeds` do: the nodes producing them, the layer a seed's activation
/// is fused into, and every router node downstream. With no seeds given,
/// (or none), the whole router. Either way the edge's fully connected layers whose
/// results the router reads (`bound`, e.g. the class scores) run in float32
/// too: a few MACs that spare the router their output's int8 rounding.
pub fn float_nodes(merged: &pb::ModelProto, seeds: Option<&HashSet<String>>, bound: &[String]) -> Vec<String> {
    let Some(g) = merged.graph.as_ref() else { return vec![] };
    let router: Vec<&pb::NodeProto> = g.node.iter().filter(|n| n.name.starts_with(PREFIX)).collect();
    let edge_fc = g
        .node
        .iter()
        .filter(|n| ["Gemm", "MatMul"].contains(&n.op_type.as_str()) && n.output.iter().any(|o| bound.contains(o)))
        .flat_map(|n| n.output.iter().cloned());
    let Some(seeds) = seeds.filter(|s| !s.is_empty()) else {
        return router.iter().flat_map(|n| n.output.iter().cloned()).chain(edge_fc).collect();
    };
    let edge_fc: Vec<String> = edge_fc.collect();
    let mut hot: HashSet<String> = seeds.clone();
    // An activation's layer: its producer runs in float too.
    for n in &router {
        if FUSABLE.contains(&n.op_type.as_str()) && n.output.iter().any(|o| seeds.contains(o)) {
            if let Some(p) = router.iter().find(|p| p.output.contains(&n.input[0])) {
                hot.extend(p.output.iter().cloned());
            }
        }
    }
    // Downstream, in graph order (nodes are topologically sorted).
    let mut out = vec![];
    for n in &router {
        if n.output.iter().any(|o| hot.contains(o)) || n.input.iter().any(|i| hot.contains(i)) {
            hot.extend(n.output.iter().cloned());
            out.extend(n.output.iter().cloned());
        }
    }
    out.extend(edge_fc);
    out
}

/// One warning per int8 router layer (and the edge's class scores) under
/// MIN_LAYER_DB: what the device loses against the trained model.
pub fn warnings(c: &Compiled) -> Vec<String> {
    let Some(info) = &c.hybrid else { return vec![] };
    let mut out = vec![];
    for (k, op) in c.graph.ops.iter().enumerate() {
        let Some(db) = c.sqnr_db.get(k).copied().flatten() else { continue };
        let value = float_name(&c.graph.tensors[op.output].name);
        let what = if op.name.starts_with(PREFIX) {
            "router layer"
        } else if value == info.edge_output {
            "edge's class scores"
        } else {
            continue;
        };
        if db < MIN_LAYER_DB {
            out.push(format!(
                "{what} '{}' ({}) stays int8 at {db:.1} dB SQNR (under {MIN_LAYER_DB} dB): the device's decisions may differ from the trained model's{}",
                op.name,
                op.kind.name(),
                if what == "router layer" { "; --router-precision auto or float runs it in float32" } else { "" }
            ));
        }
    }
    out
}
