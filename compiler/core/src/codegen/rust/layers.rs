//! Per-layer Rust: the layer's constant parameters, its weights as statics
//! and the kernel call of the schedule (each op module writes its own).

use anyhow::Result;

use crate::ir::{Graph, Op};
use crate::ops::RustSite;
use crate::plan::Plan;

pub struct LayerRs {
    pub index: usize,
    pub op: &'static str,
    pub comment: String,
    /// Constant parameters (in model.rs).
    pub consts: String,
    /// Weights, biases and tables (in weights.rs).
    pub statics: String,
    pub call: String,
    /// Kernel items the call needs (paths under crate::kernels).
    pub uses: Vec<String>,
    pub out_offset: usize,
    pub out_bytes: usize,
}

pub fn layer(index: usize, g: &Graph, op: &Op, plan: &Plan) -> Result<LayerRs> {
    let mut site = RustSite { l: format!("L{index}"), g, op, offsets: &plan.offsets, ring: plan.ring_scratch.get(index).copied().flatten(), statics: String::new() };
    let code = op.kind.rust(&mut site)?;
    let out = &g.tensors[op.output];
    let out_offset = site.output()?;
    Ok(LayerRs {
        index,
        op: op.kind.name(),
        comment: op.name.replace('\n', " "),
        consts: code.consts,
        statics: site.statics,
        call: code.call,
        uses: code.uses,
        out_offset,
        out_bytes: out.bytes(),
    })
}
