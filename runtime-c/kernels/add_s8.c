/* Element-wise Add int8 (TFLite reference_integer_ops::Add). */
#include "hyb_kernels.h"
#include "hyb_fixedpoint.h"

void hyb_add_s8(const hyb_add_params *p, const int8_t *a, const int8_t *b, int8_t *out) {
    for (int i = 0; i < p->len; i++) {
        const int32_t x = hyb_wrap_shl(p->input1_offset + a[i], p->left_shift);
        const int32_t y = hyb_wrap_shl(p->input2_offset + b[i], p->left_shift);
        const int32_t sx = hyb_mul_by_qm_lt1(x, p->input1_multiplier, p->input1_shift);
        const int32_t sy = hyb_mul_by_qm_lt1(y, p->input2_multiplier, p->input2_shift);
        const int32_t v = hyb_mul_by_qm_lt1(hyb_wrap_add(sx, sy), p->output_multiplier, p->output_shift)
                          + p->output_offset;
        out[i] = hyb_clamp_s8(v, p->act_min, p->act_max);
    }
}
