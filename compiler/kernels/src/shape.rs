//! Data movement: Pad, Transpose and one input of a Concat.

use super::fixedpoint::{clamp_i8, multiply_by_quantized_multiplier};
use super::{dot, for4, S8};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pad {
    pub in_shape: [usize; 4],
    pub out_shape: [usize; 4],
    pub before: [usize; 4],
    pub value: i8,
}

#[inline(always)]
pub fn pad(p: &Pad, arena: &mut [i8], input: usize, output: usize) {
    let len: usize = p.out_shape.iter().product();
    arena[output..output + len].fill(p.value);
    let [a, b, c, d] = p.in_shape;
    let [_, ob, oc, od] = p.out_shape;
    for i0 in 0..a {
        for i1 in 0..b {
            for i2 in 0..c {
                let src = input + ((i0 * b + i1) * c + i2) * d;
                let row = ((i0 + p.before[0]) * ob + i1 + p.before[1]) * oc + i2 + p.before[2];
                arena.copy_within(src..src + d, output + row * od + p.before[3]);
            }
        }
    }
}

/// Output shape and, per output dim, the input's stride.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transpose {
    pub out_shape: [usize; 4],
    pub in_strides: [usize; 4],
}

#[inline(always)]
pub fn transpose(p: &Transpose, arena: &mut [i8], input: usize, output: usize) {
    let mut o = output;
    for4(&p.out_shape, |i| {
        arena[o] = arena[input + dot(&p.in_strides, i)];
        o += 1;
    });
}

/// One input of a Concat: `outer` chunks of `inner` values, each written
/// `stride` bytes apart from `output` on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConcatPart {
    pub outer: usize,
    pub inner: usize,
    pub stride: usize,
    pub input_offset: i32,
    pub output_offset: i32,
    /// (multiplier, shift) when the input has another quantization.
    pub requant: Option<(i32, i32)>,
}

#[inline(always)]
pub fn concat_part(p: &ConcatPart, arena: &mut [i8], input: S8, output: usize) {
    for k in 0..p.outer {
        for i in 0..p.inner {
            let v = input.get(arena, k * p.inner + i);
            arena[output + k * p.stride + i] = match p.requant {
                None => v,
                Some((m, s)) => {
                    let r = multiply_by_quantized_multiplier(v as i32 + p.input_offset, m, s);
                    clamp_i8(r + p.output_offset, [-128, 127])
                }
            };
        }
    }
}
