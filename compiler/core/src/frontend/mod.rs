//! Frontend: reads an ONNX file with tract-onnx's protobuf model and imports
//! it into hybridc's IR. Int8 QDQ graphs (tf2onnx, onnxruntime) keep their
//! scales; the QuantizeLinear/DequantizeLinear structure is read as written.

pub mod constant;
pub mod float_oracle;
pub mod layout;
mod qdq;
pub mod tflite;
mod validate;

use std::path::Path;

use anyhow::{bail, Context, Result};
use tract_onnx::pb;
use tract_onnx::prelude::Framework;

use crate::ir::Graph;

pub use crate::ops::float::{FLOAT_MARK, FLOAT_ONLY, FLOAT_TOO};
pub use constant::Constant;
pub use qdq::{broadcast_shape, node_label, out_dim, Act8, ConvAttrs, Importer, Val};

/// Decodes an ONNX or TensorFlow Lite file (told apart by content), with a
/// clear error for anything that is neither. A TFLite model comes back as
/// the equivalent QDQ (or float) ONNX model (see [`tflite`]).
pub fn read_model(path: &Path) -> Result<pb::ModelProto> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read model file {}", path.display()))?;
    if bytes.is_empty() {
        bail!("{} is empty, not an ONNX model", path.display());
    }
    let is_tflite_name = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("tflite"));
    if tflite::is_tflite(&bytes) || is_tflite_name {
        let model = tflite::to_onnx(&bytes).with_context(|| format!("cannot read {}", path.display()))?;
        validate::check(&model).with_context(|| format!("{} is not a model hybridc can compile", path.display()))?;
        return Ok(model);
    }
    let model = tract_onnx::onnx()
        .proto_model_for_read(&mut bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("{} is not a valid ONNX model (truncated or corrupt protobuf: {e}); re-export it", path.display()))?;
    let mut model = match model.graph {
        Some(ref g) if !g.node.is_empty() && !g.output.is_empty() => model,
        _ => bail!("{} holds no ONNX graph (no nodes or no outputs); is it really an ONNX model?", path.display()),
    };
    inline_external_data(&mut model, path)?;
    validate::check(&model).with_context(|| format!("{} is not a model hybridc can compile", path.display()))?;
    Ok(model)
}

/// Reads weights saved beside the model (ONNX external data) into the model,
/// so every later stage sees ordinary initializers.
fn inline_external_data(model: &mut pb::ModelProto, path: &Path) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let Some(g) = model.graph.as_mut() else { return Ok(()) };
    for t in g.initializer.iter_mut().filter(|t| !t.external_data.is_empty()) {
        let get = |k: &str| t.external_data.iter().find(|e| e.key == k).map(|e| e.value.clone());
        let location = get("location").with_context(|| format!("tensor '{}' has external data without a location", t.name))?;
        let offset: u64 = get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
        let file = dir.join(&location);
        let bytes = std::fs::read(&file)
            .with_context(|| format!("tensor '{}' keeps its data in {}, which cannot be read; keep it beside the model", t.name, file.display()))?;
        let length: u64 = get("length").and_then(|v| v.parse().ok()).unwrap_or(bytes.len() as u64 - offset.min(bytes.len() as u64));
        let end = offset.checked_add(length).filter(|&e| e <= bytes.len() as u64).with_context(|| {
            format!("tensor '{}': {} is shorter than its offset {offset} + length {length}", t.name, file.display())
        })?;
        t.raw_data = bytes[offset as usize..end as usize].to_vec();
        t.external_data.clear();
        t.data_location = None;
    }
    Ok(())
}

/// Loads an int8 QDQ ONNX model into the IR.
pub fn load(path: &Path) -> Result<Graph> {
    let model = read_model(path)?;
    import(&model).with_context(|| format!("cannot compile {}", path.display()))
}

/// Imports a decoded QDQ model.
pub fn import(model: &pb::ModelProto) -> Result<Graph> {
    qdq::import(model.graph.as_ref().context("no graph")?)
}

/// True when the model is already quantized (holds QuantizeLinear nodes).
pub fn is_quantized(model: &pb::ModelProto) -> bool {
    model.graph.as_ref().is_some_and(|g| g.node.iter().any(|n| n.op_type == "QuantizeLinear"))
}
