//! float32 ops, for what has no int8 kernel (a router's TopK, Log,
//! ReduceSum, Slice...) and for light ops that read a float value: the
//! kernels crate's `float_op`, whose loops and exp/log give the C kernel's
//! bits (runtime-c/kernels/float_ops.c). Their import is in `import`.

pub mod import;

use anyhow::Result;
use hybridc_kernels::float::{self as k, Kind};

use super::{contiguous_strides, emit, shape4, CCode, CSite, OpKind, RustCode, RustSite};
use crate::ir::{DType, TensorId};
pub use import::{FLOAT_MARK, FLOAT_ONLY, FLOAT_TOO};

/// What a float op computes, with the axes and offsets its import found.
#[derive(Debug, Clone, PartialEq)]
pub enum FloatFn {
    /// An element-wise kind (Exp ... Reciprocal).
    Unary(Kind),
    /// A broadcasting kind of two inputs (Add ... Min).
    Binary(Kind),
    /// A reduction kind (ReduceSum ... ReduceMin) over storage axes (kept as size 1).
    Reduce { kind: Kind, axes: Vec<usize> },
    /// Softmax over the innermost axis.
    Softmax,
    /// The k largest (or smallest) values along the innermost axis, sorted.
    TopK { k: usize, largest: bool },
    Concat { axis: usize },
    /// out[i] = in[offset + sum(i_d * strides[d])]: Slice, Gather.
    Strided { offset: usize, strides: Vec<isize> },
    /// A fully connected layer: x [.., depth] times constant weights
    /// [k, depth] plus bias [k] (Gemm, MatMul kept in float32).
    MatMul,
}

/// A float op with its parameters; `p.inners` is empty, the op's own
/// chunk sizes are `inners` (see [`Float::kernel`]).
#[derive(Debug, Clone)]
pub struct Float {
    pub f: FloatFn,
    pub p: k::FloatOp<'static>,
    /// Concat: each input's contiguous chunk.
    pub inners: Vec<usize>,
}

impl Float {
    /// The op computing `f` from `inputs` into `out` (storage shapes).
    pub fn new(f: FloatFn, g: &super::Graph, inputs: &[TensorId], out: TensorId) -> Float {
        let out = &g.tensors[out];
        let a = &g.tensors[inputs[0]];
        let kind = match &f {
            FloatFn::Unary(k) | FloatFn::Binary(k) | FloatFn::Reduce { kind: k, .. } => *k,
            FloatFn::Softmax => Kind::Softmax,
            FloatFn::TopK { largest, .. } => Kind::TopK { largest: *largest },
            FloatFn::Concat { .. } => Kind::Concat,
            FloatFn::Strided { .. } => Kind::Strided,
            FloatFn::MatMul => Kind::MatMul,
        };
        let mut p = k::FloatOp {
            kind,
            out_shape: shape4(&out.shape),
            a_strides: [0; 4],
            b_strides: [0; 4],
            red_shape: [0; 4],
            red_strides: [0; 4],
            offset: 0,
            strides: [0; 4],
            rows: 0,
            depth: 0,
            k: 0,
            outer: 0,
            inners: &[],
        };
        let mut inners = vec![];
        match &f {
            FloatFn::Unary(_) => p.a_strides = super::broadcast_strides(shape4(&a.shape), p.out_shape),
            FloatFn::Binary(_) => {
                p.a_strides = super::broadcast_strides(shape4(&a.shape), p.out_shape);
                p.b_strides = super::broadcast_strides(shape4(&g.tensors[inputs[1]].shape), p.out_shape);
            }
            FloatFn::Reduce { axes, .. } => {
                let n = a.shape.len();
                let st = contiguous_strides(&a.shape);
                p.red_shape = [1; 4];
                for d in 0..n {
                    let k = 4 - n + d;
                    if axes.contains(&d) {
                        p.red_shape[k] = a.shape[d];
                        p.red_strides[k] = st[d];
                    } else {
                        p.a_strides[k] = st[d];
                    }
                }
            }
            FloatFn::Softmax | FloatFn::TopK { .. } => {
                p.depth = *a.shape.last().unwrap_or(&1);
                p.rows = a.len() / p.depth.max(1);
                if let FloatFn::TopK { k, .. } = f {
                    p.k = k;
                }
            }
            FloatFn::Concat { axis } => {
                p.outer = out.shape[..*axis].iter().product();
                inners = inputs.iter().map(|&t| g.tensors[t].shape[*axis..].iter().product()).collect();
            }
            FloatFn::MatMul => {
                let w = &g.tensors[inputs[1]].shape;
                (p.k, p.depth) = (w[0], w[1]);
                p.rows = a.len() / p.depth.max(1);
            }
            FloatFn::Strided { offset, strides } => {
                p.offset = *offset;
                let n = strides.len();
                for (d, &s) in strides.iter().enumerate() {
                    p.strides[4 - n + d] = s;
                }
            }
        }
        Float { f, p, inners }
    }

