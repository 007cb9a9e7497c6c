//! Per-layer C: constant data (weights, parameters) and the kernel call.

use std::fmt::Write;

use crate::ir::{Graph, Op, OpKind};
use crate::plan::Plan;
use crate::quant::params::Params;

pub struct LayerC {
    pub index: usize,
    pub op: &'static str,
    pub comment: String,
    pub out_shape: String,
    pub data: String,
    pub call: String,
    pub out_offset: usize,
    pub out_bytes: usize,
}

/// C text of a comma-separated array body.
pub fn array_body<T: std::fmt::Display>(values: &[T]) -> String {
    let mut s = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i % 24 == 0 {
            s.push_str("\n    ");
        }
        write!(s, "{v},").unwrap();
    }
    s.push('\n');
    s
}

/// Text safe inside a C block comment.
pub fn comment_safe(s: &str) -> String {
    s.replace("*/", "* /").replace("/*", "/ *")
}

pub(super) fn arena(plan: &Plan, g: &Graph, t: usize) -> String {
    format!("hyb_arena + {}", plan.offsets[g.base(t)].expect("planned tensor"))
}

pub fn layer(index: usize, g: &Graph, op: &Op, p: &Params, plan: &Plan) -> LayerC {
    let l = format!("L{index}");
    let mut data = String::new();
    let input = arena(plan, g, op.inputs[0]);
    let output = arena(plan, g, op.output);
    let call = match (p, &op.kind) {
        (Params::Conv(c), OpKind::Conv2d(conv)) => {
            write!(data, "static const int8_t {l}_weights[{}] __attribute__((aligned(4))) = {{{}}};\n", conv.weights.len(), array_body(&conv.weights)).unwrap();
            write!(data, "static const int32_t {l}_bias[{}] = {{{}}};\n", conv.bias.len(), array_body(&conv.bias)).unwrap();
            write!(data, "static const int32_t {l}_multiplier[{}] = {{{}}};\n", c.multiplier.len(), array_body(&c.multiplier)).unwrap();
            write!(data, "static const int32_t {l}_shift[{}] = {{{}}};\n", c.shift.len(), array_body(&c.shift)).unwrap();
            write!(
                data,
                "static const hyb_conv_params {l}_params = {{\n    .in_h = {}, .in_w = {}, .in_c = {}, .out_h = {}, .out_w = {}, .out_c = {},\n    .k_h = {}, .k_w = {}, .stride_h = {}, .stride_w = {}, .dil_h = {}, .dil_w = {}, .pad_top = {}, .pad_left = {},\n    .depth_multiplier = {}, .input_offset = {}, .output_offset = {}, .act_min = {}, .act_max = {},\n    .multiplier = {l}_multiplier, .shift = {l}_shift, .weights = {l}_weights, .bias = {l}_bias,\n}};\n",
                c.in_hwc[0], c.in_hwc[1], c.in_hwc[2], c.out_hwc[0], c.out_hwc[1], c.out_hwc[2],
                c.kernel[0], c.kernel[1], c.stride[0], c.stride[1], c.dilation[0], c.dilation[1], c.pad_top, c.pad_left,
                c.depth_multiplier, c.input_offset, c.output_offset, c.act_min, c.act_max
            )
            .unwrap();
            let f = if c.depthwise { "hyb_depthwise_conv_s8" } else { "hyb_conv_s8" };
            format!("{f}(&{l}_params, {input}, {output});")
        }
        (Params::Fc(f), OpKind::FullyConnected(fc)) => {
            write!(data, "static const int8_t {l}_weights[{}] __attribute__((aligned(4))) = {{{}}};\n", fc.weights.len(), array_body(&fc.weights)).unwrap();
            write!(data, "static const int32_t {l}_bias[{}] = {{{}}};\n", fc.bias.len(), array_body(&fc.bias)).unwrap();
            write!(
                data,
                "static const hyb_fc_params {l}_params = {{\n    .in_len = {}, .out_len = {}, .input_offset = {}, .output_offset = {},\n    .multiplier = {}, .shift = {}, .act_min = {}, .act_max = {}, .weights = {l}_weights, .bias = {l}_bias,\n}};\n",
                f.in_len, f.out_len, f.input_offset, f.output_offset, f.multiplier, f.shift, f.act_min, f.act_max
            )
            .unwrap();
            format!("hyb_fully_connected_s8(&{l}_params, {input}, {output});")
        }
        (Params::Add(a), _) => {
            write!(
                data,
                "static const hyb_add_params {l}_params = {{\n    .len = {}, .input1_offset = {}, .input2_offset = {}, .output_offset = {}, .left_shift = {},\n    .input1_multiplier = {}, .input1_shift = {}, .input2_multiplier = {}, .input2_shift = {},\n    .output_multiplier = {}, .output_shift = {}, .act_min = {}, .act_max = {},\n}};\n",
                a.len, a.input1_offset, a.input2_offset, a.output_offset, a.left_shift, a.input1_multiplier, a.input1_shift,
                a.input2_multiplier, a.input2_shift, a.output_multiplier, a.output_shift, a.act_min, a.act_max
            )
            .unwrap();
            let second = arena(plan, g, op.inputs[1]);
            format!("hyb_add_s8(&{l}_params, {input}, {second}, {output});")
        }
        (Params::AvgPool(p), _) => {
            write!(
                data,
                "static const hyb_pool_params {l}_params = {{\n    .in_h = {}, .in_w = {}, .channels = {}, .out_h = {}, .out_w = {},\n    .k_h = {}, .k_w = {}, .stride_h = {}, .stride_w = {}, .pad_top = {}, .pad_left = {}, .act_min = {}, .act_max = {},\n}};\n",
                p.in_hwc[0], p.in_hwc[1], p.in_hwc[2], p.out_hwc[0], p.out_hwc[1], p.kernel[0], p.kernel[1], p.stride[0], p.stride[1],
                p.pad_top, p.pad_left, p.act_min, p.act_max
            )
            .unwrap();
            format!("hyb_avg_pool_s8(&{l}_params, {input}, {output});")
        }
        (Params::Softmax(s), _) => {
            write!(
                data,
                "static const hyb_softmax_params {l}_params = {{\n    .rows = {}, .depth = {}, .input_multiplier = {}, .input_left_shift = {}, .diff_min = {},\n}};\n",
                s.rows, s.depth, s.input_multiplier, s.input_left_shift, s.diff_min
            )
            .unwrap();
            format!("hyb_softmax_s8(&{l}_params, {input}, {output});")
        }
        _ => unreachable!("params prepared from this op"),
    };
    let out = &g.tensors[op.output];
    LayerC {
        index,
        op: op.kind.name(),
        comment: comment_safe(&op.name),
        out_shape: format!("{:?}", out.shape),
        data,
        call,
        out_offset: plan.offsets[g.base(op.output)].expect("planned tensor"),
        out_bytes: out.bytes(),
    }
}
