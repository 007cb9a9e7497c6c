//! FullyConnected int8 with per-tensor weights (TFLite
//! reference_integer_ops), from ONNX MatMul and Gemm (and a bias Add).

use anyhow::{anyhow, bail, Result};
use hybridc_kernels::fully_connected as k;

use super::conv::{bias_input, bias_values};
use super::{activation_range, emit, Built, CCode, CSite, OnnxOp, OpKind, Pending, RustCode, RustSite};
use crate::frontend::constant::{Constant, Data};
use crate::frontend::layout::{identity, same_order};
use crate::frontend::{Act8, Importer};
use crate::ir::{Activation, QParams};

pub static ONNX: &[OnnxOp] = &[OnnxOp { onnx: "MatMul", import: matmul, keeps_scale: false }, OnnxOp { onnx: "Gemm", import: gemm, keeps_scale: false }];

/// A fully connected layer; `p`'s slices are empty, the layer's constants
/// are the vectors beside it (see [`FullyConnected::kernel`]).
#[derive(Debug, Clone)]
pub struct FullyConnected {
    pub p: k::FullyConnected<'static>,
    /// [out][in].
    pub weights: Vec<i8>,
    pub bias: Vec<i32>,
}

impl FullyConnected {
    /// The kernel's parameters, borrowing the layer's constants.
    pub fn kernel(&self) -> k::FullyConnected<'_> {
        k::FullyConnected { weights: &self.weights, bias: &self.bias, ..self.p }
    }
}

impl OpKind for FullyConnected {
    fn name(&self) -> &'static str { "FullyConnected" }

    fn macs(&self, g: &super::Graph, op: &super::Op) -> u64 { (g.tensors[op.output].len() * g.tensors[op.inputs[0]].len()) as u64 }

    fn flash_bytes(&self) -> usize { self.weights.len() + 4 * self.bias.len() }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        k::fully_connected(&self.kernel(), arena, at.inputs[0], at.output);
    }

    fn c(&self, s: &CSite) -> CCode {
        let (p, l) = (&self.p, &s.l);
        let mut data = emit::c_array(l, "weights", "int8_t", &self.weights, true);
        data += &emit::c_array(l, "bias", "int32_t", &self.bias, false);
        data += &format!(
            "static const hyb_fc_params {l}_params = {{\n    .in_len = {}, .out_len = {}, .input_offset = {}, .output_offset = {},\n    .multiplier = {}, .shift = {}, .act_min = {}, .act_max = {}, .weights = {l}_weights, .bias = {l}_bias,\n}};\n",
            p.in_len, p.out_len, p.input_offset, p.output_offset, p.multiplier, p.shift, p.act[0], p.act[1]
        );
        s.code("hyb_fully_connected_s8", data)
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        let (input, output) = (s.input(0)?, s.output()?);
        let w = s.array("WEIGHTS", "i8", &self.weights);
        let b = s.array("BIAS", "i32", &self.bias);
        let p = &self.p;
        Ok(RustCode {
            consts: format!(
                "const {}: FullyConnected = FullyConnected {{ in_len: {}, out_len: {}, input_offset: {}, output_offset: {}, multiplier: {}, shift: {}, act: {:?}, weights: &{w}, bias: &{b} }};\n",
                s.l, p.in_len, p.out_len, p.input_offset, p.output_offset, p.multiplier, p.shift, p.act
            ),
            call: format!("fully_connected(&{}, arena, {input}, {output});", s.l),
            uses: vec!["fully_connected::fully_connected".into(), "fully_connected::FullyConnected".into()],
        })
    }
}

/// A MatMul or Gemm waiting for its output quantization (and maybe a bias Add).
#[derive(Debug, Clone)]
struct PendingFc {
    x: Act8,
    w: Vec<i8>,
    w_scale: f32,
    n: usize,
    b: Option<Constant>,
}

