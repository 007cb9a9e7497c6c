//! What the C and Rust hybrid runtimes read of a compiled hybrid: where the
//! edge's class scores, the router's score and the query tensor are among
//! the graph's outputs, their types and quantization, and the query frame.

use anyhow::Result;

use crate::ir::{DType, Graph, QParams};
use hybridc_ir::HybridInfo;

pub struct HybridIo {
    /// Indices in the graph's outputs.
    pub edge_output: usize,
    pub router_output: usize,
    pub query_output: usize,
    pub num_classes: usize,
    pub edge_float: bool,
    pub router_float: bool,
    /// Quantization of the three outputs (scale 1 for float ones).
    pub edge_q: QParams,
    pub router_q: QParams,
    pub query_q: QParams,
    /// The query tensor's ONNX shape and bytes, and its frame's length.
    pub query_dims: Vec<usize>,
    pub query_bytes: usize,
    pub frame_size: usize,
}

impl HybridIo {
    pub fn of(g: &Graph, info: &HybridInfo) -> Result<HybridIo> {
        let (e, r, q) = info.output_indices(g).map_err(anyhow::Error::msg)?;
        let t = |i: usize| &g.tensors[g.outputs[i]];
        let qp = |i: usize| t(i).quant.unwrap_or(QParams { scale: 1.0, zero_point: 0 });
        let query = t(q);
        Ok(HybridIo {
            edge_output: e,
            router_output: r,
            query_output: q,
            num_classes: t(e).len(),
            edge_float: t(e).dtype == DType::F32,
            router_float: t(r).dtype == DType::F32,
            edge_q: qp(e),
            router_q: qp(r),
            query_q: qp(q),
            query_dims: query.onnx_shape.clone(),
            query_bytes: query.bytes(),
            frame_size: hybridc_kernels::frame::query_len(query.onnx_shape.len(), query.bytes()),
        })
    }

    /// The query's dims joined by ", ", each followed by `suffix`.
    pub fn dims(&self, suffix: &str) -> String {
        self.query_dims.iter().map(|d| format!("{d}{suffix}")).collect::<Vec<_>>().join(", ")
    }
}
