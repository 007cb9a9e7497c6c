//! One TFLite tensor as the translation needs it: a unique name, a static
//! shape, its element type, quantization and constant bytes. Every number
//! comes from the user's file, so shapes and sizes are checked.

use anyhow::{anyhow, bail, Result};
use tract_tflite::tflite::{self, TensorType};

/// Larger tensors are not a microcontroller's (as validate.rs for ONNX).
const MAX_ELEMENTS: usize = 1 << 31;

/// The element types hybridc reads from a TFLite file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    F32,
    I8,
    I32,
    I64,
}

impl Elem {
    pub fn size(self) -> usize {
        match self {
            Elem::I8 => 1,
            Elem::F32 | Elem::I32 => 4,
            Elem::I64 => 8,
        }
    }
    /// onnx.proto's TensorProto.DataType.
    pub fn onnx(self) -> i32 {
        match self {
            Elem::F32 => 1,
            Elem::I8 => 3,
            Elem::I32 => 6,
            Elem::I64 => 7,
        }
    }
}

/// Scales and zero points; `axis` is the quantized dimension when there
/// is more than one scale (per channel).
#[derive(Debug, Clone)]
pub struct Quant {
    pub scales: Vec<f32>,
    pub zero_points: Vec<i64>,
    pub axis: usize,
}

#[derive(Debug, Clone)]
pub struct Info<'a> {
    pub name: String,
    pub shape: Vec<usize>,
    pub elem: Elem,
    pub quant: Option<Quant>,
    /// Constant contents (a non-empty buffer).
    pub data: Option<&'a [u8]>,
}

impl Info<'_> {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    /// The one scale and zero point of a per-tensor quantized tensor.
    pub fn per_tensor(&self) -> Option<(f32, i64)> {
        let q = self.quant.as_ref()?;
        (q.scales.len() == 1).then(|| (q.scales[0], q.zero_points.first().copied().unwrap_or(0)))
    }
}

/// The element type, or the error for a type hybridc does not compile
/// (reported by the first operator that reads or writes the tensor).
pub fn elem(t: &tflite::Tensor, name: &str) -> std::result::Result<Elem, String> {
    Ok(match t.type_() {
        TensorType::FLOAT32 => Elem::F32,
        TensorType::INT8 => Elem::I8,
        TensorType::INT32 => Elem::I32,
        TensorType::INT64 => Elem::I64,
        other => {
            return Err(format!(
                "tensor '{name}' has type {}; hybridc compiles int8 TFLite models (int16x8, uint8 and other types are not supported)",
                other.variant_name().unwrap_or("unknown")
            ))
        }
    })
}

/// Reads tensor `t` (named `name`, unique in the graph) of the model.
pub fn read<'a>(t: &tflite::Tensor<'a>, name: String, buffers: &flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<tflite::Buffer<'a>>>) -> Result<Info<'a>> {
    let elem = elem(t, &name).map_err(|e| anyhow!(e))?;
    if t.is_variable() {
        bail!("tensor '{name}' is a variable (stateful model); not supported");
    }
    let mut shape = vec![];
    for d in t.shape().map(|s| s.iter().collect::<Vec<i32>>()).unwrap_or_default() {
        if d <= 0 {
            bail!("tensor '{name}' has dimension {d}; hybridc compiles static shapes (batch 1)");
        }
        shape.push(d as usize);
    }
    // A -1 in shape_signature (a free batch) is ignored, as TFLite Micro
    // does: `shape` is what the model runs with.
    let n = shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d)).filter(|&n| n <= MAX_ELEMENTS);
    let n = n.ok_or_else(|| anyhow!("tensor '{name}' of shape {shape:?} is too large"))?;
    let quant = quantization(t, &name, &shape)?;
    let b = t.buffer() as usize;
    if b >= buffers.len() {
        bail!("tensor '{name}' refers to buffer {b}, but the model has {}", buffers.len());
    }
    let data = buffers.get(b).data().map(|v| v.bytes()).filter(|d| !d.is_empty());
    if let Some(d) = data {
        if d.len() != n * elem.size() {
            bail!("tensor '{name}' of shape {shape:?} holds {} bytes of data, not {}", d.len(), n * elem.size());
        }
    }
    Ok(Info { name, shape, elem, quant, data })
}

const SCALE_MIN: f32 = f32::MIN_POSITIVE;
const SCALE_MAX: f32 = (1u64 << 40) as f32;

fn quantization(t: &tflite::Tensor, name: &str, shape: &[usize]) -> Result<Option<Quant>> {
    let Some(q) = t.quantization() else { return Ok(None) };
    let scales: Vec<f32> = q.scale().map(|v| v.iter().collect()).unwrap_or_default();
    if scales.is_empty() {
        return Ok(None); // min/max only: a float tensor
    }
    let zero_points: Vec<i64> = q.zero_point().map(|v| v.iter().collect()).unwrap_or_default();
    // Normal f32 numbers, not above 2^40, so that the kernels' multipliers
    // (ratios of such scales) stay finite; a dead channel's weights can have
    // scales near 1e-13, so the floor is f32's least normal number.
    if let Some(s) = scales.iter().find(|s| !(SCALE_MIN..=SCALE_MAX).contains(*s)) {
        bail!("tensor '{name}' has scale {s:e}; scales must lie between 2^-126 and 2^40");
    }
    if zero_points.len() > 1 && zero_points.len() != scales.len() {
        bail!("tensor '{name}' has {} scales but {} zero points", scales.len(), zero_points.len());
    }
    if zero_points.iter().any(|&z| !(-128..=127).contains(&z) && scales.len() == 1) {
        bail!("tensor '{name}' has zero point {:?}, outside int8", zero_points);
    }
    let axis = q.quantized_dimension();
    if scales.len() > 1 && (axis < 0 || axis as usize >= shape.len() || shape[axis as usize] != scales.len()) {
        bail!("tensor '{name}' of shape {shape:?} has {} scales along dimension {axis}", scales.len());
    }
    let zero_points = if zero_points.is_empty() { vec![0; scales.len()] } else { zero_points };
    Ok(Some(Quant { scales, zero_points, axis: axis.max(0) as usize }))
}

/// Transposes a constant's bytes (elements of `size` bytes) from `shape`
/// by `perm` (output dim i is input dim perm[i]).
pub fn permute_bytes(data: &[u8], shape: &[usize], perm: &[usize], size: usize) -> Vec<u8> {
    let out_shape: Vec<usize> = perm.iter().map(|&d| shape[d]).collect();
    let strides = crate::ops::contiguous_strides(shape);
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(data.len());
    for k in 0..n {
        let (mut rem, mut src) = (k, 0);
        for i in (0..perm.len()).rev() {
            src += (rem % out_shape[i]) * strides[perm[i]];
            rem /= out_shape[i];
        }
        out.extend_from_slice(&data[src * size..(src + 1) * size]);
    }
    out
}
