//! Data transpose, int8: output storage dim i is input storage dim perm[i].
//! ONNX Transpose nodes are views (frontend); the importer inserts this op
//! where the bytes must move (e.g. NHWC data flattened in ONNX's order).

use anyhow::Result;
use hybridc_kernels::shape as k;

use super::{contiguous_strides, emit, CCode, CSite, OpKind, RustCode, RustSite};

#[derive(Debug, Clone)]
pub struct Transpose {
    pub p: k::Transpose,
}

impl Transpose {
    /// The transpose of an input of storage shape `in_shape` by `perm`;
    /// None when it does not reduce to 4 dims (see [`permuted_loop`]).
    pub fn new(in_shape: &[usize], perm: &[usize]) -> Option<Transpose> {
        let (out_shape, in_strides) = permuted_loop(in_shape, perm)?;
        Some(Transpose { p: k::Transpose { out_shape, in_strides } })
    }
}

/// The 4-D loop (output shape, input strides in elements) that writes a
/// tensor of shape `in_shape` with its dims permuted: output dim i is input
/// dim perm[i]. Size-1 dims are dropped and dims that stay adjacent are
/// merged, so e.g. a 5-D channel shuffle with batch 1 fits; None when more
/// than 4 dims remain.
pub fn permuted_loop(in_shape: &[usize], perm: &[usize]) -> Option<([usize; 4], [usize; 4])> {
    let strides = contiguous_strides(in_shape);
    let dims: Vec<(usize, usize)> = perm.iter().map(|&p| (in_shape[p], strides[p])).collect();
    strided_loop(&dims)
}

/// The 4-D loop over dims given outermost first as (size, input stride):
/// size-1 dims dropped, a dim merged into the one before it when they walk
/// the input as one; None when more than 4 dims remain.
pub fn strided_loop(dims: &[(usize, usize)]) -> Option<([usize; 4], [usize; 4])> {
    let mut merged: Vec<(usize, usize)> = vec![];
    for &(size, stride) in dims.iter().filter(|d| d.0 != 1) {
        match merged.last_mut() {
            Some((s, st)) if *st == stride * size => {
                *s *= size;
                *st = stride;
            }
            _ => merged.push((size, stride)),
        }
    }
    if merged.len() > 4 {
        return None;
    }
    let (mut out_shape, mut in_strides) = ([1; 4], [0; 4]);
    for (i, (size, stride)) in merged.iter().enumerate() {
        out_shape[4 - merged.len() + i] = *size;
        in_strides[4 - merged.len() + i] = *stride;
    }
    Some((out_shape, in_strides))
}

/// The C parameters of the transpose kernel's loop (also Slice's).
pub fn c_params(l: &str, p: &k::Transpose) -> String {
    format!(
        "static const hyb_transpose_params {l}_params = {{ .out_shape = {{{}}}, .in_strides = {{{}}} }};\n",
        emit::join(&p.out_shape),
        emit::join(&p.in_strides)
    )
}

#[cfg(test)]
mod tests {
    use super::permuted_loop;

    #[test]
    fn drops_unit_dims_and_merges_adjacent_ones() {
        // NCHW [1, 3, 4, 5] -> NHWC: H and W stay adjacent.
        assert_eq!(permuted_loop(&[1, 3, 4, 5], &[0, 2, 3, 1]), Some(([1, 1, 20, 3], [0, 0, 1, 20])));
        // Channel shuffle [1, 2, 4, 6, 6] by [0, 2, 1, 3, 4].
        assert_eq!(permuted_loop(&[1, 2, 4, 6, 6], &[0, 2, 1, 3, 4]), Some(([1, 4, 2, 36], [0, 36, 144, 1])));
        assert_eq!(permuted_loop(&[1, 1, 7], &[2, 0, 1]), Some(([1, 1, 1, 7], [0, 0, 0, 1])));
        assert_eq!(permuted_loop(&[2, 3, 2, 3, 2], &[4, 3, 2, 1, 0]), None);
    }
}

impl OpKind for Transpose {
    fn name(&self) -> &'static str { "Transpose" }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        k::transpose(&self.p, arena, at.inputs[0], at.output);
    }

    fn c(&self, s: &CSite) -> CCode { s.code("hyb_transpose_s8", c_params(&s.l, &self.p)) }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> { s.code("shape", "transpose", "Transpose", &self.p, "") }
}
