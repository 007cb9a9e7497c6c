//! Conv2D and DepthwiseConv2D, NHWC int8 with per-channel requantization
//! (TFLite reference_integer_ops::ConvPerChannel / DepthwiseConvPerChannel).

use super::fixedpoint::{clamp_i8, multiply_by_quantized_multiplier};

/// One convolution layer: shapes, quantization and constant data.
#[derive(Debug, Clone, Copy)]
pub struct Conv<'a> {
    pub depthwise: bool,
    pub in_hwc: [usize; 3],
    pub out_hwc: [usize; 3],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// Padding before the first row and column.
    pub pad: [usize; 2],
    pub depth_multiplier: usize,
    pub input_offset: i32,
    pub output_offset: i32,
    /// Activation range (min, max) of the quantized output.
    pub act: [i32; 2],
    /// Depthwise: [kh][kw][out_c]; regular: [out_c][kh][kw][in_c].
    pub weights: &'a [i8],
    pub bias: &'a [i32],
    pub multiplier: &'a [i32],
    pub shift: &'a [i32],
}

/// Sum of w * (x + offset), wrapping at 32 bits like the reference.
#[inline(always)]
fn dot(w: &[i8], x: &[i8], offset: i32) -> i32 {
    w.iter().zip(x).fold(0i32, |acc, (&w, &x)| {
        acc.wrapping_add(w as i32 * (x as i32 + offset))
    })
}

/// Runs the convolution from `input` to `output` (arena offsets); `acc`
/// holds at least one word per output channel. With `ring` (an arena offset), the layer runs
/// exactly in place (`output == input`): each input pixel is saved in a ring
/// of `pad_top * in_w + pad_left + 1` pixels just before its output pixel
/// overwrites it, and windows read pixels already overwritten from the ring.
#[inline(always)]
pub fn conv(
    p: &Conv<'_>,
    arena: &mut [i8],
    input: usize,
    output: usize,
    ring: Option<usize>,
    acc: &mut [i32],
) {
    let [in_h, in_w, in_c] = p.in_hwc;
    let [out_h, out_w, out_c] = p.out_hwc;
    let [kh, kw] = p.kernel;
    let slots = p.pad[0] * in_w + p.pad[1] + 1;
    let acc = &mut acc[..out_c];
    for oy in 0..out_h {
        for ox in 0..out_w {
            let q = oy * out_w + ox;
            if let Some(r) = ring {
                let at = input + q * in_c;
                arena.copy_within(at..at + in_c, r + (q % slots) * in_c);
            }
            acc.fill(0);
            let y0 = (oy * p.stride[0]) as isize - p.pad[0] as isize;
            let x0 = (ox * p.stride[1]) as isize - p.pad[1] as isize;
            for ky in 0..kh {
                let iy = y0 + (ky * p.dilation[0]) as isize;
                if iy < 0 || iy >= in_h as isize {
                    continue;
                }
                for kx in 0..kw {
                    let ix = x0 + (kx * p.dilation[1]) as isize;
                    if ix < 0 || ix >= in_w as isize {
                        continue;
                    }
                    let pixel = iy as usize * in_w + ix as usize;
                    let at = match ring {
                        Some(r) if pixel <= q => r + (pixel % slots) * in_c,
                        _ => input + pixel * in_c,
                    };
                    let x = &arena[at..at + in_c];
                    let tap = ky * kw + kx;
                    if p.depthwise {
                        let w = &p.weights[tap * out_c..(tap + 1) * out_c];
                        for (oc, (a, &w)) in acc.iter_mut().zip(w).enumerate() {
                            let x = x[oc / p.depth_multiplier] as i32 + p.input_offset;
                            *a = a.wrapping_add(w as i32 * x);
                        }
                    } else {
                        for (oc, a) in acc.iter_mut().enumerate() {
                            let at = (oc * kh * kw + tap) * in_c;
                            *a = a.wrapping_add(dot(&p.weights[at..at + in_c], x, p.input_offset));
                        }
                    }
                }
            }
            let out = &mut arena[output + q * out_c..output + (q + 1) * out_c];
            for (oc, (o, &a)) in out.iter_mut().zip(acc.iter()).enumerate() {
                let a = a.wrapping_add(p.bias[oc]);
                let v = multiply_by_quantized_multiplier(a, p.multiplier[oc], p.shift[oc]);
                *o = clamp_i8(v + p.output_offset, p.act);
            }
        }
    }
}

/// TRANSPOSE_CONV (TFLite reference_integer_ops::TransposeConv, with bias
/// and per-channel requantization), regular weights [out_c][kh][kw][in_c],
/// `pad` the padding cut from the top and left of the full output,
/// dilation 1. Gathered per output pixel: input pixel (iy, ix) reaches
/// output (iy * stride - pad + ky, ...), so each output sums the taps whose
/// `oy + pad - ky` is a multiple of the stride (the same int32 sum as
/// TFLite's scatter into a scratch buffer). `acc` holds one word per output
/// channel.
#[inline(always)]
pub fn conv_transpose(
    p: &Conv<'_>,
    arena: &mut [i8],
    input: usize,
    output: usize,
    acc: &mut [i32],
) {
    let [in_h, in_w, in_c] = p.in_hwc;
    let [out_h, out_w, out_c] = p.out_hwc;
    let [kh, kw] = p.kernel;
    let acc = &mut acc[..out_c];
    // The input coordinate of output `o` through tap `k`, if any.
    let source = |o: usize, pad: usize, k: usize, stride: usize, len: usize| {
        let n = (o + pad).checked_sub(k)?;
        (n % stride == 0 && n / stride < len).then_some(n / stride)
    };
    for oy in 0..out_h {
        for ox in 0..out_w {
            acc.fill(0);
            for ky in 0..kh {
                let Some(iy) = source(oy, p.pad[0], ky, p.stride[0], in_h) else {
                    continue;
                };
                for kx in 0..kw {
                    let Some(ix) = source(ox, p.pad[1], kx, p.stride[1], in_w) else {
                        continue;
                    };
                    let at = input + (iy * in_w + ix) * in_c;
                    let x = &arena[at..at + in_c];
                    for (oc, a) in acc.iter_mut().enumerate() {
                        let w = ((oc * kh + ky) * kw + kx) * in_c;
                        *a = a.wrapping_add(dot(&p.weights[w..w + in_c], x, p.input_offset));
                    }
                }
            }
            let q = oy * out_w + ox;
            let out = &mut arena[output + q * out_c..output + (q + 1) * out_c];
            for (oc, (o, &a)) in out.iter_mut().zip(acc.iter()).enumerate() {
                let a = a.wrapping_add(p.bias[oc]);
                let v = multiply_by_quantized_multiplier(a, p.multiplier[oc], p.shift[oc]);
                *o = clamp_i8(v + p.output_offset, p.act);
            }
        }
    }
}
