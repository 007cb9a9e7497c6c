/* Broadcasting Add and Mul int8 (TFLite's int8 arithmetic; strides of 0 broadcast). */
#include "hyb_kernels.h"
#include "hyb_fixedpoint.h"

void hyb_binary_s8(const hyb_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out) {
    const hyb_add_params *q = &p->add;
    int o = 0;
    for (int i0 = 0; i0 < p->out_shape[0]; i0++)
        for (int i1 = 0; i1 < p->out_shape[1]; i1++)
            for (int i2 = 0; i2 < p->out_shape[2]; i2++)
                for (int i3 = 0; i3 < p->out_shape[3]; i3++) {
                    const int ia = i0 * p->a_strides[0] + i1 * p->a_strides[1] + i2 * p->a_strides[2] + i3 * p->a_strides[3];
                    const int ib = i0 * p->b_strides[0] + i1 * p->b_strides[1] + i2 * p->b_strides[2] + i3 * p->b_strides[3];
                    const int32_t x = q->input1_offset + a[ia];
                    const int32_t y = q->input2_offset + b[ib];
                    int32_t v;
                    if (p->mul) {
                        v = hyb_mul_by_qm(x * y, q->output_multiplier, q->output_shift) + q->output_offset;
                    } else {
                        const int32_t sx = hyb_mul_by_qm_lt1(hyb_wrap_shl(x, q->left_shift), q->input1_multiplier, q->input1_shift);
                        const int32_t sy = hyb_mul_by_qm_lt1(hyb_wrap_shl(y, q->left_shift), q->input2_multiplier, q->input2_shift);
                        v = hyb_mul_by_qm_lt1(hyb_wrap_add(sx, sy), q->output_multiplier, q->output_shift) + q->output_offset;
                    }
                    out[o++] = hyb_clamp_s8(v, q->act_min, q->act_max);
                }
}
