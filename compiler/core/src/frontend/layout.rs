//! Logical (ONNX) shapes versus storage order.
//!
//! A value's storage holds its logical dims permuted by `perm`:
//! storage dim i is logical dim perm[i]. Feature maps are NCHW in ONNX and
//! NHWC in storage, perm = [0, 2, 3, 1]. Two layouts hold the same bytes in
//! the same order when they agree once size-1 dims are dropped.

pub const NCHW_AS_NHWC: [usize; 4] = [0, 2, 3, 1];

pub fn identity(rank: usize) -> Vec<usize> {
    (0..rank).collect()
}

/// The storage shape of a logical shape under `perm`.
pub fn storage_shape(logical: &[usize], perm: &[usize]) -> Vec<usize> {
    perm.iter().map(|&d| logical[d]).collect()
}

/// True when both permutations give the same linear order of elements.
pub fn same_order(logical: &[usize], a: &[usize], b: &[usize]) -> bool {
    let keep = |p: &[usize]| -> Vec<usize> { p.iter().copied().filter(|&d| logical[d] != 1).collect() };
    keep(a) == keep(b)
}

/// The layout after an ONNX Transpose with permutation `t`.
pub fn transposed(perm: &[usize], t: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; t.len()];
    for (i, &d) in t.iter().enumerate() {
        inv[d] = i;
    }
    perm.iter().map(|&d| inv[d]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhwc_input_transposed_to_nchw_is_nhwc_storage() {
        // Input NHWC [1,32,32,3], identity storage; Transpose perm [0,3,1,2].
        let p = transposed(&[0, 1, 2, 3], &[0, 3, 1, 2]);
        assert_eq!(p, NCHW_AS_NHWC.to_vec());
        assert_eq!(storage_shape(&[1, 3, 32, 32], &p), vec![1, 32, 32, 3]);
    }

    #[test]
    fn size_one_dims_do_not_change_order() {
        assert!(same_order(&[1, 1, 49, 10], &[0, 1, 2, 3], &NCHW_AS_NHWC));
        assert!(!same_order(&[1, 8, 4, 4], &[0, 1, 2, 3], &NCHW_AS_NHWC));
    }
}
