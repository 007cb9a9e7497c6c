//! The ONNX model behind `hybridc serve`: tract's optimised plan, built once
//! and shared by every request (running it only needs `&self`), with the
//! input and output facts the protocol reports.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use tract_onnx::prelude::*;

use super::kserve::{DataType, TensorMetadata, Values};

/// A model input or output; `None` dimensions are dynamic.
#[derive(Debug, Clone)]
pub struct TensorSpec {
    pub name: String,
    pub datatype: DataType,
    pub dims: Vec<Option<usize>>,
}

impl TensorSpec {
    pub fn metadata(&self) -> TensorMetadata {
        TensorMetadata {
            name: self.name.clone(),
            datatype: self.datatype.name(),
            shape: self.dims.iter().map(|d| d.map_or(-1, |d| d as i64)).collect(),
        }
    }

    /// Whether a request's shape fits (any size for a dynamic dimension).
    pub fn accepts(&self, shape: &[usize]) -> bool {
        shape.len() == self.dims.len() && self.dims.iter().zip(shape).all(|(d, &s)| d.is_none_or(|d| d == s))
    }
}

pub struct ServedModel {
    plan: Arc<TypedSimplePlan>,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

fn datatype(dt: DatumType) -> Option<DataType> {
    Some(match dt {
        DatumType::F32 => DataType::Fp32,
        DatumType::F64 => DataType::Fp64,
        DatumType::I8 => DataType::Int8,
        DatumType::U8 => DataType::Uint8,
        DatumType::I32 => DataType::Int32,
        DatumType::I64 => DataType::Int64,
        _ => return None,
    })
}

fn spec(model: &TypedModel, outlet: OutletId) -> Result<(DatumType, Vec<Option<usize>>)> {
    let fact = model.outlet_fact(outlet)?;
    Ok((fact.datum_type, fact.shape.iter().map(|d| d.as_i64().map(|v| v as usize)).collect()))
}

impl ServedModel {
    pub fn load(path: &Path) -> Result<ServedModel> {
        let typed = tract_onnx::onnx()
            .model_for_path(path)
            .and_then(|m| m.into_typed())
            .map_err(|e| anyhow!("tract cannot load {}: {e:#}", path.display()))?;
        let mut inputs = vec![];
        for &o in typed.input_outlets()? {
            let name = typed.node(o.node).name.clone();
            let (dt, dims) = spec(&typed, o)?;
            let datatype = datatype(dt).with_context(|| format!("input '{name}' has type {dt:?}, which the protocol side of hybridc does not take"))?;
            inputs.push(TensorSpec { name, datatype, dims });
        }
        let mut outputs = vec![];
        for &o in typed.output_outlets()? {
            let name = typed.outlet_label(o).unwrap_or(&typed.node(o.node).name).to_string();
            let (dt, dims) = spec(&typed, o)?;
            // Other output types are answered as FP32 (see `run`).
            outputs.push(TensorSpec { name, datatype: datatype(dt).unwrap_or(DataType::Fp32), dims });
        }
        let plan = typed
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| anyhow!("tract cannot optimise {}: {e:#}", path.display()))?;
        Ok(ServedModel { plan, inputs, outputs })
    }

    /// Runs one request: each model input (in model order) as its shape and
    /// its values, already checked against its type. Returns every output.
    pub fn run(&self, inputs: Vec<(Vec<usize>, Vec<f64>)>) -> Result<Vec<(Vec<usize>, Values)>> {
        if inputs.len() != self.inputs.len() {
            bail!("the model takes {} inputs, got {}", self.inputs.len(), inputs.len());
        }
        let tensors = inputs
            .iter()
            .zip(&self.inputs)
            .map(|((shape, v), s)| tensor(shape, Values::from_f64(s.datatype, v)).map(TValue::from))
            .collect::<Result<TVec<_>>>()?;
        let out = self.plan.run(tensors).map_err(|e| anyhow!("tract: {e}"))?;
        out.iter().map(|t| Ok((t.shape().to_vec(), values(t)?))).collect()
    }
}

fn tensor(shape: &[usize], v: Values) -> Result<Tensor> {
    Ok(match v {
        Values::F32(x) => Tensor::from_shape(shape, &x),
        Values::F64(x) => Tensor::from_shape(shape, &x),
        Values::I8(x) => Tensor::from_shape(shape, &x),
        Values::U8(x) => Tensor::from_shape(shape, &x),
        Values::I32(x) => Tensor::from_shape(shape, &x),
        Values::I64(x) => Tensor::from_shape(shape, &x),
    }?)
}

fn plain<T: Datum + Copy>(t: &Tensor) -> Result<Vec<T>> {
    Ok(t.to_plain_array_view::<T>()?.iter().copied().collect())
}

fn values(t: &Tensor) -> Result<Values> {
    Ok(match t.datum_type() {
        DatumType::F32 => Values::F32(plain(t)?),
        DatumType::F64 => Values::F64(plain(t)?),
        DatumType::I8 => Values::I8(plain(t)?),
        DatumType::U8 => Values::U8(plain(t)?),
        DatumType::I32 => Values::I32(plain(t)?),
        DatumType::I64 => Values::I64(plain(t)?),
        _ => Values::F32(plain(t.cast_to::<f32>()?.as_ref())?),
    })
}
