//! Element-wise Add (TFLite reference_integer_ops::Add, left shift 20) and
//! broadcasting Add / Mul over up to four dims.

use super::fixedpoint::multiply_by_quantized_multiplier_smaller_than_one_exp as mul_exp;
use super::fixedpoint::{clamp_i8, multiply_by_quantized_multiplier};
use super::S8;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Add {
    pub len: usize,
    pub input1_offset: i32,
    pub input2_offset: i32,
    pub output_offset: i32,
    pub left_shift: i32,
    pub input1_multiplier: i32,
    pub input1_shift: i32,
    pub input2_multiplier: i32,
    pub input2_shift: i32,
    pub output_multiplier: i32,
    pub output_shift: i32,
    pub act: [i32; 2],
}

#[inline(always)]
fn add_one(p: &Add, a: i8, b: i8) -> i8 {
    let x = (p.input1_offset + a as i32).wrapping_mul(1 << p.left_shift);
    let y = (p.input2_offset + b as i32).wrapping_mul(1 << p.left_shift);
    let sx = mul_exp(x, p.input1_multiplier, p.input1_shift);
    let sy = mul_exp(y, p.input2_multiplier, p.input2_shift);
    let v = mul_exp(sx.wrapping_add(sy), p.output_multiplier, p.output_shift);
    clamp_i8(v + p.output_offset, p.act)
}

/// Inputs `a` and `b` (arena or constant); element i is read before output
/// element i is written, so the output may lie over either input.
#[inline(always)]
pub fn add(p: &Add, arena: &mut [i8], a: S8, b: S8, output: usize) {
    for i in 0..p.len {
        arena[output + i] = add_one(p, a.get(arena, i), b.get(arena, i));
    }
}

/// Broadcasting Add or Mul: per output dim, each input's stride (0 broadcasts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Binary {
    pub mul: bool,
    pub out_shape: [usize; 4],
    pub a_strides: [usize; 4],
    pub b_strides: [usize; 4],
    pub add: Add,
}

#[inline(always)]
pub fn binary(p: &Binary, arena: &mut [i8], a: S8, b: S8, output: usize) {
    let [d0, d1, d2, d3] = p.out_shape;
    let (sa, sb, ap) = (p.a_strides, p.b_strides, &p.add);
    let mut o = output;
    for i0 in 0..d0 {
        for i1 in 0..d1 {
            for i2 in 0..d2 {
                for i3 in 0..d3 {
                    let ia = i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3];
                    let ib = i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3];
                    arena[o] = if p.mul {
                        let x = ap.input1_offset + a.get(arena, ia) as i32;
                        let y = ap.input2_offset + b.get(arena, ib) as i32;
                        let v = multiply_by_quantized_multiplier(
                            x * y,
                            ap.output_multiplier,
                            ap.output_shift,
                        );
                        clamp_i8(v + ap.output_offset, ap.act)
                    } else {
                        add_one(ap, a.get(arena, ia), b.get(arena, ib))
                    };
                    o += 1;
                }
            }
        }
    }
}
