//! Small helpers to read and build ONNX protobuf pieces.

use anyhow::{bail, Result};
use tract_onnx::pb;

use crate::frontend::constant::{Constant, Data};

pub const FLOAT: i32 = 1;
pub const INT8: i32 = 3;
pub const INT32: i32 = 6;
pub const INT64: i32 = 7;

pub fn tensor(name: &str, dims: &[usize], data_type: i32, raw: Vec<u8>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.to_string(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type,
        raw_data: raw,
        ..Default::default()
    }
}

pub fn f32_tensor(name: &str, dims: &[usize], v: &[f32]) -> pb::TensorProto {
    tensor(name, dims, FLOAT, v.iter().flat_map(|x| x.to_le_bytes()).collect())
}

pub fn i8_tensor(name: &str, dims: &[usize], v: &[i8]) -> pb::TensorProto {
    tensor(name, dims, INT8, v.iter().map(|&x| x as u8).collect())
}

pub fn i32_tensor(name: &str, dims: &[usize], v: &[i32]) -> pb::TensorProto {
    tensor(name, dims, INT32, v.iter().flat_map(|x| x.to_le_bytes()).collect())
}

pub fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.to_string(),
        name: name.to_string(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub fn int_attr(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto { name: name.to_string(), r#type: 2, i: v, ..Default::default() }
}

/// A float initializer's values and shape.
pub fn floats(g: &pb::GraphProto, name: &str) -> Result<Option<(Vec<usize>, Vec<f32>)>> {
    let Some(t) = g.initializer.iter().find(|t| t.name == name) else { return Ok(None) };
    let c = Constant::from_proto(t)?;
    match c.data {
        Data::F32(v) => Ok(Some((c.shape, v))),
        _ => bail!("initializer '{name}' is not float32"),
    }
}

pub fn set_initializer(g: &mut pb::GraphProto, t: pb::TensorProto) {
    g.initializer.retain(|i| i.name != t.name);
    g.initializer.push(t);
}

/// Nodes reading `value`.
pub fn consumers<'a>(g: &'a pb::GraphProto, value: &str) -> Vec<&'a pb::NodeProto> {
    g.node.iter().filter(|n| n.input.iter().any(|i| i == value)).collect()
}

pub fn is_graph_output(g: &pb::GraphProto, value: &str) -> bool {
    g.output.iter().any(|o| o.name == value)
}
