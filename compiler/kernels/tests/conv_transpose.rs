//! TransposeConv, expected values by hand.

mod common;

use common::unary;
use hybridc_kernels::conv::{conv_transpose, Conv};

/// Stride 2, one output channel, multiplier 2^30 with shift 1 (x1).
fn params(
    in_hwc: [usize; 3],
    out_hwc: [usize; 3],
    kernel: [usize; 2],
    pad: [usize; 2],
    w: &[i8],
) -> Conv<'_> {
    Conv {
        depthwise: false,
        in_hwc,
        out_hwc,
        kernel,
        stride: [2, 2],
        dilation: [1, 1],
        pad,
        depth_multiplier: 1,
        input_offset: 0,
        output_offset: 0,
        act: [-128, 127],
        weights: w,
        bias: &[0],
        multiplier: &[1 << 30],
        shift: &[1],
    }
}

/// 2x2 -> 4x4, kernel 2x2, stride 2: each input pixel v writes the block
/// v * [[1, 2], [3, -1]]. Multiplier 2^30 with shift 1 is x1.
#[test]
fn stride_2_places_one_block_per_pixel() {
    let p = params([2, 2, 1], [4, 4, 1], [2, 2], [0, 0], &[1, 2, 3, -1]);
    #[rustfmt::skip]
    let expected = [
        1,  2,  2,  4,
        3, -1,  6, -2,
        3,  6,  4,  8,
        9, -3, 12, -4,
    ];
    unary(&[1, 2, 3, 4], &expected, |a, i, o| {
        conv_transpose(&p, a, i, o, &mut [0; 1])
    });
}

/// One row 2 -> 3 wide, kernel 1x3, stride 2, one column cut at the left:
/// inputs 10, 20 with input offset 1 are 11, 21; the full row is
/// [11, 22, 33 + 21, 42, 63], columns 1..4 are 22, 54, 42; bias 5 gives
/// 27, 59, 47; multiplier 2^30 with shift 0 halves, rounding half up:
/// 14, 30, 24; output offset -3: 11, 27, 21.
#[test]
fn padding_cuts_the_full_output_and_overlaps_add() {
    let mut p = params([1, 2, 1], [1, 3, 1], [1, 3], [0, 1], &[1, 2, 3]);
    p.bias = &[5];
    p.shift = &[0];
    p.input_offset = 1;
    p.output_offset = -3;
    unary(&[10, 20], &[11, 27, 21], |a, i, o| {
        conv_transpose(&p, a, i, o, &mut [0; 1])
    });
}
