//! The KServe v2 / Open Inference Protocol REST shapes, shared by the server
//! (`serve`) and its client (`gateway`), with Triton's binary tensor data
//! extension (the default of the official `tritonclient`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Header giving the JSON part's length when binary tensors follow it.
pub const HEADER_JSON_LEN: &str = "inference-header-content-length";

/// The element types hybridc accepts and returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Fp32,
    Fp64,
    Int8,
    Uint8,
    Int32,
    Int64,
}

impl DataType {
    pub const ALL: [DataType; 6] =
        [DataType::Fp32, DataType::Fp64, DataType::Int8, DataType::Uint8, DataType::Int32, DataType::Int64];

    pub fn name(self) -> &'static str {
        match self {
            DataType::Fp32 => "FP32",
            DataType::Fp64 => "FP64",
            DataType::Int8 => "INT8",
            DataType::Uint8 => "UINT8",
            DataType::Int32 => "INT32",
            DataType::Int64 => "INT64",
        }
    }

    pub fn parse(s: &str) -> Option<DataType> {
        DataType::ALL.into_iter().find(|d| d.name() == s)
    }

    pub fn size(self) -> usize {
        match self {
            DataType::Int8 | DataType::Uint8 => 1,
            DataType::Fp32 | DataType::Int32 => 4,
            DataType::Fp64 | DataType::Int64 => 8,
        }
    }

    /// The integer range of an integer type; None for floats.
    fn range(self) -> Option<(f64, f64)> {
        match self {
            DataType::Int8 => Some((i8::MIN as f64, i8::MAX as f64)),
            DataType::Uint8 => Some((0.0, u8::MAX as f64)),
            DataType::Int32 => Some((i32::MIN as f64, i32::MAX as f64)),
            DataType::Int64 => Some((i64::MIN as f64, i64::MAX as f64)),
            DataType::Fp32 | DataType::Fp64 => None,
        }
    }

    /// Whether `v` is a value of this type (integer types: whole and in range).
    pub fn admits(self, v: f64) -> bool {
        match self.range() {
            Some((lo, hi)) => v.fract() == 0.0 && v >= lo && v <= hi,
            None => true,
        }
    }

    /// Decodes little-endian binary tensor data.
    pub fn from_le_bytes(self, b: &[u8]) -> Vec<f64> {
        let chunks = b.chunks_exact(self.size());
        match self {
            DataType::Fp32 => chunks.map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
            DataType::Fp64 => chunks.map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
            DataType::Int8 => chunks.map(|c| c[0] as i8 as f64).collect(),
            DataType::Uint8 => chunks.map(|c| c[0] as f64).collect(),
            DataType::Int32 => chunks.map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
            DataType::Int64 => chunks.map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        }
    }
}

/// Tensor values in their own type, so that JSON prints them exactly
/// (an f32 as its shortest decimal, not widened to f64).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl Values {
    /// Converts numbers already checked against `dt` (see `flatten`).
    pub fn from_f64(dt: DataType, v: &[f64]) -> Values {
        match dt {
            DataType::Fp32 => Values::F32(v.iter().map(|&x| x as f32).collect()),
            DataType::Fp64 => Values::F64(v.to_vec()),
            DataType::Int8 => Values::I8(v.iter().map(|&x| x as i8).collect()),
            DataType::Uint8 => Values::U8(v.iter().map(|&x| x as u8).collect()),
            DataType::Int32 => Values::I32(v.iter().map(|&x| x as i32).collect()),
            DataType::Int64 => Values::I64(v.iter().map(|&x| x as i64).collect()),
        }
    }

    pub fn datatype(&self) -> DataType {
        match self {
            Values::F32(_) => DataType::Fp32,
            Values::F64(_) => DataType::Fp64,
            Values::I8(_) => DataType::Int8,
            Values::U8(_) => DataType::Uint8,
            Values::I32(_) => DataType::Int32,
            Values::I64(_) => DataType::Int64,
        }
    }

    pub fn to_le_bytes(&self) -> Vec<u8> {
        fn all<T, const N: usize>(v: &[T], f: impl Fn(&T) -> [u8; N]) -> Vec<u8> {
            v.iter().flat_map(f).collect()
        }
        match self {
            Values::F32(v) => all(v, |x| x.to_le_bytes()),
            Values::F64(v) => all(v, |x| x.to_le_bytes()),
            Values::I8(v) => all(v, |x| x.to_le_bytes()),
            Values::U8(v) => v.clone(),
            Values::I32(v) => all(v, |x| x.to_le_bytes()),
            Values::I64(v) => all(v, |x| x.to_le_bytes()),
        }
    }
}

