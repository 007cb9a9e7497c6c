//! Calls of ops the plan runs in place with a ring (see plan::inplace);
//! every other op keeps the call its kernel selection chose.

use crate::ir::{Graph, Op, OpKind};
use crate::plan::Plan;

pub const KERNELS: &[&str] = &["hyb_inplace.h", "conv_inplace_s8.c"];

/// The in-place call replacing the layer's call, when the plan asks for one.
pub fn ring_call(index: usize, g: &Graph, op: &Op, plan: &Plan) -> Option<String> {
    let ring = plan.ring_scratch.get(index).copied().flatten()?;
    let OpKind::Conv2d(c) = &op.kind else { unreachable!("only convolutions run with a ring") };
    let f = if c.depthwise { "hyb_depthwise_conv_s8_inplace" } else { "hyb_conv_s8_inplace" };
    let buf = plan.offsets[g.base(op.output)].expect("planned tensor");
    debug_assert_eq!(plan.offsets[g.base(op.inputs[0])], Some(buf), "ring ops write over their input");
    Some(format!("{f}(&L{index}_params, hyb_arena + {buf}, hyb_arena + {ring});"))
}
