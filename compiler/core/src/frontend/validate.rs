//! Checks a decoded ONNX model before tract sees it: what tract would panic
//! on (or what would compile although invalid) stops here with an error
//! naming the tensor, node or attribute. Every number here comes from the
//! user's file, so the arithmetic is checked.

use std::collections::HashSet;

use anyhow::{bail, Result};
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;

use super::qdq::node_label;

/// The ai.onnx opsets hybridc reads (tract's range).
const OPSETS: std::ops::RangeInclusive<i64> = 7..=22;
/// Larger dims or element counts are not a microcontroller's tensors.
const MAX_ELEMENTS: u64 = 1 << 31;
/// No op hybridc compiles has a tensor of more dims.
const MAX_RANK: i64 = 8;

/// Bytes per element of the ONNX element types tract loads (onnx.proto's
/// TensorProto.DataType); None for STRING, complex and the rest.
fn element_bytes(data_type: i32) -> Option<u64> {
    Some(match data_type {
        1 | 6 | 12 => 4,     // FLOAT, INT32, UINT32
        2 | 3 | 9 => 1,      // UINT8, INT8, BOOL
        4 | 5 | 10 | 16 => 2, // UINT16, INT16, FLOAT16, BFLOAT16
        7 | 11 | 13 => 8,    // INT64, DOUBLE, UINT64
        _ => return None,
    })
}

pub fn check(model: &pb::ModelProto) -> Result<()> {
    for o in &model.opset_import {
        if (o.domain.is_empty() || o.domain == "ai.onnx") && !OPSETS.contains(&o.version) {
            bail!("the model declares ONNX opset {}; hybridc reads opsets {} to {}: re-export it", o.version, OPSETS.start(), OPSETS.end());
        }
    }
    let Some(g) = model.graph.as_ref() else { return Ok(()) };
    for t in &g.initializer {
        tensor(t, &format!("initializer '{}'", t.name))?;
    }
    let mut written: HashSet<&str> = g.input.iter().map(|i| i.name.as_str()).collect();
    for n in &g.node {
        let label = node_label(n);
        if matches!(n.op_type.as_str(), "Resize" | "Upsample") {
            resize_target(g, n, &label)?;
        }
        if matches!(n.op_type.as_str(), "Conv" | "ConvTranspose") {
            if let Some(w) = n.input.get(1).and_then(|w| g.initializer.iter().find(|t| &t.name == w)) {
                if !(3..=5).contains(&w.dims.len()) {
                    bail!("node '{label}' ({}): weights '{}' of shape {:?} are not those of a 1-D to 3-D convolution", n.op_type, w.name, w.dims);
                }
            }
        }
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if !written.insert(o) {
                bail!("node '{label}' ({}) writes '{o}', which another node or a graph input already defines; ONNX values have one producer", n.op_type);
            }
        }
        for a in &n.attribute {
            attribute(n, &label, a)?;
        }
    }
    for v in g.input.iter().chain(&g.output) {
        declared_shape(v)?;
    }
    wiring(g)?;
    windows(g)
}

/// Every node input and graph output is a graph input, an initializer or
/// the output of an earlier node (ONNX graphs are topologically sorted).
fn wiring(g: &pb::GraphProto) -> Result<()> {
    let mut known: HashSet<&str> = g.input.iter().map(|i| i.name.as_str()).chain(g.initializer.iter().map(|t| t.name.as_str())).collect();
    for n in &g.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            if !known.contains(i.as_str()) {
                bail!("node '{}' ({}) reads '{i}', which no earlier node, input or initializer defines", node_label(n), n.op_type);
            }
        }
        known.extend(n.output.iter().map(|o| o.as_str()));
    }
    for o in &g.output {
        if !known.contains(o.name.as_str()) {
            bail!("graph output '{}' is not produced by any node", o.name);
        }
    }
    Ok(())
}