impl Pending for PendingFc {
    fn finish(self: Box<Self>, im: &mut Importer, _logical: &[usize], act: Activation, q: QParams) -> Result<Built> {
        let xin = im.storage(&self.x, &identity(2), "MatMul")?;
        let bias = bias_values(self.b.as_ref(), self.n, self.x.q.scale, &[self.w_scale])?;
        let (multiplier, shift) = super::requant_multiplier(self.x.q.scale as f64 * self.w_scale as f64 / q.scale as f64)?;
        let p = k::FullyConnected {
            in_len: im.g.tensors[xin].len(),
            out_len: self.n,
            input_offset: -self.x.q.zero_point,
            output_offset: q.zero_point,
            multiplier,
            shift,
            act: activation_range(act, q),
            weights: &[],
            bias: &[],
        };
        Ok(Built { kind: Box::new(FullyConnected { p, weights: self.w, bias }), inputs: vec![xin], perm: identity(2) })
    }

    fn with_bias(self: Box<Self>, bias: Constant) -> Result<Box<dyn Pending>> {
        if self.b.is_some() {
            bail!("adding a constant is only supported as the bias of a MatMul or Conv");
        }
        Ok(Box::new(PendingFc { b: Some(bias), ..*self }))
    }
}

/// Weights as the kernel reads them ([N][K]), their scale, K and N.
fn fc_weights(w: &Constant, transposed_b: bool) -> Result<(Vec<i8>, f32, usize, usize)> {
    let q = w.quant.as_ref().ok_or_else(|| anyhow!("weights must be int8 behind a DequantizeLinear"))?;
    let Data::I8(data) = &w.data else { bail!("weights must be int8") };
    if w.shape.len() != 2 {
        bail!("weights must be 2-D, got {:?}", w.shape);
    }
    if q.scales.len() != 1 || q.zero_points.iter().any(|&z| z != 0) {
        bail!("fully connected weights must be per-tensor symmetric int8 (zero point 0)");
    }
    // ONNX MatMul B is [K, N]; the kernel reads [N][K].
    let (k, n) = if transposed_b { (w.shape[1], w.shape[0]) } else { (w.shape[0], w.shape[1]) };
    let mut out = vec![0i8; k * n];
    for ki in 0..k {
        for ni in 0..n {
            out[ni * k + ki] = if transposed_b { data[ni * k + ki] } else { data[ki * n + ni] };
        }
    }
    Ok((out, q.scales[0], k, n))
}

/// The dequantized [1, K] row vector a fully connected layer reads.
fn fc_input(im: &Importer) -> Result<Act8> {
    let x = im.deq(0)?;
    let k: usize = x.logical.iter().product();
    if x.logical.len() != 2 || x.logical[0] != 1 || !same_order(&x.logical, &x.perm, &identity(2)) || k == 0 {
        bail!("fully connected input must be a [1, K] row vector, got {:?}", x.logical);
    }
    Ok(x)
}

fn matmul(im: &mut Importer) -> Result<()> {
    let x = fc_input(im)?;
    let (w, w_scale, k, n) = fc_weights(&im.constant(1)?, false)?;
    if x.logical[1] != k {
        bail!("input {:?} does not match weights [{k}, {n}]", x.logical);
    }
    im.pending(Box::new(PendingFc { x, w, w_scale, n, b: None }), vec![1, n]);
    Ok(())
}

fn gemm(im: &mut Importer) -> Result<()> {
    if im.attr_i("transA")?.unwrap_or(0) != 0 || im.attr_f("alpha")?.unwrap_or(1.0) != 1.0 || im.attr_f("beta")?.unwrap_or(1.0) != 1.0 {
        bail!("Gemm with transA, alpha or beta other than defaults is not supported");
    }
    let x = fc_input(im)?;
    let trans_b = im.attr_i("transB")?.unwrap_or(0) != 0;
    let (w, w_scale, k, n) = fc_weights(&im.constant(1)?, trans_b)?;
    if x.logical[1] != k {
        bail!("input {:?} does not match weights [{k}, {n}]", x.logical);
    }
    let b = bias_input(im, 2)?;
    im.pending(Box::new(PendingFc { x, w, w_scale, n, b }), vec![1, n]);
    Ok(())
}
