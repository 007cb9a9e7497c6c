//! FullyConnected int8, per-tensor weights (TFLite reference_integer_ops).

use super::clamp_i8;
use crate::quant::fixedpoint::multiply_by_quantized_multiplier;
use crate::quant::params::FcParams;

pub fn fully_connected(p: &FcParams, w: &[i8], bias: &[i32], input: &[i8], out: &mut [i8]) {
    for o in 0..p.out_len {
        let row = &w[o * p.in_len..(o + 1) * p.in_len];
        // Accumulation wraps at 32 bits, as the C kernels do on every target.
        let acc: i32 = row
            .iter()
            .zip(input)
            .fold(0i32, |a, (&wv, &iv)| a.wrapping_add(wv as i32 * (iv as i32 + p.input_offset)))
            .wrapping_add(bias[o]);
        let v = multiply_by_quantized_multiplier(acc, p.multiplier, p.shift) + p.output_offset;
        out[o] = clamp_i8(v, p.act_min, p.act_max);
    }
}
