//! Import of int8 QDQ graphs: QuantizeLinear/DequantizeLinear pairs around
//! float ops become int8 IR ops that keep the graph's scales.
//!
//! Each ONNX value is tracked as one of [`Val`]; a float op on dequantized
//! inputs stays pending until the QuantizeLinear that fixes its output scale,
//! folding Relu/Clip and a bias Add on the way, as TFLite's fused ops do.

use std::collections::{HashMap, HashSet};

use anyhow::{anyhow, bail, Result};
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;

use super::constant::{ConstQuant, Constant, Data};
use super::layout::{identity, reshaped, same_order, storage_shape, transposed, NCHW_AS_NHWC};
use crate::ir::{Activation, DType, Graph, Op, QParams, Tensor, TensorId};
use crate::ops::{self, Built, Pending};

/// An int8 activation seen through a layout.
#[derive(Debug, Clone)]
pub struct Act8 {
    pub id: TensorId,
    pub logical: Vec<usize>,
    pub perm: Vec<usize>,
    pub q: QParams,
}

#[derive(Debug, Clone)]
pub enum Val {
    /// An int8 tensor (graph input, QuantizeLinear output, or a view).
    Int8(Act8),
    /// DequantizeLinear of an int8 tensor: its float meaning.
    Deq(Act8),
    Const(Constant),
    /// A float op awaiting its QuantizeLinear.
    Pending { node: String, op: Box<dyn Pending>, logical: Vec<usize>, act: Activation },
    /// A float32 graph input.
    Float { id: TensorId, logical: Vec<usize> },
}

/// Window attributes of Conv and the pools.
#[derive(Debug, Clone, Default)]
pub struct ConvAttrs {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// top, left, bottom, right
    pub pads: [usize; 4],
    pub group: usize,
}

/// The QDQ importer's state: the graph so far, what each ONNX value is,
/// and the node being imported. Op modules import their nodes through it.
pub struct Importer<'a> {
    pub g: Graph,
    pub vals: HashMap<String, Val>,
    pub node: &'a pb::NodeProto,
    /// QuantizeLinear outputs of 4-D float graph inputs (NCHW, as PyTorch
    /// exports them) stored NHWC: the quantization moves the data.
    pub nhwc_inputs: HashSet<String>,
}

pub fn node_label(n: &pb::NodeProto) -> String {
    if n.name.is_empty() {
        n.output.first().cloned().unwrap_or_default()
    } else {
        n.name.clone()
    }
}

pub fn import(graph: &pb::GraphProto) -> Result<Graph> {
    let mut vals = HashMap::new();
    for init in &graph.initializer {
        vals.insert(init.name.clone(), Val::Const(Constant::from_proto(init)?));
    }
    let dummy = pb::NodeProto::default();
    let nhwc_inputs = nhwc_inputs(graph);
    let mut imp = Importer { g: Graph::default(), vals, node: &dummy, nhwc_inputs };
    for input in &graph.input {
        if imp.vals.contains_key(&input.name) {
            continue; // an initializer listed as input (old exporters)
        }
        imp.add_input(input)?;
    }
    for node in &graph.node {
        imp.node = node;
        imp.visit(node).map_err(|e| anyhow!("node '{}' ({}): {e}", node_label(node), node.op_type))?;
    }
    for out in &graph.output {
        let id = imp.output_tensor(&out.name)?;
        imp.g.outputs.push(id);
    }
    Ok(imp.g)
}

