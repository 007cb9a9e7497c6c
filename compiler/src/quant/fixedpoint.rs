//! TFLite / gemmlowp fixed-point arithmetic, bit-exact with TFLite Micro.
//!
//! Every function mirrors the semantics of its namesake in TFLite's
//! `kernels/internal/common.h` and gemmlowp's `fixedpoint.h` (double rounding).
//! The C runtime (`runtime-c/kernels/hyb_fixedpoint.h`) implements the same
//! functions; the golden tests keep the two equal.

/// gemmlowp SaturatingRoundingDoublingHighMul: round(a*b / 2^31), saturating.
#[inline]
pub fn srdhm(a: i32, b: i32) -> i32 {
    if a == b && a == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // Division truncates towards zero, as in C++.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp RoundingDivideByPOT: x / 2^exponent, rounding half away from zero.
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    debug_assert!((0..=31).contains(&exponent));
    let mask: i32 = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// TFLite MultiplyByQuantizedMultiplier (double rounding).
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = shift.max(0);
    let right = (-shift).max(0);
    rounding_divide_by_pot(srdhm(x.wrapping_mul(1 << left), multiplier), right)
}

/// TFLite MultiplyByQuantizedMultiplierSmallerThanOneExp.
#[inline]
pub fn multiply_by_quantized_multiplier_smaller_than_one_exp(x: i32, m: i32, left_shift: i32) -> i32 {
    rounding_divide_by_pot(srdhm(x, m), -left_shift)
}

/// TFLite MultiplyByQuantizedMultiplierGreaterThanOne.
#[inline]
pub fn multiply_by_quantized_multiplier_greater_than_one(x: i32, m: i32, left_shift: i32) -> i32 {
    srdhm(x.wrapping_mul(1 << left_shift), m)
}

/// TFLite QuantizeMultiplier: real multiplier -> (Q31 significand, shift).
pub fn quantize_multiplier(m: f64) -> (i32, i32) {
    if m == 0.0 {
        return (0, 0);
    }
    let (q, mut shift) = frexp(m);
    let mut q_fixed = (q * (1i64 << 31) as f64).round() as i64;
    assert!(q_fixed <= 1i64 << 31);
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    (q_fixed as i32, shift)
}

/// C's frexp: m = q * 2^e with 0.5 <= |q| < 1.
pub fn frexp(m: f64) -> (f64, i32) {
    if m == 0.0 || !m.is_finite() {
        return (m, 0);
    }
    let bits = m.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale up first.
        let (q, e) = frexp(m * (1u64 << 54) as f64);
        return (q, e - 54);
    }
    let e = exp - 1022;
    let q = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (q, e)
}

/// gemmlowp RoundingHalfSum for int32.
#[inline]
pub fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = a as i64 + b as i64;
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// gemmlowp SaturatingRoundingMultiplyByPOT with a compile-time exponent.
#[inline]
pub fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    if exponent == 0 {
        x
    } else if exponent > 0 {
        let threshold: i32 = (1i32 << (31 - exponent)) - 1;
        if x > threshold {
            i32::MAX
        } else if x < -threshold {
            i32::MIN
        } else {
            x.wrapping_shl(exponent as u32)
        }
    } else {
        rounding_divide_by_pot(x, -exponent)
    }
}

/// gemmlowp Rescale<dst>(FixedPoint<src>) on the raw value.
#[inline]
pub fn rescale(x: i32, src_integer_bits: i32, dst_integer_bits: i32) -> i32 {
    saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits)
}

/// exp(x) for x in [-1/4, 0), Q0.31 in and out.
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const CONSTANT_TERM: i32 = 1895147668; // exp(-1/8)
    const ONE_THIRD: i32 = 715827883;
    let x = a.wrapping_add(1 << 28); // a + 1/8
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2);
    let inner = srdhm(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2);
    let poly = saturating_rounding_multiply_by_pot(inner, -1);
    CONSTANT_TERM.wrapping_add(srdhm(CONSTANT_TERM, x.wrapping_add(poly)))
}

