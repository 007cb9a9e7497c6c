//! Import of float32 ops: what has no int8 kernel (TopK, ReduceSum, Sub,
//! Slice, ...) and the light ops that read a float value (Softmax, Log, Add,
//! Concat, ...) run in float32 on the device; int8 inputs are dequantized
//! on the way in, and a QuantizeLinear after them converts back.

use anyhow::{anyhow, bail, Result};

use hybridc_kernels::float::Kind;

use super::{Float, FloatFn};
use crate::frontend::constant::Data;
use crate::frontend::{broadcast_shape, node_label, Importer, Val};
use crate::ir::{DType, Op, Tensor, TensorId};

/// Ops that only have a float kernel (the quantizer plans with these too).
pub const FLOAT_ONLY: &[&str] = &[
    "TopK", "ReduceSum", "ReduceMax", "ReduceMin", "Sub", "Div", "Max", "Min", "Reciprocal", "Gather", "Log",
];
/// A node's `doc_string` that makes it run in float32: the quantizer marks
/// the nodes it keeps in float with it.
pub const FLOAT_MARK: &str = "hybridc:float";
/// Ops with an int8 kernel that run in float when an input is float.
pub const FLOAT_TOO: &[&str] = &[
    "Softmax", "Add", "Mul", "Concat", "Relu", "Exp", "Sqrt", "Neg", "Abs", "Sigmoid", "Tanh", "Identity", "ReduceMean", "Slice",
];

fn unary(op: &str) -> Option<Kind> {
    Some(match op {
        "Exp" => Kind::Exp,
        "Log" => Kind::Log,
        "Sqrt" => Kind::Sqrt,
        "Neg" => Kind::Neg,
        "Abs" => Kind::Abs,
        "Sigmoid" => Kind::Sigmoid,
        "Tanh" => Kind::Tanh,
        "Relu" => Kind::Relu,
        "Reciprocal" => Kind::Reciprocal,
        _ => return None,
    })
}

fn binary(op: &str) -> Option<Kind> {
    Some(match op {
        "Add" => Kind::Add,
        "Sub" => Kind::Sub,
        "Mul" => Kind::Mul,
        "Div" => Kind::Div,
        "Max" => Kind::Max,
        "Min" => Kind::Min,
        _ => return None,
    })
}

