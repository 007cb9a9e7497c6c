//! Router-less baselines as tiny ONNX routers over the edge's class scores:
//! `max-softmax` scores 1 - max softmax probability, `entropy` the softmax
//! entropy (nats). Higher means less sure, so the device queries the cloud
//! when the score exceeds the threshold, as with a learned router.

use anyhow::{bail, Result};
use tract_onnx::pb;

use crate::ir::Route;
use crate::quant::ptq::proto;

fn value(name: &str, classes: usize) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: proto::FLOAT,
                shape: Some(pb::TensorShapeProto {
                    dim: [1, classes].iter().map(|&d| Dimension { value: Some(Value::DimValue(d as i64)), ..Default::default() }).collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn ints_attr(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), r#type: 7, ints: v.to_vec(), ..Default::default() }
}

/// A router graph (opset 13) over `[1, classes]` logits named "logits".
pub fn router(kind: Route, classes: usize) -> Result<pb::ModelProto> {
    let mut g = pb::GraphProto { name: format!("{kind}-router"), ..Default::default() };
    g.input.push(value("logits", classes));
    let mut softmax = proto::node("Softmax", "softmax", &["logits"], &["p"]);
    softmax.attribute.push(proto::int_attr("axis", -1));
    g.node.push(softmax);
    match kind {
        Route::MaxSoftmax => {
            let mut max = proto::node("ReduceMax", "max", &["p"], &["pmax"]);
            max.attribute.push(ints_attr("axes", &[-1]));
            g.node.push(max);
            g.initializer.push(proto::f32_tensor("one", &[1, 1], &[1.0]));
            g.node.push(proto::node("Sub", "uncertainty", &["one", "pmax"], &["score"]));
        }
        Route::Entropy => {
            g.initializer.push(proto::f32_tensor("eps", &[1, 1], &[1e-12]));
            g.initializer.push(proto::tensor("axes", &[1], proto::INT64, (-1i64).to_le_bytes().to_vec()));
            g.node.push(proto::node("Add", "guard", &["p", "eps"], &["p_eps"]));
            g.node.push(proto::node("Log", "log", &["p_eps"], &["logp"]));
            g.node.push(proto::node("Mul", "plogp", &["p", "logp"], &["terms"]));
            g.node.push(proto::node("ReduceSum", "sum", &["terms", "axes"], &["neg_entropy"]));
            g.node.push(proto::node("Neg", "entropy", &["neg_entropy"], &["score"]));
        }
        Route::Router => bail!("the learned router is not a baseline: give it with --router ROUTER.onnx"),
    }
    g.output.push(value("score", 1));
    Ok(pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(g),
        ..Default::default()
    })
}
