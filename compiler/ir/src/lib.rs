//! hybridc's intermediate representation: a static-shape int8 graph.
//!
//! Activations are stored NHWC (channels last, like TFLite Micro); weights are
//! kept in the layout the kernels read. Every stage after the frontend talks
//! through these types only. The graph is generic over its op type: the IR
//! knows tensors and their order, the compiler's op modules know the ops
//! (`hybridc_core::ops`), so a new op never touches this crate.

use serde::Serialize;

pub type TensorId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    I8,
    I32,
    F32,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I32 | DType::F32 => 4,
        }
    }
    pub fn c_type(self) -> &'static str {
        match self {
            DType::I8 => "int8_t",
            DType::I32 => "int32_t",
            DType::F32 => "float",
        }
    }
    pub fn npy_descr(self) -> &'static str {
        match self {
            DType::I8 => "|i1",
            DType::I32 => "<i4",
            DType::F32 => "<f4",
        }
    }
}

/// Per-tensor affine quantization: real = scale * (q - zero_point).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QParams {
    pub scale: f32,
    pub zero_point: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tensor {
    /// Name of the ONNX value this tensor carries (what `--outputs` accepts).
    pub name: String,
    /// Shape in storage order (NHWC for feature maps).
    pub shape: Vec<usize>,
    /// Shape as the ONNX graph sees it (NCHW for feature maps).
    pub onnx_shape: Vec<usize>,
    pub dtype: DType,
    pub quant: Option<QParams>,
    /// A view (Reshape, Flatten, Transpose that keeps the bytes in place) of
    /// another tensor: no storage of its own.
    pub alias_of: Option<TensorId>,
    /// Constant contents (little-endian bytes), kept in flash, not the arena.
    #[serde(skip)]
    pub data: Option<Vec<u8>>,
    /// Storage dim i holds ONNX dim layout[i] (None: the same order).
    pub layout: Option<Vec<usize>>,
}

impl Tensor {
    /// Reorders values from ONNX (logical) order into this tensor's storage order.
    pub fn to_storage_order<T: Copy>(&self, logical: &[T]) -> Vec<T> {
        let Some(perm) = &self.layout else { return logical.to_vec() };
        let l = &self.onnx_shape;
        let n = l.len();
        let mut strides = vec![1; n];
        for d in (0..n.saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * l[d + 1];
        }
        let shape: Vec<usize> = perm.iter().map(|&d| l[d]).collect();
        (0..logical.len())
            .map(|k| {
                let (mut rem, mut src) = (k, 0);
                for i in (0..n).rev() {
                    src += (rem % shape[i]) * strides[perm[i]];
                    rem /= shape[i];
                }
                logical[src]
            })
            .collect()
    }
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn bytes(&self) -> usize {
        self.len() * self.dtype.size()
    }
    /// (H, W, C) of an NHWC feature map, or (1, 1, N) of a vector.
    pub fn hwc(&self) -> [usize; 3] {
        hwc(&self.shape)
    }
}

/// (H, W, C) of an NHWC storage shape, or (1, 1, N) of a vector.
pub fn hwc(shape: &[usize]) -> [usize; 3] {
    match shape.len() {
        4 => [shape[1], shape[2], shape[3]],
        3 => [shape[0], shape[1], shape[2]],
        _ => [1, 1, shape.iter().product()],
    }
}

/// Fused activation, kept in real units until quantization clamps it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Activation {
    None,
    Relu,
    Relu6,
    Clip { min: f32, max: f32 },
}

impl Activation {
    /// The (min, max) real range the activation clamps to, if any.
    pub fn range(self) -> (Option<f32>, Option<f32>) {
        match self {
            Activation::None => (None, None),
            Activation::Relu => (Some(0.0), None),
            Activation::Relu6 => (Some(0.0), Some(6.0)),
            Activation::Clip { min, max } => (Some(min), Some(max)),
        }
    }
}

/// One op of the schedule: its kind (an op module's type), operands and result.
#[derive(Debug, Clone)]
pub struct Op<K> {
    /// Name of the ONNX node that produced the op's result.
    pub name: String,
    pub kind: K,
    pub inputs: Vec<TensorId>,
    pub output: TensorId,
}

#[derive(Debug, Clone)]
pub struct Graph<K> {
    pub tensors: Vec<Tensor>,
    /// Ops in execution order.
    pub ops: Vec<Op<K>>,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
}

impl<K> Default for Graph<K> {
    fn default() -> Self {
        Graph { tensors: vec![], ops: vec![], inputs: vec![], outputs: vec![] }
    }
}

impl<K> Graph<K> {
    pub fn add_tensor(&mut self, t: Tensor) -> TensorId {
        self.tensors.push(t);
        self.tensors.len() - 1
    }

    /// Finds a tensor by ONNX name.
    pub fn find(&self, name: &str) -> Option<TensorId> {
        self.tensors.iter().position(|t| t.name == name)
    }

    /// The tensor that owns the storage of `t` (itself unless a view).
    pub fn base(&self, t: TensorId) -> TensorId {
        let mut t = t;
        while let Some(b) = self.tensors[t].alias_of {
            t = b;
        }
        t
    }

    /// The op producing a tensor, if any.
    pub fn producer(&self, t: TensorId) -> Option<usize> {
        self.ops.iter().position(|op| op.output == t)
    }

    /// Bytes of the constant tensors (kept in flash).
    pub fn constant_bytes(&self) -> usize {
        self.tensors.iter().filter_map(|t| t.data.as_ref()).map(|d| d.len()).sum()
    }

    pub fn is_const(&self, t: TensorId) -> bool {
        self.tensors[self.base(t)].data.is_some()
    }
}

pub mod hybrid;
pub use hybrid::*;
