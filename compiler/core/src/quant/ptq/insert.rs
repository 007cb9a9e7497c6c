//! Writes the quantized graph as QDQ ONNX: int8 weights (per output channel
//! for Conv, per tensor otherwise) and int32 biases behind DequantizeLinear,
//! and a QuantizeLinear/DequantizeLinear pair after every quantization point,
//! placed after fused activations as TFLite places them. The QDQ importer then
//! reads the result exactly as it reads a QDQ model from another tool.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use tract_onnx::pb;

use super::proto::{self, consumers, floats, is_graph_output};
use crate::ir::QParams;

/// Ops the QDQ importer passes through as views (no new quantization).
pub const PASS_THROUGH: &[&str] = &["Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Split"];
/// Activations fused into the op before them when nothing else reads it.
pub const FUSABLE: &[&str] = &["Relu", "Clip"];
/// Producers an activation may fuse into.
pub const FUSES_ACTIVATION: &[&str] = &["Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul"];

pub use crate::frontend::{FLOAT_MARK, FLOAT_ONLY, FLOAT_TOO};
/// Ops always run in int8 (their float inputs are quantized first).
pub const HEAVY: &[&str] = &["Conv", "ConvTranspose", "Gemm", "MatMul"];

/// Where each op runs and after which values a QuantizeLinear goes.
pub struct Plan {
    /// Quantization points (graph input first), in graph order.
    pub points: Vec<String>,
    /// Outputs of the nodes that run in float32.
    pub float_nodes: HashSet<String>,
}

/// True for ReduceMean over the spatial axes of a 4-D tensor (an int8 pool).
fn spatial_mean(n: &pb::NodeProto, g: &pb::GraphProto, rank: Option<usize>) -> bool {
    let axes: Option<Vec<i64>> = match n.input.get(1) {
        Some(name) => g.initializer.iter().find(|t| &t.name == name).and_then(|t| crate::frontend::Constant::from_proto(t).ok()?.as_i64()),
        None => n.attribute.iter().find(|a| a.name == "axes").map(|a| a.ints.clone()),
    };
    let Some(rank) = rank else { return false };
    let mut axes: Vec<i64> = axes.unwrap_or_default().iter().map(|&a| if a < 0 { a + rank as i64 } else { a }).collect();
    axes.sort();
    rank == 4 && axes == [2, 3]
}

