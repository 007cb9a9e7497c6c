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

/// An ONNX Reshape of a value stored under `perm`: a Reshape only splits
/// and merges groups of dims, so it is a view when each group is stored
/// together and in ONNX order. Returns the storage order the input needs
/// (the same order as `perm` when no byte moves; else the one transpose
/// that puts each group together) and the output's storage order.
pub fn reshaped(logical: &[usize], perm: &[usize], out: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let in_order = (identity(logical.len()), identity(out.len()));
    let ins: Vec<usize> = (0..logical.len()).filter(|&d| logical[d] != 1).collect();
    let outs: Vec<usize> = (0..out.len()).filter(|&d| out[d] != 1).collect();
    // Groups of input dims and output dims with equal products.
    let mut group_of = vec![usize::MAX; logical.len()];
    let mut groups: Vec<(Vec<usize>, Vec<usize>)> = vec![];
    let (mut i, mut j) = (0, 0);
    while i < ins.len() && j < outs.len() {
        let (mut gi, mut go) = (vec![ins[i]], vec![outs[j]]);
        let (mut pi, mut po) = (logical[ins[i]], out[outs[j]]);
        (i, j) = (i + 1, j + 1);
        while pi != po {
            if pi < po && i < ins.len() {
                pi *= logical[ins[i]];
                gi.push(ins[i]);
                i += 1;
            } else if po < pi && j < outs.len() {
                po *= out[outs[j]];
                go.push(outs[j]);
                j += 1;
            } else {
                return in_order; // sizes that do not match: not a reshape
            }
        }
        for &d in &gi {
            group_of[d] = groups.len();
        }
        groups.push((gi, go));
    }
    if i != ins.len() || j != outs.len() {
        return in_order;
    }
    // Groups in the order storage first meets them.
    let mut order: Vec<usize> = vec![];
    for &d in perm.iter().filter(|&&d| logical[d] != 1) {
        if !order.contains(&group_of[d]) {
            order.push(group_of[d]);
        }
    }
    let unit = |shape: &[usize]| (0..shape.len()).filter(|&d| shape[d] == 1).collect::<Vec<_>>();
    let need = [unit(logical), order.iter().flat_map(|&g| groups[g].0.clone()).collect()].concat();
    let out_perm = [unit(out), order.iter().flat_map(|&g| groups[g].1.clone()).collect()].concat();
    (need, out_perm)
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
    fn reshapes_that_keep_groups_together_are_views() {
        // Channel split of an NHWC map [1, 8, 6, 6] into [1, 2, 4, 6, 6]: a view.
        let (need, out) = reshaped(&[1, 8, 6, 6], &NCHW_AS_NHWC, &[1, 2, 4, 6, 6]);
        assert!(same_order(&[1, 8, 6, 6], &need, &NCHW_AS_NHWC));
        assert_eq!(out, vec![0, 3, 4, 1, 2]);
        // Merging (4, 2) stored as (2, 4) after the shuffle's transpose: one
        // transpose brings the group into ONNX order, H and W stay outside.
        let shuffled = transposed(&out, &[0, 2, 1, 3, 4]);
        let (need, out) = reshaped(&[1, 4, 2, 6, 6], &shuffled, &[1, 8, 6, 6]);
        assert_eq!(need, vec![0, 3, 4, 1, 2]);
        assert_eq!(out, NCHW_AS_NHWC.to_vec());
        // Flatten of an NHWC map needs ONNX order (C, H, W)...
        let (need, _) = reshaped(&[1, 8, 2, 2], &NCHW_AS_NHWC, &[1, 32]);
        assert_eq!(need, vec![0, 1, 2, 3]);
        // ...unless H = W = 1 (after a global pool).
        let (need, _) = reshaped(&[1, 8, 1, 1], &NCHW_AS_NHWC, &[1, 8]);
        assert!(same_order(&[1, 8, 1, 1], &need, &NCHW_AS_NHWC));
    }

    #[test]
    fn size_one_dims_do_not_change_order() {
        assert!(same_order(&[1, 1, 49, 10], &[0, 1, 2, 3], &NCHW_AS_NHWC));
        assert!(!same_order(&[1, 8, 4, 4], &[0, 1, 2, 3], &NCHW_AS_NHWC));
    }
}
