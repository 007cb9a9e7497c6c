//! MaxPool2D and AveragePool2D, expected values by hand.
//!
//! Both tests pool a 4x4 image with a 3x3 window, stride 2 and one pixel of
//! padding at the top and left: out 2x2, the windows cover rows (and
//! columns) {0, 1} for out 0 (row -1 is padding) and {1, 2, 3} for out 1.

mod common;

use common::unary;
use hybridc_kernels::pool::{average_pool, max_pool, Pool};

fn pool(channels: usize, act: [i32; 2]) -> Pool {
    Pool {
        in_hwc: [4, 4, channels],
        out_hwc: [2, 2, channels],
        kernel: [3, 3],
        stride: [2, 2],
        pad: [1, 1],
        act,
        requant: None,
        folded: false,
    }
}

/// Interleaves two 4x4 channels into HWC order.
fn hwc(c0: [i8; 16], c1: [i8; 16]) -> Vec<i8> {
    c0.iter().zip(&c1).flat_map(|(&a, &b)| [a, b]).collect()
}

#[rustfmt::skip]
const MAX_C0: [i8; 16] = [
    1,  5, -3,  2,
    7,  0,  4, -8,
    -1, 9,  6,  3,
    2, -5,  8, 10,
];
// All negative: padding must not count as a 0 (nor as anything).
#[rustfmt::skip]
const MAX_C1: [i8; 16] = [
    -20,  -30,  -40,  -50,
    -60,  -45,  -70,  -80,
    -90, -100,  -25, -110,
    -120, -128, -35,   -5,
];

#[test]
fn max_pool_padded_stride_2() {
    // Channel 0: (0,0) max{1, 5, 7, 0} = 7;  (0,1) max{5, -3, 2, 0, 4, -8} = 5;
    //   (1,0) max{7, 0, -1, 9, 2, -5} = 9;  (1,1) max{0, 4, -8, 9, 6, 3, -5, 8, 10} = 10.
    // Channel 1: (0,0) max{-20, -30, -60, -45} = -20;
    //   (0,1) max{-30, -40, -50, -45, -70, -80} = -30;
    //   (1,0) max{-60, -45, -90, -100, -120, -128} = -45;
    //   (1,1) max{-45, -70, -80, -100, -25, -110, -128, -35, -5} = -5.
    // In HWC order, channel 0 and 1 of each pixel:
    let expected = [7, -20, 5, -30, 9, -45, 10, -5];
    let p = pool(2, [-128, 127]);
    unary(&hwc(MAX_C0, MAX_C1), &expected, |a, i, o| {
        max_pool(&p, a, i, o, &mut [0; 2])
    });
}

#[test]
fn max_pool_clamps_to_the_activation() {
    // The maxima above clamped to [0, 6] (Relu6 at scale 1, zp 0):
    // channel 0: 7 5 9 10 -> 6 5 6 6; channel 1: all negative -> 0.
    let p = pool(2, [0, 6]);
    unary(
        &hwc(MAX_C0, MAX_C1),
        &[6, 0, 5, 0, 6, 0, 6, 0],
        |a, i, o| max_pool(&p, a, i, o, &mut [0; 2]),
    );
}

#[test]
fn average_pool_excludes_padding_rounds_half_away() {
    // TFLite: sum over the window's pixels inside the image, count those
    // only, then (sum + count/2) / count for sum > 0 and
    // (sum - count/2) / count otherwise (C division truncates).
    #[rustfmt::skip]
    let input = [
        1,  5, -3,   2,
        8,  0,  4, -17,
        -1, 9,  6,   3,
        2, -5,  8,  23,
    ];
    // (0,0): 1 + 5 + 8 + 0 = 14, count 4: 3.5 -> 4 (with the padding counted: 14/9 -> 2)
    // (0,1): 5 - 3 + 2 + 0 + 4 - 17 = -9, count 6: -1.5 -> -2 ((-9 - 3) / 6)
    // (1,0): 8 + 0 - 1 + 9 + 2 - 5 = 13, count 6: 2.17 -> 2 ((13 + 3) / 6)
    // (1,1): 0 + 4 - 17 + 9 + 6 + 3 - 5 + 8 + 23 = 31, count 9: 3.44 -> 3 ((31 + 4) / 9)
    let p = pool(1, [-128, 127]);
    unary(&input, &[4, -2, 2, 3], |a, i, o| {
        average_pool(&p, a, i, o, &mut [0; 1])
    });
}

#[test]
fn average_pool_requantized_as_mean() {
    // A 2x2 image, 2 channels, averaged whole (TFLite's int8 Mean): in scale
    // 0.5, zp 2; out scale 0.25, zp -1; M, shift = QuantizeMultiplier(0.5 / 0.25
    // = 0.5 * 2^2) = (2^30, 2), exactly * 2.
    // q = rounded_div(MultiplyByQuantizedMultiplier(sum(x - 2), M, 2), 4) - 1:
    // channel 0: [3, 4, 6, -2] -> 1 + 2 + 4 - 4 = 3 -> 6 -> 1.5 -> 2 -> 1
    // channel 1: [-5, 0, 1, 3] -> -7 - 2 - 1 + 1 = -9 -> -18 -> -4.5 -> -5 -> -6
    let p = Pool {
        in_hwc: [2, 2, 2],
        out_hwc: [1, 1, 2],
        kernel: [2, 2],
        stride: [1, 1],
        pad: [0, 0],
        act: [-128, 127],
        requant: Some([-2, -1, 1 << 30, 2]),
        folded: false,
    };
    let input = [3, -5, 4, 0, 6, 1, -2, 3];
    unary(&input, &[1, -6], |a, i, o| {
        average_pool(&p, a, i, o, &mut [0; 2])
    });
}
