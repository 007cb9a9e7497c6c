//! `hybridc.json`: the description of a compiled project that `hybridc run`
//! and the tests read back (inputs, outputs, layers, target).

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IoInfo {
    pub name: String,
    /// Shape of one item as stored (batch 1).
    pub shape: Vec<usize>,
    pub dtype: String,
    pub bytes: usize,
    pub offset: usize,
    pub scale: f32,
    pub zero_point: i32,
}

impl IoInfo {
    /// The tensors `ids` of `g`, whose base tensors lie at `offsets`.
    pub fn of(g: &crate::ir::Graph, offsets: &[Option<usize>], ids: &[usize]) -> Vec<IoInfo> {
        ids.iter()
            .map(|&t| {
                let tensor = &g.tensors[t];
                let q = tensor.quant.unwrap_or(crate::ir::QParams { scale: 1.0, zero_point: 0 });
                IoInfo {
                    name: tensor.name.clone(),
                    shape: tensor.shape.clone(),
                    dtype: tensor.dtype.npy_descr().to_string(),
                    bytes: tensor.bytes(),
                    offset: offsets[g.base(t)].expect("planned"),
                    scale: q.scale,
                    zero_point: q.zero_point,
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerInfo {
    pub name: String,
    pub op: String,
    /// Name of the tensor the layer writes.
    pub output: String,
    pub output_shape: Vec<usize>,
    pub bytes: usize,
    pub macs: u64,
    /// MACs the kernels skip: products with the zero weights of dead channels.
    #[serde(default)]
    pub skipped_macs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub hybridc_version: String,
    pub model: String,
    pub target: String,
    pub inputs: Vec<IoInfo>,
    pub outputs: Vec<IoInfo>,
    pub layers: Vec<LayerInfo>,
    pub arena_bytes: usize,
    /// Edge + router projects: how the device decides and offloads.
    #[serde(default)]
    pub hybrid: Option<crate::ir::HybridInfo>,
}

pub const FILE: &str = "hybridc.json";

impl Manifest {
    /// The description of `g` compiled for `target` with `plan`; per layer,
    /// the MACs its kernel skips.
    pub fn of(model: &str, target: &str, g: &crate::ir::Graph, plan: &crate::plan::Plan, skipped_macs: &[u64], hybrid: Option<&crate::ir::HybridInfo>) -> Manifest {
        let layers = g
            .ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                let t = &g.tensors[op.output];
                LayerInfo {
                    name: op.name.clone(),
                    op: op.kind.name().to_string(),
                    output: t.name.clone(),
                    output_shape: t.shape.clone(),
                    bytes: t.bytes(),
                    macs: op.kind.macs(g, op),
                    skipped_macs: skipped_macs.get(i).copied().unwrap_or(0),
                }
            })
            .collect();
        Manifest {
            hybridc_version: env!("CARGO_PKG_VERSION").to_string(),
            model: model.to_string(),
            target: target.to_string(),
            inputs: IoInfo::of(g, &plan.offsets, &g.inputs),
            outputs: IoInfo::of(g, &plan.offsets, &g.outputs),
            layers,
            arena_bytes: plan.arena_bytes,
            hybrid: hybrid.cloned(),
        }
    }

    pub fn read(project: &Path) -> Result<Manifest> {
        let path = project.join(FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("{} is not a hybridc project (no {FILE}); create one with `hybridc compile`", project.display())
        })?;
        serde_json::from_str(&text).with_context(|| format!("{} is corrupt; compile the project again", path.display()))
    }
}