/// Flattens JSON tensor data (flat or nested arrays, row-major) into numbers
/// of type `dt`; a non-number, or a number outside the type, is an error.
pub fn flatten(v: &Value, dt: DataType, out: &mut Vec<f64>) -> Result<(), String> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|item| flatten(item, dt, out)),
        Value::Number(n) => {
            let x = n.as_f64().ok_or_else(|| format!("{n} is not a number hybridc can read"))?;
            if !dt.admits(x) {
                return Err(format!("{n} is not a {} value", dt.name()));
            }
            out.push(x);
            Ok(())
        }
        other => Err(format!("tensor data must be numbers, found {}", json_kind(other))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::String(_) => "a string",
        Value::Object(_) => "an object",
        Value::Array(_) => "an array",
        Value::Number(_) => "a number",
    }
}

#[derive(Debug, Deserialize)]
pub struct InferRequest {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    pub inputs: Vec<RequestInput>,
    #[serde(default)]
    pub outputs: Option<Vec<RequestOutput>>,
}

#[derive(Debug, Deserialize)]
pub struct RequestInput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    #[serde(default)]
    pub data: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct RequestOutput {
    pub name: String,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
}

/// A boolean parameter, false when absent.
pub fn flag(params: &Option<Map<String, Value>>, key: &str) -> bool {
    params.as_ref().and_then(|p| p.get(key)).and_then(Value::as_bool).unwrap_or(false)
}

#[derive(Debug, Serialize)]
pub struct InferResponse {
    pub model_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub outputs: Vec<ResponseOutput>,
}

#[derive(Debug, Serialize)]
pub struct ResponseOutput {
    pub name: String,
    pub datatype: &'static str,
    pub shape: Vec<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Values>,
}

/// A model input or output in the metadata; -1 marks a dynamic dimension.
#[derive(Debug, Clone, Serialize)]
pub struct TensorMetadata {
    pub name: String,
    pub datatype: &'static str,
    pub shape: Vec<i64>,
}

#[derive(Debug, Serialize)]
pub struct ModelMetadata {
    pub name: String,
    pub versions: Vec<String>,
    pub platform: &'static str,
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flatten_nested_and_flat() {
        let mut out = vec![];
        flatten(&json!([[1, 2.5], [3, -4]]), DataType::Fp32, &mut out).unwrap();
        assert_eq!(out, vec![1.0, 2.5, 3.0, -4.0]);
        let mut out = vec![];
        flatten(&json!([0, 255]), DataType::Uint8, &mut out).unwrap();
        assert_eq!(out, vec![0.0, 255.0]);
    }

    #[test]
    fn flatten_rejects_what_the_type_cannot_hold() {
        let mut out = vec![];
        assert!(flatten(&json!([256]), DataType::Uint8, &mut out).unwrap_err().contains("UINT8"));
        assert!(flatten(&json!([1.5]), DataType::Int32, &mut out).is_err());
        assert!(flatten(&json!([-129]), DataType::Int8, &mut out).is_err());
        assert!(flatten(&json!(["1"]), DataType::Fp32, &mut out).unwrap_err().contains("string"));
        assert!(flatten(&json!([null]), DataType::Fp32, &mut out).is_err());
    }

    #[test]
    fn values_print_exactly_and_as_bytes() {
        let v = Values::from_f64(DataType::Fp32, &[0.1f32 as f64, 2.0]);
        assert_eq!(serde_json::to_string(&v).unwrap(), "[0.1,2.0]");
        assert_eq!(v.to_le_bytes(), [0.1f32.to_le_bytes(), 2.0f32.to_le_bytes()].concat());
        for dt in DataType::ALL {
            let back = Values::from_f64(dt, &dt.from_le_bytes(&Values::from_f64(dt, &[1.0, 100.0]).to_le_bytes()));
            assert_eq!(back, Values::from_f64(dt, &[1.0, 100.0]));
            assert_eq!(DataType::parse(dt.name()), Some(dt));
        }
        assert_eq!(DataType::parse("BYTES"), None);
    }
}
