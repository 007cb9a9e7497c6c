//! Per-layer C: constant data (weights, parameters) and the kernel call.

use std::fmt::Write;

use crate::ir::{DType, Graph, Op, OpKind};
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
    /// MACs the layer's kernel skips (see `dsp::DspLayer::skipped_macs`).
    pub skipped_macs: u64,
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

/// The C initializer of a pooling layer's parameters.
fn pool_params(l: &str, p: &crate::quant::params::PoolParams) -> String {
    let r = p.requant.unwrap_or(crate::quant::params::PoolRequant { input_offset: 0, output_offset: 0, multiplier: 0, shift: 0 });
    format!(
        "static const hyb_pool_params {l}_params = {{\n    .in_h = {}, .in_w = {}, .channels = {}, .out_h = {}, .out_w = {},\n    .k_h = {}, .k_w = {}, .stride_h = {}, .stride_w = {}, .pad_top = {}, .pad_left = {}, .act_min = {}, .act_max = {},\n    .requant = {}, .input_offset = {}, .output_offset = {}, .multiplier = {}, .shift = {},\n}};\n",
        p.in_hwc[0], p.in_hwc[1], p.in_hwc[2], p.out_hwc[0], p.out_hwc[1], p.kernel[0], p.kernel[1], p.stride[0], p.stride[1],
        p.pad_top, p.pad_left, p.act_min, p.act_max, p.requant.is_some() as i32, r.input_offset, r.output_offset, r.multiplier, r.shift
    )
}

/// The C initializer of a float op's parameters.
fn float_params(l: &str, f: &crate::ir::FloatOp, p: &crate::quant::params::FloatParams) -> String {
    use crate::ir::FloatOp;
    let (kind, func, largest) = match f {
        FloatOp::Unary(u) => ("HYB_FK_UNARY", format!("HYB_F_{}", format!("{u:?}").to_uppercase()), false),
        FloatOp::Binary(b) => ("HYB_FK_BINARY", format!("HYB_F_{}", format!("{b:?}").to_uppercase()), false),
        FloatOp::Reduce { op, .. } => ("HYB_FK_REDUCE", format!("HYB_F_R{}", format!("{op:?}").to_uppercase()), false),
        FloatOp::Softmax => ("HYB_FK_SOFTMAX", "0".into(), false),
        FloatOp::TopK { largest, .. } => ("HYB_FK_TOPK", "0".into(), *largest),
        FloatOp::Concat { .. } => ("HYB_FK_CONCAT", "0".into(), false),
        FloatOp::Strided { .. } => ("HYB_FK_STRIDED", "0".into(), false),
    };
    let mut s = String::new();
    if !p.inners.is_empty() {
        s += &format!("static const int32_t {l}_inners[{}] = {{ {} }};\n", p.inners.len(), join(&p.inners));
    }
    s += &format!(
        "static const hyb_float_params {l}_params = {{\n    .kind = {kind}, .fn = {func}, .out_shape = {{{}}}, .a_strides = {{{}}}, .b_strides = {{{}}},\n    .red_shape = {{{}}}, .red_strides = {{{}}}, .offset = {}, .strides = {{{}}},\n    .rows = {}, .depth = {}, .k = {}, .largest = {}, .outer = {}, .num_inputs = {}, .inners = {},\n}};\n",
        join(&p.out_shape), join(&p.a_strides), join(&p.b_strides), join(&p.red_shape), join(&p.red_strides), p.offset, join(&p.strides),
        p.rows, p.depth, p.k, largest as i32, p.outer, p.inners.len(),
        if p.inners.is_empty() { "0".to_string() } else { format!("{l}_inners") }
    );
    s
}