/// Ops that read a tensor in ONNX (logical) order: a graph input read by
/// them keeps its order (e.g. tf2onnx's NHWC input and its Transpose).
const LOGICAL_ORDER_READERS: &[&str] = &["Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "MatMul", "Gemm"];

/// The QuantizeLinear outputs of 4-D float graph inputs that feed
/// feature-map ops (Conv, pools...) through their DequantizeLinear: NCHW
/// inputs whose int8 copy is best stored NHWC.
fn nhwc_inputs(graph: &pb::GraphProto) -> HashSet<String> {
    let readers = |v: &str| crate::quant::ptq::proto::consumers(graph, v);
    let mut out = HashSet::new();
    for input in &graph.input {
        let four_d = matches!(input.r#type.as_ref().and_then(|t| t.value.as_ref()),
            Some(pb::type_proto::Value::TensorType(t)) if t.elem_type == 1 && t.shape.as_ref().is_some_and(|s| s.dim.len() == 4));
        if !four_d {
            continue;
        }
        for q in readers(&input.name).into_iter().filter(|n| n.op_type == "QuantizeLinear" && n.input[0] == input.name) {
            let Some(qout) = q.output.first() else { continue };
            let deqs = readers(qout);
            let ops: Vec<&str> = deqs
                .iter()
                .filter(|d| d.op_type == "DequantizeLinear")
                .flat_map(|d| d.output.first().map(|o| readers(o)).unwrap_or_default())
                .map(|n| n.op_type.as_str())
                .collect();
            let all_dq = deqs.iter().all(|d| d.op_type == "DequantizeLinear");
            if all_dq && !ops.is_empty() && !ops.iter().any(|o| LOGICAL_ORDER_READERS.contains(o)) {
                out.insert(qout.clone());
            }
        }
    }
    out
}

impl<'a> Importer<'a> {
    fn add_input(&mut self, input: &pb::ValueInfoProto) -> Result<()> {
        let name = &input.name;
        let tt = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(pb::type_proto::Value::TensorType(t)) => t,
            _ => bail!("graph input '{name}' is not a tensor"),
        };
        let shape_proto = tt.shape.as_ref().ok_or_else(|| {
            anyhow!("graph input '{name}' has no shape; export the model with a fixed input shape")
        })?;
        let mut shape = vec![];
        for (i, d) in shape_proto.dim.iter().enumerate() {
            match &d.value {
                Some(Dim::DimValue(v)) if *v > 0 => shape.push(*v as usize),
                Some(Dim::DimParam(p)) => bail!(
                    "graph input '{name}' has a dynamic dimension '{p}' (axis {i}); hybridc compiles static shapes: export the model with a fixed shape (batch 1)"
                ),
                _ => bail!(
                    "graph input '{name}' has an unknown or dynamic dimension at axis {i}; hybridc compiles static shapes: export the model with a fixed shape (batch 1)"
                ),
            }
        }
        // elem_type 1 = FLOAT, 3 = INT8 in onnx.proto
        if tt.elem_type == 1 {
            let id = self.g.add_tensor(Tensor {
                name: name.clone(),
                shape: shape.clone(),
                onnx_shape: shape.clone(),
                dtype: DType::F32,
                quant: None,
                alias_of: None,
                data: None,
                layout: None,
            });
            self.g.inputs.push(id);
            self.vals.insert(name.clone(), Val::Float { id, logical: shape });
            return Ok(());
        }
        if tt.elem_type != 3 {
            bail!("graph input '{name}' has ONNX element type {}; hybridc takes float32 or int8 inputs", tt.elem_type);
        }
        let rank = shape.len();
        // The input's quantization comes from the DequantizeLinear that reads it.
        let id = self.g.add_tensor(Tensor {
            name: name.clone(),
            shape: shape.clone(),
            onnx_shape: shape.clone(),
            dtype: DType::I8,
            quant: None,
            alias_of: None,
            data: None,
            layout: None,
        });
        self.g.inputs.push(id);
        let act = Act8 { id, logical: shape, perm: identity(rank), q: QParams { scale: 0.0, zero_point: 0 } };
        self.vals.insert(name.clone(), Val::Int8(act));
        Ok(())
    }

    pub fn input(&self, i: usize) -> Result<&Val> {
        let name = self.node.input.get(i).filter(|n| !n.is_empty()).ok_or_else(|| anyhow!("missing input {i}"))?;
        self.vals.get(name).ok_or_else(|| anyhow!("input '{name}' is not produced by any earlier node"))
    }

    pub fn opt_input(&self, i: usize) -> Result<Option<&Val>> {
        match self.node.input.get(i) {
            Some(n) if !n.is_empty() => self.input(i).map(Some),
            _ => Ok(None),
        }
    }

    pub fn constant(&self, i: usize) -> Result<Constant> {
        match self.input(i)? {
            Val::Const(c) => Ok(c.clone()),
            _ => bail!("input {i} ('{}') must be a constant", self.node.input[i]),
        }
    }

    /// Input `i` as a dequantized int8 tensor.
    pub fn deq(&self, i: usize) -> Result<Act8> {
        match self.input(i)? {
            Val::Deq(a) => Ok(a.clone()),
            _ => bail!(
                "input '{}' is not a dequantized int8 tensor; hybridc imports int8 QDQ graphs (float graphs need --calib)",
                self.node.input[i]
            ),
        }
    }

    pub fn attr_i(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.node.get_attr_opt::<i64>(name).map_err(|e| anyhow!("{e}"))?)
    }

    pub fn attr_ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(self.node.get_attr_opt_vec::<i64>(name).map_err(|e| anyhow!("{e}"))?)
    }

    pub fn attr_f(&self, name: &str) -> Result<Option<f32>> {
        Ok(self.node.get_attr_opt::<f32>(name).map_err(|e| anyhow!("{e}"))?)
    }

    pub fn set(&mut self, v: Val) {
        if let Some(out) = self.node.output.first() {
            self.vals.insert(out.clone(), v);
        }
    }

    fn visit(&mut self, n: &pb::NodeProto) -> Result<()> {
        if !n.domain.is_empty() && n.domain != "ai.onnx" {
            bail!("operator domain '{}' is not supported", n.domain);
        }
        if self.takes_float_path(n) {
            return self.float_op();
        }
        match n.op_type.as_str() {
            "QuantizeLinear" => self.quantize_linear(),
            "DequantizeLinear" => self.dequantize_linear(),
            "Relu" => self.activation(Activation::Relu),
            "Clip" => self.clip(),
            "Transpose" => self.transpose(),
            "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => self.reshape(),
            "Identity" | "Dropout" => {
                let v = self.input(0)?.clone();
                self.set(v);
                Ok(())
            }
            "Constant" => {
                let t = n
                    .attribute
                    .iter()
                    .find(|a| a.name == "value")
                    .and_then(|a| a.t.as_ref())
                    .ok_or_else(|| anyhow!("Constant without a tensor 'value'"))?;
                self.set(Val::Const(Constant::from_proto(t)?));
                Ok(())
            }
            other => match ops::onnx_op(other) {
                Some(o) => (o.import)(self),
                None => Err(ops::unsupported(other)),
            },
        }
    }

    fn qparams(&self) -> Result<(Vec<f32>, Vec<i32>)> {
        let scale = self.constant(1)?;
        let scales = scale.as_f32().ok_or_else(|| anyhow!("scale must be float32"))?;
        let zps = match self.opt_input(2)? {
            Some(Val::Const(z)) => {
                if let Data::F32(_) = z.data {
                    bail!("zero point must be an integer tensor");
                }
                if let Data::I64(_) = z.data {
                    bail!("zero point must be int8 or int32");
                }
                z.as_i64().unwrap().iter().map(|&v| v as i32).collect()
            }
            Some(_) => bail!("zero point must be a constant"),
            None => vec![0; scales.len()],
        };
        if scales.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            bail!("scales must be positive and finite");
        }
        Ok((scales, zps))
    }

    fn quantize_linear(&mut self) -> Result<()> {
        let (scales, zps) = self.qparams()?;
        if let Some(Val::Const(z)) = self.opt_input(2)? {
            if !matches!(z.data, Data::I8(_)) {
                bail!("only int8 QuantizeLinear outputs are supported (uint8 is not TFLite's int8 spec)");
            }
        }
        if scales.len() != 1 {
            bail!("activations must be quantized per tensor");
        }
        let q = QParams { scale: scales[0], zero_point: zps[0] };
        let out_name = self.node.output[0].clone();
        match self.input(0)?.clone() {
            Val::Pending { node, op, logical, act } => {
                let a = self.emit(&node, op, &logical, act, q, &out_name)?;
                self.set(Val::Int8(a));
            }
            Val::Deq(a) if a.q == q => self.set(Val::Int8(a)),
            Val::Float { id, logical } => {
                let perm = if self.nhwc_inputs.contains(&out_name) { NCHW_AS_NHWC.to_vec() } else { identity(logical.len()) };
                let kind = ops::quantize::Quantize::permuted(true, &self.g.tensors[id].shape, &perm, q)
                    .ok_or_else(|| anyhow!("quantizing a {}-D input {logical:?} is not supported", logical.len()))?;
                let a = self.new_act(&out_name, &logical, perm, q);
                let node = node_label(self.node);
                self.g.ops.push(Op { name: node, kind: Box::new(kind), inputs: vec![id], output: a.id });
                self.set(Val::Int8(a));
            }
            Val::Deq(_) => bail!("requantizing a tensor to new parameters is not supported"),
            _ => bail!("input '{}' is not a float result of a supported op", self.node.input[0]),
        }
        Ok(())
    }

    fn dequantize_linear(&mut self) -> Result<()> {
        let (scales, zps) = self.qparams()?;
        match self.input(0)?.clone() {
            Val::Int8(mut a) => {
                if scales.len() != 1 {
                    bail!("activations must be quantized per tensor");
                }
                let q = QParams { scale: scales[0], zero_point: zps[0] };
                let base = self.g.base(a.id);
                let t = &mut self.g.tensors[base];
                match t.quant {
                    None => t.quant = Some(q), // a graph input learns its scale here
                    Some(existing) if existing != q => bail!("int8 tensor read with two different scales"),
                    _ => {}
                }
                a.q = q;
                self.set(Val::Deq(a));
            }
            Val::Const(mut c) => {
                let axis = self.attr_i("axis")?.unwrap_or(1);
                let axis = if axis < 0 { axis + c.shape.len() as i64 } else { axis } as usize;
                c.quant = Some(ConstQuant { scales, zero_points: zps, axis });
                self.set(Val::Const(c));
            }
            _ => bail!("input '{}' is not an int8 tensor or constant", self.node.input[0]),
        }
        Ok(())
    }

    pub fn conv_attrs(&self, in_hw: [usize; 2], kernel_default: Option<[usize; 2]>) -> Result<ConvAttrs> {
        let two = |name: &str, def: usize| -> Result<[usize; 2]> {
            match self.attr_ints(name)? {
                Some(v) if v.len() == 2 && v.iter().all(|&x| x > 0) => Ok([v[0] as usize, v[1] as usize]),
                Some(v) => bail!("attribute {name}={v:?} is not supported (2-D ops only)"),
                None => Ok([def, def]),
            }
        };
        let kernel = match (self.attr_ints("kernel_shape")?, kernel_default) {
            (Some(v), _) if v.len() == 2 => [v[0] as usize, v[1] as usize],
            (None, Some(k)) => k,
            (v, _) => bail!("kernel_shape {v:?} is not a 2-D kernel"),
        };
        let stride = two("strides", 1)?;
        let dilation = two("dilations", 1)?;
        let auto_pad = self
            .node
            .attribute
            .iter()
            .find(|a| a.name == "auto_pad")
            .map(|a| String::from_utf8_lossy(&a.s).to_string())
            .unwrap_or_default();
        let pads = match auto_pad.as_str() {
            "" | "NOTSET" => match self.attr_ints("pads")? {
                Some(p) if p.len() == 4 && p.iter().all(|&x| x >= 0) => {
                    [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize]
                }
                Some(p) => bail!("pads {p:?} not supported"),
                None => [0; 4],
            },
            "VALID" => [0; 4],
            "SAME_UPPER" | "SAME_LOWER" => {
                let mut pads = [0; 4];
                for i in 0..2 {
                    let out = in_hw[i].div_ceil(stride[i]);
                    let eff = (kernel[i] - 1) * dilation[i] + 1;
                    let total = ((out - 1) * stride[i] + eff).saturating_sub(in_hw[i]);
                    let (small, big) = (total / 2, total - total / 2);
                    let (before, after) = if auto_pad == "SAME_UPPER" { (small, big) } else { (big, small) };
                    pads[i] = before;
                    pads[i + 2] = after;
                }
                pads
            }
            other => bail!("auto_pad={other} not supported"),
        };
        let group = self.attr_i("group")?.unwrap_or(1).max(1) as usize;
        Ok(ConvAttrs { kernel, stride, dilation, pads, group })
    }

    /// Makes the node's output a float op awaiting its QuantizeLinear.
    pub fn pending(&mut self, op: Box<dyn Pending>, logical: Vec<usize>) {
        let node = node_label(self.node);
        self.set(Val::Pending { node, op, logical, act: Activation::None });
    }

    fn activation(&mut self, new: Activation) -> Result<()> {
        match self.input(0)?.clone() {
            Val::Pending { node, op, logical, act } => {
                let merged = match (act, new) {
                    (Activation::None, n) => n,
                    (a, Activation::Relu) if a != Activation::None => a,
                    _ => bail!("two different activations in a row are not supported"),
                };
                self.set(Val::Pending { node, op, logical, act: merged });
                Ok(())
            }
            Val::Deq(x) => {
                // A standalone activation is a table lookup.
                let (lo, hi) = new.range();
                let f = ops::lut::Function::Clip(lo.unwrap_or(f32::NEG_INFINITY), hi.unwrap_or(f32::INFINITY));
                let logical = x.logical.clone();
                self.pending(Box::new(ops::lut::PendingLut { x, f }), logical);
                Ok(())
            }
            _ => bail!("{:?} must read a dequantized int8 tensor or follow a fusable op", new),
        }
    }

    fn clip(&mut self) -> Result<()> {
        let bound = |i: usize, attr: &str| -> Result<Option<f32>> {
            match self.opt_input(i)? {
                Some(Val::Const(c)) => Ok(c.scalar_f32()),
                Some(_) => bail!("Clip bounds must be constants"),
                None => self.attr_f(attr),
            }
        };
        let act = match (bound(1, "min")?, bound(2, "max")?) {
            (Some(lo), Some(hi)) if lo == 0.0 && hi == 6.0 => Activation::Relu6,
            (Some(lo), None) if lo == 0.0 => Activation::Relu,
            (Some(lo), Some(hi)) => Activation::Clip { min: lo, max: hi },
            (lo, hi) => Activation::Clip { min: lo.unwrap_or(f32::MIN), max: hi.unwrap_or(f32::MAX) },
        };
        self.activation(act)
    }

    /// An operand of an element-wise op: a dequantized tensor or an int8 constant.
    pub fn operand(&mut self, i: usize) -> Result<Act8> {
        match self.input(i)?.clone() {
            Val::Deq(a) => Ok(a),
            Val::Const(c) => {
                let (Some(q), Data::I8(v)) = (&c.quant, &c.data) else {
                    bail!("constant operand '{}' must be int8 behind a DequantizeLinear", self.node.input[i]);
                };
                if q.scales.len() != 1 {
                    bail!("constant operand '{}' must be quantized per tensor", self.node.input[i]);
                }
                let qp = QParams { scale: q.scales[0], zero_point: q.zero_points[0] };
                let id = self.g.add_tensor(Tensor {
                    name: self.node.input[i].clone(),
                    shape: c.shape.clone(),
                    onnx_shape: c.shape.clone(),
                    dtype: DType::I8,
                    quant: Some(qp),
                    alias_of: None,
                    data: Some(v.iter().map(|&b| b as u8).collect()),
                    layout: None,
                });
                Ok(Act8 { id, logical: c.shape.clone(), perm: identity(c.shape.len()), q: qp })
            }
            _ => bail!("input '{}' is not a dequantized int8 tensor or constant", self.node.input[i]),
        }
    }

    fn transpose(&mut self) -> Result<()> {
        let (a, is_int8) = match self.input(0)?.clone() {
            Val::Int8(a) => (a, true),
            Val::Deq(a) => (a, false),
            _ => bail!("Transpose is supported on int8 tensors only"),
        };
        let rank = a.logical.len();
        let t: Vec<usize> = match self.attr_ints("perm")? {
            Some(p) => p.iter().map(|&x| x as usize).collect(),
            None => (0..rank).rev().collect(),
        };
        if t.len() != rank {
            bail!("perm {t:?} does not match rank {rank}");
        }
        let logical = t.iter().map(|&d| a.logical[d]).collect();
        let perm = transposed(&a.perm, &t);
        let v = Act8 { logical, perm, ..a };
        self.set(if is_int8 { Val::Int8(v) } else { Val::Deq(v) });
        Ok(())
    }

    fn reshape(&mut self) -> Result<()> {
        let (a, is_int8) = match self.input(0)?.clone() {
            Val::Int8(a) => (a, true),
            Val::Deq(a) => (a, false),
            Val::Float { id, logical } => {
                let q = QParams { scale: 1.0, zero_point: 0 };
                (Act8 { id, perm: identity(logical.len()), logical, q }, false)
            }
            _ => bail!("{} is supported on tensors, not on this constant or pending value", self.node.op_type),
        };
        let float_id = match self.input(0)? {
            Val::Float { id, .. } => Some(*id),
            _ => None,
        };
        let total: usize = a.logical.iter().product();
        let rank = a.logical.len();
        let shape: Vec<usize> = match self.node.op_type.as_str() {
            "Reshape" => {
                let spec = self.constant(1)?.as_i64().ok_or_else(|| anyhow!("shape must be int64"))?;
                let mut out: Vec<i64> = spec
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| if d == 0 { a.logical.get(i).copied().unwrap_or(0) as i64 } else { d })
                    .collect();
                // The spec is the user's: checked products, no negative dims but -1.
                if out.iter().any(|&d| d < -1) || out.iter().filter(|&&d| d == -1).count() > 1 {
                    bail!("cannot reshape {:?} to {}", a.logical, shown(&spec));
                }
                if let Some(pos) = out.iter().position(|&d| d == -1) {
                    let known = out.iter().filter(|&&d| d != -1).try_fold(1i64, |p, &d| p.checked_mul(d));
                    match known {
                        Some(k) if k != 0 && total as i64 % k == 0 => out[pos] = total as i64 / k,
                        _ => bail!("cannot reshape {:?} to {}", a.logical, shown(&spec)),
                    }
                }
                out.iter().map(|&d| d as usize).collect()
            }
            "Flatten" => {
                let axis = self.attr_i("axis")?.unwrap_or(1);
                let axis = if axis < 0 { axis + rank as i64 } else { axis } as usize;
                let outer: usize = a.logical[..axis].iter().product();
                vec![outer, total / outer.max(1)]
            }
            "Squeeze" => {
                let axes = self.squeeze_axes(rank)?;
                a.logical.iter().enumerate().filter(|(i, &d)| !(d == 1 && axes.as_ref().is_none_or(|ax| ax.contains(i)))).map(|(_, &d)| d).collect()
            }
            _ => {
                let axes = self.squeeze_axes(rank)?.ok_or_else(|| anyhow!("Unsqueeze needs axes"))?;
                let mut out = a.logical.clone();
                let mut sorted = axes;
                sorted.sort();
                for ax in sorted {
                    out.insert(ax.min(out.len()), 1);
                }
                out
            }
        };
        if shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d)) != Some(total) {
            bail!("cannot reshape {:?} to {shape:?}", a.logical);
        }
        if let Some(id) = float_id {
            let v = self.view(id, shape.clone(), &shape);
            self.set(Val::Float { id: v, logical: shape });
            return Ok(());
        }
        // A view when the dims it merges are stored together in ONNX order;
        // else one transpose first (e.g. the merge after a channel shuffle).
        let (need, perm) = reshaped(&a.logical, &a.perm, &shape);
        let a = if same_order(&a.logical, &a.perm, &need) { a } else { self.relayout(&a, &need)? };
        let v = Act8 { perm, logical: shape, ..a };
        self.set(if is_int8 { Val::Int8(v) } else { Val::Deq(v) });
        Ok(())
    }

    fn squeeze_axes(&self, rank: usize) -> Result<Option<Vec<usize>>> {
        let raw = match self.opt_input(1)? {
            Some(Val::Const(c)) => c.as_i64(),
            Some(_) => bail!("axes must be constant"),
            None => self.attr_ints("axes")?,
        };
        Ok(raw.map(|v| v.iter().map(|&a| if a < 0 { (a + rank as i64 + 1) as usize } else { a as usize }).collect()))
    }

    /// A copy of `a` stored in ONNX order (e.g. NHWC feature map -> NCHW before a Flatten).
    pub fn to_logical_order(&mut self, a: &Act8) -> Result<Act8> {
        self.relayout(a, &identity(a.logical.len()))
    }

    /// A copy of `a` whose storage dim i is logical dim perm[i]: the int8
    /// Transpose op, moving the bytes.
    pub fn relayout(&mut self, a: &Act8, perm: &[usize]) -> Result<Act8> {
        let src_shape = storage_shape(&a.logical, &a.perm);
        let src = self.view(a.id, src_shape.clone(), &a.logical);
        // Output storage dim i is logical dim perm[i], i.e. source storage dim t[i].
        let t: Vec<usize> = perm.iter().map(|&d| a.perm.iter().position(|&x| x == d).unwrap_or(d)).collect();
        let kind = ops::transpose::Transpose::new(&src_shape, &t).ok_or_else(|| {
            anyhow!("a data transpose of {:?} by {t:?} would need more than 4 dims (other than 1); not supported", src_shape)
        })?;
        let base = &self.g.tensors[self.g.base(a.id)].name;
        let name = if perm == identity(perm.len()).as_slice() { format!("{base}#onnx_order") } else { format!("{base}#layout{}", perm.iter().map(|d| d.to_string()).collect::<String>()) };
        let out = self.new_act(&name, &a.logical, perm.to_vec(), a.q);
        let node = node_label(self.node);
        self.g.ops.push(Op { name: node, kind: Box::new(kind), inputs: vec![src], output: out.id });
        Ok(out)
    }

    /// An IR tensor holding `a` in the storage shape an op expects (a view,
    /// or a transposed copy when the bytes must move).
    pub fn storage(&mut self, a: &Act8, perm: &[usize], what: &str) -> Result<TensorId> {
        let a = if same_order(&a.logical, &a.perm, perm) { a.clone() } else { self.relayout(a, perm).map_err(|e| anyhow!("{what}: {e}"))? };
        let shape = storage_shape(&a.logical, perm);
        Ok(self.view(a.id, shape, &a.logical))
    }

    /// An element-wise operand in the storage order `perm` of the output
    /// (rank `out.len()`): lower-rank operands are right-aligned; constants
    /// are re-laid-out at compile time.
    pub fn broadcast_operand(&mut self, a: &Act8, out: &[usize], perm: &[usize]) -> Result<TensorId> {
        let n = out.len();
        let mut logical = vec![1; n - a.logical.len().min(n)];
        logical.extend_from_slice(&a.logical);
        let shape = storage_shape(&logical, perm);
        if let Some(data) = self.g.tensors[a.id].data.clone() {
            // Permute the constant's bytes into storage order.
            let mut strides = vec![0; n];
            let mut acc = 1;
            for d in (0..n).rev() {
                strides[d] = acc;
                acc *= logical[d];
            }
            let total: usize = logical.iter().product();
            let mut out_data = vec![0u8; total];
            for (k, o) in out_data.iter_mut().enumerate() {
                let (mut rem, mut src) = (k, 0);
                for i in (0..n).rev() {
                    let idx = rem % shape[i];
                    rem /= shape[i];
                    src += idx * strides[perm[i]];
                }
                *o = data[src];
            }
            let t = &mut self.g.tensors[a.id];
            t.shape = shape;
            t.data = Some(out_data);
            return Ok(a.id);
        }
        let a = if a.logical.len() == n {
            a.clone()
        } else {
            // Right-aligned: the padded tensor is the operand in ONNX order.
            let rank = a.logical.len();
            let a = if same_order(&a.logical, &a.perm, &identity(rank)) { a.clone() } else { self.to_logical_order(a)? };
            Act8 { logical: logical.clone(), perm: identity(n), ..a }
        };
        self.storage(&a, perm, "element-wise operand")
    }

    /// `id` itself if it has that shape, else a view of it with that shape.
    pub fn view(&mut self, id: TensorId, shape: Vec<usize>, logical: &[usize]) -> TensorId {
        if self.g.tensors[id].shape == shape {
            return id;
        }
        let base = self.g.base(id);
        if let Some(existing) = (0..self.g.tensors.len())
            .find(|&t| self.g.tensors[t].alias_of == Some(base) && self.g.tensors[t].shape == shape)
        {
            return existing;
        }
        let t = &self.g.tensors[base];
        let name = format!("{}#view{}", t.name, self.g.tensors.len());
        let view = Tensor { name, shape, onnx_shape: logical.to_vec(), alias_of: Some(base), ..t.clone() };
        self.g.add_tensor(view)
    }

    pub fn new_act(&mut self, name: &str, logical: &[usize], perm: Vec<usize>, q: QParams) -> Act8 {
        let id = self.g.add_tensor(Tensor {
            name: name.to_string(),
            shape: storage_shape(logical, &perm),
            onnx_shape: logical.to_vec(),
            dtype: DType::I8,
            quant: Some(q),
            alias_of: None,
            data: None,
            layout: Some(perm.clone()),
        });
        Act8 { id, logical: logical.to_vec(), perm, q }
    }

    /// Turns a pending float op into an int8 IR op whose output has `q`.
    fn emit(&mut self, node: &str, op: Box<dyn Pending>, logical: &[usize], act: Activation, q: QParams, out: &str) -> Result<Act8> {
        let Built { kind, inputs, perm } = op.finish(self, logical, act, q)?;
        let a = self.new_act(out, logical, perm, q);
        self.g.ops.push(Op { name: node.to_string(), kind, inputs, output: a.id });
        Ok(a)
    }

    /// A float32 tensor `out` in ONNX order holding `a`'s meaning: one
    /// Dequantize op (named `op`), which also reorders the data when `a` is
    /// stored otherwise (NHWC feature map -> NCHW).
    pub fn dequantized(&mut self, a: &Act8, out: &str, op: String) -> Result<TensorId> {
        let rank = a.logical.len();
        let src_shape = storage_shape(&a.logical, &a.perm);
        let xin = self.view(a.id, src_shape.clone(), &a.logical);
        // Output dim i is logical dim i, i.e. storage dim inv[i].
        let inv: Vec<usize> = (0..rank).map(|d| a.perm.iter().position(|&x| x == d).unwrap_or(d)).collect();
        let kind = ops::quantize::Quantize::permuted(false, &src_shape, &inv, a.q)
            .ok_or_else(|| anyhow!("'{out}': reordering {src_shape:?} to {:?} needs more than 4 dims", a.logical))?;
        let id = self.g.add_tensor(Tensor {
            name: out.to_string(),
            shape: a.logical.clone(),
            onnx_shape: a.logical.clone(),
            dtype: DType::F32,
            quant: None,
            alias_of: None,
            data: None,
            layout: None,
        });
        self.g.ops.push(Op { name: op, kind: Box::new(kind), inputs: vec![xin], output: id });
        Ok(id)
    }

    /// A graph output in the order the model declares (ONNX order): an
    /// int8 result stored otherwise is transposed, a dequantized one is
    /// reordered by the Dequantize itself.
    fn output_tensor(&mut self, name: &str) -> Result<TensorId> {
        match self.vals.get(name).cloned() {
            Some(Val::Int8(a)) => {
                let rank = a.logical.len();
                let a = if same_order(&a.logical, &a.perm, &identity(rank)) { a } else { self.to_logical_order(&a)? };
                let id = self.view(a.id, a.logical.clone(), &a.logical);
                if self.g.tensors[id].alias_of.is_some() {
                    self.g.tensors[id].name = name.to_string();
                }
                Ok(id)
            }
            Some(Val::Deq(a)) => self.dequantized(&a, name, name.to_string()),
            Some(Val::Float { id, .. }) => Ok(id),
            Some(_) => bail!("graph output '{name}' is neither an int8 tensor nor a dequantized one"),
            None => bail!("graph output '{name}' is not produced by any node"),
        }
    }
}

/// A shape spec for an error message: at most 8 values.
fn shown(spec: &[i64]) -> String {
    if spec.len() <= 8 {
        format!("{spec:?}")
    } else {
        format!("{:?}... ({} values)", &spec[..8], spec.len())
    }
}

/// Numpy-style broadcast of two logical shapes.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let get = |s: &[usize], i: usize| if i + s.len() >= n { s[i + s.len() - n] } else { 1 };
    (0..n)
        .map(|i| match (get(a, i), get(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            (x, y) => bail!("shapes {a:?} and {b:?} do not broadcast ({x} vs {y})"),
        })
        .collect()
}

pub fn out_dim(input: usize, k: usize, stride: usize, dilation: usize, pad: usize) -> Result<usize> {
    let eff = (k - 1) * dilation + 1;
    if input + pad < eff {
        bail!("kernel {k} (dilation {dilation}) is larger than the padded input {input}+{pad}");
    }
    Ok((input + pad - eff) / stride + 1)
}

