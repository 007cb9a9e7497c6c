//! Per-layer C: constant data (weights, parameters) and the kernel call.

use std::fmt::Write;

use crate::ir::{DType, Graph, Op};
use crate::ops::CSite;
use crate::plan::Plan;
pub use crate::ops::emit::{array_body, comment_safe};

pub struct LayerC {
    pub index: usize,
    pub op: &'static str,
    pub comment: String,
    pub out_shape: String,
    pub data: String,
    pub call: String,
    pub out_offset: usize,
    pub out_bytes: usize,
    /// MACs the layer's kernel skips (see `dsp::DspLayer::skipped_macs`).
    pub skipped_macs: u64,
}

/// C expression for a tensor's storage: its constant array, or the arena.
pub(super) fn arena(plan: &Plan, g: &Graph, t: usize) -> String {
    let base = g.base(t);
    if g.tensors[base].data.is_some() {
        return const_name(base);
    }
    let at = format!("hyb_arena + {}", plan.offsets[base].expect("planned tensor"));
    match g.tensors[base].dtype {
        DType::F32 => format!("(float *)({at})"),
        DType::I32 => format!("(int32_t *)({at})"),
        DType::I8 => at,
    }
}

pub fn const_name(t: usize) -> String {
    format!("hyb_const_{t}")
}

/// C definitions of the graph's constant tensors.
pub fn constants(g: &Graph) -> String {
    let mut s = String::new();
    for (t, tensor) in g.tensors.iter().enumerate() {
        if let (Some(d), None) = (&tensor.data, tensor.alias_of) {
            let name = const_name(t);
            let body = match tensor.dtype {
                DType::I8 => array_body(&d.iter().map(|&b| b as i8).collect::<Vec<_>>()),
                DType::I32 => array_body(&d.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<_>>()),
                DType::F32 => array_body(
                    &d.chunks_exact(4).map(|c| format!("{:e}f", f32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect::<Vec<_>>(),
                ),
            };
            writeln!(s, "/* constant {} */\nstatic const {} {name}[{}] __attribute__((aligned(4))) = {{{body}}};", comment_safe(&tensor.name), tensor.dtype.c_type(), tensor.len()).unwrap();
        }
    }
    s
}

pub fn layer(index: usize, g: &Graph, op: &Op, plan: &Plan) -> LayerC {
    let site = CSite {
        l: format!("L{index}"),
        g,
        op,
        inputs: op.inputs.iter().map(|&t| arena(plan, g, t)).collect(),
        output: arena(plan, g, op.output),
        ring: plan.ring_scratch.get(index).copied().flatten(),
    };
    let code = op.kind.c(&site);
    let out = &g.tensors[op.output];
    LayerC {
        index,
        op: op.kind.name(),
        comment: comment_safe(&op.name),
        out_shape: format!("{:?}", out.shape),
        data: code.data,
        call: code.call,
        out_offset: plan.offsets[g.base(op.output)].expect("planned tensor"),
        out_bytes: out.bytes(),
        skipped_macs: 0,
    }
}
