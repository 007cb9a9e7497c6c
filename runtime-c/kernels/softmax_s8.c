/* Softmax int8 -> int8 (scale 1/256, zero point -128), TFLite Micro's
 * reference: Q5.26 differences, gemmlowp exp, Q12.19 sum, reciprocal. */
#include "hyb_kernels.h"
#include "hyb_fixedpoint.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

void hyb_softmax_s8(const hyb_softmax_params *p, const int8_t *in, int8_t *out) {
    for (int r = 0; r < p->rows; r++) {
        const int8_t *row = in + r * p->depth;
        int8_t *orow = out + r * p->depth;
        int32_t max = -128;
        for (int c = 0; c < p->depth; c++) if (row[c] > max) max = row[c];
        int32_t sum = 0;
        for (int c = 0; c < p->depth; c++) {
            const int32_t diff = row[c] - max;
            if (diff >= p->diff_min) {
                int32_t s = hyb_mul_by_qm_gt1(diff, p->input_multiplier, p->input_left_shift);
                int32_t e = hyb_exp_on_negative_values(s, SCALED_DIFF_INTEGER_BITS);
                sum = hyb_wrap_add(sum, hyb_sat_mul_pot(e, 0 - ACCUMULATION_INTEGER_BITS));
            }
        }
        /* GetReciprocal */
        const int headroom_plus_one = sum == 0 ? 32 : __builtin_clz((uint32_t)sum);
        const int num_bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom_plus_one;
        const int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum << (headroom_plus_one & 31)) - (1u << 31));
        const int32_t shifted_scale = hyb_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
        const int exponent = num_bits_over_unit + 31 - 8;
        for (int c = 0; c < p->depth; c++) {
            const int32_t diff = row[c] - max;
            if (diff >= p->diff_min) {
                int32_t s = hyb_mul_by_qm_gt1(diff, p->input_multiplier, p->input_left_shift);
                int32_t e = hyb_exp_on_negative_values(s, SCALED_DIFF_INTEGER_BITS);
                int32_t v = hyb_rdivpot(hyb_srdhm(shifted_scale, e), exponent) - 128;
                orow[c] = hyb_clamp_s8(v, -128, 127);
            } else {
                orow[c] = -128;
            }
        }
    }
}
