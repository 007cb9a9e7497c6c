//! Quantize / Dequantize at float boundaries and 256-entry lookup tables.

use super::{dot, for4, read_f32, write_f32};

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

/// A float boundary: `len` values and the int8 side's quantization. Either
/// direction may also move the data (an NCHW float input into NHWC int8, an
/// NHWC int8 result into the NCHW float output the model declares): output
/// element (i0..i3) of `out_shape` reads the input at sum(ik * in_strides[k]),
/// so the layout change costs no extra pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quant {
    pub len: usize,
    pub scale: f32,
    pub zero_point: i32,
    pub out_shape: [usize; 4],
    pub in_strides: [usize; 4],
}

impl Quant {
    /// `len` values in the same order on both sides.
    pub const fn flat(len: usize, scale: f32, zero_point: i32) -> Quant {
        Quant {
            len,
            scale,
            zero_point,
            out_shape: [1, 1, 1, len],
            in_strides: [0, 0, 0, 1],
        }
    }
}

/// float32 at `input` -> int8 at `output`, in the order of `out_shape`.
#[inline(always)]
pub fn quantize(p: &Quant, arena: &mut [i8], input: usize, output: usize) {
    let mut o = output;
    for4(&p.out_shape, |i| {
        let at = input + 4 * dot(&p.in_strides, i);
        arena[o] = quantize_one(read_f32(arena, at), p.scale, p.zero_point);
        o += 1;
    });
}

/// int8 at `input` -> float32 at `output`, in the order of `out_shape`.
#[inline(always)]
pub fn dequantize(p: &Quant, arena: &mut [i8], input: usize, output: usize) {
    let mut o = output;
    for4(&p.out_shape, |i| {
        let v = (arena[input + dot(&p.in_strides, i)] as i32 - p.zero_point) as f32 * p.scale;
        write_f32(arena, o, v);
        o += 4;
    });
}

/// out[i] = table[in[i] + 128]; the output may lie over the input.
#[inline(always)]
pub fn lut(len: usize, table: &[i8; 256], arena: &mut [i8], input: usize, output: usize) {
    for i in 0..len {
        arena[output + i] = table[(arena[input + i] as i32 + 128) as usize];
    }
}