/// The float path of the QDQ importer.
impl Importer<'_> {
    pub fn takes_float_path(&self, n: &tract_onnx::pb::NodeProto) -> bool {
        let op = n.op_type.as_str();
        if FLOAT_ONLY.contains(&op) || n.doc_string == FLOAT_MARK {
            return true;
        }
        if op == "ReduceMean" && !self.is_spatial_mean(n) {
            return true;
        }
        FLOAT_TOO.contains(&op) && n.input.iter().any(|i| matches!(self.vals.get(i), Some(Val::Float { .. })))
    }

    fn is_spatial_mean(&self, n: &tract_onnx::pb::NodeProto) -> bool {
        let axes = match n.input.get(1).and_then(|i| self.vals.get(i)) {
            Some(Val::Const(c)) => c.as_i64(),
            _ => n.get_attr_opt_vec::<i64>("axes").ok().flatten(),
        };
        let rank = match n.input.first().and_then(|i| self.vals.get(i)) {
            Some(Val::Deq(a)) => a.logical.len() as i64,
            _ => return false,
        };
        let mut axes: Vec<i64> = axes.unwrap_or_default().iter().map(|&a| if a < 0 { a + rank } else { a }).collect();
        axes.sort();
        rank == 4 && axes == [2, 3]
    }

    fn float_tensor(&mut self, name: &str, shape: &[usize], data: Option<Vec<u8>>) -> TensorId {
        self.g.add_tensor(Tensor {
            name: name.to_string(),
            shape: shape.to_vec(),
            onnx_shape: shape.to_vec(),
            dtype: DType::F32,
            quant: None,
            alias_of: None,
            data,
            layout: None,
        })
    }

    /// Input `i` as a float32 tensor in ONNX order, with its shape.
    fn float_input(&mut self, i: usize) -> Result<(TensorId, Vec<usize>)> {
        let name = self.node.input[i].clone();
        match self.input(i)?.clone() {
            Val::Float { id, logical } => Ok((id, logical)),
            Val::Deq(a) => {
                let op = format!("{}#dequantize", node_label(self.node));
                Ok((self.dequantized(&a, &format!("{name}#float"), op)?, a.logical))
            }
            Val::Const(c) => {
                let values: Vec<f32> = match (&c.data, &c.quant) {
                    (Data::F32(v), _) => v.clone(),
                    (Data::I8(v), Some(q)) => v.iter().map(|&x| (x as i32 - q.zero_points[0]) as f32 * q.scales[0]).collect(),
                    (Data::I64(v), _) => v.iter().map(|&x| x as f32).collect(),
                    (Data::I32(v), _) => v.iter().map(|&x| x as f32).collect(),
                    (Data::I8(v), None) => v.iter().map(|&x| x as f32).collect(),
                };
                let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                Ok((self.float_tensor(&name, &c.shape, Some(bytes)), c.shape.clone()))
            }
            _ => bail!("input '{name}' cannot be read as float32 here"),
        }
    }

    fn float_emit(&mut self, f: FloatFn, inputs: Vec<TensorId>, shape: &[usize]) -> TensorId {
        let out = self.float_tensor(&self.node.output[0].clone(), shape, None);
        let kind = Box::new(Float::new(f, &self.g, &inputs, out));
        self.g.ops.push(Op { name: node_label(self.node), kind, inputs, output: out });
        out
    }

    pub fn axis(&self, rank: usize, default: i64) -> Result<usize> {
        let a = self.attr_i("axis")?.unwrap_or(default);
        let a = if a < 0 { a + rank as i64 } else { a };
        if a < 0 || a as usize >= rank {
            bail!("axis {a} is out of range for rank {rank}");
        }
        Ok(a as usize)
    }

    /// A constant integer input or attribute list.
    pub fn ints(&self, input: usize, attr: &str) -> Result<Option<Vec<i64>>> {
        match self.opt_input(input)? {
            Some(Val::Const(c)) => Ok(c.as_i64()),
            Some(_) => bail!("input {input} must be constant"),
            None => self.attr_ints(attr),
        }
    }

    pub fn float_op(&mut self) -> Result<()> {
        let op = self.node.op_type.clone();
        let (x, xs) = self.float_input(0)?;
        let rank = xs.len();
        let (out, shape) = if let Some(u) = unary(&op) {
            (self.float_emit(FloatFn::Unary(u), vec![x], &xs), xs.clone())
        } else if op == "Identity" {
            (x, xs.clone())
        } else if let Some(b) = binary(&op) {
            let (y, ys) = self.float_input(1)?;
            let shape = broadcast_shape(&xs, &ys)?;
            let pad = |me: &mut Self, id: TensorId, s: &[usize]| {
                let mut p = vec![1; shape.len() - s.len()];
                p.extend_from_slice(s);
                me.view(id, p.clone(), &p)
            };
            let (xa, yb) = (pad(self, x, &xs), pad(self, y, &ys));
            (self.float_emit(FloatFn::Binary(b), vec![xa, yb], &shape), shape)
        } else {
            match op.as_str() {
                "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" => {
                    let kind = match op.as_str() {
                        "ReduceSum" => Kind::ReduceSum,
                        "ReduceMean" => Kind::ReduceMean,
                        "ReduceMax" => Kind::ReduceMax,
                        _ => Kind::ReduceMin,
                    };
                    let axes = self.ints(1, "axes")?.unwrap_or_else(|| (0..rank as i64).collect());
                    let axes: Vec<usize> = axes.iter().map(|&a| if a < 0 { (a + rank as i64) as usize } else { a as usize }).collect();
                    let kept: Vec<usize> = (0..rank).map(|d| if axes.contains(&d) { 1 } else { xs[d] }).collect();
                    let id = self.float_emit(FloatFn::Reduce { kind, axes: axes.clone() }, vec![x], &kept);
                    if self.attr_i("keepdims")?.unwrap_or(1) != 0 {
                        (id, kept)
                    } else {
                        let squeezed: Vec<usize> = (0..rank).filter(|d| !axes.contains(d)).map(|d| xs[d]).collect();
                        (self.view(id, squeezed.clone(), &squeezed), squeezed)
                    }
                }
                "Softmax" => {
                    if self.axis(rank, -1)? != rank - 1 {
                        bail!("Softmax is supported over the last axis only");
                    }
                    (self.float_emit(FloatFn::Softmax, vec![x], &xs), xs.clone())
                }
                "TopK" => {
                    if self.axis(rank, -1)? != rank - 1 {
                        bail!("TopK is supported along the last axis only");
                    }
                    let k = self.ints(1, "k")?.and_then(|v| v.first().copied()).ok_or_else(|| anyhow!("TopK needs a constant k"))?;
                    if k < 1 || k as usize > xs[rank - 1] || xs[rank - 1] > 256 {
                        bail!("TopK k={k} is not supported for {} values (1 <= k, at most 256 values)", xs[rank - 1]);
                    }
                    let largest = self.attr_i("largest")?.unwrap_or(1) != 0;
                    let mut shape = xs.clone();
                    shape[rank - 1] = k as usize;
                    (self.float_emit(FloatFn::TopK { k: k as usize, largest }, vec![x], &shape), shape)
                }
                "Concat" => {
                    let axis = self.axis(rank, 0)?;
                    let mut ids = vec![x];
                    let mut shape = xs.clone();
                    for i in 1..self.node.input.len() {
                        let (y, ys) = self.float_input(i)?;
                        if ys.len() != rank || (0..rank).any(|d| d != axis && ys[d] != xs[d]) {
                            bail!("Concat inputs {xs:?} and {ys:?} differ off the axis");
                        }
                        shape[axis] += ys[axis];
                        ids.push(y);
                    }
                    (self.float_emit(FloatFn::Concat { axis }, ids, &shape), shape)
                }
                "Slice" => self.slice(x, &xs)?,
                "Gemm" | "MatMul" => self.matmul(x, &xs)?,
                "Gather" => self.gather(x, &xs)?,
                other => bail!("operator {other} has no float32 kernel in hybridc"),
            }
        };
        if let Some(name) = self.node.output.first() {
            if self.g.tensors[out].alias_of.is_none() && self.g.tensors[out].name != *name && self.g.tensors[out].data.is_none() {
                // Keep ONNX names on float results (for --outputs and the report).
                self.g.tensors[out].name = name.clone();
            }
        }
        self.set(Val::Float { id: out, logical: shape });
        Ok(())
    }

    fn row_major(xs: &[usize]) -> Vec<isize> {
        let mut st = vec![1isize; xs.len()];
        for d in (0..xs.len().saturating_sub(1)).rev() {
            st[d] = st[d + 1] * xs[d + 1] as isize;
        }
        st
    }

    fn slice(&mut self, x: TensorId, xs: &[usize]) -> Result<(TensorId, Vec<usize>)> {
        let starts = self.ints(1, "starts")?.ok_or_else(|| anyhow!("Slice needs constant starts"))?;
        let ends = self.ints(2, "ends")?.ok_or_else(|| anyhow!("Slice needs constant ends"))?;
        let (axes, steps) = (self.ints(3, "axes")?, self.ints(4, "steps")?);
        let ranges = crate::ops::slice::slice_ranges(xs, &starts, &ends, axes.as_deref(), steps.as_deref())?;
        if xs.len() > 4 {
            bail!("Slice of a {}-D tensor is not supported", xs.len());
        }
        let st = Self::row_major(xs);
        let offset: isize = ranges.iter().zip(&st).map(|(r, &s)| r.start as isize * s).sum();
        let strides = ranges.iter().zip(&st).map(|(r, &s)| s * r.step as isize).collect();
        let shape: Vec<usize> = ranges.iter().map(|r| r.len).collect();
        Ok((self.float_emit(FloatFn::Strided { offset: offset as usize, strides }, vec![x], &shape), shape))
    }

    /// Gemm or MatMul with constant float weights, in float32 (a router
    /// layer int8 would lose too much in): weights laid out one row per
    /// output, alpha folded in, beta * C as the bias.
    fn matmul(&mut self, x: TensorId, xs: &[usize]) -> Result<(TensorId, Vec<usize>)> {
        let gemm = self.node.op_type == "Gemm";
        if gemm && self.attr_i("transA")?.unwrap_or(0) != 0 {
            bail!("Gemm with transA is not supported");
        }
        let w = self.constant(1)?;
        let wv = w.as_f32().ok_or_else(|| anyhow!("float32 weights are needed here"))?;
        let depth = *xs.last().ok_or_else(|| anyhow!("a scalar input"))?;
        let trans_b = gemm && self.attr_i("transB")?.unwrap_or(0) != 0;
        let (rows, cols) = match w.shape.as_slice() {
            [r, c] => (*r, *c),
            s => bail!("weights of shape {s:?} are not a matrix"),
        };
        let k = if trans_b { rows } else { cols };
        if (if trans_b { cols } else { rows }) != depth {
            bail!("weights {:?} do not match an input of depth {depth}", w.shape);
        }
        let alpha = if gemm { self.attr_f("alpha")?.unwrap_or(1.0) } else { 1.0 };
        let mut wt = vec![0f32; k * depth];
        for n in 0..k {
            for d in 0..depth {
                let v = if trans_b { wv[n * depth + d] } else { wv[d * k + n] };
                wt[n * depth + d] = if alpha == 1.0 { v } else { alpha * v };
            }
        }
        let mut bias = vec![0f32; k];
        if let Some(c) = if gemm { self.opt_input(2)?.cloned() } else { None } {
            let Val::Const(c) = c else { bail!("Gemm's C must be a constant here") };
            let cv = c.as_f32().ok_or_else(|| anyhow!("float32 bias is needed here"))?;
            let beta = self.attr_f("beta")?.unwrap_or(1.0);
            match cv.len() {
                1 => bias.iter_mut().for_each(|b| *b = beta * cv[0]),
                n if n == k => bias.iter_mut().zip(&cv).for_each(|(b, &c)| *b = beta * c),
                n => bail!("a Gemm bias of {n} values for {k} outputs is not supported"),
            }
        }
        let name = self.node.output[0].clone();
        let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let wid = self.float_tensor(&format!("{name}#w"), &[k, depth], Some(bytes(&wt)));
        let bid = self.float_tensor(&format!("{name}#b"), &[k], Some(bytes(&bias)));
        let mut shape = xs.to_vec();
        *shape.last_mut().unwrap() = k;
        Ok((self.float_emit(FloatFn::MatMul, vec![x, wid, bid], &shape), shape))
    }

    fn gather(&mut self, x: TensorId, xs: &[usize]) -> Result<(TensorId, Vec<usize>)> {
        let rank = xs.len();
        let axis = self.axis(rank, 0)?;
        let idx = self.ints(1, "indices")?.ok_or_else(|| anyhow!("Gather needs constant indices"))?;
        let scalar = match self.input(1)? {
            Val::Const(c) => c.shape.is_empty(),
            _ => false,
        };
        let st = Self::row_major(xs);
        let norm = |v: i64| if v < 0 { v + xs[axis] as i64 } else { v };
        let first = norm(idx[0]);
        let step = if idx.len() > 1 { norm(idx[1]) - first } else { 1 };
        if idx.iter().enumerate().any(|(k, &v)| norm(v) != first + k as i64 * step) || first < 0 || first >= xs[axis] as i64 {
            bail!("Gather is supported with constant, evenly spaced indices");
        }
        let mut shape = xs.to_vec();
        let mut strides = st.clone();
        shape[axis] = idx.len();
        strides[axis] = st[axis] * step as isize;
        if scalar {
            shape.remove(axis);
            strides.remove(axis);
        }
        if shape.len() > 4 {
            bail!("Gather on a {rank}-D tensor is not supported");
        }
        let offset = (first as isize * st[axis]) as usize;
        Ok((self.float_emit(FloatFn::Strided { offset, strides }, vec![x], &shape), shape))
    }
}
