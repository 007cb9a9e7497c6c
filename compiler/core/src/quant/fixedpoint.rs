//! TFLite / gemmlowp fixed-point arithmetic, bit-exact with TFLite Micro.
//!
//! The integer arithmetic every kernel shares is one file,
//! the kernels crate's fixedpoint module, run here and carried by every
//! generated Rust crate; this module adds what only the compiler needs
//! (quantizing multipliers and scales). The C runtime
//! (`runtime-c/kernels/hyb_fixedpoint.h`) implements the same functions; the
//! golden tests keep them equal.

pub use hybridc_kernels::fixedpoint::*;

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
