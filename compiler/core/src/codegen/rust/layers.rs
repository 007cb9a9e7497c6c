//! Per-layer Rust: the layer's constant parameters, its weights as statics
//! and the kernel call of the schedule.

use std::fmt::Write;

use anyhow::{bail, Result};

use crate::ir::{DType, FloatOp, Graph, Op, OpKind};
use crate::plan::Plan;
use crate::quant::params::{AddParams, Params, PoolParams};

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
    pub uses: Vec<&'static str>,
    pub out_offset: usize,
    pub out_bytes: usize,
}

/// A `static` array of `values` (weights.rs is not run through rustfmt).
fn array<T: std::fmt::Display>(name: &str, ty: &str, values: &[T]) -> String {
    let mut s = format!("pub static {name}: [{ty}; {}] = [", values.len());
    for (i, v) in values.iter().enumerate() {
        if i % 24 == 0 {
            s.push_str("\n    ");
        }
        write!(s, "{v},").unwrap();
    }
    s + "\n];\n"
}

/// The arena offset of a tensor; constants are not supported as operands.
fn offset(plan: &Plan, g: &Graph, op: &Op, t: usize) -> Result<usize> {
    let base = g.base(t);
    if g.tensors[base].data.is_some() {
        bail!("node '{}': the Rust backend takes operands from the arena only, not constant tensor '{}'", op.name, g.tensors[base].name);
    }
    Ok(plan.offsets[base].expect("planned tensor"))
}

fn add_fields(a: &AddParams) -> String {
    format!(
        "len: {}, input1_offset: {}, input2_offset: {}, output_offset: {}, left_shift: {}, input1_multiplier: {}, input1_shift: {}, input2_multiplier: {}, input2_shift: {}, output_multiplier: {}, output_shift: {}, act: [{}, {}]",
        a.len, a.input1_offset, a.input2_offset, a.output_offset, a.left_shift, a.input1_multiplier, a.input1_shift,
        a.input2_multiplier, a.input2_shift, a.output_multiplier, a.output_shift, a.act_min, a.act_max
    )
}

fn pool_fields(p: &PoolParams) -> String {
    let requant = match p.requant {
        Some(r) => format!("Some([{}, {}, {}, {}])", r.input_offset, r.output_offset, r.multiplier, r.shift),
        None => "None".into(),
    };
    format!(
        "in_hwc: {:?}, out_hwc: {:?}, kernel: {:?}, stride: {:?}, pad: [{}, {}], act: [{}, {}], requant: {requant}",
        p.in_hwc, p.out_hwc, p.kernel, p.stride, p.pad_top, p.pad_left, p.act_min, p.act_max
    )
}

/// The Rust name of a float op's kind.
fn float_kind(f: &FloatOp) -> String {
    match f {
        FloatOp::Unary(u) => format!("{u:?}"),
        FloatOp::Binary(b) => format!("{b:?}"),
        FloatOp::Reduce { op, .. } => format!("Reduce{op:?}"),
        FloatOp::Softmax => "Softmax".into(),
        FloatOp::TopK { largest, .. } => format!("TopK {{ largest: {largest} }}"),
        FloatOp::Concat { .. } => "Concat".into(),
        FloatOp::Strided { .. } => "Strided".into(),
    }
}

/// An operand of type `dtype` (F32: `float::Src`, I8: `S8`): the arena, or
/// a constant tensor as a `static` of layer `l` in flash.
fn operand(l: &str, plan: &Plan, g: &Graph, op: &Op, t: usize, statics: &mut String, dtype: DType) -> Result<String> {
    let base = g.base(t);
    let tensor = &g.tensors[base];
    let ty = if dtype == DType::F32 { "Src" } else { "S8" };
    let Some(d) = &tensor.data else {
        return Ok(format!("{ty}::Arena({})", offset(plan, g, op, t)?));
    };
    if tensor.dtype != dtype {
        bail!("node '{}': the Rust backend reads {dtype:?} constants here, not {:?} constant '{}'", op.name, tensor.dtype, tensor.name);
    }
    let name = format!("{l}_C{base}");
    if !statics.contains(&format!("pub static {name}:")) {
        *statics += &match dtype {
            DType::F32 => {
                let values: Vec<String> = d
                    .chunks_exact(4)
                    .map(|c| {
                        let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                        if v.is_finite() {
                            format!("{v:?}")
                        } else {
                            format!("f32::from_bits({:#x})", v.to_bits())
                        }
                    })
                    .collect();
                array(&name, "f32", &values)
            }
            _ => array(&name, "i8", &d.iter().map(|&b| b as i8).collect::<Vec<_>>()),
        };
    }
    Ok(format!("{ty}::Const(&weights::{name})"))
}

