//! The hybrid: an edge model and a router compiled into one program. The
//! router's inputs are bound by name to edge tensors; the two ONNX graphs are
//! merged (router names prefixed with `router/`) before quantization, so one
//! calibration run covers both and one arena holds both. What the runtimes
//! need to know of the result is the IR's [`crate::ir::HybridInfo`].

pub mod baseline;
pub mod precision;

use anyhow::{bail, Context, Result};
use tract_onnx::pb;

/// Prefix of the router's values in the merged graph.
pub const PREFIX: &str = "router/";

fn rename(v: &str, binds: &[(String, String)]) -> String {
    if v.is_empty() {
        return String::new();
    }
    match binds.iter().find(|(r, _)| r == v) {
        Some((_, e)) => e.clone(),
        None => format!("{PREFIX}{v}"),
    }
}

/// Merges `router` into `edge`: returns the merged model and the names of
/// the edge output and the router output in it.
pub fn merge(edge: &pb::ModelProto, router: &pb::ModelProto, binds: &[(String, String)], scores: Option<&str>) -> Result<(pb::ModelProto, String, String)> {
    let mut m = edge.clone();
    let eg = m.graph.as_mut().context("the edge model has no graph")?;
    let rg = router.graph.as_ref().context("the router model has no graph")?;
    let edge_out = scores_output(eg, scores)?;
    // The other edge outputs (e.g. penultimate features) stay as tensors the router may read.
    eg.output.retain(|o| o.name == edge_out);
    if rg.output.len() != 1 {
        bail!("the router must have one output (its score), it has {}", rg.output.len());
    }
    let r_inits: Vec<&str> = rg.initializer.iter().map(|t| t.name.as_str()).collect();
    let r_inputs: Vec<&pb::ValueInfoProto> = rg.input.iter().filter(|i| !r_inits.contains(&i.name.as_str())).collect();
    let mut binds = binds.to_vec();
    if binds.is_empty() {
        if r_inputs.len() != 1 {
            bail!("the router has {} inputs; bind each with --bind ROUTER_INPUT=EDGE_TENSOR", r_inputs.len());
        }
        binds.push((r_inputs[0].name.clone(), edge_out.clone()));
    }
    let edge_values: std::collections::HashSet<&str> = eg
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(|s| s.as_str()))
        .chain(eg.input.iter().map(|i| i.name.as_str()))
        .collect();
    for (r, e) in &binds {
        if !r_inputs.iter().any(|i| &i.name == r) {
            bail!("--bind {r}={e}: the router has no input '{r}' (inputs: {})", r_inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", "));
        }
        if !edge_values.contains(e.as_str()) {
            bail!("--bind {r}={e}: the edge model has no tensor '{e}'");
        }
    }
    for i in &r_inputs {
        if !binds.iter().any(|(r, _)| r == &i.name) {
            bail!("router input '{}' is not bound; add --bind {}=EDGE_TENSOR", i.name, i.name);
        }
    }
    for t in &rg.initializer {
        let mut t = t.clone();
        t.name = rename(&t.name, &binds);
        eg.initializer.push(t);
    }
    for n in &rg.node {
        let mut n = n.clone();
        // Unnamed router nodes take their first output's name (names must be unique).
        n.name = format!("{PREFIX}{}", crate::frontend::node_label(&n));
        n.input = n.input.iter().map(|v| rename(v, &binds)).collect();
        n.output = n.output.iter().map(|v| rename(v, &binds)).collect();
        eg.node.push(n);
    }
    let mut out = rg.output[0].clone();
    out.name = rename(&out.name, &binds);
    let router_out = out.name.clone();
    eg.output.push(out);
    // The merged graph needs every opset the two use.
    for o in &router.opset_import {
        match m.opset_import.iter_mut().find(|e| e.domain == o.domain) {
            Some(e) => e.version = e.version.max(o.version),
            None => m.opset_import.push(o.clone()),
        }
    }
    Ok((m, edge_out, router_out))
}

/// The edge output holding the class scores: `scores` when given, the only
/// output, or the one output named like scores (logits, scores, probs...).
pub fn scores_output(eg: &pb::GraphProto, scores: Option<&str>) -> Result<String> {
    let names: Vec<&str> = eg.output.iter().map(|o| o.name.as_str()).collect();
    if let Some(s) = scores {
        if !names.contains(&s) {
            bail!("--scores {s}: the edge model has no output '{s}' (outputs: {})", names.join(", "));
        }
        return Ok(s.to_string());
    }
    if let [one] = names.as_slice() {
        return Ok(one.to_string());
    }
    let like: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| ["logit", "score", "prob", "class"].iter().any(|w| n.to_lowercase().contains(w)))
        .collect();
    match like.as_slice() {
        [one] => Ok(one.to_string()),
        _ => bail!("the edge model has {} outputs ({}); say which holds the class scores with --scores NAME", names.len(), names.join(", ")),
    }
}

/// Parses `ROUTER_INPUT=EDGE_TENSOR`.
pub fn parse_bind(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((r, e)) if !r.is_empty() && !e.is_empty() => Ok((r.to_string(), e.to_string())),
        _ => Err(format!("'{s}' is not ROUTER_INPUT=EDGE_TENSOR")),
    }
}