/// gemmlowp exp_on_negative_values: input Q(integer_bits), output Q0.31.
pub fn exp_on_negative_values(a: i32, integer_bits: i32) -> i32 {
    let fractional_bits = 31 - integer_bits;
    let one_quarter: i32 = 1 << (fractional_bits - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(rescale(
        a_mod_quarter_minus_one_quarter,
        integer_bits,
        0,
    ));
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    const BARREL: [(i32, i32); 7] = [
        (-2, 1672461947),
        (-1, 1302514674),
        (0, 790015084),
        (1, 290630308),
        (2, 39332535),
        (3, 720401),
        (4, 242),
    ];
    for (exponent, multiplier) in BARREL {
        if integer_bits > exponent {
            let shift = fractional_bits + exponent;
            if remainder & (1i32 << shift) != 0 {
                result = srdhm(result, multiplier);
            }
        }
    }
    if integer_bits > 5 {
        let clamp = -(1i32 << (36 - integer_bits));
        if a < clamp {
            result = 0;
        }
    }
    if a == 0 {
        result = i32::MAX;
    }
    result
}

/// gemmlowp one_over_one_plus_x_for_x_in_0_1, Q0.31 in and out.
pub fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    let half_denominator = rounding_half_sum(a, i32::MAX);
    const C48_17: i32 = 1515870810;
    const CNEG32_17: i32 = -1010580540;
    const F2_ONE: i32 = 1 << 29;
    let mut x = C48_17.wrapping_add(srdhm(half_denominator, CNEG32_17));
    for _ in 0..3 {
        let hdx = srdhm(half_denominator, x);
        let one_minus = F2_ONE.wrapping_sub(hdx);
        x = x.wrapping_add(rescale(srdhm(x, one_minus), 4, 2));
    }
    // ExactMulByPot<-1> makes it Q1.30, then Rescale<0>.
    rescale(x, 1, 0)
}

/// TFLite CountLeadingZeros for uint32.
#[inline]
pub fn count_leading_zeros(x: u32) -> i32 {
    x.leading_zeros() as i32
}

/// TFLite GetReciprocal: (reciprocal Q0.31, num_bits_over_unit).
pub fn get_reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = count_leading_zeros(x as u32);
    let num_bits_over_unit = x_integer_digits - headroom_plus_one;
    let shifted_sum_minus_one =
        ((x as u32).wrapping_shl(headroom_plus_one as u32)).wrapping_sub(1u32 << 31) as i32;
    (one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit)
}

/// TFLite PreprocessSoftmaxScaling (double rounding variant).
pub fn preprocess_softmax_scaling(beta: f64, input_scale: f64, input_integer_bits: i32) -> (i32, i32) {
    let real = (beta * input_scale * (1i64 << (31 - input_integer_bits)) as f64)
        .min((1i64 << 31) as f64 - 1.0);
    quantize_multiplier(real)
}

/// TFLite CalculateInputRadius.
pub fn calculate_input_radius(input_integer_bits: i32, input_left_shift: i32) -> i32 {
    let max_input_rescaled = 1.0 * ((1i64 << input_integer_bits) - 1) as f64
        * (1i64 << (31 - input_integer_bits)) as f64
        / (1i64 << input_left_shift) as f64;
    max_input_rescaled.floor() as i32
}

/// TFLite's quantization of a real value: zp + round(x / scale), in float.
pub fn quantize_value(x: f32, scale: f32, zero_point: i32) -> i32 {
    zero_point + (x / scale).round() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_divide_rounds_half_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 2), 1);
        assert_eq!(rounding_divide_by_pot(-6, 2), -2);
    }

    #[test]
    fn srdhm_matches_definition() {
        assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
        assert_eq!(srdhm(1 << 30, 1 << 30), 1 << 29);
        assert_eq!(srdhm(-3, 1 << 30), -1); // -1.5 rounds away from zero
    }

    #[test]
    fn quantize_multiplier_known_values() {
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(0.25), (1 << 30, -1));
        assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
    }

    #[test]
    fn exp_and_reciprocal_are_close_to_real() {
        for &v in &[-0.1f64, -0.5, -1.0, -2.5, -7.0] {
            let raw = (v * (1u64 << 26) as f64) as i32;
            let e = exp_on_negative_values(raw, 5) as f64 / (1u64 << 31) as f64;
            assert!((e - v.exp()).abs() < 1e-6, "{v}: {e}");
        }
        let x = (0.25 * (1u64 << 31) as f64) as i32;
        let r = one_over_one_plus_x_for_x_in_0_1(x) as f64 / (1u64 << 31) as f64;
        assert!((r - 0.8).abs() < 1e-6);
    }
}
