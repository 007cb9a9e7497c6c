/* Conv2D int8, per-channel requantization (TFLite ConvPerChannel). */
#include "hyb_kernels.h"
#include "hyb_fixedpoint.h"

void hyb_conv_s8(const hyb_conv_params *p, const int8_t *in, int8_t *out) {
    for (int oy = 0; oy < p->out_h; oy++) {
        for (int ox = 0; ox < p->out_w; ox++) {
            const int y0 = oy * p->stride_h - p->pad_top;
            const int x0 = ox * p->stride_w - p->pad_left;
            for (int oc = 0; oc < p->out_c; oc++) {
                int32_t acc = 0;
                for (int ky = 0; ky < p->k_h; ky++) {
                    const int iy = y0 + ky * p->dil_h;
                    if (iy < 0 || iy >= p->in_h) continue;
                    for (int kx = 0; kx < p->k_w; kx++) {
                        const int ix = x0 + kx * p->dil_w;
                        if (ix < 0 || ix >= p->in_w) continue;
                        const int8_t *ip = in + (iy * p->in_w + ix) * p->in_c;
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
