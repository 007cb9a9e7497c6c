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
    pub hybrid: Option<crate::hybrid::HybridInfo>,
}

pub const FILE: &str = "hybridc.json";

impl Manifest {
    pub fn read(project: &Path) -> Result<Manifest> {
        let path = project.join(FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("{} is not a hybridc project (no {FILE}); create one with `hybridc compile`", project.display())
        })?;
        serde_json::from_str(&text).with_context(|| format!("{} is corrupt; compile the project again", path.display()))
    }
}
