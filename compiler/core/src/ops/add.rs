//! Add and Mul, int8, same-shape or broadcasting over up to 4 dims (TFLite
//! reference_integer_ops: Add rescales both inputs to twice the larger
//! scale with a left shift of 20; Mul multiplies the centred inputs by
//! in1 x in2 / out scale). An Add of a constant after a MatMul or Conv is
//! that op's bias.

use anyhow::{bail, Result};
use hybridc_kernels::add as k;

use super::{activation_range, broadcast_strides, emit, shape4, Built, CCode, CSite, OnnxOp, OpKind, Pending, RustCode, RustSite};
use crate::frontend::{broadcast_shape, Act8, Importer, Val};
use crate::ir::{Activation, DType, QParams};
use crate::quant::fixedpoint::quantize_multiplier;

pub static ONNX: &[OnnxOp] = &[OnnxOp { onnx: "Add", import, keeps_scale: false }, OnnxOp { onnx: "Mul", import: import_mul, keeps_scale: false }];

/// Add or Mul. `same`: both inputs have the output's shape, and the
/// element-wise Add kernel runs it (`p.add`); otherwise the broadcasting one
/// (strides 0 broadcast; Mul always).
#[derive(Debug, Clone)]
pub struct Binary {
    pub p: k::Binary,
    pub same: bool,
}

/// C initializer fields of `hyb_add_params`.
fn c_fields(a: &k::Add) -> String {
    format!(
        ".len = {}, .input1_offset = {}, .input2_offset = {}, .output_offset = {}, .left_shift = {},\n    .input1_multiplier = {}, .input1_shift = {}, .input2_multiplier = {}, .input2_shift = {},\n    .output_multiplier = {}, .output_shift = {}, .act_min = {}, .act_max = {}",
        a.len, a.input1_offset, a.input2_offset, a.output_offset, a.left_shift, a.input1_multiplier, a.input1_shift,
        a.input2_multiplier, a.input2_shift, a.output_multiplier, a.output_shift, a.act[0], a.act[1]
    )
}

impl OpKind for Binary {
    fn name(&self) -> &'static str { if self.p.mul { "Mul" } else { "Add" } }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        let (a, b) = (hybridc_kernels::S8::Arena(at.inputs[0]), hybridc_kernels::S8::Arena(at.inputs[1]));
        if self.same {
            k::add(&self.p.add, arena, a, b, at.output);
        } else {
            k::binary(&self.p, arena, a, b, at.output);
        }
    }

    fn in_place(&self, g: &super::Graph, op: &super::Op) -> Vec<super::Mode> { super::inplace::elementwise_modes(g, op) }

    fn c(&self, s: &CSite) -> CCode {
        let (b, l) = (&self.p, &s.l);
        if self.same {
            return s.code("hyb_add_s8", format!("static const hyb_add_params {l}_params = {{\n    {},\n}};\n", c_fields(&b.add)));
        }
        let data = format!(
            "static const hyb_binary_params {l}_params = {{\n    .mul = {}, .out_shape = {{{}}}, .a_strides = {{{}}}, .b_strides = {{{}}},\n    .add = {{ {} }},\n}};\n",
            b.mul as i32,
            emit::join(&b.out_shape),
            emit::join(&b.a_strides),
            emit::join(&b.b_strides),
            c_fields(&b.add)
        );
        s.code("hyb_binary_s8", data)
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        let (a, b) = (s.operand(s.op.inputs[0], DType::I8)?, s.operand(s.op.inputs[1], DType::I8)?);
        // The kernel structs' Debug text is their Rust literal.
        let (f, ty, consts) = if self.same { ("add", "Add", format!("{:?}", self.p.add)) } else { ("binary", "Binary", format!("{:?}", self.p)) };
        Ok(RustCode {
            consts: format!("const {}: {ty} = {consts};\n", s.l),
            call: format!("{f}(&{}, arena, {a}, {b}, {});", s.l, s.output()?),
            uses: vec![format!("add::{f}"), format!("add::{ty}"), "add::Add".into(), "S8".into()],
        })
    }
}

