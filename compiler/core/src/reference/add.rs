//! Element-wise Add int8 (TFLite reference_integer_ops::Add, left shift 20).

use super::clamp_i8;
use crate::quant::fixedpoint::multiply_by_quantized_multiplier_smaller_than_one_exp as mul_exp;
use crate::quant::params::AddParams;

pub fn add(p: &AddParams, a: &[i8], b: &[i8], out: &mut [i8]) {
    for i in 0..p.len {
        let x = (p.input1_offset + a[i] as i32).wrapping_mul(1 << p.left_shift);
        let y = (p.input2_offset + b[i] as i32).wrapping_mul(1 << p.left_shift);
        let sx = mul_exp(x, p.input1_multiplier, p.input1_shift);
        let sy = mul_exp(y, p.input2_multiplier, p.input2_shift);
        let v = mul_exp(sx.wrapping_add(sy), p.output_multiplier, p.output_shift) + p.output_offset;
        out[i] = clamp_i8(v, p.act_min, p.act_max);
    }
}
