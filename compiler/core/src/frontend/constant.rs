//! Constant tensors (initializers, Constant nodes) and their quantization.

use anyhow::{bail, Result};
use tract_onnx::data_resolver::MmapDataResolver;
use tract_onnx::pb;
use tract_onnx::prelude::*;

#[derive(Debug, Clone)]
pub enum Data {
    I8(Vec<i8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
}

/// Quantization attached by a DequantizeLinear on a constant.
#[derive(Debug, Clone)]
pub struct ConstQuant {
    pub scales: Vec<f32>,
    pub zero_points: Vec<i32>,
    pub axis: usize,
}

#[derive(Debug, Clone)]
pub struct Constant {
    pub shape: Vec<usize>,
    pub data: Data,
    pub quant: Option<ConstQuant>,
}

impl Constant {
    pub fn from_proto(t: &pb::TensorProto) -> Result<Constant> {
        let tensor = tract_onnx::tensor::load_tensor(&MmapDataResolver, t, None)
            .map_err(|e| anyhow::anyhow!("cannot read constant '{}': {e}", t.name))?;
        Self::from_tensor(&tensor, &t.name)
    }

    pub fn from_tensor(tensor: &Tensor, name: &str) -> Result<Constant> {
        let shape = tensor.shape().to_vec();
        let data = match tensor.datum_type() {
            DatumType::I8 => Data::I8(tensor.to_plain_array_view::<i8>()?.iter().copied().collect()),
            DatumType::U8 => bail!("constant '{name}' is uint8; hybridc supports int8 (signed) quantization, as TFLite's int8 spec"),
            DatumType::I32 => Data::I32(tensor.to_plain_array_view::<i32>()?.iter().copied().collect()),
            DatumType::I64 => Data::I64(tensor.to_plain_array_view::<i64>()?.iter().copied().collect()),
            DatumType::F32 => Data::F32(tensor.to_plain_array_view::<f32>()?.iter().copied().collect()),
            dt => bail!("constant '{name}' has data type {dt:?}, which hybridc does not handle"),
        };
        Ok(Constant { shape, data, quant: None })
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn as_f32(&self) -> Option<Vec<f32>> {
        match &self.data {
            Data::F32(v) => Some(v.clone()),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<Vec<i64>> {
        match &self.data {
            Data::I64(v) => Some(v.clone()),
            Data::I32(v) => Some(v.iter().map(|&x| x as i64).collect()),
            Data::I8(v) => Some(v.iter().map(|&x| x as i64).collect()),
            Data::F32(_) => None,
        }
    }

    /// A scalar's value as f32 (scales) or i32 (zero points).
    pub fn scalar_f32(&self) -> Option<f32> {
        (self.len() == 1).then(|| self.as_f32().map(|v| v[0])).flatten()
    }
}
