//! AveragePool2D (padding excluded from the count, rounding half away from
//! zero) and MaxPool2D, int8 (TFLite reference_integer_ops).

use super::fixedpoint::{clamp_i8, multiply_by_quantized_multiplier};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pool {
    pub in_hwc: [usize; 3],
    pub out_hwc: [usize; 3],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pad: [usize; 2],
    pub act: [i32; 2],
    /// Average pooling into another scale (TFLite's Mean): input offset,
    /// output offset, multiplier, shift.
    pub requant: Option<[i32; 4]>,
    /// With `requant`: the 1 / count is folded into the multiplier, no
    /// division follows (TFLite Micro's Mean, reference_integer_ops::Mean).
    pub folded: bool,
}

/// Division rounding half away from zero.
#[inline(always)]
fn rounded_div(acc: i32, count: i32) -> i32 {
    if count == 0 {
        0
    } else if acc > 0 {
        (acc + count / 2) / count
    } else {
        (acc - count / 2) / count
    }
}

/// Runs a pooling window over every output pixel: `reduce` folds the
/// window's values of one channel into `acc` (one word per channel). Each
/// pixel is computed before it is written (raster order), so the output may
/// lie over the input with a lag.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pool(
    p: &Pool,
    arena: &mut [i8],
    input: usize,
    output: usize,
    acc: &mut [i32],
    init: i32,
    reduce: impl Fn(i32, i8) -> i32,
    finish: impl Fn(i32, i32) -> i8,
) {
    let [in_h, in_w, c] = p.in_hwc;
    let [out_h, out_w, _] = p.out_hwc;
    let acc = &mut acc[..c];
    for oy in 0..out_h {
        for ox in 0..out_w {
            let y0 = (oy * p.stride[0]) as isize - p.pad[0] as isize;
            let x0 = (ox * p.stride[1]) as isize - p.pad[1] as isize;
            let y1 = (y0 + p.kernel[0] as isize).min(in_h as isize).max(0) as usize;
            let x1 = (x0 + p.kernel[1] as isize).min(in_w as isize).max(0) as usize;
            let (y0, x0) = (y0.max(0) as usize, x0.max(0) as usize);
            let count = (y1.saturating_sub(y0) * x1.saturating_sub(x0)) as i32;
            acc.fill(init);
            for y in y0..y1 {
                for x in x0..x1 {
                    let at = input + (y * in_w + x) * c;
                    for (a, &v) in acc.iter_mut().zip(&arena[at..at + c]) {
                        *a = reduce(*a, v);
                    }
                }
            }
            let at = output + (oy * out_w + ox) * c;
            for (o, &a) in arena[at..at + c].iter_mut().zip(acc.iter()) {
                *o = finish(a, count);
            }
        }
    }
}

/// AveragePool2D; `acc` holds at least one word per channel.
#[inline(always)]
pub fn average_pool(p: &Pool, arena: &mut [i8], input: usize, output: usize, acc: &mut [i32]) {
    let finish = |acc: i32, count: i32| {
        let avg = match p.requant {
            None => rounded_div(acc, count),
            Some([input_offset, output_offset, multiplier, shift]) => {
                let centred = acc + count * input_offset;
                let scaled = multiply_by_quantized_multiplier(centred, multiplier, shift);
                if p.folded {
                    scaled + output_offset
                } else {
                    rounded_div(scaled, count) + output_offset
                }
            }
        };
        clamp_i8(avg, p.act)
    };
    pool(p, arena, input, output, acc, 0, |a, v| a + v as i32, finish);
}

/// MaxPool2D; `acc` holds at least one word per channel.
#[inline(always)]
pub fn max_pool(p: &Pool, arena: &mut [i8], input: usize, output: usize, acc: &mut [i32]) {
    let finish = |m: i32, _count: i32| clamp_i8(m, p.act);
    pool(
        p,
        arena,
        input,
        output,
        acc,
        -128,
        |m, v| m.max(v as i32),
        finish,
    );
}