fn join<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
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
            data += &pool_params(&l, p);
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
        (Params::Binary(b), _) => {
            let a = &b.add;
            write!(
                data,
                "static const hyb_binary_params {l}_params = {{\n    .mul = {}, .out_shape = {{{}}}, .a_strides = {{{}}}, .b_strides = {{{}}},\n    .add = {{ .len = {}, .input1_offset = {}, .input2_offset = {}, .output_offset = {}, .left_shift = {},\n    .input1_multiplier = {}, .input1_shift = {}, .input2_multiplier = {}, .input2_shift = {},\n    .output_multiplier = {}, .output_shift = {}, .act_min = {}, .act_max = {} }},\n}};\n",
                b.mul as i32, join(&b.out_shape), join(&b.a_strides), join(&b.b_strides),
                a.len, a.input1_offset, a.input2_offset, a.output_offset, a.left_shift, a.input1_multiplier, a.input1_shift,
                a.input2_multiplier, a.input2_shift, a.output_multiplier, a.output_shift, a.act_min, a.act_max
            )
            .unwrap();
            let second = arena(plan, g, op.inputs[1]);
            format!("hyb_binary_s8(&{l}_params, {input}, {second}, {output});")
        }
        (Params::MaxPool(p), _) => {
            data += &pool_params(&l, p);
            format!("hyb_max_pool_s8(&{l}_params, {input}, {output});")
        }
        (Params::Concat(c), _) => {
            let items: Vec<String> = c
                .inputs
                .iter()
                .map(|i| {
                    let (m, s) = i.requant.unwrap_or((0, 0));
                    format!("{{ .inner = {}, .input_offset = {}, .requant = {}, .multiplier = {m}, .shift = {s} }}", i.inner, i.input_offset, i.requant.is_some() as i32)
                })
                .collect();
            write!(data, "static const hyb_concat_input {l}_inputs[{}] = {{\n    {}\n}};\n", items.len(), items.join(",\n    ")).unwrap();
            write!(data, "static const hyb_concat_params {l}_params = {{ .outer = {}, .output_offset = {}, .num_inputs = {}, .inputs = {l}_inputs }};\n", c.outer, c.output_offset, c.inputs.len()).unwrap();
            let ptrs: Vec<String> = op.inputs.iter().map(|&t| format!("(const int8_t *)({})", arena(plan, g, t))).collect();
            format!("{{ const int8_t *const in[] = {{ {} }}; hyb_concat_s8(&{l}_params, in, {output}); }}", ptrs.join(", "))
        }
        (Params::Pad(p), _) => {
            write!(
                data,
                "static const hyb_pad_params {l}_params = {{ .in_shape = {{{}}}, .out_shape = {{{}}}, .before = {{{}}}, .value = {} }};\n",
                join(&p.in_shape), join(&p.out_shape), join(&p.before), p.value
            )
            .unwrap();
            format!("hyb_pad_s8(&{l}_params, {input}, {output});")
        }
        (Params::Transpose(t), _) => {
            write!(data, "static const hyb_transpose_params {l}_params = {{ .out_shape = {{{}}}, .in_strides = {{{}}} }};\n", join(&t.out_shape), join(&t.in_strides)).unwrap();
            format!("hyb_transpose_s8(&{l}_params, {input}, {output});")
        }
        (Params::Float(fp), OpKind::Float(f)) => {
            data += &float_params(&l, f, fp);
            let ptrs: Vec<String> = op.inputs.iter().map(|&t| format!("(const float *)({})", arena(plan, g, t))).collect();
            format!("{{ const float *const in[] = {{ {} }}; hyb_float_op(&{l}_params, in, {output}); }}", ptrs.join(", "))
        }
        (Params::Lut, OpKind::Lut { table, .. }) => {
            write!(data, "static const int8_t {l}_table[256] = {{{}}};\n", array_body(table)).unwrap();
            format!("hyb_lut_s8({}, {l}_table, {input}, {output});", g.tensors[op.output].len())
        }
        (Params::Quantize(q), _) | (Params::Dequantize(q), _) => {
            write!(data, "static const hyb_quant_params {l}_params = {{ .len = {}, .zero_point = {}, .scale = {:e}f }};\n", q.len, q.zero_point, q.scale).unwrap();
            let f = if matches!(p, Params::Quantize(_)) { "hyb_quantize_f32_s8" } else { "hyb_dequantize_s8_f32" };
            format!("{f}(&{l}_params, {input}, {output});")
        }
        _ => unreachable!("params prepared from this op"),
    };
    let call = super::inplace::ring_call(index, g, op, plan).unwrap_or(call);
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
        skipped_macs: 0,
    }
}