/// Windowed ops (Conv, pools) on a tensor of known rank: rank 3 to 5, and
/// window attributes of one value per spatial axis. Ranks come from the
/// declared inputs through the ops that keep or set them; unknown ranks
/// are left to tract.
fn windows(g: &pb::GraphProto) -> Result<()> {
    let declared = |v: &pb::ValueInfoProto| match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(pb::type_proto::Value::TensorType(t)) => t.shape.as_ref().map(|s| s.dim.len()),
        _ => None,
    };
    let mut rank: std::collections::HashMap<&str, usize> = g.input.iter().filter_map(|i| Some((i.name.as_str(), declared(i)?))).collect();
    for t in &g.initializer {
        rank.insert(&t.name, t.dims.len());
    }
    const WINDOWED: &[&str] = &["Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool"];
    // Ops whose output has their first input's rank; broadcasting ones the largest.
    const SAME_RANK: &[&str] = &[
        "Relu", "Clip", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "LeakyRelu", "Elu", "Softmax", "BatchNormalization", "Identity",
        "Dropout", "Transpose", "Resize", "Upsample", "Pad", "Slice", "Split", "Exp", "Log",
    ];
    const BROADCAST: &[&str] = &["Concat", "Add", "Mul", "Sub", "Div"];
    for n in &g.node {
        let r_in = n.input.first().and_then(|i| rank.get(i.as_str()).copied());
        if n.op_type == "BatchNormalization" && r_in.is_some_and(|r| r < 2) {
            bail!("node '{}' (BatchNormalization) reads a {}-D tensor; it takes [N, C, ...]", node_label(n), r_in.unwrap_or(0));
        }
        if WINDOWED.contains(&n.op_type.as_str()) {
            if let Some(r) = r_in {
                if !(3..=5).contains(&r) {
                    bail!("node '{}' ({}) reads a {r}-D tensor; it takes 3-D to 5-D ones ([N, C, ...])", node_label(n), n.op_type);
                }
                for a in n.attribute.iter().filter(|a| ["kernel_shape", "strides", "dilations"].contains(&a.name.as_str())) {
                    if a.ints.len() != r - 2 {
                        bail!("node '{}' ({}): attribute {} = {:?} has {} values for {} spatial axes", node_label(n), n.op_type, a.name, a.ints, a.ints.len(), r - 2);
                    }
                }
                if let Some(p) = n.attribute.iter().find(|a| a.name == "pads") {
                    if p.ints.len() != 2 * (r - 2) {
                        bail!("node '{}' ({}): attribute pads = {:?} has {} values for {} spatial axes", node_label(n), n.op_type, p.ints, p.ints.len(), r - 2);
                    }
                }
            }
        }
        let all_known = || n.input.iter().filter(|i| !i.is_empty()).map(|i| rank.get(i.as_str()).copied()).collect::<Option<Vec<usize>>>();
        let out = if WINDOWED.contains(&n.op_type.as_str()) || SAME_RANK.contains(&n.op_type.as_str()) {
            r_in
        } else if BROADCAST.contains(&n.op_type.as_str()) {
            all_known().and_then(|r| r.into_iter().max())
        } else if ["Flatten", "Gemm"].contains(&n.op_type.as_str()) {
            Some(2)
        } else {
            None
        };
        if let Some(r) = out {
            for o in &n.output {
                rank.insert(o, r);
            }
        }
    }
    Ok(())
}

/// A tensor's dims, element type and data agree.
fn tensor(t: &pb::TensorProto, what: &str) -> Result<()> {
    let Some(size) = element_bytes(t.data_type) else {
        bail!("{what} has ONNX element type {}, which hybridc does not read (numbers only: float, int, bool)", t.data_type);
    };
    let mut count: u64 = 1;
    for &d in &t.dims {
        if d < 0 {
            bail!("{what} has a negative dimension {d}");
        }
        count = count.checked_mul(d as u64).filter(|&c| c <= MAX_ELEMENTS).ok_or_else(|| anyhow::anyhow!("{what} has dims {:?}: too many elements", t.dims))?;
    }
    if !t.raw_data.is_empty() && t.raw_data.len() as u64 != count * size {
        bail!("{what} holds {} bytes of data for dims {:?} ({} expected); the file is corrupt", t.raw_data.len(), t.dims, count * size);
    }
    Ok(())
}

