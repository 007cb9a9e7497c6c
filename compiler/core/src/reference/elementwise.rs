//! Element-wise ops: Quantize/Dequantize at float boundaries, broadcasting
//! Add/Mul (TFLite's int8 arithmetic), and table lookups.

use super::clamp_i8;
use crate::quant::fixedpoint::{multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_smaller_than_one_exp as mul_exp};
use crate::quant::params::{BinaryParams, QuantizeParams};

/// TFLite Quantize: zp + round(x / scale) (half away from zero), saturated.
pub fn quantize_one(x: f32, scale: f32, zero_point: i32) -> i8 {
    let mut r = (x / scale).round();
    if r.is_nan() {
        r = 0.0;
    }
    let r = r.clamp(-512.0, 512.0) as i32;
    clamp_i8(r + zero_point, -128, 127)
}

pub fn quantize(p: &QuantizeParams, input: &[f32], out: &mut [i8]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = quantize_one(x, p.scale, p.zero_point);
    }
}

pub fn dequantize(p: &QuantizeParams, input: &[i8], out: &mut [f32]) {
    for (o, &q) in out.iter_mut().zip(input) {
        *o = (q as i32 - p.zero_point) as f32 * p.scale;
    }
}

pub fn binary(p: &BinaryParams, a: &[i8], b: &[i8], out: &mut [i8]) {
    let [d0, d1, d2, d3] = p.out_shape;
    let ap = &p.add;
    let mut o = 0;
    for i0 in 0..d0 {
        for i1 in 0..d1 {
            for i2 in 0..d2 {
                for i3 in 0..d3 {
                    let ia = i0 * p.a_strides[0] + i1 * p.a_strides[1] + i2 * p.a_strides[2] + i3 * p.a_strides[3];
                    let ib = i0 * p.b_strides[0] + i1 * p.b_strides[1] + i2 * p.b_strides[2] + i3 * p.b_strides[3];
                    let x = ap.input1_offset + a[ia] as i32;
                    let y = ap.input2_offset + b[ib] as i32;
                    let v = if p.mul {
                        multiply_by_quantized_multiplier(x * y, ap.output_multiplier, ap.output_shift) + ap.output_offset
                    } else {
                        let sx = mul_exp(x.wrapping_mul(1 << ap.left_shift), ap.input1_multiplier, ap.input1_shift);
                        let sy = mul_exp(y.wrapping_mul(1 << ap.left_shift), ap.input2_multiplier, ap.input2_shift);
                        mul_exp(sx.wrapping_add(sy), ap.output_multiplier, ap.output_shift) + ap.output_offset
                    };
                    out[o] = clamp_i8(v, ap.act_min, ap.act_max);
                    o += 1;
                }
            }
        }
    }
}

pub fn lut(table: &[i8], input: &[i8], out: &mut [i8]) {
    for (o, &q) in out.iter_mut().zip(input) {
        *o = table[(q as i32 + 128) as usize];
    }
}