    /// The kernel's parameters, borrowing the op's chunk sizes.
    pub fn kernel(&self) -> k::FloatOp<'_> {
        k::FloatOp { inners: &self.inners, ..self.p }
    }

    /// The C kernel's kind and function constants.
    fn c_kind(&self) -> (&'static str, String) {
        let upper = |k: Kind| format!("{k:?}").to_uppercase();
        match &self.f {
            FloatFn::Unary(k) => ("HYB_FK_UNARY", format!("HYB_F_{}", upper(*k))),
            FloatFn::Binary(k) => ("HYB_FK_BINARY", format!("HYB_F_{}", upper(*k))),
            FloatFn::Reduce { kind, .. } => ("HYB_FK_REDUCE", format!("HYB_F_R{}", upper(*kind).trim_start_matches("REDUCE"))),
            FloatFn::Softmax => ("HYB_FK_SOFTMAX", "0".into()),
            FloatFn::TopK { .. } => ("HYB_FK_TOPK", "0".into()),
            FloatFn::Concat { .. } => ("HYB_FK_CONCAT", "0".into()),
            FloatFn::Strided { .. } => ("HYB_FK_STRIDED", "0".into()),
            FloatFn::MatMul => ("HYB_FK_MATMUL", "0".into()),
        }
    }
}

impl OpKind for Float {
    fn name(&self) -> &'static str {
        match self.f {
            FloatFn::Unary(_) => "Unary (float)",
            FloatFn::Binary(_) => "Binary (float)",
            FloatFn::Reduce { .. } => "Reduce (float)",
            FloatFn::Softmax => "Softmax (float)",
            FloatFn::TopK { .. } => "TopK (float)",
            FloatFn::Concat { .. } => "Concat (float)",
            FloatFn::Strided { .. } => "Slice (float)",
            FloatFn::MatMul => "FullyConnected (float)",
        }
    }

    fn macs(&self, _g: &super::Graph, _op: &super::Op) -> u64 {
        match self.f {
            FloatFn::MatMul => (self.p.rows * self.p.depth * self.p.k) as u64,
            _ => 0,
        }
    }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        let srcs: Vec<k::Src> = at.inputs.iter().map(|&i| k::Src::Arena(i)).collect();
        k::float_op(&self.kernel(), arena, &srcs, at.output);
    }

    fn c(&self, s: &CSite) -> CCode {
        let (p, l) = (&self.p, &s.l);
        let (kind, func) = self.c_kind();
        let largest = matches!(self.f, FloatFn::TopK { largest: true, .. });
        let mut data = String::new();
        if !self.inners.is_empty() {
            data += &format!("static const int32_t {l}_inners[{}] = {{ {} }};\n", self.inners.len(), emit::join(&self.inners));
        }
        data += &format!(
            "static const hyb_float_params {l}_params = {{\n    .kind = {kind}, .fn = {func}, .out_shape = {{{}}}, .a_strides = {{{}}}, .b_strides = {{{}}},\n    .red_shape = {{{}}}, .red_strides = {{{}}}, .offset = {}, .strides = {{{}}},\n    .rows = {}, .depth = {}, .k = {}, .largest = {}, .outer = {}, .num_inputs = {}, .inners = {},\n}};\n",
            emit::join(&p.out_shape), emit::join(&p.a_strides), emit::join(&p.b_strides), emit::join(&p.red_shape), emit::join(&p.red_strides), p.offset,
            emit::join(&p.strides), p.rows, p.depth, p.k, largest as i32, p.outer, self.inners.len(),
            if self.inners.is_empty() { "0".to_string() } else { format!("{l}_inners") }
        );
        let ptrs: Vec<String> = s.inputs.iter().map(|i| format!("(const float *)({i})")).collect();
        CCode { data, call: format!("{{ const float *const in[] = {{ {} }}; hyb_float_op(&{l}_params, in, {}); }}", ptrs.join(", "), s.output) }
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        let srcs = s.op.inputs.clone().into_iter().map(|t| s.operand(t, DType::F32)).collect::<Result<Vec<_>>>()?;
        let p = &self.p;
        let inners = if self.inners.is_empty() { "&[]".to_string() } else { format!("&{:?}", self.inners) };
        let consts = format!(
            "const {}: FloatOp = FloatOp {{ kind: Kind::{:?}, out_shape: {:?}, a_strides: {:?}, b_strides: {:?}, red_shape: {:?}, red_strides: {:?}, offset: {}, strides: {:?}, rows: {}, depth: {}, k: {}, outer: {}, inners: {inners} }};\n",
            s.l, p.kind, p.out_shape, p.a_strides, p.b_strides, p.red_shape, p.red_strides, p.offset, p.strides, p.rows, p.depth, p.k, p.outer
        );
        Ok(RustCode {
            consts,
            call: format!("float_op(&{}, arena, &[{}], {});", s.l, srcs.join(", "), s.output()?),
            uses: vec!["float::float_op".into(), "float::FloatOp".into(), "float::Kind".into(), "float::Src".into()],
        })
    }
}
