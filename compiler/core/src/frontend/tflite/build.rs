//! The ONNX graph being built from a TFLite subgraph: each TFLite tensor's
//! current ONNX value, the DequantizeLinear/QuantizeLinear pairs around the
//! float ONNX nodes, constants as initializers.

use std::collections::{HashMap, HashSet};

use anyhow::{anyhow, bail, Result};
use tract_onnx::pb;
use tract_tflite::tflite::{self, ActivationFunctionType, BuiltinOperator};

use super::tensor::{self, Elem, Info};
use crate::quant::ptq::proto;

/// NHWC value to NCHW, and back.
pub const TO_NCHW: [i64; 4] = [0, 3, 1, 2];
pub const TO_NHWC: [i64; 4] = [0, 2, 3, 1];

pub struct Builder<'a> {
    pub sg: tflite::SubGraph<'a>,
    codes: Vec<BuiltinOperator>,
    customs: Vec<Option<String>>,
    pub tensors: Vec<Info<'a>>,
    g: pb::GraphProto,
    /// The ONNX value holding each TFLite tensor (NHWC, as TFLite stores it).
    values: HashMap<usize, String>,
    /// Float ONNX values already made of a TFLite tensor (DequantizeLinear).
    floats: HashMap<usize, String>,
    /// Tensors of a type hybridc does not compile, with their error.
    unsupported: HashMap<usize, String>,
    /// The node being translated: "CONV_2D #3".
    pub node: String,
    /// Transposes already made: (value, perm) -> result, so that operators
    /// reading one tensor read one NCHW value (one scale when quantized).
    transposed: HashMap<(String, Vec<i64>), String>,
    /// Whether an ONNX node already carries the bare label of the operator.
    labelled: bool,
    fresh: usize,
}

impl<'a> Builder<'a> {
    pub fn new(model: &tflite::Model<'a>, sg: tflite::SubGraph<'a>) -> Result<Self> {
        let buffers = model.buffers().ok_or_else(|| anyhow!("the TFLite model has no buffers"))?;
        let mut codes = vec![];
        let mut customs = vec![];
        for c in model.operator_codes().iter().flatten() {
            // Old files keep the code in deprecated_builtin_code only (schema v3a).
            codes.push(BuiltinOperator(c.builtin_code().0.max(c.deprecated_builtin_code() as i32)));
            customs.push(c.custom_code().map(str::to_string));
        }
        let mut tensors = vec![];
        let mut seen = HashSet::new();
        let mut unsupported = HashMap::new();
        for (i, t) in sg.tensors().iter().flatten().enumerate() {
            // ONNX values need unique, non-empty names.
            let mut name = t.name().unwrap_or("").to_string();
            if name.is_empty() || !seen.insert(name.clone()) || name.contains('#') {
                name = format!("tensor{i}");
                seen.insert(name.clone());
            }
            match tensor::elem(&t, &name) {
                Ok(_) => tensors.push(tensor::read(&t, name, &buffers)?),
                Err(e) => {
                    unsupported.insert(i, e);
                    tensors.push(Info { name, shape: vec![], elem: Elem::I8, quant: None, data: None });
                }
            }
        }
        if let Some(w) = tensors.iter().find(|t| t.elem == Elem::F32 && t.data.is_some()) {
            // The float graph's post-training quantization does not yet
            // accept the translated form (docs/tflite.md).
            bail!(
                "float32 TFLite models are not supported yet (tensor '{}' holds float weights): convert with full-integer quantization (TFLiteConverter with a representative_dataset and TFLITE_BUILTINS_INT8), or compile the float ONNX model with --calib",
                w.name
            );
        }
        let g = pb::GraphProto { name: sg.name().unwrap_or("tflite").to_string(), ..Default::default() };
        Ok(Builder { sg, codes, customs, tensors, unsupported, g, values: HashMap::new(), floats: HashMap::new(), node: String::new(), labelled: false, transposed: HashMap::new(), fresh: 0 })
    }

    pub fn opcode(&self, i: usize) -> Result<BuiltinOperator> {
        let code = *self.codes.get(i).ok_or_else(|| anyhow!("operator code {i} is not in the model's {} codes", self.codes.len()))?;
        if code == BuiltinOperator::CUSTOM {
            let name = self.customs[i].as_deref().unwrap_or("?");
            bail!("custom operator '{name}' is not supported by hybridc");
        }
        Ok(code)
    }

    pub fn begin(&mut self, index: usize, op: &str) {
        self.node = format!("{op} #{index}");
        self.labelled = false;
    }

