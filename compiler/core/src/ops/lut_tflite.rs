//! Tables of the element-wise functions whose int8 kernels in TFLite Micro
//! are integer arithmetic rather than a float function quantized: the table
//! entry for each input is what TFLM's kernel computes, so a LUT layer is
//! bit-exact with it (reference_ops::QuantizeLeakyRelu and
//! reference_ops::HardSwish with their Prepare).

use hybridc_kernels::fixedpoint::{multiply_by_quantized_multiplier, rounding_divide_by_pot};

use crate::ir::QParams;
use crate::quant::fixedpoint::quantize_multiplier;

fn table(f: impl Fn(i32) -> i32) -> Vec<i8> {
    (-128i32..=127).map(|q| f(q).clamp(-128, 127) as i8).collect()
}

/// LeakyRelu: x - zp scaled by in/out (x >= zp) or in x alpha / out, the
/// ratios computed in float as TFLM's Prepare does.
pub fn leaky_relu(alpha: f32, input: QParams, out: QParams) -> Vec<i8> {
    let (m_alpha, s_alpha) = quantize_multiplier((input.scale * alpha / out.scale) as f64);
    let (m_id, s_id) = quantize_multiplier((input.scale / out.scale) as f64);
    table(|q| {
        let x = q - input.zero_point;
        let (m, s) = if x >= 0 { (m_id, s_id) } else { (m_alpha, s_alpha) };
        out.zero_point + multiply_by_quantized_multiplier(x, m, s)
    })
}

/// gemmlowp's int16 SaturatingRoundingDoublingHighMul.
fn srdhm16(a: i16, b: i16) -> i16 {
    if a == b && a == i16::MIN {
        return i16::MAX;
    }
    let ab = a as i32 * b as i32;
    let nudge = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
    ((ab + nudge) / (1 << 15)) as i16
}

/// TFLite's int16 SaturatingDoublingHighMul (no rounding nudge).
fn sdhm16(a: i16, b: i16) -> i16 {
    if a == b && a == i16::MIN {
        return i16::MAX;
    }
    ((a as i32 * b as i32) / (1 << 15)) as i16
}

fn saturating_left_shift16(v: i16, amount: i32) -> i16 {
    (v as i32).saturating_mul(1 << amount.min(30)).clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

/// DownScaleInt32ToInt16Multiplier.
fn to_int16_multiplier(m: i32) -> i16 {
    if m >= i32::MAX - (1 << 15) {
        return i16::MAX;
    }
    ((m + (1 << 15)) >> 16) as i16
}

/// HardSwish in TFLM's 16-bit fixed point: x on a "hires" input scale
/// (x 2^7), times a relu-ish multiplier in [0, 1] that maps [-3, 3].
pub fn hard_swish(input: QParams, out: QParams) -> Vec<i8> {
    let hires_input_scale = (1.0f32 / 128.0) * input.scale;
    let reluish_scale = 3.0f32 / 32768.0;
    let (om, oe) = quantize_multiplier((hires_input_scale / out.scale) as f64);
    let (rm, re) = quantize_multiplier((hires_input_scale / reluish_scale) as f64);
    let (om, rm) = (to_int16_multiplier(om), to_int16_multiplier(rm));
    table(|q| {
        let x = (q - input.zero_point) as i16;
        let hires = x.wrapping_mul(1 << 7);
        let preshift_out = srdhm16(hires, om);
        let mut reluish = hires;
        if re > 0 {
            reluish = saturating_left_shift16(reluish, re - 1);
        }
        reluish = srdhm16(reluish, rm);
        if re > 0 {
            reluish = saturating_left_shift16(reluish, 1);
        }
        if re < 0 {
            reluish = rounding_divide_by_pot(reluish as i32, (-re).min(31)) as i16;
        }
        let reluish = ((reluish as i32 + (1 << 15)) >> 1) as i16;
        let pre = sdhm16(reluish, preshift_out);
        rounding_divide_by_pot(pre as i32, (-oe).clamp(0, 31)) + out.zero_point
    })
}
