//! Add (TFLite's int8 Add, left shift 20) and broadcasting Add / Mul,
//! expected values by hand.

mod common;

use common::{binary, in_place};
use hybridc_kernels::add::{self, Add, Binary};
use hybridc_kernels::S8;

const FULL: [i32; 2] = [-128, 127];

/// A: scale 0.5, zp -10; B: scale 0.25, zp 30; out: scale 0.375, zp -3;
/// TFLite's PrepareAdd with left_shift 20:
/// - twice_max_input_scale = 2 * max(0.5, 0.25) = 1;
/// - input1: 0.5 / 1 = 0.5 * 2^0 -> QuantizeMultiplier (2^30, 0);
/// - input2: 0.25 / 1 = 0.5 * 2^-1 -> (2^30, -1);
/// - output: 1 / (2^20 * 0.375) = (2/3) * 2^-18 -> (round(2/3 * 2^31) = 1431655765, -18).
///
/// With a' = a + 10, b' = b - 30: a' << 20 and b' << 20 scale exactly to
/// a' 2^19 and b' 2^18, their sum is k 2^18 with k = 2a' + b', and the output
/// stage gives round(2k / 3) (k / 3 is never a half, and M = (2^32 - 1) / 3
/// is off 2/3 by far less than one rounding step), so
/// q = round(2 (2a' + b') / 3) - 3, the real (0.5 a' + 0.25 b') / 0.375.
fn add_params(len: usize, act: [i32; 2]) -> Add {
    Add {
        len,
        input1_offset: 10,
        input2_offset: -30,
        output_offset: -3,
        left_shift: 20,
        input1_multiplier: 1 << 30,
        input1_shift: 0,
        input2_multiplier: 1 << 30,
        input2_shift: -1,
        output_multiplier: 1431655765,
        output_shift: -18,
        act,
    }
}

const ADD_A: [i8; 8] = [-10, -9, -10, 0, 20, 127, -128, -60];
const ADD_B: [i8; 8] = [30, 30, 31, 0, 50, 127, -128, 10];
// (a, b) -> k = 2 (a + 10) + (b - 30) -> round(2k / 3) - 3:
// (-10, 30): 0 -> 0 -> -3
// (-9, 30): 2 -> 1.33 -> 1 -> -2
// (-10, 31): 1 -> 0.67 -> 1 -> -2
// (0, 0): 20 - 30 = -10 -> -6.67 -> -7 -> -10
// (20, 50): 60 + 20 = 80 -> 53.33 -> 53 -> 50
// (127, 127): 274 + 97 = 371 -> 247.33 -> 247 -> 244 -> saturates to 127
// (-128, -128): -236 - 158 = -394 -> -262.67 -> -263 -> -266 -> saturates to -128
// (-60, 10): -100 - 20 = -120 -> -80 -> -83
const ADD_OUT: [i8; 8] = [-3, -2, -2, -10, 50, 127, -128, -83];

#[test]
fn add_saturates() {
    let p = add_params(8, FULL);
    binary(&ADD_A, &ADD_B, &ADD_OUT, |arena, a, b, o| {
        add::add(&p, arena, S8::Arena(a), S8::Arena(b), o)
    });
}

#[test]
fn add_clamps_to_relu6() {
    // Relu6 in the output's quantization: [zp, zp + round(6 / 0.375)] = [-3, 13];
    // ADD_OUT clamped: -3, -2, -2, -3, 13, 13, -3, -3.
    let p = add_params(8, [-3, 13]);
    let expected = [-3, -2, -2, -3, 13, 13, -3, -3];
    binary(&ADD_A, &ADD_B, &expected, |arena, a, b, o| {
        add::add(&p, arena, S8::Arena(a), S8::Arena(b), o)
    });
}

#[test]
fn add_in_place_over_an_input_with_a_constant() {
    // The output written over A, B a constant: the same values as add_saturates.
    static B: [i8; 8] = ADD_B;
    let p = add_params(8, FULL);
    in_place(&ADD_A, &ADD_OUT, |arena, at| {
        add::add(&p, arena, S8::Arena(at), S8::Const(&B), at)
    });
}

