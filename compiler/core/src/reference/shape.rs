//! Data-movement ops: Concat (requantizing inputs to the output's scale) and Pad.

use super::clamp_i8;
use crate::quant::fixedpoint::multiply_by_quantized_multiplier;
use crate::quant::params::{ConcatParams, PadParams, TransposeParams};

pub fn concat(p: &ConcatParams, inputs: &[&[i8]], out: &mut [i8]) {
    let mut o = 0;
    for outer in 0..p.outer {
        for (inp, ci) in inputs.iter().zip(&p.inputs) {
            let chunk = &inp[outer * ci.inner..(outer + 1) * ci.inner];
            for &v in chunk {
                out[o] = match ci.requant {
                    None => v,
                    Some((m, s)) => {
                        let r = multiply_by_quantized_multiplier(v as i32 + ci.input_offset, m, s) + p.output_offset;
                        clamp_i8(r, -128, 127)
                    }
                };
                o += 1;
            }
        }
    }
}

pub fn pad(p: &PadParams, input: &[i8], out: &mut [i8]) {
    out.fill(p.value);
    let [a, b, c, d] = p.in_shape;
    let [_, ob, oc, od] = p.out_shape;
    for i0 in 0..a {
        for i1 in 0..b {
            for i2 in 0..c {
                let src = ((i0 * b + i1) * c + i2) * d;
                let dst = (((i0 + p.before[0]) * ob + i1 + p.before[1]) * oc + i2 + p.before[2]) * od + p.before[3];
                out[dst..dst + d].copy_from_slice(&input[src..src + d]);
            }
        }
    }
}

pub fn transpose(p: &TransposeParams, input: &[i8], out: &mut [i8]) {
    let [d0, d1, d2, d3] = p.out_shape;
    let s = p.in_strides;
    let mut o = 0;
    for i0 in 0..d0 {
        for i1 in 0..d1 {
            for i2 in 0..d2 {
                for i3 in 0..d3 {
                    out[o] = input[i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3]];
                    o += 1;
                }
            }
        }
    }
}
