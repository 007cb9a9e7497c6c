/* FullyConnected int8, per-tensor weights (TFLite reference_integer_ops). */
#include "hyb_kernels.h"
#include "hyb_fixedpoint.h"

void hyb_fully_connected_s8(const hyb_fc_params *p, const int8_t *in, int8_t *out) {
    for (int o = 0; o < p->out_len; o++) {
        const int8_t *w = p->weights + o * p->in_len;
        int32_t acc = 0;
        for (int i = 0; i < p->in_len; i++) acc += w[i] * (in[i] + p->input_offset);
        acc += p->bias[o];
        acc = hyb_mul_by_qm(acc, p->multiplier, p->shift) + p->output_offset;
        out[o] = hyb_clamp_s8(acc, p->act_min, p->act_max);
    }
}
