//! TensorFlow Lite flatbuffers in: a `.tflite` file is verified (flatbuffers'
//! verifier, through tract-tflite's generated schema) and translated into
//! the int8 QDQ ONNX form the importer already reads: each TFLite int8
//! tensor becomes a QuantizeLinear output with the file's own scale and
//! zero point, each operator a float ONNX node between DequantizeLinear and
//! QuantizeLinear. The importer then folds every pair back into an int8 op
//! with exactly those parameters (no re-quantization). Float32 files become
//! float ONNX graphs, quantized with `--calib` like float ONNX models.
//! TFLite's NHWC tensors are NHWC values here; ops that ONNX defines on
//! NCHW (Conv, pools, Resize) sit between two Transposes, which the importer
//! reads as views. docs/tflite.md has the details.

mod build;
mod ops;
mod tensor;

use anyhow::{anyhow, bail, Result};
use tract_onnx::pb;
use tract_tflite::tflite;

/// The flatbuffer file identifier of TFLite models (bytes 4..8).
const IDENTIFIER: &[u8; 4] = b"TFL3";

/// True when `bytes` are a TFLite flatbuffer (by content, not extension).
pub fn is_tflite(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(IDENTIFIER)
}

/// Verifies a TFLite flatbuffer and translates its main subgraph into an
/// ONNX model.
pub fn to_onnx(bytes: &[u8]) -> Result<pb::ModelProto> {
    let opts = flatbuffers::VerifierOptions { max_tables: 10_000_000, ..Default::default() };
    let model = tflite::root_as_model_with_opts(&opts, bytes)
        .map_err(|e| {
            // The verifier's message spans lines; an error is one line.
            let e = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
            anyhow!("not a valid TensorFlow Lite model (truncated or corrupt flatbuffer: {e})")
        })?;
    let subgraphs = model.subgraphs().ok_or_else(|| anyhow!("the TFLite model has no subgraph"))?;
    if subgraphs.is_empty() {
        bail!("the TFLite model has no subgraph");
    }
    if subgraphs.len() > 1 {
        bail!("the TFLite model has {} subgraphs (control flow); hybridc compiles one", subgraphs.len());
    }
    let mut b = build::Builder::new(&model, subgraphs.get(0))?;
    b.inputs()?;
    let operators = b.sg.operators().map(|v| v.len()).unwrap_or(0);
    for i in 0..operators {
        let op = b.sg.operators().expect("counted above").get(i);
        let code = b.opcode(op.opcode_index() as usize)?;
        let name = code.variant_name().map(str::to_string).unwrap_or_else(|| format!("builtin {}", code.0));
        b.begin(i, &name);
        ops::translate(&mut b, &op, code).map_err(|e| anyhow!("operator {i} ({name}): {e}"))?;
    }
    b.outputs()?;
    Ok(b.finish())
}
