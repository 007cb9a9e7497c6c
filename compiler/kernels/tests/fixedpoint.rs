//! TFLite / gemmlowp fixed-point primitives, expected values by hand.

use hybridc_kernels::fixedpoint::{
    multiply_by_quantized_multiplier as mbqm, multiply_by_quantized_multiplier_greater_than_one,
    multiply_by_quantized_multiplier_smaller_than_one_exp, rounding_divide_by_pot, srdhm,
};

#[test]
fn srdhm_rounds_as_gemmlowp_and_saturates() {
    // (a * b + nudge) / 2^31, C division truncating towards zero, nudge
    // 2^30 for a positive product and 1 - 2^30 for a negative one (gemmlowp):
    // a positive half rounds up, a negative half towards zero.
    assert_eq!(srdhm(3, 1 << 30), 2); // 1.5 -> (3 * 2^30 + 2^30) / 2^31 = 2
    assert_eq!(srdhm(-3, 1 << 30), -1); // -1.5 -> (-2^32 + 1) / 2^31 = -1.99.. -> -1
    assert_eq!(srdhm(-7, 1 << 30), -3); // -3.5 -> -3
    assert_eq!(srdhm(5, 1 << 29), 1); // 1.25 -> 1
    assert_eq!(srdhm(-5, 1 << 29), -1); // -1.25 -> -1
    assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX); // 1.0 saturates
}

#[test]
fn rounding_divide_by_pot_rounds_half_away() {
    assert_eq!(rounding_divide_by_pot(5, 1), 3); // 2.5
    assert_eq!(rounding_divide_by_pot(-5, 1), -3); // -2.5
    assert_eq!(rounding_divide_by_pot(9, 2), 2); // 2.25
    assert_eq!(rounding_divide_by_pot(-10, 2), -3); // -2.5
    assert_eq!(rounding_divide_by_pot(-9, 2), -2); // -2.25
    assert_eq!(rounding_divide_by_pot(7, 0), 7);
}

#[test]
fn multiply_by_quantized_multiplier_rounds_twice() {
    // 0.4 = 0.8 * 2^-1 -> (1717986918, -1): round(0.8 x), then / 2 rounded.
    assert_eq!(mbqm(1, 1717986918, -1), 1); // 0.8 -> 1 -> 0.5 -> 1
    assert_eq!(mbqm(-1, 1717986918, -1), -1); // -0.8 -> -1 -> -0.5 -> -1
    assert_eq!(mbqm(10, 1717986918, -1), 4); // 8 -> 4
    assert_eq!(mbqm(7, 1717986918, -1), 3); // 5.6 -> 6 -> 3
                                            // 3 = 0.75 * 2^2 -> (round(0.75 * 2^31) = 1610612736, 2): 5 << 2 = 20 -> 15.
    assert_eq!(mbqm(5, 1610612736, 2), 15);
    assert_eq!(mbqm(-5, 1610612736, 2), -15);
}

#[test]
fn multiply_by_quantized_multiplier_exp_variants() {
    // SmallerThanOneExp: round(x * 0.75) then / 2^3: 100 -> 75 -> 9.375 -> 9.
    assert_eq!(
        multiply_by_quantized_multiplier_smaller_than_one_exp(100, 1610612736, -3),
        9
    );
    // -100 -> -75 -> -9.375 -> -9;  12 -> 9 -> 1.125 -> 1;  20 -> 15 -> 1.875 -> 2.
    assert_eq!(
        multiply_by_quantized_multiplier_smaller_than_one_exp(-100, 1610612736, -3),
        -9
    );
    assert_eq!(
        multiply_by_quantized_multiplier_smaller_than_one_exp(20, 1610612736, -3),
        2
    );
    // GreaterThanOne: (x << 4) * 0.75: 3 -> 36;  -7 -> -84.
    assert_eq!(
        multiply_by_quantized_multiplier_greater_than_one(3, 1610612736, 4),
        36
    );
    assert_eq!(
        multiply_by_quantized_multiplier_greater_than_one(-7, 1610612736, 4),
        -84
    );
}
