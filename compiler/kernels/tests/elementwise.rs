//! Lut (256-entry tables), Quantize and Dequantize, expected values by hand.

mod common;

use common::{in_place, unary};
use hybridc_kernels::elementwise::{dequantize, lut, quantize, Quant};

/// table[j] = (3 j mod 256) - 128: a table whose neighbouring entries
/// differ, so that reading entry q + 127 or q + 129 instead of q + 128 shows.
fn table() -> [i8; 256] {
    core::array::from_fn(|j| (((3 * j) % 256) as i32 - 128) as i8)
}

// q -> entry j = q + 128 -> 3 j mod 256 - 128:
// -128 -> 0 -> 0 - 128 = -128
// -1 -> 127 -> 381 - 256 = 125 -> -3
// 0 -> 128 -> 384 - 256 = 128 -> 0
// 1 -> 129 -> 387 - 256 = 131 -> 3
// 42 -> 170 -> 510 - 256 = 254 -> 126
// 127 -> 255 -> 765 - 512 = 253 -> 125
const LUT_IN: [i8; 6] = [-128, -1, 0, 1, 42, 127];
const LUT_OUT: [i8; 6] = [-128, -3, 0, 3, 126, 125];

#[test]
fn lut_reads_entry_q_plus_128() {
    let t = table();
    unary(&LUT_IN, &LUT_OUT, |a, i, o| lut(6, &t, a, i, o));
}

#[test]
fn lut_in_place() {
    let t = table();
    in_place(&LUT_IN, &LUT_OUT, |a, at| lut(6, &t, a, at, at));
}

/// f32 values as the arena holds them (little-endian bytes).
fn f32_bytes(values: &[f32]) -> Vec<i8> {
    values
        .iter()
        .flat_map(|v| v.to_le_bytes().map(|b| b as i8))
        .collect()
}

#[test]
fn quantize_rounds_half_away_and_saturates() {
    // Scale 0.5, zp 3: q = round(x / 0.5) + 3, half away from zero, saturated:
    // 1.25 -> 2.5 -> 3 -> 6;  -1.25 -> -2.5 -> -3 -> 0;  0 -> 3;
    // -0.74 -> -1.48 -> -1 -> 2;  100 -> 200 -> 203 -> 127;  -100 -> -197 -> -128.
    let input = f32_bytes(&[1.25, -1.25, 0.0, -0.74, 100.0, -100.0]);
    unary(&input, &[6, 0, 3, 2, 127, -128], |a, i, o| {
        quantize(&Quant::flat(6, 0.5, 3), a, i, o)
    });
}

#[test]
fn dequantize_subtracts_the_zero_point() {
    // Scale 0.5, zp 3: (q - 3) * 0.5: -128 -> -65.5;  3 -> 0;  4 -> 0.5;  127 -> 62.
    let expected = f32_bytes(&[-65.5, 0.0, 0.5, 62.0]);
    unary(&[-128, 3, 4, 127], &expected, |a, i, o| {
        dequantize(&Quant::flat(4, 0.5, 3), a, i, o)
    });
}

#[test]
fn quantize_moves_nchw_into_nhwc() {
    // Float [1, 2, 1, 3] NCHW (c0: 1 2 3, c1: 4 5 6) -> int8 [1, 1, 3, 2] NHWC.
    let input = f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let p = Quant {
        len: 6,
        scale: 1.0,
        zero_point: 0,
        out_shape: [1, 1, 3, 2],
        in_strides: [6, 3, 1, 3],
    };
    unary(&input, &[1, 4, 2, 5, 3, 6], |a, i, o| quantize(&p, a, i, o));
}
