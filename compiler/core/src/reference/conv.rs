//! Conv2D and DepthwiseConv2D, NHWC int8 with per-channel requantization
//! (TFLite reference_integer_ops::ConvPerChannel / DepthwiseConvPerChannel).
//! Accumulation wraps at 32 bits, as the C kernels do on every target.

use super::clamp_i8;
use crate::quant::fixedpoint::multiply_by_quantized_multiplier;
use crate::quant::params::ConvParams;

pub fn conv(p: &ConvParams, w: &[i8], bias: &[i32], input: &[i8], out: &mut [i8]) {
    let [in_h, in_w, in_c] = p.in_hwc;
    let [out_h, out_w, out_c] = p.out_hwc;
    let [kh, kw] = p.kernel;
    for oy in 0..out_h {
        for ox in 0..out_w {
            let y0 = (oy * p.stride[0]) as isize - p.pad_top as isize;
            let x0 = (ox * p.stride[1]) as isize - p.pad_left as isize;
            for oc in 0..out_c {
                let mut acc: i32 = 0;
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
                        let ib = (iy as usize * in_w + ix as usize) * in_c;
                        let wb = ((oc * kh + ky) * kw + kx) * in_c;
                        for ic in 0..in_c {
                            acc = acc.wrapping_add(w[wb + ic] as i32 * (input[ib + ic] as i32 + p.input_offset));
                        }
                    }
                }
                acc = acc.wrapping_add(bias[oc]);
                let v = multiply_by_quantized_multiplier(acc, p.multiplier[oc], p.shift[oc]) + p.output_offset;
                out[(oy * out_w + ox) * out_c + oc] = clamp_i8(v, p.act_min, p.act_max);
            }
        }
    }
}

pub fn depthwise_conv(p: &ConvParams, w: &[i8], bias: &[i32], input: &[i8], out: &mut [i8]) {
    let [in_h, in_w, in_c] = p.in_hwc;
    let [out_h, out_w, out_c] = p.out_hwc;
    let [kh, kw] = p.kernel;
    let dm = p.depth_multiplier;
    for oy in 0..out_h {
        for ox in 0..out_w {
            let y0 = (oy * p.stride[0]) as isize - p.pad_top as isize;
            let x0 = (ox * p.stride[1]) as isize - p.pad_left as isize;
            for ic in 0..in_c {
                for m in 0..dm {
                    let oc = ic * dm + m;
                    let mut acc: i32 = 0;
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
                            let iv = input[(iy as usize * in_w + ix as usize) * in_c + ic] as i32;
                            acc = acc.wrapping_add(w[(ky * kw + kx) * out_c + oc] as i32 * (iv + p.input_offset));
                        }
                    }
                    acc = acc.wrapping_add(bias[oc]);
                    let v = multiply_by_quantized_multiplier(acc, p.multiplier[oc], p.shift[oc]) + p.output_offset;
                    out[(oy * out_w + ox) * out_c + oc] = clamp_i8(v, p.act_min, p.act_max);
                }
            }
        }
    }
}
