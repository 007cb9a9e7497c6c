//! Slice and Split, int8 (TFLite's StridedSlice and Split): a strided copy
//! of a window of the input, which keeps the input's quantization and
//! storage order. The copy is the transpose kernel's 4-D loop, started at
//! the window's first byte.

use anyhow::{anyhow, bail, Result};
use hybridc_kernels::shape as k;

use super::{contiguous_strides, CCode, CSite, OnnxOp, OpKind, RustCode, RustSite};
use crate::frontend::layout::storage_shape;
use crate::frontend::{node_label, Act8, Importer, Val};
use crate::ir::Op;

pub static ONNX: &[OnnxOp] = &[
    OnnxOp { onnx: "Slice", import: import_slice, keeps_scale: true },
    OnnxOp { onnx: "Split", import: import_split, keeps_scale: true },
];

#[derive(Debug, Clone)]
pub struct Slice {
    pub p: k::Transpose,
    /// Elements from the input's start to the window's first one.
    pub offset: usize,
}

/// A window on one axis: its first index, length and step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub start: usize,
    pub len: usize,
    pub step: i64,
}

/// ONNX Slice's windows on a tensor of shape `xs` (negative indices count
/// from the end, out-of-range ones clamp; axes not named keep everything).
pub fn slice_ranges(xs: &[usize], starts: &[i64], ends: &[i64], axes: Option<&[i64]>, steps: Option<&[i64]>) -> Result<Vec<Range>> {
    let rank = xs.len() as i64;
    let mut out: Vec<Range> = xs.iter().map(|&d| Range { start: 0, len: d, step: 1 }).collect();
    if starts.len() != ends.len() {
        bail!("Slice has {} starts but {} ends", starts.len(), ends.len());
    }
    for k in 0..starts.len() {
        let a = axes.map_or(k as i64, |v| v.get(k).copied().unwrap_or(k as i64));
        let a = if a < 0 { a + rank } else { a };
        if !(0..rank).contains(&a) {
            bail!("Slice axis {a} is out of range for rank {rank}");
        }
        let dim = xs[a as usize] as i64;
        let step = steps.and_then(|v| v.get(k).copied()).unwrap_or(1);
        if step == 0 {
            bail!("Slice step 0 on axis {a}");
        }
        let norm = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
        let (s, e) = if step > 0 {
            (norm(starts[k]).clamp(0, dim), norm(ends[k]).clamp(0, dim))
        } else {
            (norm(starts[k]).clamp(0, dim - 1), norm(ends[k]).clamp(-1, dim - 1))
        };
        let n = if step > 0 { (e - s + step - 1).max(0) / step } else { (s - e - step - 1).max(0) / -step };
        out[a as usize] = Range { start: s.max(0) as usize, len: n as usize, step };
    }
    Ok(out)
}

impl Slice {
    /// The window `r` (per logical axis) of `a`, read from its storage.
    fn of(a: &Act8, r: &[Range]) -> Result<Slice> {
        let shape = storage_shape(&a.logical, &a.perm);
        let strides = contiguous_strides(&shape);
        let mut offset = 0;
        let mut dims = vec![];
        for (j, &d) in a.perm.iter().enumerate() {
            if r[d].step < 0 {
                bail!("a Slice with a negative step is not supported on int8 tensors");
            }
            offset += r[d].start * strides[j];
            dims.push((r[d].len, strides[j] * r[d].step as usize));
        }
        let (out_shape, in_strides) = super::transpose::strided_loop(&dims)
            .ok_or_else(|| anyhow!("a Slice of {:?} by {r:?} would need more than 4 dims (other than 1); not supported", a.logical))?;
        Ok(Slice { p: k::Transpose { out_shape, in_strides }, offset })
    }
}

/// Adds the op writing window `r` of `a` into ONNX value `out`.
fn push(im: &mut Importer, a: &Act8, r: &[Range], out: &str, op_name: String) -> Result<Act8> {
    let kind = Slice::of(a, r)?;
    let logical: Vec<usize> = r.iter().map(|x| x.len).collect();
    if logical.contains(&0) {
        bail!("the slice '{out}' is empty ({logical:?})");
    }
    let src = im.view(a.id, storage_shape(&a.logical, &a.perm), &a.logical);
    let o = im.new_act(out, &logical, a.perm.clone(), a.q);
    im.g.ops.push(Op { name: op_name, kind: Box::new(kind), inputs: vec![src], output: o.id });
    Ok(o)
}

