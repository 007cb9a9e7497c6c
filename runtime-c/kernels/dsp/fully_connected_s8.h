/* FullyConnected int8: the input is sign-extended once into col (the conv
 * kernel's layout for a single pixel), then each pair of outputs takes one
 * weight word (two outputs x two inputs) per step into two SMLADs. Weights
 * are laid out as for Conv2D with k = in_len. */
#ifndef HYB_DSP_FULLY_CONNECTED_H
#define HYB_DSP_FULLY_CONNECTED_H

#include "conv_s8.h"

HYB_DSP_INLINE void hyb_dsp_fully_connected_s8(const int8_t *in, int8_t *out, const int32_t *w,
                                               const hyb_dsp_chan *ch, int32_t *col, int8_t *patch, int in_len,
                                               int out_len, hyb_dsp_outq q) {
    const int steps = ((in_len + 3) & ~3) / 2;
    hyb_dsp_im2col(col, 1, patch, in, 0, 0, 1, 1, in_len, 1, 1, 1, 1, 1, 1, 0, 0, 0);
    for (int c = 0; c < out_len; c += 2) {
        int32_t a0 = ch[c].bias, a1 = ch[c + 1].bias;
        const int32_t *wp = w + (c / 2) * steps;
#pragma GCC unroll 4
        for (int s = 0; s < steps; s++) {
            const int32_t wv = wp[s], x = col[s];
            a0 = __smlad(x, __sxtb16(wv), a0);
            a1 = __smlad(x, hyb_sxtb16_ror8(wv), a1);
        }
        hyb_dsp_store2(out + c, a0, a1, ch + c, c + 1 < out_len, q);
    }
}

#endif
