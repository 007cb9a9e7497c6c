//! The KServe v2 / Open Inference Protocol REST shapes, shared by the server
//! (`serve`) and its client (`gateway`), with Triton's binary tensor data
//! extension (the default of the official `tritonclient`).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
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

    /// Whether `v` is a value of this type (integer types: whole and in
    /// range; floats: finite, and FP32 within its range).
    pub fn admits(self, v: f64) -> bool {
        match self.range() {
            Some((lo, hi)) => v.fract() == 0.0 && v >= lo && v <= hi,
            None => v.is_finite() && (self == DataType::Fp64 || v.abs() <= f32::MAX as f64),
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

/// Reads JSON tensor data (flat or nested arrays, row-major) into numbers
/// of type `dt` as it parses, without building a JSON tree: a non-number, a
/// number outside the type, ragged nesting (arrays of one depth with
/// different lengths, numbers at different depths) or more than `max`
/// values is an error, found before anything more is read.
pub fn read_data<'de, D: Deserializer<'de>>(data: D, dt: DataType, max: usize) -> Result<Vec<f64>, String> {
    let mut st = Tensor { dt, max, out: vec![], lens: vec![], leaf_depth: None };
    Level { st: &mut st, depth: 0 }.deserialize(data).map_err(|e| e.to_string())?;
    Ok(st.out)
}

/// `read_data` of data held as raw JSON text.
pub fn read_raw(data: &RawValue, dt: DataType, max: usize) -> Result<Vec<f64>, String> {
    read_data(&mut serde_json::Deserializer::from_str(data.get()), dt, max)
}

struct Tensor {
    dt: DataType,
    max: usize,
    out: Vec<f64>,
    /// The length of the arrays at each depth, from the first one seen.
    lens: Vec<Option<usize>>,
    leaf_depth: Option<usize>,
}

struct Level<'a> {
    st: &'a mut Tensor,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Level<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Level<'_> {
    fn number<E: de::Error>(self, x: f64, text: &dyn fmt::Display) -> Result<(), E> {
        let st = self.st;
        if *st.leaf_depth.get_or_insert(self.depth) != self.depth {
            return Err(E::custom("ragged data: numbers at different nesting depths"));
        }
        if !st.dt.admits(x) {
            return Err(E::custom(format!("{text} is not a {} value", st.dt.name())));
        }
        if st.out.len() == st.max {
            return Err(E::custom(format!("more than {} values", st.max)));
        }
        st.out.push(x);
        Ok(())
    }
}

impl<'de> Visitor<'de> for Level<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("tensor data: numbers in (nested) arrays")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.number(v as f64, &v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.number(v as f64, &v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.number(v, &v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (st, depth) = (self.st, self.depth);
        if st.leaf_depth.is_some_and(|d| d <= depth) {
            return Err(de::Error::custom("ragged data: numbers and arrays at the same nesting depth"));
        }
        let mut n = 0;
        while seq.next_element_seed(Level { st: &mut *st, depth: depth + 1 })?.is_some() {
            n += 1;
        }
        if st.lens.len() <= depth {
            st.lens.resize(depth + 1, None);
        }
        match *st.lens[depth].get_or_insert(n) {
            first if first != n => Err(de::Error::custom(format!("ragged data: an array at depth {depth} has {n} values, the first one there {first}"))),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct InferRequest<'a> {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    #[serde(borrow)]
    pub inputs: Vec<RequestInput<'a>>,
    #[serde(default)]
    pub outputs: Option<Vec<RequestOutput>>,
}

#[derive(Debug, Deserialize)]
pub struct RequestInput<'a> {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    /// Kept as text until the shape is checked (`read_raw`); JSON null
    /// reads as None.
    #[serde(default, borrow)]
    pub data: Option<&'a RawValue>,
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

    fn flatten(v: &Value, dt: DataType) -> Result<Vec<f64>, String> {
        let from_value = read_data(v, dt, 1000);
        let raw = serde_json::value::to_raw_value(v).unwrap();
        assert_eq!(from_value, read_raw(&raw, dt, 1000).map_err(|e| e.split(" at line").next().unwrap().to_string()));
        from_value
    }

    #[test]
    fn read_nested_and_flat() {
        assert_eq!(flatten(&json!([[1, 2.5], [3, -4]]), DataType::Fp32), Ok(vec![1.0, 2.5, 3.0, -4.0]));
        assert_eq!(flatten(&json!([0, 255]), DataType::Uint8), Ok(vec![0.0, 255.0]));
        assert_eq!(flatten(&json!([[[1], [2]], [[3], [4]]]), DataType::Int8), Ok(vec![1.0, 2.0, 3.0, 4.0]));
        assert_eq!(flatten(&json!(7), DataType::Int8), Ok(vec![7.0]));
        assert_eq!(flatten(&json!([[], []]), DataType::Int8), Ok(vec![]));
    }

    #[test]
    fn read_rejects_what_the_type_cannot_hold() {
        assert!(flatten(&json!([256]), DataType::Uint8).unwrap_err().contains("UINT8"));
        assert!(flatten(&json!([1.5]), DataType::Int32).is_err());
        assert!(flatten(&json!([-129]), DataType::Int8).is_err());
        assert!(flatten(&json!(["1"]), DataType::Fp32).unwrap_err().contains("string"));
        assert!(flatten(&json!([null]), DataType::Fp32).is_err());
        assert!(flatten(&json!([1e39]), DataType::Fp32).unwrap_err().contains("FP32"));
        assert!(flatten(&json!([1e300]), DataType::Fp64).is_ok());
        assert!(!DataType::Fp64.admits(f64::NAN) && !DataType::Fp32.admits(f64::INFINITY));
    }

    #[test]
    fn read_rejects_ragged_data_and_stops_at_max() {
        for ragged in [json!([[1, 2], [3]]), json!([[1, 2], 3]), json!([1, [2, 3]]), json!([[[1]], [2]]), json!([[1], [[2]]])] {
            assert!(flatten(&ragged, DataType::Fp32).unwrap_err().contains("ragged"), "{ragged}");
        }
        assert!(read_data(json!([1, 2, 3]), DataType::Fp32, 2).unwrap_err().contains("more than 2"));
        // The error comes at the value past the limit, before the rest is parsed.
        let text = format!("[1, 2, 3, {}", "x".repeat(1000));
        let mut d = serde_json::Deserializer::from_str(&text);
        assert!(read_data(&mut d, DataType::Fp32, 2).unwrap_err().contains("more than 2"));
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