/// TFLite's add parameters for inputs `qa`, `qb` into `qo`.
fn add_params(qa: QParams, qb: QParams, qo: QParams, len: usize, act: Activation) -> k::Add {
    let left_shift = 20;
    let twice_max = 2.0 * qa.scale.max(qb.scale) as f64;
    let (m1, s1) = quantize_multiplier(qa.scale as f64 / twice_max);
    let (m2, s2) = quantize_multiplier(qb.scale as f64 / twice_max);
    let (mo, so) = quantize_multiplier(twice_max / ((1i64 << left_shift) as f64 * qo.scale as f64));
    k::Add {
        len,
        input1_offset: -qa.zero_point,
        input2_offset: -qb.zero_point,
        output_offset: qo.zero_point,
        left_shift,
        input1_multiplier: m1,
        input1_shift: s1,
        input2_multiplier: m2,
        input2_shift: s2,
        output_multiplier: mo,
        output_shift: so,
        act: activation_range(act, qo),
    }
}

/// Places both operands in the output's storage order; returns their
/// tensors, the order and the output's 4-D storage shape.
fn operands(im: &mut Importer, a: &Act8, b: &Act8, logical: &[usize]) -> Result<Operands> {
    let perm = if a.logical.len() >= b.logical.len() { a.perm.clone() } else { b.perm.clone() };
    let ia = im.broadcast_operand(a, logical, &perm)?;
    let ib = im.broadcast_operand(b, logical, &perm)?;
    let out = crate::frontend::layout::storage_shape(logical, &perm);
    let same = im.g.tensors[ia].shape == im.g.tensors[ib].shape;
    let (sa, sb) = (shape4(&im.g.tensors[ia].shape), shape4(&im.g.tensors[ib].shape));
    Ok(Operands { inputs: vec![ia, ib], len: out.iter().product(), out: shape4(&out), perm, same, strides: [broadcast_strides(sa, shape4(&out)), broadcast_strides(sb, shape4(&out))] })
}

/// A binary op's operands in the output's storage order.
struct Operands {
    pub inputs: Vec<usize>,
    pub perm: Vec<usize>,
    /// Elements of the output, its 4-D storage shape, and whether both
    /// inputs have its shape (no broadcasting).
    pub len: usize,
    pub out: [usize; 4],
    pub same: bool,
    /// Per output dim, each input's stride (0 broadcasts).
    pub strides: [[usize; 4]; 2],
}

/// A broadcasting op's parameters.
fn binary(mul: bool, o: &Operands, add: k::Add) -> k::Binary {
    k::Binary { mul, out_shape: o.out, a_strides: o.strides[0], b_strides: o.strides[1], add }
}

/// An Add or a Mul waiting for its output quantization.
#[derive(Debug, Clone)]
struct PendingBinary {
    a: Act8,
    b: Act8,
    mul: bool,
}

impl Pending for PendingBinary {
    fn finish(self: Box<Self>, im: &mut Importer, logical: &[usize], act: Activation, q: QParams) -> Result<Built> {
        let o = operands(im, &self.a, &self.b, logical)?;
        // Mul takes Add's offsets and range, and its own output multiplier.
        let mut p = add_params(self.a.q, self.b.q, q, o.len, act);
        if self.mul {
            (p.output_multiplier, p.output_shift) = quantize_multiplier(self.a.q.scale as f64 * self.b.q.scale as f64 / q.scale as f64);
        }
        let same = o.same && !self.mul;
        Ok(Built { kind: Box::new(Binary { p: binary(self.mul, &o, p), same }), inputs: o.inputs, perm: o.perm })
    }
}

fn import(im: &mut Importer) -> Result<()> {
    match (im.input(0)?.clone(), im.input(1)?.clone()) {
        (Val::Pending { node, op, logical, act: Activation::None }, Val::Const(c))
        | (Val::Const(c), Val::Pending { node, op, logical, act: Activation::None }) => {
            let op = op.with_bias(c)?;
            im.set(Val::Pending { node, op, logical, act: Activation::None });
        }
        (Val::Deq(_), _) | (_, Val::Deq(_)) => {
            binary_pending(im, false)?;
        }
        _ => bail!("Add needs two dequantized int8 tensors, or a float op and a constant bias"),
    }
    Ok(())
}

fn import_mul(im: &mut Importer) -> Result<()> {
    binary_pending(im, true)
}

/// The node's two operands, waiting for the output quantization.
fn binary_pending(im: &mut Importer, mul: bool) -> Result<()> {
    let (a, b) = (im.operand(0)?, im.operand(1)?);
    let logical = broadcast_shape(&a.logical, &b.logical)?;
    im.pending(Box::new(PendingBinary { a, b, mul }), logical);
    Ok(())
}
