//! Pad, Transpose and Concat (with requantization), expected values by hand.

mod common;

use common::{arena, expect_output, unary};
use hybridc_kernels::shape::{concat_part, pad, transpose, ConcatPart, Pad, Transpose};
use hybridc_kernels::S8;

/// The quantized zero (the output zero point) that Pad fills with.
const Z: i8 = -5;

/// Pads `input` of `in_shape` to `out_shape`, `before` elements before on
/// each dim (the rest after), with Z.
fn check_pad(
    in_shape: [usize; 4],
    out_shape: [usize; 4],
    before: [usize; 4],
    input: &[i8],
    expected: &[i8],
) {
    let p = Pad {
        in_shape,
        out_shape,
        before,
        value: Z,
    };
    unary(input, expected, |a, i, o| pad(&p, a, i, o));
}

#[test]
fn pad_2d_before_and_after() {
    // [2, 3] padded by 1 row before, 0 after; 2 columns before, 1 after:
    // [3, 6], input element (r, c) lands at (r + 1, c + 2).
    #[rustfmt::skip]
    let expected = [
        Z, Z, Z, Z, Z, Z,
        Z, Z, 1, 2, 3, Z,
        Z, Z, 4, 5, 6, Z,
    ];
    let input = [1, 2, 3, 4, 5, 6];
    check_pad([1, 1, 2, 3], [1, 1, 3, 6], [0, 0, 1, 2], &input, &expected);
}

#[test]
fn pad_4d_every_dim() {
    // [1, 2, 1, 2] padded before by [1, 0, 1, 1] and after by [0, 1, 0, 0]:
    // [2, 3, 2, 3]; input (i0, i1, i2, i3) lands at (i0 + 1, i1, i2 + 1, i3 + 1),
    // flat ((o0 * 3 + o1) * 2 + o2) * 3 + o3: 1 -> 22, 2 -> 23, 3 -> 28, 4 -> 29.
    // Each group of 3 is one (o0, o1, o2) along o3; a line is all of o0 = 0,
    // then one o1 of o0 = 1.
    #[rustfmt::skip]
    let expected = [
        Z, Z, Z,  Z, Z, Z,  Z, Z, Z,  Z, Z, Z,  Z, Z, Z,  Z, Z, Z, // o0 = 0
        Z, Z, Z,  Z, 1, 2, // o0 = 1, o1 = 0
        Z, Z, Z,  Z, 3, 4, // o0 = 1, o1 = 1
        Z, Z, Z,  Z, Z, Z, // o0 = 1, o1 = 2
    ];
    let input = [1, 2, 3, 4];
    check_pad([1, 2, 1, 2], [2, 3, 2, 3], [1, 0, 1, 1], &input, &expected);
}

#[test]
fn transpose_2x3() {
    // out[j][i] = in[i][j]; in strides [3, 1], so out dim 0 (j) steps 1 and
    // out dim 1 (i) steps 3.
    let p = Transpose {
        out_shape: [1, 1, 3, 2],
        in_strides: [0, 0, 1, 3],
    };
    unary(&[1, 2, 3, 4, 5, 6], &[1, 4, 2, 5, 3, 6], |a, i, o| {
        transpose(&p, a, i, o)
    });
}

#[test]
fn transpose_2x3x4_perm_201() {
    // in[i][j][k] = 12 i + 4 j + k (its flat index), shape [2, 3, 4];
    // perm [2, 0, 1]: out shape [4, 2, 3], out[k][i][j] = in[i][j][k]
    // = 12 i + 4 j + k; per out dim the input stride is [1, 12, 4].
    let p = Transpose {
        out_shape: [1, 4, 2, 3],
        in_strides: [0, 1, 12, 4],
    };
    let input: Vec<i8> = (0..24).collect();
    #[rustfmt::skip]
    let expected = [
        0, 4, 8,  12, 16, 20, // k = 0: i = 0 then 1, j = 0..3
        1, 5, 9,  13, 17, 21, // k = 1
        2, 6, 10, 14, 18, 22, // k = 2
        3, 7, 11, 15, 19, 23, // k = 3
    ];
    unary(&input, &expected, |a, i, o| transpose(&p, a, i, o));
}

