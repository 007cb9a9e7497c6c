//! FullyConnected int8, per-tensor weights (TFLite reference_integer_ops).

use super::fixedpoint::{clamp_i8, multiply_by_quantized_multiplier};

#[derive(Debug, Clone, Copy)]
pub struct FullyConnected<'a> {
    pub in_len: usize,
    pub out_len: usize,
    pub input_offset: i32,
    pub output_offset: i32,
    pub multiplier: i32,
    pub shift: i32,
    pub act: [i32; 2],
    /// [out][in].
    pub weights: &'a [i8],
    pub bias: &'a [i32],
}

#[inline(always)]
pub fn fully_connected(p: &FullyConnected<'_>, arena: &mut [i8], input: usize, output: usize) {
    for o in 0..p.out_len {
        let row = &p.weights[o * p.in_len..(o + 1) * p.in_len];
        let x = &arena[input..input + p.in_len];
        // Accumulation wraps at 32 bits, as in the reference.
        let acc = row
            .iter()
            .zip(x)
            .fold(0i32, |a, (&w, &x)| {
                a.wrapping_add(w as i32 * (x as i32 + p.input_offset))
            })
            .wrapping_add(p.bias[o]);
        let v = multiply_by_quantized_multiplier(acc, p.multiplier, p.shift);
        arena[output + o] = clamp_i8(v + p.output_offset, p.act);
    }
}
