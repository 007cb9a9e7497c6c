//! Quantize / Dequantize at float boundaries and 256-entry lookup tables.

use super::{read_f32, write_f32};

/// TFLite Quantize: zp + round(x / scale) (half away from zero), saturated.
#[inline(always)]
pub fn quantize_one(x: f32, scale: f32, zero_point: i32) -> i8 {
    let mut r = libm_round(x / scale);
    if r.is_nan() {
        r = 0.0;
    }
    let r = r.clamp(-512.0, 512.0) as i32;
    (r + zero_point).clamp(-128, 127) as i8
}

/// f32::round without std: half away from zero.
#[inline(always)]
fn libm_round(x: f32) -> f32 {
    if x.is_nan() || x.abs() >= 8_388_608.0 {
        return x;
    }
    let t = x as i32 as f32; // truncates towards zero
    let frac = x - t;
    if frac >= 0.5 {
        t + 1.0
    } else if frac <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

#[inline(always)]
pub fn quantize(
    len: usize,
    scale: f32,
    zero_point: i32,
    arena: &mut [i8],
    input: usize,
    output: usize,
) {
    for i in 0..len {
        arena[output + i] = quantize_one(read_f32(arena, input + 4 * i), scale, zero_point);
    }
}

#[inline(always)]
pub fn dequantize(
    len: usize,
    scale: f32,
    zero_point: i32,
    arena: &mut [i8],
    input: usize,
    output: usize,
) {
    for i in 0..len {
        let v = (arena[input + i] as i32 - zero_point) as f32 * scale;
        write_f32(arena, output + 4 * i, v);
    }
}

/// out[i] = table[in[i] + 128]; the output may lie over the input.
#[inline(always)]
pub fn lut(len: usize, table: &[i8; 256], arena: &mut [i8], input: usize, output: usize) {
    for i in 0..len {
        arena[output + i] = table[(arena[input + i] as i32 + 128) as usize];
    }
}
