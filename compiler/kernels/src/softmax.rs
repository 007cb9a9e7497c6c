//! Softmax int8 -> int8 (scale 1/256, zero point -128), TFLite Micro's
//! reference kernel: Q5.26 differences, gemmlowp exp, Q12.19 accumulation.

use super::fixedpoint::{
    exp_on_negative_values, get_reciprocal, multiply_by_quantized_multiplier_greater_than_one,
    rescale, rounding_divide_by_pot, srdhm,
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softmax {
    pub rows: usize,
    pub depth: usize,
    pub input_multiplier: i32,
    pub input_left_shift: i32,
    pub diff_min: i32,
}

const SCALED_DIFF_INTEGER_BITS: i32 = 5;
const ACCUMULATION_INTEGER_BITS: i32 = 12;

#[inline(always)]
pub fn softmax(p: &Softmax, arena: &mut [i8], input: usize, output: usize) {
    let d = p.depth;
    for r in 0..p.rows {
        let at = input + r * d;
        let max = arena[at..at + d].iter().copied().max().unwrap_or(i8::MIN) as i32;
        let scaled = |v: i8| -> Option<i32> {
            let diff = v as i32 - max;
            (diff >= p.diff_min).then(|| {
                multiply_by_quantized_multiplier_greater_than_one(
                    diff,
                    p.input_multiplier,
                    p.input_left_shift,
                )
            })
        };
        let mut sum: i32 = 0;
        for &v in &arena[at..at + d] {
            if let Some(s) = scaled(v) {
                let e = exp_on_negative_values(s, SCALED_DIFF_INTEGER_BITS);
                sum = sum.wrapping_add(rescale(e, 0, ACCUMULATION_INTEGER_BITS));
            }
        }
        let (shifted_scale, num_bits_over_unit) = get_reciprocal(sum, ACCUMULATION_INTEGER_BITS);
        let exponent = num_bits_over_unit + 31 - 8;
        for c in 0..d {
            arena[output + r * d + c] = match scaled(arena[at + c]) {
                Some(s) => {
                    let e = exp_on_negative_values(s, SCALED_DIFF_INTEGER_BITS);
                    let unsat = rounding_divide_by_pot(srdhm(shifted_scale, e), exponent);
                    (unsat - 128).clamp(-128, 127) as i8
                }
                None => i8::MIN,
            };
        }
    }
}