    pub fn info(&self, t: usize) -> Result<&Info<'a>> {
        if let Some(e) = self.unsupported.get(&t) {
            bail!("{e}");
        }
        self.tensors.get(t).ok_or_else(|| anyhow!("tensor index {t} is out of range ({} tensors)", self.tensors.len()))
    }

    fn tensor_list(&self, v: Option<flatbuffers::Vector<'a, i32>>, what: &str) -> Result<Vec<usize>> {
        let v: Vec<i32> = v.map(|v| v.iter().collect()).unwrap_or_default();
        v.iter()
            .map(|&t| {
                if t < 0 || t as usize >= self.tensors.len() {
                    bail!("{what} tensor index {t} is out of range");
                }
                Ok(t as usize)
            })
            .collect()
    }

    pub fn inputs(&mut self) -> Result<()> {
        for t in self.tensor_list(self.sg.inputs(), "graph input")? {
            let info = self.info(t)?.clone();
            if !matches!(info.elem, Elem::I8 | Elem::F32) {
                bail!("graph input '{}' is {:?}; hybridc takes int8 or float32 inputs", info.name, info.elem);
            }
            self.g.input.push(value_info(&info.name, info.elem, &info.shape));
            self.values.insert(t, info.name);
        }
        if self.g.input.is_empty() {
            bail!("the TFLite model has no input");
        }
        Ok(())
    }

    pub fn outputs(&mut self) -> Result<()> {
        for t in self.tensor_list(self.sg.outputs(), "graph output")? {
            let name = self.value(t)?;
            let info = self.info(t)?;
            self.g.output.push(value_info(&name, info.elem, &info.shape));
        }
        if self.g.output.is_empty() {
            bail!("the TFLite model has no output");
        }
        Ok(())
    }

    pub fn finish(self) -> pb::ModelProto {
        pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
            producer_name: "hybridc tflite import".into(),
            graph: Some(self.g),
            ..Default::default()
        }
    }

    /// A new ONNX value name, unique in the graph.
    pub fn fresh(&mut self, hint: &str) -> String {
        self.fresh += 1;
        format!("{hint}#{}", self.fresh)
    }

    /// Adds an ONNX node. Node names are unique (tract needs it): the
    /// operator's compute node carries its label ("CONV_2D #3", the IR op's
    /// name), the quantization and layout nodes around it a numbered one.
    pub fn push(&mut self, op: &str, inputs: &[&str], output: &str, attrs: Vec<pb::AttributeProto>) {
        let helper = matches!(op, "DequantizeLinear" | "QuantizeLinear" | "Transpose" | "Relu" | "Clip" | "Identity");
        let name = if helper || self.labelled { self.fresh(&self.node.clone()) } else { self.node.clone() };
        self.labelled |= !helper;
        let mut n = proto::node(op, &name, inputs, &[output]);
        n.attribute = attrs;
        self.g.node.push(n);
    }

    /// The ONNX value holding tensor `t` as stored (int8 or float32):
    /// an earlier result, a graph input or a constant.
    pub fn value(&mut self, t: usize) -> Result<String> {
        if let Some(v) = self.values.get(&t) {
            return Ok(v.clone());
        }
        let info = self.info(t)?.clone();
        let Some(data) = info.data else {
            bail!("reads tensor '{}', which no earlier operator writes", info.name);
        };
        self.g.initializer.push(proto::tensor(&info.name, &info.shape, info.elem.onnx(), data.to_vec()));
        self.values.insert(t, info.name.clone());
        Ok(info.name)
    }

    /// Tensor `t` as a real-valued ONNX value: its DequantizeLinear when
    /// quantized, else the value itself.
    pub fn real(&mut self, t: usize) -> Result<String> {
        if let Some(v) = self.floats.get(&t) {
            return Ok(v.clone());
        }
        let v = self.value(t)?;
        let info = self.tensors[t].clone();
        let out = match (&info.quant, info.elem) {
            (_, Elem::F32) => v,
            (Some(q), Elem::I8 | Elem::I32) => self.dequantize(&v, q, info.rank())?,
            (None, Elem::I8) => bail!("int8 tensor '{}' has no quantization parameters", info.name),
            (_, e) => bail!("tensor '{}' is {e:?}, not a value this operator computes on", info.name),
        };
        self.floats.insert(t, out.clone());
        Ok(out)
    }

    fn dequantize(&mut self, v: &str, q: &tensor::Quant, rank: usize) -> Result<String> {
        let elem = if self.g.initializer.iter().any(|t| t.name == v && t.data_type == proto::INT32) { Elem::I32 } else { Elem::I8 };
        let (scale, zp) = self.qparams(v, q, elem)?;
        let out = format!("{v}#dq");
        let attrs = if q.scales.len() > 1 && rank > 0 { vec![proto::int_attr("axis", q.axis as i64)] } else { vec![] };
        self.push("DequantizeLinear", &[v, &scale, &zp], &out, attrs);
        Ok(out)
    }

    /// Scale and zero-point initializers named after `v`; the zero point
    /// has the quantized tensor's type (int8, or int32 for biases).
    fn qparams(&mut self, v: &str, q: &tensor::Quant, elem: Elem) -> Result<(String, String)> {
        let (scale, zp) = (self.fresh(&format!("{v}#scale")), self.fresh(&format!("{v}#zero_point")));
        let dims: Vec<usize> = if q.scales.len() > 1 { vec![q.scales.len()] } else { vec![] };
        let scales = if q.scales.len() > 1 { q.scales.clone() } else { vec![q.scales[0]] };
        self.g.initializer.push(proto::f32_tensor(&scale, &dims, &scales));
        let zps = if q.zero_points.len() == scales.len() { q.zero_points.clone() } else { vec![q.zero_points[0]; scales.len()] };
        if elem == Elem::I32 {
            let i32s: Option<Vec<i32>> = zps.iter().map(|&z| i32::try_from(z).ok()).collect();
            let i32s = i32s.ok_or_else(|| anyhow!("'{v}' has a zero point outside int32"))?;
            self.g.initializer.push(proto::i32_tensor(&zp, &dims, &i32s));
        } else {
            let i8s: Option<Vec<i8>> = zps.iter().map(|&z| i8::try_from(z).ok()).collect();
            let i8s = i8s.ok_or_else(|| anyhow!("'{v}' has a zero point outside int8"))?;
            self.g.initializer.push(proto::i8_tensor(&zp, &dims, &i8s));
        }
        Ok((scale, zp))
    }

    /// Writes the real-valued result `v` of the current op into tensor `t`,
    /// after the fused activation: QuantizeLinear to `t`'s parameters when
    /// `t` is int8 (the value then carries `t`'s name).
    pub fn store(&mut self, t: usize, v: &str, act: ActivationFunctionType) -> Result<()> {
        let v = self.activation(v, act)?;
        let info = self.info(t)?.clone();
        if self.values.contains_key(&t) || info.data.is_some() {
            bail!("writes tensor '{}', which is already defined", info.name);
        }
        match info.elem {
            Elem::F32 => {
                self.rename_last(&v, &info.name);
            }
            Elem::I8 => {
                let (s, z) = info.per_tensor().ok_or_else(|| anyhow!("int8 output '{}' must be quantized per tensor", info.name))?;
                let q = tensor::Quant { scales: vec![s], zero_points: vec![z], axis: 0 };
                let (scale, zp) = self.qparams(&info.name, &q, Elem::I8)?;
                self.push("QuantizeLinear", &[&v, &scale, &zp], &info.name, vec![]);
            }
            e => bail!("output '{}' is {e:?}; operators write int8 or float32", info.name),
        }
        self.values.insert(t, info.name);
        Ok(())
    }

    /// A new tensor like `like` (same name, type and quantization) with
    /// `shape`: an intermediate result before a reshape or transpose to
    /// `like` itself. The int8 result in the IR keeps the TFLite name.
    pub fn fresh_tensor(&mut self, like: usize, shape: &[usize]) -> Result<usize> {
        let t = super::tensor::Info { shape: shape.to_vec(), data: None, ..self.info(like)?.clone() };
        self.tensors.push(t);
        Ok(self.tensors.len() - 1)
    }

    /// Records that ONNX value `v` (already built) holds tensor `t`.
    pub fn bind(&mut self, t: usize, v: String) -> Result<()> {
        let name = &self.info(t)?.name;
        if self.values.contains_key(&t) {
            bail!("writes tensor '{name}', which is already defined");
        }
        self.values.insert(t, v);
        Ok(())
    }

    /// The last node writes `to` instead of `from` (float results keep the
    /// TFLite name).
    fn rename_last(&mut self, from: &str, to: &str) {
        if let Some(n) = self.g.node.last_mut().filter(|n| n.output.first().is_some_and(|o| o == from)) {
            n.output[0] = to.to_string();
        } else {
            self.push("Identity", &[from], to, vec![]);
        }
    }

    /// TFLite's fused activation on a real value.
    pub fn activation(&mut self, v: &str, act: ActivationFunctionType) -> Result<String> {
        let clip = |b: &mut Self, lo: f32, hi: f32| {
            let (l, h) = (b.fresh("min"), b.fresh("max"));
            b.g.initializer.push(proto::f32_tensor(&l, &[], &[lo]));
            b.g.initializer.push(proto::f32_tensor(&h, &[], &[hi]));
            let out = b.fresh(v);
            b.push("Clip", &[v, &l, &h], &out, vec![]);
            out
        };
        Ok(match act {
            ActivationFunctionType::NONE => v.to_string(),
            ActivationFunctionType::RELU => {
                let out = self.fresh(v);
                self.push("Relu", &[v], &out, vec![]);
                out
            }
            ActivationFunctionType::RELU6 => clip(self, 0.0, 6.0),
            ActivationFunctionType::RELU_N1_TO_1 => clip(self, -1.0, 1.0),
            other => bail!("fused activation {} is not supported", other.variant_name().unwrap_or("unknown")),
        })
    }

    /// An int64 constant (shapes, axes, pads).
    pub fn ints(&mut self, hint: &str, v: &[i64]) -> String {
        let name = self.fresh(hint);
        let raw = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.g.initializer.push(proto::tensor(&name, &[v.len()], proto::INT64, raw));
        name
    }

    /// A constant with the layout changed (weights to ONNX's order), with
    /// its quantization, as a real value.
    /// `unit_dims` size-1 dims are appended (FC weights as a 1x1 kernel).
    pub fn real_permuted(&mut self, t: usize, perm: &[usize], axis: usize, unit_dims: usize) -> Result<String> {
        let info = self.info(t)?.clone();
        let data = info.data.ok_or_else(|| anyhow!("weights '{}' must be constant", info.name))?;
        if perm.len() != info.rank() {
            bail!("weights '{}' of shape {:?} are not {}-D", info.name, info.shape, perm.len());
        }
        let mut shape: Vec<usize> = perm.iter().map(|&d| info.shape[d]).collect();
        shape.extend(std::iter::repeat_n(1, unit_dims));
        let bytes = tensor::permute_bytes(data, &info.shape, perm, info.elem.size());
        let name = self.fresh(&format!("{}#onnx", info.name));
        self.g.initializer.push(proto::tensor(&name, &shape, info.elem.onnx(), bytes));
        match (&info.quant, info.elem) {
            (_, Elem::F32) => Ok(name),
            (Some(q), Elem::I8) => {
                if q.scales.len() > 1 && perm[axis] != q.axis {
                    bail!("weights '{}' are quantized along dimension {}, not the output channels", info.name, q.axis);
                }
                let q = tensor::Quant { axis, ..q.clone() };
                self.dequantize(&name, &q, shape.len())
            }
            _ => bail!("weights '{}' must be int8 (quantized) or float32", info.name),
        }
    }

    /// Records that `v` transposed by `perm` is the existing value `result`
    /// (a float NHWC result is the transpose of its NCHW value).
    pub fn remember_transpose(&mut self, v: &str, perm: &[i64], result: &str) {
        self.transposed.insert((v.to_string(), perm.to_vec()), result.to_string());
    }

    /// A real value transposed (NHWC <-> NCHW).
    pub fn transpose(&mut self, v: &str, perm: &[i64]) -> String {
        let key = (v.to_string(), perm.to_vec());
        if let Some(t) = self.transposed.get(&key) {
            return t.clone();
        }
        let out = self.fresh(v);
        self.push("Transpose", &[v], &out, vec![ints_attr("perm", perm)]);
        self.transposed.insert(key, out.clone());
        out
    }
}

pub fn ints_attr(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto { name: name.to_string(), r#type: 7, ints: v.to_vec(), ..Default::default() }
}

pub fn float_attr(name: &str, v: f32) -> pb::AttributeProto {
    pb::AttributeProto { name: name.to_string(), r#type: 1, f: v, ..Default::default() }
}

pub fn string_attr(name: &str, v: &str) -> pb::AttributeProto {
    pb::AttributeProto { name: name.to_string(), r#type: 3, s: v.as_bytes().to_vec(), ..Default::default() }
}

fn value_info(name: &str, elem: Elem, shape: &[usize]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value as Dim, Dimension};
    let dim = shape.iter().map(|&d| Dimension { value: Some(Dim::DimValue(d as i64)), ..Default::default() }).collect();
    let tt = pb::type_proto::Tensor { elem_type: elem.onnx(), shape: Some(pb::TensorShapeProto { dim }) };
    pb::ValueInfoProto { name: name.to_string(), r#type: Some(pb::TypeProto { value: Some(pb::type_proto::Value::TensorType(tt)), ..Default::default() }), ..Default::default() }
}
