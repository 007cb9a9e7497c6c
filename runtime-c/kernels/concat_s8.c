/* Concat int8 along one axis; inputs with other scales are requantized. */
#include "hyb_kernels.h"
#include "hyb_fixedpoint.h"

void hyb_concat_s8(const hyb_concat_params *p, const int8_t *const *in, int8_t *out) {
    int o = 0;
    for (int outer = 0; outer < p->outer; outer++) {
        for (int k = 0; k < p->num_inputs; k++) {
            const hyb_concat_input *c = &p->inputs[k];
            const int8_t *src = in[k] + outer * c->inner;
            for (int i = 0; i < c->inner; i++) {
                if (c->requant) {
                    int32_t r = hyb_mul_by_qm(src[i] + c->input_offset, c->multiplier, c->shift) + p->output_offset;
                    out[o++] = hyb_clamp_s8(r, -128, 127);
                } else {
                    out[o++] = src[i];
                }
            }
        }
    }
}