/// Concat on axis 1 of A [2, 2] (scale 0.5, zp -2, in the arena) and
/// B [2, 3] (scale 0.1, zp 5, a constant) into [2, 5] (scale 0.25, zp 1).
///
/// Each input is requantized as TFLite's Requantize does:
/// MultiplyByQuantizedMultiplier(x - zp_in, M, shift) + zp_out, saturated,
/// with (M, shift) = QuantizeMultiplier(s_in / s_out):
/// - A: 0.5 / 0.25 = 2 = 0.5 * 2^2 -> M = 0.5 * 2^31 = 2^30, shift 2;
///   exact: q = 2 (x + 2) + 1.
/// - B: 0.1 / 0.25 = 0.4 = 0.8 * 2^-1 -> M = round(0.8 * 2^31) = 1717986918,
///   shift -1: SaturatingRoundingDoublingHighMul(x - 5, M) = round(0.8 (x - 5)),
///   then RoundingDivideByPOT(., 1) rounds again, half away from zero.
#[test]
fn concat_requantizes_each_input() {
    static B: [i8; 6] = [5, 6, 10, 4, 12, -3];
    let a = [-2, 3, 100, -128];
    let part_a = ConcatPart {
        outer: 2,
        inner: 2,
        stride: 5,
        input_offset: 2,
        output_offset: 1,
        requant: Some((1 << 30, 2)),
    };
    let part_b = ConcatPart {
        outer: 2,
        inner: 3,
        stride: 5,
        input_offset: -5,
        output_offset: 1,
        requant: Some((1717986918, -1)),
    };
    // A: -2 -> 2 * 0 + 1 = 1;  3 -> 2 * 5 + 1 = 11;
    //    100 -> 2 * 102 + 1 = 205 -> 127;  -128 -> 2 * -126 + 1 = -251 -> -128.
    // B (x - 5 -> round(0.8 d) -> /2 rounded -> + 1; the real value 0.4 d):
    //    5: 0 -> 0 -> 0 -> 1;
    //    6: 1 -> round(0.8) = 1 -> 0.5 rounds to 1 -> 2 (0.4 alone would
    //       give 1: TFLite's double rounding);
    //    10: 5 -> round(4.0) = 4 -> 2 -> 3;
    //    4: -1 -> round(-0.8) = -1 -> -0.5 rounds to -1 -> 0 (double rounding again);
    //    12: 7 -> round(5.6) = 6 -> 3 -> 4;
    //    -3: -8 -> round(-6.4) = -6 -> -3 -> -2.
    #[rustfmt::skip]
    let expected = [
        1, 11,      1, 2, 3,
        127, -128,  0, 4, -2,
    ];
    let (at_a, out) = (2, 10);
    let arena = arena(out + 10 + 3, &[(at_a, &a)]);
    expect_output(arena, out, &expected, |arena| {
        concat_part(&part_a, arena, S8::Arena(at_a), out);
        concat_part(&part_b, arena, S8::Const(&B), out + 2);
    });
}

#[test]
fn concat_without_requantization_copies() {
    // Both inputs in the output's quantization: chunks copied as they are,
    // A's [1, 2] chunks and B's [1, 1] chunks interleaved into [2, 3].
    let part = |inner, input_offset| ConcatPart {
        outer: 2,
        inner,
        stride: 3,
        input_offset,
        output_offset: 7,
        requant: None,
    };
    let (a, b) = ([-128, 127, 0, -1], [9, -9]);
    let (at_a, at_b, out) = (1, 6, 10);
    let arena = arena(out + 6 + 2, &[(at_a, &a), (at_b, &b)]);
    expect_output(arena, out, &[-128, 127, 9, 0, -1, -9], |arena| {
        concat_part(&part(2, 3), arena, S8::Arena(at_a), out);
        concat_part(&part(1, 3), arena, S8::Arena(at_b), out + 2);
    });
}
