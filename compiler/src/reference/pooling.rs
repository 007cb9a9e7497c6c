//! AveragePool2D int8: padding excluded from the count, rounding half away
//! from zero (TFLite reference_integer_ops::AveragePool).

use super::clamp_i8;
use crate::quant::fixedpoint::multiply_by_quantized_multiplier;

/// Division rounding half away from zero (TFLite's average pooling).
fn rounded_div(acc: i32, count: i32) -> i32 {
    if count == 0 {
        0
    } else if acc > 0 {
        (acc + count / 2) / count
    } else {
        (acc - count / 2) / count
    }
}
use crate::quant::params::PoolParams;

pub fn average_pool(p: &PoolParams, input: &[i8], out: &mut [i8]) {
    let [in_h, in_w, c] = p.in_hwc;
    let [out_h, out_w, _] = p.out_hwc;
    for oy in 0..out_h {
        for ox in 0..out_w {
            let y0 = (oy * p.stride[0]) as isize - p.pad_top as isize;
            let x0 = (ox * p.stride[1]) as isize - p.pad_left as isize;
            let ys = y0.max(0) as usize..((y0 + p.kernel[0] as isize).min(in_h as isize)).max(0) as usize;
            let xs = x0.max(0) as usize..((x0 + p.kernel[1] as isize).min(in_w as isize)).max(0) as usize;
            let count = (ys.len() * xs.len()) as i32;
            for ch in 0..c {
                let mut acc: i32 = 0;
                for y in ys.clone() {
                    for x in xs.clone() {
                        acc += input[(y * in_w + x) * c + ch] as i32;
                    }
                }
                let avg = match p.requant {
                    None => rounded_div(acc, count),
                    Some(r) => {
                        let centred = acc + count * r.input_offset;
                        let scaled = multiply_by_quantized_multiplier(centred, r.multiplier, r.shift);
                        rounded_div(scaled, count) + r.output_offset
                    }
                };
                out[(oy * out_w + ox) * c + ch] = clamp_i8(avg, p.act_min, p.act_max);
            }
        }
    }
}

/// MaxPool2D int8 (TFLite reference_integer_ops::MaxPool): padding ignored.
pub fn max_pool(p: &PoolParams, input: &[i8], out: &mut [i8]) {
    let [in_h, in_w, c] = p.in_hwc;
    let [out_h, out_w, _] = p.out_hwc;
    for oy in 0..out_h {
        for ox in 0..out_w {
            let y0 = (oy * p.stride[0]) as isize - p.pad_top as isize;
            let x0 = (ox * p.stride[1]) as isize - p.pad_left as isize;
            let ys = y0.max(0) as usize..((y0 + p.kernel[0] as isize).min(in_h as isize)).max(0) as usize;
            let xs = x0.max(0) as usize..((x0 + p.kernel[1] as isize).min(in_w as isize)).max(0) as usize;
            for ch in 0..c {
                let mut m: i32 = -128;
                for y in ys.clone() {
                    for x in xs.clone() {
                        m = m.max(input[(y * in_w + x) * c + ch] as i32);
                    }
                }
                out[(oy * out_w + ox) * c + ch] = clamp_i8(m, p.act_min, p.act_max);
            }
        }
    }
}
