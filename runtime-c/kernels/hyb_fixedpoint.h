/* TFLite / gemmlowp fixed-point arithmetic (double rounding), bit-exact with
 * TensorFlow Lite Micro and with hybridc's Rust reference
 * (compiler/src/quant/fixedpoint.rs). Signed overflow is avoided by doing
 * wrapping arithmetic in uint32_t, as the Rust side does explicitly. */
#ifndef HYB_FIXEDPOINT_H
#define HYB_FIXEDPOINT_H

#include <stdint.h>

static inline int32_t hyb_wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t hyb_wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
static inline int32_t hyb_wrap_shl(int32_t a, int s) { return (int32_t)((uint32_t)a << s); }

/* SaturatingRoundingDoublingHighMul */
static inline int32_t hyb_srdhm(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* RoundingDivideByPOT: rounds half away from zero. */
static inline int32_t hyb_rdivpot(int32_t x, int exponent) {
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier */
static inline int32_t hyb_mul_by_qm(int32_t x, int32_t m, int shift) {
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return hyb_rdivpot(hyb_srdhm(hyb_wrap_shl(x, left), m), right);
}

/* MultiplyByQuantizedMultiplierSmallerThanOneExp */
static inline int32_t hyb_mul_by_qm_lt1(int32_t x, int32_t m, int left_shift) {
    return hyb_rdivpot(hyb_srdhm(x, m), -left_shift);
}

/* MultiplyByQuantizedMultiplierGreaterThanOne */
static inline int32_t hyb_mul_by_qm_gt1(int32_t x, int32_t m, int left_shift) {
    return hyb_srdhm(hyb_wrap_shl(x, left_shift), m);
}

/* SaturatingRoundingMultiplyByPOT with a run-time exponent. */
static inline int32_t hyb_sat_mul_pot(int32_t x, int exponent) {
    if (exponent == 0) return x;
    if (exponent > 0) {
        int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1);
        if (x > threshold) return INT32_MAX;
        if (x < -threshold) return INT32_MIN;
        return hyb_wrap_shl(x, exponent);
    }
    return hyb_rdivpot(x, -exponent);
}

static inline int32_t hyb_rounding_half_sum(int32_t a, int32_t b) {
    int64_t sum = (int64_t)a + (int64_t)b;
    int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

int32_t hyb_exp_on_negative_values(int32_t a, int integer_bits);
int32_t hyb_one_over_one_plus_x_for_x_in_0_1(int32_t a);

#endif
