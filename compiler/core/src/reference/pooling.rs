//! Pooling int8 (TFLite reference_integer_ops): windows clipped to the image
//! (padding is neither counted nor read). AveragePool2D rounds half away from
//! zero; pooling into another scale (TFLite's Mean) requantizes the centred
//! sum first. MaxPool2D takes the largest value.

use std::ops::Range;

use super::clamp_i8;
use crate::quant::fixedpoint::multiply_by_quantized_multiplier;
use crate::quant::params::PoolParams;

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

/// The input rows and columns of output pixel (oy, ox), clipped to the image.
fn window(p: &PoolParams, oy: usize, ox: usize) -> (Range<usize>, Range<usize>) {
    let [in_h, in_w, _] = p.in_hwc;
    let y0 = (oy * p.stride[0]) as isize - p.pad_top as isize;
    let x0 = (ox * p.stride[1]) as isize - p.pad_left as isize;
    let ys = y0.max(0) as usize..((y0 + p.kernel[0] as isize).min(in_h as isize)).max(0) as usize;
    let xs = x0.max(0) as usize..((x0 + p.kernel[1] as isize).min(in_w as isize)).max(0) as usize;
    (ys, xs)
}

/// Applies `reduce(values of the window, count)` per output pixel and channel.
fn pool(p: &PoolParams, input: &[i8], out: &mut [i8], reduce: impl Fn(&mut dyn Iterator<Item = i32>, i32) -> i32) {
    let [_, in_w, c] = p.in_hwc;
    let [out_h, out_w, _] = p.out_hwc;
    for oy in 0..out_h {
        for ox in 0..out_w {
            let (ys, xs) = window(p, oy, ox);
            let count = (ys.len() * xs.len()) as i32;
            for ch in 0..c {
                let mut values = ys.clone().flat_map(|y| xs.clone().map(move |x| input[(y * in_w + x) * c + ch] as i32));
                out[(oy * out_w + ox) * c + ch] = clamp_i8(reduce(&mut values, count), p.act_min, p.act_max);
            }
        }
    }
}

pub fn average_pool(p: &PoolParams, input: &[i8], out: &mut [i8]) {
    pool(p, input, out, |values, count| {
        let acc: i32 = values.sum();
        match p.requant {
            None => rounded_div(acc, count),
            Some(r) => {
                let centred = acc + count * r.input_offset;
                rounded_div(multiply_by_quantized_multiplier(centred, r.multiplier, r.shift), count) + r.output_offset
            }
        }
    })
}

pub fn max_pool(p: &PoolParams, input: &[i8], out: &mut [i8]) {
    pool(p, input, out, |values, _| values.fold(-128, i32::max))
}