#[test]
fn broadcast_add_row() {
    // [2, 3] + [1, 3] with add_params: B's strides are 0 along the rows.
    // (a, b) -> k -> q as in ADD_OUT:
    // (-10, 30): 0 -> -3;  (-9, 30): 2 -> -2;  (0, 0): -10 -> -10;
    // (20, 30): 60 -> 40 -> 37;  (127, 30): 274 -> 182.67 -> 183 -> 180 -> 127;
    // (-60, 0): -100 - 30 = -130 -> -86.67 -> -87 -> -90.
    let p = Binary {
        mul: false,
        out_shape: [1, 1, 2, 3],
        a_strides: [0, 0, 3, 1],
        b_strides: [0, 0, 0, 1],
        add: add_params(6, FULL),
    };
    let a = [-10, -9, 0, 20, 127, -60];
    let expected = [-3, -2, -10, 37, 127, -90];
    binary(&a, &[30, 30, 0], &expected, |arena, a, b, o| {
        add::binary(&p, arena, S8::Arena(a), S8::Arena(b), o)
    });
}

/// Broadcast Mul over [2, 3] (A row-major, B's strides given), TFLite's
/// int8 Mul: zp_out plus MultiplyByQuantizedMultiplier((a - zp_a) (b - zp_b),
/// M, shift). Of the Add fields it uses the offsets `[-zp_a, -zp_b, zp_out]`,
/// the output multiplier and the activation.
fn mul_2x3(
    b_strides: [usize; 4],
    offsets: [i32; 3],
    (m, shift): (i32, i32),
    act: [i32; 2],
) -> Binary {
    let mut add = add_params(6, act);
    [add.input1_offset, add.input2_offset, add.output_offset] = offsets;
    (add.output_multiplier, add.output_shift) = (m, shift);
    Binary {
        mul: true,
        out_shape: [1, 1, 2, 3],
        a_strides: [0, 0, 3, 1],
        b_strides,
        add,
    }
}

#[test]
fn broadcast_mul_row() {
    // A [2, 3]: scale 0.5, zp 1; B [1, 3]: scale 0.25, zp -2; out: scale 0.3, zp 5.
    // M: 0.5 * 0.25 / 0.3 = 5/12 = (5/6) * 2^-1 -> (round(5/6 * 2^31) = 1789569707, -1).
    // Per element p = (a - 1)(b + 2), then round(p * 5/6) (SaturatingRoundingDoublingHighMul),
    // then RoundingDivideByPOT(., 1), half away from zero, then + 5:
    // b + 2 = [0, 4, 12];  a - 1 = [0, 2, -8] and [8, 126, -129]
    // p = 0:     0 -> 0 -> 5
    // p = 8:     6.67 -> 7 -> 3.5 -> 4 -> 9 (the real 8 * 5/12 = 3.33 alone
    //            would round to 3: TFLite's double rounding)
    // p = -96:   -80 -> -40 -> -35
    // p = 0:     5
    // p = 504:   420 -> 210 -> 215 -> saturates to 127
    // p = -1548: -1290 -> -645 -> -640 -> saturates to -128
    let p = mul_2x3([0, 0, 0, 1], [-1, 2, 5], (1789569707, -1), FULL);
    let a = [1, 3, -7, 9, 127, -128];
    binary(
        &a,
        &[-2, 2, 10],
        &[5, 9, -35, 5, 127, -128],
        |arena, a, b, o| add::binary(&p, arena, S8::Arena(a), S8::Arena(b), o),
    );
}

#[test]
fn broadcast_mul_scalar_relu6() {
    // A [2, 3]: scale 0.5, zp 2; B a scalar constant 6: scale 0.25, zp 2, the
    // real 1.0; out: scale 0.5, zp -1. M: 0.5 * 0.25 / 0.5 = 0.25 = 0.5 * 2^-1
    // -> (2^30, -1): p = 4 (a - 2) -> exactly 2 (a - 2) -> a - 2, then - 1.
    // Relu6: [zp, zp + 6 / 0.5] = [-1, 11].
    // a - 2 = [-4, -1, 0, 3, 10, 60] -> [-5, -2, -1, 2, 9, 59] -> [-1, -1, -1, 2, 9, 11].
    static B: [i8; 1] = [6];
    let p = mul_2x3([0; 4], [-2, -2, -1], (1 << 30, -1), [-1, 11]);
    let a = [-2, 1, 2, 5, 12, 62];
    binary(&a, &[], &[-1, -1, -1, 2, 9, 11], |arena, a, _, o| {
        add::binary(&p, arena, S8::Arena(a), S8::Const(&B), o)
    });
}
