/* TransposeConv int8 (TFLite reference_integer_ops::TransposeConv with bias
 * and per-channel requantization), weights [out_c][k_h][k_w][in_c],
 * pad_top/pad_left cut from the full output, dilation 1. Gathered per
 * output pixel: the taps whose (o + pad - k) is a multiple of the stride;
 * the same int32 sum as TFLite's scatter into a scratch buffer. */
#include "hyb_kernels.h"
#include "hyb_fixedpoint.h"

void hyb_conv_transpose_s8(const hyb_conv_params *p, const int8_t *in, int8_t *out) {
    for (int oy = 0; oy < p->out_h; oy++) {
        for (int ox = 0; ox < p->out_w; ox++) {
            for (int oc = 0; oc < p->out_c; oc++) {
                int32_t acc = 0;
                for (int ky = 0; ky < p->k_h; ky++) {
                    const int ny = oy + p->pad_top - ky;
                    if (ny < 0 || ny % p->stride_h != 0 || ny / p->stride_h >= p->in_h) continue;
                    for (int kx = 0; kx < p->k_w; kx++) {
                        const int nx = ox + p->pad_left - kx;
                        if (nx < 0 || nx % p->stride_w != 0 || nx / p->stride_w >= p->in_w) continue;
                        const int8_t *ip = in + ((ny / p->stride_h) * p->in_w + nx / p->stride_w) * p->in_c;
                        const int8_t *wp = p->weights + ((oc * p->k_h + ky) * p->k_w + kx) * p->in_c;
                        for (int ic = 0; ic < p->in_c; ic++) acc += wp[ic] * (ip[ic] + p->input_offset);
                    }
                }
                acc += p->bias[oc];
                acc = hyb_mul_by_qm(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                out[(oy * p->out_w + ox) * p->out_c + oc] = hyb_clamp_s8(acc, p->act_min, p->act_max);
            }
        }
    }
}