/// A Resize's constant sizes (or scales) ask for a tensor hybridc can hold.
fn resize_target(g: &pb::GraphProto, n: &pb::NodeProto, label: &str) -> Result<()> {
    let constant = |k: usize| n.input.get(k).filter(|i| !i.is_empty()).and_then(|i| g.initializer.iter().find(|t| &t.name == i));
    if let Some(sizes) = constant(3).and_then(|t| crate::frontend::Constant::from_proto(t).ok()).and_then(|c| c.as_i64()) {
        let count = sizes.iter().try_fold(1u64, |p, &d| u64::try_from(d).ok().and_then(|d| p.checked_mul(d)));
        if count.is_none_or(|c| c > MAX_ELEMENTS) {
            bail!("node '{label}' ({}) resizes to {sizes:?}: more than 2^31 elements", n.op_type);
        }
    }
    let scales_at = if n.op_type == "Upsample" { 1 } else { 2 };
    if let Some(scales) = constant(scales_at).and_then(|t| crate::frontend::Constant::from_proto(t).ok()).and_then(|c| c.as_f32()) {
        if scales.iter().any(|s| !s.is_finite() || *s <= 0.0 || *s > 1024.0) {
            bail!("node '{label}' ({}) has scales {scales:?}: each must be in (0, 1024]", n.op_type);
        }
    }
    Ok(())
}

/// Attributes whose values tract trusts: window sizes, strides, groups, axes.
fn attribute(n: &pb::NodeProto, label: &str, a: &pb::AttributeProto) -> Result<()> {
    let bad = |why: &str| anyhow::anyhow!("node '{label}' ({}): attribute {} {why}", n.op_type, a.name);
    match a.name.as_str() {
        "strides" | "dilations" | "kernel_shape" if a.ints.iter().any(|&v| !(1..=1 << 16).contains(&v)) => {
            Err(bad(&format!("= {:?}: each value must be between 1 and 65536", a.ints)))
        }
        "pads" if a.ints.iter().any(|&v| !(0..=1 << 16).contains(&v)) => Err(bad(&format!("= {:?}: each pad must be between 0 and 65536", a.ints))),
        // tract reads only 1 as true; hybridc's shapes must agree with its.
        "ceil_mode" if !(0..=1).contains(&a.i) => Err(bad(&format!("= {}: must be 0 or 1", a.i))),
        "group" if !(1..=1 << 20).contains(&a.i) => Err(bad(&format!("= {}: a group count is at least 1", a.i))),
        "axis" if !(-MAX_RANK..MAX_RANK).contains(&a.i) => Err(bad(&format!("= {} is out of range for any tensor hybridc compiles", a.i))),
        "axes" if a.ints.iter().any(|v| !(-MAX_RANK..MAX_RANK).contains(v)) => Err(bad(&format!("= {:?} is out of range", a.ints))),
        "value" => match &a.t {
            Some(t) => tensor(t, &format!("node '{label}' ({}) constant", n.op_type)),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Declared dims are positive (or symbolic: dynamic inputs are refused later, by name).
fn declared_shape(v: &pb::ValueInfoProto) -> Result<()> {
    let Some(pb::type_proto::Value::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.as_ref()) else { return Ok(()) };
    let mut count: u64 = 1;
    for (i, d) in t.shape.iter().flat_map(|s| &s.dim).enumerate() {
        if let Some(Dim::DimValue(x)) = d.value {
            if x < 0 || (x as u64) > MAX_ELEMENTS {
                bail!("'{}' declares dimension {x} at axis {i}; dims are positive and at most 2^31", v.name);
            }
            count = count.saturating_mul(x as u64);
        }
    }
    if count > MAX_ELEMENTS {
        bail!("'{}' declares {count} elements; hybridc compiles tensors of at most 2^31", v.name);
    }
    Ok(())
}
