//! Softmax int8 -> int8 (scale 1/256, zp -128), expected values by hand.
//!
//! Input scale 1/16, beta 1. TFLite's PreprocessSoftmaxScaling with 5
//! integer bits: beta * scale * 2^(31 - 5) = 2^22 = 0.5 * 2^23 ->
//! QuantizeMultiplierGreaterThanOne (2^30, left shift 23), so a difference d
//! becomes d * 2^22 in Q5.26, the real d / 16. CalculateInputRadius(5, 23) =
//! floor(31 * 2^26 / 2^23) = 248: differences below -248 count as exp = 0.
//! The output is round(256 p) - 128 saturated, p each value's probability.

mod common;

use common::unary;
use hybridc_kernels::softmax::{softmax, Softmax};

fn params(rows: usize, depth: usize) -> Softmax {
    Softmax {
        rows,
        depth,
        input_multiplier: 1 << 30,
        input_left_shift: 23,
        diff_min: -248,
    }
}

#[test]
fn one_dominant_logit() {
    // Row 0: [100, -100, -100, -100]: differences 0 and -200 (-12.5 real),
    // exp(-12.5) = 3.7e-6, so p = 1 / (1 + 3 * 3.7e-6) -> 256 p = 255.997
    // -> 256 - 128 = 128 saturates to 127; the others 256 * 3.7e-6 = 0.001
    // -> 0 -> -128.
    // Row 1: [127, -128, 0, 126]: differences 0, -255 (below -248: exp = 0),
    // -127 (exp(-7.94) = 3.6e-4) and -1 (exp(-1/16) = 0.9394);
    // sum 1.93977: 256 p = 131.97 -> 132 -> 4; 0 -> -128;
    // 0.047 -> 0 -> -128; 123.98 -> 124 -> -4.
    let input = [100, -100, -100, -100, 127, -128, 0, 126];
    let expected = [127, -128, -128, -128, 4, -128, -128, -4];
    unary(&input, &expected, |a, i, o| softmax(&params(2, 4), a, i, o));
}

#[test]
fn two_logits() {
    // [0, -11]: difference -11/16, exp(-0.6875) = 0.50283;
    // 256 / 1.50283 = 170.35 -> 170 -> 42;  256 - 170.35 = 85.65 -> 86 -> -42.
    unary(&[0, -11], &[42, -42], |a, i, o| {
        softmax(&params(1, 2), a, i, o)
    });
}

/// Equal logits: every difference is 0, exp(0) is exactly 1 (Q0.31 2^31 - 1),
/// each rescaled to 2^19 in Q12.19 (1 in the accumulation format), so the
/// sum is depth * 2^19 and 256 p = 256 / depth: q = round(256 / depth) - 128.
/// (GetReciprocal's Newton-Raphson and the final rounding shifts are off by
/// far less than the distance of these 256 / depth from a rounding half.)
fn uniform(depth: usize, value: i8, expected: i8) {
    let input = vec![value; depth];
    unary(&input, &vec![expected; depth], |a, i, o| {
        softmax(&params(1, depth), a, i, o)
    });
}

#[test]
fn equal_logits_are_uniform() {
    // 256 / 1 = 256 -> 128 saturates to 127
    uniform(1, 5, 127);
    // 256 / 2 = 128 -> 0
    uniform(2, -7, 0);
    // 256 / 3 = 85.33 -> 85 -> -43
    uniform(3, 127, -43);
    // 256 / 4 = 64 -> -64
    uniform(4, 0, -64);
    // 256 / 5 = 51.2 -> 51 -> -77
    uniform(5, -128, -77);
    // 256 / 10 = 25.6 -> 26 -> -102
    uniform(10, 33, -102);
}
