/* Conv2D and DepthwiseConv2D int8 in place (see hyb_inplace.h). */
#include <string.h>
#include "hyb_inplace.h"
#include "hyb_fixedpoint.h"

/* Accumulator of output channel `oc` of pixel `q` = (oy, ox): window pixels
 * at or before q come from the ring (their slots in `buf` are overwritten),
 * later ones from `buf`. Depthwise reads channel oc only. */
static inline int32_t window_acc(const hyb_conv_params *p, const int8_t *buf, const int8_t *ring, int slots,
                                 int q, int oy, int ox, int oc, int depthwise) {
    int32_t acc = 0;
    for (int ky = 0; ky < p->k_h; ky++) {
        const int iy = oy - p->pad_top + ky * p->dil_h;
        if (iy < 0 || iy >= p->in_h) continue;
        for (int kx = 0; kx < p->k_w; kx++) {
            const int ix = ox - p->pad_left + kx * p->dil_w;
            if (ix < 0 || ix >= p->in_w) continue;
            const int pixel = iy * p->in_w + ix;
            const int8_t *ip = pixel <= q ? ring + (pixel % slots) * p->in_c : buf + pixel * p->in_c;
            if (depthwise) {
                acc += p->weights[(ky * p->k_w + kx) * p->out_c + oc] * (ip[oc] + p->input_offset);
            } else {
                const int8_t *wp = p->weights + ((oc * p->k_h + ky) * p->k_w + kx) * p->in_c;
                for (int ic = 0; ic < p->in_c; ic++) acc += wp[ic] * (ip[ic] + p->input_offset);
            }
        }
    }
    return acc;
}

static inline void conv_inplace(const hyb_conv_params *p, int8_t *buf, int8_t *ring, int depthwise) {
    const int slots = p->pad_top * p->in_w + p->pad_left + 1;
    for (int oy = 0; oy < p->out_h; oy++) {
        for (int ox = 0; ox < p->out_w; ox++) {
            const int q = oy * p->out_w + ox;
            memcpy(ring + (q % slots) * p->in_c, buf + q * p->in_c, (size_t)p->in_c);
            for (int oc = 0; oc < p->out_c; oc++) {
                int32_t acc = window_acc(p, buf, ring, slots, q, oy, ox, oc, depthwise) + p->bias[oc];
                acc = hyb_mul_by_qm(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                buf[q * p->out_c + oc] = hyb_clamp_s8(acc, p->act_min, p->act_max);
            }
        }
    }
}

void hyb_conv_s8_inplace(const hyb_conv_params *p, int8_t *buf, int8_t *ring) { conv_inplace(p, buf, ring, 0); }

void hyb_depthwise_conv_s8_inplace(const hyb_conv_params *p, int8_t *buf, int8_t *ring) {
    conv_inplace(p, buf, ring, 1);
}