/// `forced`: values whose nodes run in float32 whatever their op.
pub fn plan(g: &pb::GraphProto, rank_of: &dyn Fn(&str) -> Option<usize>, forced: &HashSet<String>) -> Plan {
    let inits: HashSet<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    let producer: HashMap<&str, &pb::NodeProto> =
        g.node.iter().flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n))).collect();
    let mut points: Vec<String> = g.input.iter().filter(|i| !inits.contains(i.name.as_str())).map(|i| i.name.clone()).collect();
    let mut float: HashSet<String> = HashSet::new();
    let sole_reader = |v: &str| consumers(g, v).len() == 1 && !is_graph_output(g, v);
    for n in &g.node {
        let out = n.output[0].clone();
        let op = n.op_type.as_str();
        let data_inputs: Vec<&String> = n.input.iter().filter(|i| !i.is_empty() && !inits.contains(i.as_str())).collect();
        if n.output.iter().any(|o| forced.contains(o)) {
            float.extend(n.output.iter().cloned());
            continue;
        }
        if PASS_THROUGH.contains(&op) {
            if data_inputs.first().is_some_and(|i| float.contains(*i)) {
                float.extend(n.output.iter().cloned());
            }
            continue;
        }
        let reads_float = data_inputs.iter().any(|i| float.contains(*i));
        if HEAVY.contains(&op) {
            // Quantize a float input right before the op.
            for i in data_inputs.iter().filter(|i| float.contains(**i)) {
                if !points.contains(i) {
                    points.push((*i).clone());
                }
            }
        } else {
            let float_only = FLOAT_ONLY.contains(&op) || (op == "ReduceMean" && !spatial_mean(n, g, data_inputs.first().and_then(|i| rank_of(i))));
            if float_only || (FLOAT_TOO.contains(&op) && reads_float) {
                for o in &n.output {
                    float.insert(o.clone());
                }
                continue;
            }
        }
        let input = n.input.first().map(|s| s.as_str()).unwrap_or("");
        let prod = producer.get(input).map(|p| p.op_type.as_str()).unwrap_or("");
        let fold_into_prev = (FUSABLE.contains(&op) && FUSES_ACTIVATION.contains(&prod) && sole_reader(input) && !float.contains(input))
            // MatMul + constant Add is one fully connected layer with bias.
            || (op == "Add" && prod == "MatMul" && sole_reader(input) && n.input.iter().any(|i| inits.contains(i.as_str())));
        if fold_into_prev {
            if let Some(p) = points.iter().position(|p| p == input) {
                points.remove(p);
            }
        }
        points.push(out);
    }
    // A light op all of whose readers run in float runs in float too (no
    // round trip through int8, e.g. a router's Softmax feeding TopK and Log).
    loop {
        let mut changed = false;
        for n in g.node.iter().rev() {
            let out = &n.output[0];
            if float.contains(out) || !FLOAT_TOO.contains(&n.op_type.as_str()) || !points.contains(out) || is_graph_output(g, out) {
                continue;
            }
            let readers = consumers(g, out);
            let inputs_ok = n.input.iter().all(|i| i.is_empty() || inits.contains(i.as_str()) || points.contains(i) || float.contains(i));
            if inputs_ok && !readers.is_empty() && readers.iter().all(|r| float.contains(&r.output[0])) {
                float.insert(out.clone());
                points.retain(|p| p != out);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    Plan { points, float_nodes: float }
}

/// Quantizes weights per output channel (axis 0), symmetric, range ±127,
/// with each scale at least `floor[c]` (so the int32 bias cannot overflow).
fn per_channel(w: &[f32], channels: usize, floor: &[f32]) -> (Vec<i8>, Vec<f32>) {
    let per = w.len() / channels;
    let mut q = vec![0i8; w.len()];
    let mut scales = vec![0f32; channels];
    for c in 0..channels {
        let row = &w[c * per..(c + 1) * per];
        let max = row.iter().fold(0f32, |m, &x| m.max(x.abs()));
        let s = (max / 127.0).max(floor[c.min(floor.len() - 1)]);
        let s = if s > 0.0 { s } else { 1.0 };
        scales[c] = s;
        for (d, &x) in q[c * per..(c + 1) * per].iter_mut().zip(row) {
            *d = (x / s).round().clamp(-127.0, 127.0) as i8;
        }
    }
    (q, scales)
}

pub struct Emitter<'a> {
    pub g: &'a mut pb::GraphProto,
    /// Quantization of every quantization point.
    pub params: HashMap<String, QParams>,
    pub int8_io: bool,
    nodes: Vec<pb::NodeProto>,
    /// MatMul output awaiting its bias Add, with the bias scale.
    pending_bias_scale: Option<(String, f32)>,
    /// Outputs of nodes that run in float32 (their constants stay float).
    pub float_nodes: HashSet<String>,
}

fn dq_name(v: &str) -> String {
    format!("{v}#dq")
}

/// Suffix of the int8 value quantized from a float value of the same name.
const Q_SUFFIX: &str = "#q";

/// The int8 value (or constant) quantized from float value `v`.
pub fn q_name(v: &str) -> String {
    format!("{v}{Q_SUFFIX}")
}

/// The float value an int8 value was quantized from (`v` itself when it
/// was not renamed); the SQNR report pairs them.
pub fn float_name(v: &str) -> &str {
    v.trim_end_matches(Q_SUFFIX)
}

impl<'a> Emitter<'a> {
    pub fn new(g: &'a mut pb::GraphProto, params: HashMap<String, QParams>, int8_io: bool) -> Self {
        Emitter { g, params, int8_io, nodes: vec![], pending_bias_scale: None, float_nodes: HashSet::new() }
    }

    /// QuantizeLinear(from) -> to.
    fn quantize_from(&mut self, from: &str, to: &str, q: QParams) {
        let (s, z) = self.scalar_qparams(to, q);
        self.nodes.push(proto::node("QuantizeLinear", &format!("{to}#qnode"), &[from, &s, &z], &[to]));
    }

    /// DequantizeLinear(from) -> dq_name(of).
    fn dequantize(&mut self, from: &str, of: &str, q: QParams) {
        let (s, z) = self.scalar_qparams(from, q);
        self.nodes.push(proto::node("DequantizeLinear", &format!("{of}#dqnode"), &[from, &s, &z], &[&dq_name(of)]));
    }

    fn scalar_qparams(&mut self, base: &str, q: QParams) -> (String, String) {
        let (s, z) = (format!("{base}#scale"), format!("{base}#zp"));
        proto::set_initializer(self.g, proto::f32_tensor(&s, &[], &[q.scale]));
        proto::set_initializer(self.g, proto::i8_tensor(&z, &[], &[q.zero_point as i8]));
        (s, z)
    }

    /// Quantization of a value read by an op: the nearest quantization point
    /// up the chain of pass-through ops.
    pub fn params_of(&self, value: &str) -> Option<QParams> {
        let mut v = value.to_string();
        loop {
            if let Some(q) = self.params.get(&v) {
                return Some(*q);
            }
            let p = self.g.node.iter().find(|n| n.output.contains(&v))?;
            if !PASS_THROUGH.contains(&p.op_type.as_str()) && !crate::ops::keeps_scale(&p.op_type) {
                return None;
            }
            v = p.input[0].clone();
        }
    }

    /// int8 weights + DQ for a float initializer; returns the DQ'd name.
    /// `bias` (with the input scale) bounds the scales from below so that
    /// the int32 bias stays within 2^30.
    fn weights(&mut self, name: &str, per_channel_axis0: bool, bias: Option<(&str, f32)>) -> Result<(String, Vec<f32>)> {
        let (shape, w) = floats(self.g, name)?.with_context(|| format!("weights '{name}' are not a constant"))?;
        let channels = if per_channel_axis0 { shape[0] } else { 1 };
        let floor: Vec<f32> = match bias {
            Some((b, in_scale)) => {
                let (_, bv) = floats(self.g, b)?.with_context(|| format!("bias '{b}' is not a constant"))?;
                let need = |x: f32| x.abs() / (in_scale * (1u32 << 30) as f32);
                if per_channel_axis0 { bv.iter().map(|&x| need(x)).collect() } else { vec![bv.iter().map(|&x| need(x)).fold(0.0, f32::max)] }
            }
            None => vec![0.0],
        };
        let (q, scales) = per_channel(&w, channels, &floor);
        let (qn, sn, zn, out) = (q_name(name), format!("{name}#wscale"), format!("{name}#wzp"), dq_name(name));
        proto::set_initializer(self.g, proto::i8_tensor(&qn, &shape, &q));
        let sdims: Vec<usize> = if per_channel_axis0 { vec![channels] } else { vec![] };
        proto::set_initializer(self.g, proto::f32_tensor(&sn, &sdims, &scales));
        proto::set_initializer(self.g, proto::i8_tensor(&zn, &sdims, &vec![0; channels]));
        let mut n = proto::node("DequantizeLinear", &format!("{name}#dqnode"), &[&qn, &sn, &zn], &[&out]);
        n.attribute.push(proto::int_attr("axis", 0));
        self.nodes.push(n);
        Ok((out, scales))
    }

    /// int32 bias = round(b / (input scale x weight scale)) + DQ.
    fn bias(&mut self, name: &str, in_scale: f32, w_scales: &[f32]) -> Result<String> {
        let (shape, b) = floats(self.g, name)?.with_context(|| format!("bias '{name}' is not a constant"))?;
        let scales: Vec<f32> = (0..b.len()).map(|i| in_scale * w_scales[if w_scales.len() == 1 { 0 } else { i }]).collect();
        let q: Vec<i32> = b.iter().zip(&scales).map(|(&x, &s)| (x as f64 / s as f64).round().clamp(-2147483647.0, 2147483647.0) as i32).collect();
        let (qn, sn, zn, out) = (q_name(name), format!("{name}#bscale"), format!("{name}#bzp"), dq_name(name));
        proto::set_initializer(self.g, proto::i32_tensor(&qn, &shape, &q));
        proto::set_initializer(self.g, proto::f32_tensor(&sn, &[scales.len()], &scales));
        proto::set_initializer(self.g, proto::i32_tensor(&zn, &[scales.len()], &vec![0; scales.len()]));
        let mut n = proto::node("DequantizeLinear", &format!("{name}#dqnode"), &[&qn, &sn, &zn], &[&out]);
        n.attribute.push(proto::int_attr("axis", 0));
        self.nodes.push(n);
        Ok(out)
    }

    /// A float constant used as an activation operand: int8 per tensor.
    fn constant_operand(&mut self, name: &str) -> Result<String> {
        let (shape, v) = floats(self.g, name)?.context("not a float constant")?;
        let lo = v.iter().copied().fold(0f32, f32::min);
        let hi = v.iter().copied().fold(0f32, f32::max);
        let q = super::calibrate::qparams(lo, hi);
        let data: Vec<i8> = v.iter().map(|&x| crate::ops::quantize_one(x, q.scale, q.zero_point)).collect();
        let qn = q_name(name);
        proto::set_initializer(self.g, proto::i8_tensor(&qn, &shape, &data));
        let (s, z) = self.scalar_qparams(name, q);
        let out = dq_name(name);
        self.nodes.push(proto::node("DequantizeLinear", &format!("{name}#dqnode"), &[&qn, &s, &z], &[&out]));
        Ok(out)
    }

    /// Rewrites the graph in place.
    pub fn emit(mut self, points: &[String]) -> Result<()> {
        let inits: HashSet<String> = self.g.initializer.iter().map(|t| t.name.clone()).collect();
        let point_set: HashSet<&String> = points.iter().collect();
        let old_nodes = self.g.node.clone();
        // Graph inputs.
        for input in self.g.input.clone() {
            if inits.contains(&input.name) || !point_set.contains(&input.name) {
                continue;
            }
            let q = self.params[&input.name];
            if self.int8_io {
                // The graph input itself becomes int8.
                let gi = self.g.input.iter_mut().find(|i| i.name == input.name).unwrap();
                if let Some(pb::type_proto::Value::TensorType(t)) = gi.r#type.as_mut().and_then(|t| t.value.as_mut()) {
                    t.elem_type = proto::INT8;
                }
                let (s, z) = self.scalar_qparams(&input.name, q);
                self.nodes.push(proto::node("DequantizeLinear", &format!("{}#dqnode", input.name), &[&input.name, &s, &z], &[&dq_name(&input.name)]));
            } else {
                let qname = q_name(&input.name);
                self.quantize_from(&input.name, &qname, q);
                self.dequantize(&qname, &input.name, q);
            }
        }
        for mut n in old_nodes {
            let op = n.op_type.clone();
            if self.float_nodes.contains(&n.output[0]) {
                n.doc_string = FLOAT_MARK.to_string();
            }
            // Inputs: quantization points are read through their DQ.
            for (k, i) in n.input.clone().iter().enumerate() {
                if point_set.contains(i) {
                    n.input[k] = dq_name(i);
                }
            }
            let in_scale = n.input.first().and_then(|i| self.params_of(i.trim_end_matches("#dq")));
            match op.as_str() {
                "Conv" | "ConvTranspose" | "Gemm" | "MatMul" if inits.contains(&n.input[1]) && !self.float_nodes.contains(&n.output[0]) => {
                    let s = in_scale.with_context(|| format!("{op} input is not quantized"))?.scale;
                    let b = n.input.get(2).cloned().filter(|b| !b.is_empty());
                    let (w, scales) = self.weights(&n.input[1].clone(), op == "Conv", b.as_deref().map(|b| (b, s)))?;
                    n.input[1] = w;
                    if let Some(b) = b {
                        n.input[2] = self.bias(&b, s, &scales)?;
                    }
                    if !op.starts_with("Conv") {
                        self.pending_bias_scale = Some((n.output[0].clone(), s * scales[0]));
                    }
                }
                "Add" if self.pending_bias_scale.as_ref().is_some_and(|(o, _)| n.input.contains(o)) => {
                    let (_, s) = self.pending_bias_scale.take().unwrap();
                    for k in 0..n.input.len() {
                        if inits.contains(&n.input[k]) {
                            n.input[k] = self.bias(&n.input[k].clone(), 1.0, &[s])?;
                        }
                    }
                }
                _ => {
                    // Constant operands of int8 element-wise ops become int8 constants.
                    if ["Add", "Mul", "Concat"].contains(&op.as_str()) && !self.float_nodes.contains(&n.output[0]) {
                        for k in 0..n.input.len() {
                            if inits.contains(&n.input[k]) && floats(self.g, &n.input[k])?.is_some() {
                                n.input[k] = self.constant_operand(&n.input[k].clone())?;
                            }
                        }
                    }
                }
            }
            let out = n.output[0].clone();
            if point_set.contains(&out) {
                let fout = format!("{out}#f");
                n.output[0] = fout.clone();
                self.nodes.push(n);
                let q = self.params[&out];
                let qname = if is_graph_output(self.g, &out) && !self.int8_io { q_name(&out) } else { out.clone() };
                self.quantize_from(&fout, &qname, q);
                if qname != out {
                    // Float graph output: dequantize into the output's name.
                    let (s, z) = self.scalar_qparams(&qname, q);
                    self.nodes.push(proto::node("DequantizeLinear", &format!("{out}#out"), &[&qname, &s, &z], &[&out]));
                }
                self.dequantize(&qname, &out, q);
            } else {
                self.nodes.push(n);
            }
        }
        // Int8 graph outputs.
        if self.int8_io {
            for o in self.g.output.iter_mut() {
                if let Some(pb::type_proto::Value::TensorType(t)) = o.r#type.as_mut().and_then(|t| t.value.as_mut()) {
                    t.elem_type = proto::INT8;
                }
            }
        }
        self.g.node = std::mem::take(&mut self.nodes);
        Ok(())
    }
}
