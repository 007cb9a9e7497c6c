//! hybridc's intermediate representation: a static-shape int8 graph.
//!
//! Activations are stored NHWC (channels last, like TFLite Micro); weights are
//! kept in the layout the kernels read. Every stage after the frontend talks
//! through these types only.

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
        match self.shape.len() {
            4 => [self.shape[1], self.shape[2], self.shape[3]],
            3 => [self.shape[0], self.shape[1], self.shape[2]],
            _ => [1, 1, self.len()],
        }
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

#[derive(Debug, Clone, Serialize)]
pub struct Conv2d {
    /// Depthwise: weights [kh][kw][out_c], out_c = in_c * depth_multiplier.
    /// Regular: weights [out_c][kh][kw][in_c].
    pub depthwise: bool,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// Padding before the first row / column (the rest follows from shapes).
    pub pad_top: usize,
    pub pad_left: usize,
    #[serde(skip)]
    pub weights: Vec<i8>,
    /// Per output channel weight scales (symmetric, zero point 0).
    #[serde(skip)]
    pub weight_scales: Vec<f32>,
    #[serde(skip)]
    pub bias: Vec<i32>,
    pub activation: Activation,
}

#[derive(Debug, Clone, Serialize)]
pub struct FullyConnected {
    /// Weights [out][in].
    #[serde(skip)]
    pub weights: Vec<i8>,
    pub weight_scale: f32,
    #[serde(skip)]
    pub bias: Vec<i32>,
    pub activation: Activation,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pool {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pad_top: usize,
    pub pad_left: usize,
    pub activation: Activation,
}

#[derive(Debug, Clone, Serialize)]
pub enum OpKind {
    Conv2d(Conv2d),
    FullyConnected(FullyConnected),
    /// Element-wise add of two tensors of the same shape.
    Add { activation: Activation },
    AveragePool(Pool),
    /// Softmax over the innermost dimension.
    Softmax { beta: f32 },
    /// Max pooling (int8; input and output share quantization).
    MaxPool(Pool),
    /// Element-wise product, with broadcasting.
    Mul { activation: Activation },
    /// Concatenation along a storage axis, requantizing inputs to the output.
    Concat { axis: usize },
    /// Constant padding with the quantized zero, per storage axis.
    Pad { before: Vec<usize>, after: Vec<usize> },
    /// An element-wise int8 -> int8 function as a 256-entry table
    /// (entry q + 128), computed at compile time from the float function.
    Lut { function: String, #[serde(skip)] table: Vec<i8> },
    /// Data transpose: output storage dim i is input storage dim perm[i].
    Transpose { perm: Vec<usize> },
    /// float32 -> int8 with the output tensor's quantization.
    Quantize,
    /// int8 -> float32 with the input tensor's quantization.
    Dequantize,
    /// A float32 op, for what has no int8 kernel (e.g. TopK in a router).
    Float(FloatOp),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum UnaryFn {
    Exp,
    Log,
    Sqrt,
    Neg,
    Abs,
    Sigmoid,
    Tanh,
    Relu,
    Reciprocal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BinaryFn {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ReduceFn {
    Sum,
    Mean,
    Max,
    Min,
}

/// float32 ops; shapes are the storage shapes of their tensors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum FloatOp {
    Unary(UnaryFn),
    /// Broadcasting element-wise op of two inputs.
    Binary(BinaryFn),
    /// Reduction over storage axes (the output keeps them as size 1 in storage).
    Reduce { op: ReduceFn, axes: Vec<usize> },
    /// Softmax over the innermost axis.
    Softmax,
    /// The k largest (or smallest) values along the innermost axis, sorted.
    TopK { k: usize, largest: bool },
    Concat { axis: usize },
    /// out[i] = in[offset + sum(i_d * strides[d])]: Slice, Gather, Transpose.
    Strided { offset: usize, strides: Vec<isize> },
}

impl OpKind {
    pub fn name(&self) -> &'static str {
        match self {
            OpKind::Conv2d(c) if c.depthwise => "DepthwiseConv2D",
            OpKind::Conv2d(_) => "Conv2D",
            OpKind::FullyConnected(_) => "FullyConnected",
            OpKind::Add { .. } => "Add",
            OpKind::AveragePool(_) => "AveragePool2D",
            OpKind::Softmax { .. } => "Softmax",
            OpKind::MaxPool(_) => "MaxPool2D",
            OpKind::Mul { .. } => "Mul",
            OpKind::Concat { .. } => "Concat",
            OpKind::Pad { .. } => "Pad",
            OpKind::Lut { .. } => "Lut",
            OpKind::Transpose { .. } => "Transpose",
            OpKind::Quantize => "Quantize",
            OpKind::Dequantize => "Dequantize",
            OpKind::Float(f) => match f {
                FloatOp::Unary(_) => "Unary (float)",
                FloatOp::Binary(_) => "Binary (float)",
                FloatOp::Reduce { .. } => "Reduce (float)",
                FloatOp::Softmax => "Softmax (float)",
                FloatOp::TopK { .. } => "TopK (float)",
                FloatOp::Concat { .. } => "Concat (float)",
                FloatOp::Strided { .. } => "Slice (float)",
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Op {
    /// Name of the ONNX node that produced the op's result.
    pub name: String,
    pub kind: OpKind,
    pub inputs: Vec<TensorId>,
    pub output: TensorId,
}

#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub tensors: Vec<Tensor>,
    /// Ops in execution order.
    pub ops: Vec<Op>,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
}

impl Graph {
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

    /// Multiply-accumulates of one op, as TFLite Micro's benchmarks count them.
    pub fn macs(&self, op: &Op) -> u64 {
        let out = &self.tensors[op.output];
        match &op.kind {
            OpKind::Conv2d(c) => {
                let per_out = if c.depthwise {
                    c.kernel[0] * c.kernel[1]
                } else {
                    c.kernel[0] * c.kernel[1] * self.tensors[op.inputs[0]].hwc()[2]
                };
                (out.len() * per_out) as u64
            }
            OpKind::FullyConnected(_) => (out.len() * self.tensors[op.inputs[0]].len()) as u64,
            _ => 0,
        }
    }

    /// Weight bytes in flash: int8 weights, int32 biases, lookup tables and
    /// constant tensors.
    pub fn weights_bytes(&self) -> usize {
        let ops: usize = self
            .ops
            .iter()
            .map(|op| match &op.kind {
                OpKind::Conv2d(c) => c.weights.len() + 4 * c.bias.len(),
                OpKind::FullyConnected(f) => f.weights.len() + 4 * f.bias.len(),
                OpKind::Lut { table, .. } => table.len(),
                _ => 0,
            })
            .sum();
        ops + self.tensors.iter().filter_map(|t| t.data.as_ref()).map(|d| d.len()).sum::<usize>()
    }

    pub fn is_const(&self, t: TensorId) -> bool {
        self.tensors[self.base(t)].data.is_some()
    }
}
