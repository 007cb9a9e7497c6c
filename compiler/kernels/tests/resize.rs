//! RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR, expected values by hand.

mod common;

use common::unary;
use hybridc_kernels::resize::{resize, Resize};

/// Resizes `input` from `in_hwc` to `out_hwc` with the coordinate tables
/// (rows, columns) and checks the output.
fn check(
    in_hwc: [usize; 3],
    out_hwc: [usize; 3],
    bilinear: bool,
    (ys, xs): (&[i32], &[i32]),
    input: &[i8],
    expected: &[i8],
) {
    let p = Resize {
        in_hwc,
        out_hwc,
        bilinear,
        ys,
        xs,
    };
    unary(input, expected, |a, i, o| resize(&p, a, i, o));
}

/// Nearest 2x2 -> 4x4 (PyTorch's Upsample(scale_factor=2): source = out / 2).
#[test]
fn nearest_doubles_each_pixel() {
    let table = [0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 0];
    #[rustfmt::skip]
    let expected = [
        1, 1, 2, 2,
        1, 1, 2, 2,
        3, 3, 4, 4,
        3, 3, 4, 4,
    ];
    check(
        [2, 2, 1],
        [4, 4, 1],
        false,
        (&table, &table),
        &[1, 2, 3, 4],
        &expected,
    );
}

/// Bilinear 1x2 -> 1x4 with half-pixel centers, two channels. TFLite's
/// integer coordinates: scale_10 = 512, scaled = 512 * o - 256, so
/// o = 0: lower 0, upper 0, distance -256; o = 1: 0, 1, 256;
/// o = 2: 0, 1, 768; o = 3: 1, 1, 256. The row axis is 1 -> 1: [0, 0, 0].
/// out = (v0 * (1024 - f) + v1 * f) * 1024 / 2^20, rounded half away from 0:
/// channel 0 (10, 51): 10, 20.25 -> 20, 40.75 -> 41, 51;
/// channel 1 (-100, 21): -100, -69.75 -> -70, -9.25 -> -9, 21.
#[test]
fn bilinear_half_pixel_rounds_half_away_from_zero() {
    let ys = [0, 0, 0];
    let xs = [0, 0, -256, 0, 1, 256, 0, 1, 768, 1, 1, 256];
    let input = [10, -100, 51, 21];
    let expected = [10, -100, 20, -70, 41, -9, 51, 21];
    check([1, 2, 2], [1, 4, 2], true, (&ys, &xs), &input, &expected);
}