pub fn layer(index: usize, g: &Graph, op: &Op, p: &Params, plan: &Plan) -> Result<LayerRs> {
    let l = format!("L{index}");
    let (mut consts, mut statics) = (String::new(), String::new());
    // Float ops take any operand (constants too) through `src`.
    // Float ops, Add, Mul and Concat take any operand (constants too) through `operand`.
    let any_operand = matches!(p, Params::Float(_) | Params::Add(_) | Params::Binary(_) | Params::Concat(_));
    let input = if any_operand { 0 } else { offset(plan, g, op, op.inputs[0])? };
    let output = offset(plan, g, op, op.output)?;
    let mut uses: Vec<&'static str> = vec![];
    let call = match (p, &op.kind) {
        (Params::Conv(c), OpKind::Conv2d(conv)) => {
            statics += &array(&format!("{l}_WEIGHTS"), "i8", &conv.weights);
            statics += &array(&format!("{l}_BIAS"), "i32", &conv.bias);
            statics += &array(&format!("{l}_MULTIPLIER"), "i32", &c.multiplier);
            statics += &array(&format!("{l}_SHIFT"), "i32", &c.shift);
            consts = format!(
                "const {l}: Conv = Conv {{ depthwise: {}, in_hwc: {:?}, out_hwc: {:?}, kernel: {:?}, stride: {:?}, dilation: {:?}, pad: [{}, {}], depth_multiplier: {}, input_offset: {}, output_offset: {}, act: [{}, {}], weights: &weights::{l}_WEIGHTS, bias: &weights::{l}_BIAS, multiplier: &weights::{l}_MULTIPLIER, shift: &weights::{l}_SHIFT }};\n",
                c.depthwise, c.in_hwc, c.out_hwc, c.kernel, c.stride, c.dilation, c.pad_top, c.pad_left, c.depth_multiplier,
                c.input_offset, c.output_offset, c.act_min, c.act_max
            );
            let ring = match plan.ring_scratch.get(index).copied().flatten() {
                Some(r) => format!("Some({r})"),
                None => "None".into(),
            };
            uses = vec!["conv::conv", "conv::Conv"];
            format!("conv(&{l}, arena, {input}, {output}, {ring}, &mut [0; {}]);", c.out_hwc[2])
        }
        (Params::Fc(f), OpKind::FullyConnected(fc)) => {
            statics += &array(&format!("{l}_WEIGHTS"), "i8", &fc.weights);
            statics += &array(&format!("{l}_BIAS"), "i32", &fc.bias);
            consts = format!(
                "const {l}: FullyConnected = FullyConnected {{ in_len: {}, out_len: {}, input_offset: {}, output_offset: {}, multiplier: {}, shift: {}, act: [{}, {}], weights: &weights::{l}_WEIGHTS, bias: &weights::{l}_BIAS }};\n",
                f.in_len, f.out_len, f.input_offset, f.output_offset, f.multiplier, f.shift, f.act_min, f.act_max
            );
            uses = vec!["fully_connected::fully_connected", "fully_connected::FullyConnected"];
            format!("fully_connected(&{l}, arena, {input}, {output});")
        }
        (Params::Add(a), _) => {
            consts = format!("const {l}: Add = Add {{ {} }};\n", add_fields(a));
            uses = vec!["add::add", "add::Add", "S8"];
            let (a, b) = (operand(&l, plan, g, op, op.inputs[0], &mut statics, DType::I8)?, operand(&l, plan, g, op, op.inputs[1], &mut statics, DType::I8)?);
            format!("add(&{l}, arena, {a}, {b}, {output});")
        }
        (Params::Binary(b), _) => {
            consts = format!(
                "const {l}: Binary = Binary {{ mul: {}, out_shape: {:?}, a_strides: {:?}, b_strides: {:?}, add: Add {{ {} }} }};\n",
                b.mul, b.out_shape, b.a_strides, b.b_strides, add_fields(&b.add)
            );
            uses = vec!["add::binary", "add::Binary", "add::Add", "S8"];
            let (a, b) = (operand(&l, plan, g, op, op.inputs[0], &mut statics, DType::I8)?, operand(&l, plan, g, op, op.inputs[1], &mut statics, DType::I8)?);
            format!("binary(&{l}, arena, {a}, {b}, {output});")
        }
        (Params::AvgPool(pp), _) | (Params::MaxPool(pp), _) => {
            consts = format!("const {l}: Pool = Pool {{ {} }};\n", pool_fields(pp));
            let f = if matches!(p, Params::AvgPool(_)) { "average_pool" } else { "max_pool" };
            uses = vec![if f == "max_pool" { "pool::max_pool" } else { "pool::average_pool" }, "pool::Pool"];
            format!("{f}(&{l}, arena, {input}, {output}, &mut [0; {}]);", pp.in_hwc[2])
        }
        (Params::Softmax(s), _) => {
            consts = format!(
                "const {l}: Softmax = Softmax {{ rows: {}, depth: {}, input_multiplier: {}, input_left_shift: {}, diff_min: {} }};\n",
                s.rows, s.depth, s.input_multiplier, s.input_left_shift, s.diff_min
            );
            uses = vec!["softmax::softmax", "softmax::Softmax"];
            format!("softmax(&{l}, arena, {input}, {output});")
        }
        (Params::Concat(c), _) => {
            let total: usize = c.inputs.iter().map(|i| i.inner).sum();
            let (mut calls, mut at) = (String::new(), 0);
            for (k, (ci, &t)) in c.inputs.iter().zip(&op.inputs).enumerate() {
                let requant = ci.requant.map(|(m, s)| format!("Some(({m}, {s}))")).unwrap_or_else(|| "None".into());
                writeln!(
                    consts,
                    "const {l}_{k}: ConcatPart = ConcatPart {{ outer: {}, inner: {}, stride: {total}, input_offset: {}, output_offset: {}, requant: {requant} }};",
                    c.outer, ci.inner, ci.input_offset, c.output_offset
                )
                .unwrap();
                write!(calls, "concat_part(&{l}_{k}, arena, {}, {});", operand(&l, plan, g, op, t, &mut statics, DType::I8)?, output + at).unwrap();
                at += ci.inner;
            }
            uses = vec!["shape::concat_part", "shape::ConcatPart", "S8"];
            calls
        }
        (Params::Pad(pp), _) => {
            consts = format!(
                "const {l}: Pad = Pad {{ in_shape: {:?}, out_shape: {:?}, before: {:?}, value: {} }};\n",
                pp.in_shape, pp.out_shape, pp.before, pp.value
            );
            uses = vec!["shape::pad", "shape::Pad"];
            format!("pad(&{l}, arena, {input}, {output});")
        }
        (Params::Transpose(t), _) => {
            consts = format!("const {l}: Transpose = Transpose {{ out_shape: {:?}, in_strides: {:?} }};\n", t.out_shape, t.in_strides);
            uses = vec!["shape::transpose", "shape::Transpose"];
            format!("transpose(&{l}, arena, {input}, {output});")
        }
        (Params::Lut, OpKind::Lut { table, .. }) => {
            statics += &array(&format!("{l}_TABLE"), "i8", table);
            uses = vec!["elementwise::lut"];
            format!("lut({}, &weights::{l}_TABLE, arena, {input}, {output});", g.tensors[op.output].len())
        }
        (Params::Float(fp), OpKind::Float(f)) => {
            let srcs = op.inputs.iter().map(|&t| operand(&l, plan, g, op, t, &mut statics, DType::F32)).collect::<Result<Vec<_>>>()?;
            let inners = if fp.inners.is_empty() {
                "&[]".to_string()
            } else {
                format!("&{:?}", fp.inners)
            };
            consts = format!(
                "const {l}: FloatOp = FloatOp {{ kind: Kind::{}, out_shape: {:?}, a_strides: {:?}, b_strides: {:?}, red_shape: {:?}, red_strides: {:?}, offset: {}, strides: {:?}, rows: {}, depth: {}, k: {}, outer: {}, inners: {inners} }};\n",
                float_kind(f), fp.out_shape, fp.a_strides, fp.b_strides, fp.red_shape, fp.red_strides, fp.offset, fp.strides, fp.rows, fp.depth, fp.k, fp.outer
            );
            uses = vec!["float::float_op", "float::FloatOp", "float::Kind", "float::Src"];
            format!("float_op(&{l}, arena, &[{}], {output});", srcs.join(", "))
        }
        (Params::Quantize(q), _) | (Params::Dequantize(q), _) => {
            let f = if matches!(p, Params::Quantize(_)) { "quantize" } else { "dequantize" };
            uses = vec![if f == "quantize" { "elementwise::quantize" } else { "elementwise::dequantize" }];
            format!("{f}({}, {:?}, {}, arena, {input}, {output});", q.len, q.scale, q.zero_point)
        }
        _ => bail!("node '{}': the Rust backend has no kernel for {} yet; use --emit c", op.name, op.kind.name()),
    };
    let out = &g.tensors[op.output];
    Ok(LayerRs {
        index,
        op: op.kind.name(),
        comment: op.name.replace('\n', " "),
        consts,
        statics,
        call,
        uses,
        out_offset: output,
        out_bytes: out.bytes(),
    })
}