/// The int8 (or dequantized int8) input and a wrapper giving the same kind of value.
fn int8_input(im: &Importer) -> Result<(Act8, fn(Act8) -> Val)> {
    match im.input(0)?.clone() {
        Val::Int8(a) => Ok((a, Val::Int8)),
        Val::Deq(a) => Ok((a, Val::Deq)),
        _ => bail!("{} is supported on int8 tensors (and float ones in float graphs)", im.node.op_type),
    }
}

fn import_slice(im: &mut Importer) -> Result<()> {
    let (a, wrap) = int8_input(im)?;
    let starts = im.ints(1, "starts")?.ok_or_else(|| anyhow!("Slice needs constant starts"))?;
    let ends = im.ints(2, "ends")?.ok_or_else(|| anyhow!("Slice needs constant ends"))?;
    let (axes, steps) = (im.ints(3, "axes")?, im.ints(4, "steps")?);
    let r = slice_ranges(&a.logical, &starts, &ends, axes.as_deref(), steps.as_deref())?;
    let out = im.node.output[0].clone();
    let o = push(im, &a, &r, &out, node_label(im.node))?;
    im.set(wrap(o));
    Ok(())
}

/// The lengths ONNX Split gives its outputs along an axis of size `dim`.
pub fn split_sizes(dim: usize, outputs: usize, split: Option<Vec<i64>>) -> Result<Vec<usize>> {
    match split {
        Some(s) => {
            if s.len() != outputs || s.iter().any(|&x| x < 0) || s.iter().sum::<i64>() != dim as i64 {
                bail!("Split sizes {s:?} do not cut an axis of {dim} into {outputs} parts");
            }
            Ok(s.iter().map(|&x| x as usize).collect())
        }
        None => {
            // Equal parts, the last one smaller when they do not divide (opset 18).
            let part = dim.div_ceil(outputs.max(1));
            let sizes: Vec<usize> = (0..outputs).map(|i| part.min(dim.saturating_sub(i * part))).collect();
            if sizes.contains(&0) {
                bail!("Split cannot cut an axis of {dim} into {outputs} non-empty parts");
            }
            Ok(sizes)
        }
    }
}

fn import_split(im: &mut Importer) -> Result<()> {
    let (a, wrap) = int8_input(im)?;
    let rank = a.logical.len();
    let axis = im.axis(rank, 0)?;
    let sizes = split_sizes(a.logical[axis], im.node.output.len(), im.ints(1, "split")?)?;
    let mut start = 0;
    for (i, (out, len)) in im.node.output.clone().iter().zip(sizes).enumerate() {
        let mut r: Vec<Range> = a.logical.iter().map(|&d| Range { start: 0, len: d, step: 1 }).collect();
        r[axis] = Range { start, len, step: 1 };
        start += len;
        if out.is_empty() {
            continue;
        }
        let o = push(im, &a, &r, out, format!("{}#{i}", node_label(im.node)))?;
        im.vals.insert(out.clone(), wrap(o));
    }
    Ok(())
}

impl OpKind for Slice {
    fn name(&self) -> &'static str { "StridedSlice" }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        k::transpose(&self.p, arena, at.inputs[0] + self.offset, at.output);
    }

    fn c(&self, s: &CSite) -> CCode {
        let data = super::transpose::c_params(&s.l, &self.p);
        CCode { data, call: format!("hyb_transpose_s8(&{}_params, ({}) + {}, {});", s.l, s.inputs[0], self.offset, s.output) }
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        Ok(RustCode {
            consts: format!("const {}: Transpose = {:?};\n", s.l, self.p),
            call: format!("transpose(&{}, arena, {}, {});", s.l, s.input(0)? + self.offset, s.output()?),
            uses: vec!["shape::transpose".into(), "shape::Transpose".into()],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnx_slice_windows() {
        let r = slice_ranges(&[1, 8, 4, 4], &[0], &[4], Some(&[1]), None).unwrap();
        assert_eq!(r[1], Range { start: 0, len: 4, step: 1 });
        // Negative start, end past the dim (clamped), step 2.
        let r = slice_ranges(&[10], &[-7], &[i64::MAX], None, Some(&[2])).unwrap();
        assert_eq!(r[0], Range { start: 3, len: 4, step: 2 });
        assert!(slice_ranges(&[4], &[0], &[4], Some(&[3]), None).is_err());
    }

    #[test]
    fn split_sizes_follow_onnx() {
        assert_eq!(split_sizes(10, 2, None).unwrap(), vec![5, 5]);
        assert_eq!(split_sizes(10, 3, None).unwrap(), vec![4, 4, 2]);
        assert_eq!(split_sizes(10, 2, Some(vec![3, 7])).unwrap(), vec![3, 7]);
        assert!(split_sizes(10, 2, Some(vec![3, 6])).is_err());
    }
}
