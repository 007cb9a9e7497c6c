//! Graph passes on the IR: choosing outputs and removing dead ops.
//! (BatchNorm folding and activation fusion happen during import of QDQ
//! graphs, where the graph's scales already fix them.)

use anyhow::{bail, Result};

use crate::ir::Graph;

/// Makes the named tensors the graph's outputs, in that order.
pub fn select_outputs(g: &mut Graph, names: &[String]) -> Result<()> {
    let mut outs = vec![];
    for n in names {
        match g.find(n) {
            Some(id) => outs.push(id),
            None => {
                let last: Vec<&str> =
                    g.ops.iter().rev().take(3).map(|op| g.tensors[op.output].name.as_str()).collect();
                bail!(
                    "--outputs: no tensor named '{n}' in the model (the last layers write: '{}'; report.json of a compile lists every layer's output under layers[].output)",
                    last.join("', '")
                );
            }
        }
    }
    g.outputs = outs;
    Ok(())
}

/// Drops ops whose results no output needs.
pub fn prune(g: &mut Graph) {
    let mut needed = vec![false; g.tensors.len()];
    for &o in &g.outputs {
        needed[g.base(o)] = true;
    }
    let mut keep = vec![false; g.ops.len()];
    for (i, op) in g.ops.iter().enumerate().rev() {
        if needed[g.base(op.output)] {
            keep[i] = true;
            for &t in &op.inputs {
                needed[g.base(t)] = true;
            }
        }
    }
    let mut k = keep.iter();
    g.ops.retain(|_| *k.next().unwrap());
}
