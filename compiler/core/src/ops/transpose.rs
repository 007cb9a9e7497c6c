//! Data transpose, int8: output storage dim i is input storage dim perm[i].
//! ONNX Transpose nodes are views (frontend); the importer inserts this op
//! where the bytes must move (e.g. NHWC data flattened in ONNX's order).

use anyhow::Result;
use hybridc_kernels::shape as k;

use super::{contiguous_strides, emit, shape4, CCode, CSite, OpKind, RustCode, RustSite};

#[derive(Debug, Clone)]
pub struct Transpose {
    pub p: k::Transpose,
}

impl Transpose {
    /// The transpose of an input of storage shape `in_shape` by `perm`.
    pub fn new(in_shape: &[usize], perm: &[usize]) -> Transpose {
        let n = in_shape.len();
        let strides = contiguous_strides(in_shape);
        let mut in_strides = [0; 4];
        for (i, &p) in perm.iter().enumerate() {
            in_strides[4 - n + i] = strides[p];
        }
        let out: Vec<usize> = perm.iter().map(|&p| in_shape[p]).collect();
        Transpose { p: k::Transpose { out_shape: shape4(&out), in_strides } }
    }
}

impl OpKind for Transpose {
    fn name(&self) -> &'static str { "Transpose" }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        k::transpose(&self.p, arena, at.inputs[0], at.output);
    }

    fn c(&self, s: &CSite) -> CCode {
        let data = format!(
            "static const hyb_transpose_params {}_params = {{ .out_shape = {{{}}}, .in_strides = {{{}}} }};\n",
            s.l,
            emit::join(&self.p.out_shape),
            emit::join(&self.p.in_strides)
        );
        s.code("hyb_transpose_s8", data)
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> { s.code("shape", "transpose", "Transpose", &self.p, "") }
}
