/* gemmlowp's exp and reciprocal in fixed point (see hyb_fixedpoint.h). */
#include "hyb_fixedpoint.h"

static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
    const int32_t constant_term = 1895147668; /* exp(-1/8) in Q0.31 */
    const int32_t one_third = 715827883;
    int32_t x = hyb_wrap_add(a, 1 << 28);
    int32_t x2 = hyb_srdhm(x, x);
    int32_t x3 = hyb_srdhm(x2, x);
    int32_t x4 = hyb_srdhm(x2, x2);
    int32_t x4_over_4 = hyb_sat_mul_pot(x4, -2);
    int32_t inner = hyb_wrap_add(hyb_srdhm(hyb_wrap_add(x4_over_4, x3), one_third), x2);
    int32_t poly = hyb_sat_mul_pot(inner, -1);
    return hyb_wrap_add(constant_term, hyb_srdhm(constant_term, hyb_wrap_add(x, poly)));
}

int32_t hyb_exp_on_negative_values(int32_t a, int integer_bits) {
    static const int32_t barrel[7][2] = {
        {-2, 1672461947}, {-1, 1302514674}, {0, 790015084}, {1, 290630308},
        {2, 39332535}, {3, 720401}, {4, 242},
    };
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    int32_t a_mod = hyb_wrap_sub(a & mask, one_quarter);
    int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        hyb_sat_mul_pot(a_mod, integer_bits));
    int32_t remainder = hyb_wrap_sub(a_mod, a);
    for (int i = 0; i < 7; i++) {
        int exponent = (int)barrel[i][0];
        if (integer_bits > exponent) {
            int shift = fractional_bits + exponent;
            if (remainder & (int32_t)(1u << shift)) result = hyb_srdhm(result, barrel[i][1]);
        }
    }
    if (integer_bits > 5) {
        int32_t clamp = -((int32_t)1 << (36 - integer_bits));
        if (a < clamp) result = 0;
    }
    if (a == 0) result = INT32_MAX;
    return result;
}

int32_t hyb_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
    const int32_t c48_17 = 1515870810, cneg32_17 = -1010580540, f2_one = 1 << 29;
    int32_t half_denominator = hyb_rounding_half_sum(a, INT32_MAX);
    int32_t x = hyb_wrap_add(c48_17, hyb_srdhm(half_denominator, cneg32_17));
    for (int i = 0; i < 3; i++) {
        int32_t one_minus = hyb_wrap_sub(f2_one, hyb_srdhm(half_denominator, x));
        x = hyb_wrap_add(x, hyb_sat_mul_pot(hyb_srdhm(x, one_minus), 2));
    }
    return hyb_sat_mul_pot(x, 1);
}
