/* Pointwise Conv2D (1x1, stride 1, no padding) whose weights leave whole
 * channels dead: every weight of most input and output channels is zero
 * (MobileNetV1's deep layers). A dead output channel is a constant, its
 * requantized bias; a dead input channel adds nothing. So only the live
 * block runs, exactly as the dense kernel would compute it:
 *
 * per group of four pixels, the live input channels (n_in, a multiple of
 * 4; the compiler pads the list with a channel whose weights are zero) are
 * gathered into col in hyb_dsp_conv_col_s8's layout; hyb_dsp_rows_group
 * runs the live output channels (n_out, even) into tmp; then each pixel is
 * written as the constant row with its n_live outputs scattered into it.
 * A group's inputs are all in col before its outputs are written (in place
 * safe, as hyb_dsp_conv_col_s8).
 *
 * After the weight stream w holds: the live input channels (n_in bytes),
 * the live output channels (n_out bytes), the constant row (out_c bytes),
 * each padded to whole words. */
#ifndef HYB_DSP_LIVE_CHANNELS_H
#define HYB_DSP_LIVE_CHANNELS_H

#include "conv_s8.h"

/* The live channels of pixel src as col words (col + 8 a step pair). */
HYB_DSP_INLINE void hyb_dsp_live_in(int32_t *col, const int8_t *src, const uint8_t *live, int n_in) {
    for (int j = 0; j < n_in; j += 4, col += 8) {
        const uint32_t x = (uint8_t)src[live[j]] | (uint32_t)(uint8_t)src[live[j + 1]] << 8 |
                           (uint32_t)(uint8_t)src[live[j + 2]] << 16 | (uint32_t)(uint8_t)src[live[j + 3]] << 24;
        hyb_dsp_expand(col, 4, (int32_t)x);
    }
}

HYB_DSP_INLINE void hyb_dsp_conv_pw_live_s8(const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch,
                                            int32_t *col, int npix, int in_c, int out_c, int n_in, int n_out,
                                            int n_live, int u, int relu) {
    (void)ch;
    const int steps = n_in / 2;
    const int32_t *w_end = w + n_out / 2 * HYB_DSP_PAIR_WORDS(steps / u, u, 0);
    const uint8_t *live_in = (const uint8_t *)w_end, *live_out = live_in + (n_in + 3) / 4 * 4;
    const int8_t *row = (const int8_t *)(live_out + (n_out + 3) / 4 * 4);
    int8_t *tmp = (int8_t *)(col + 4 * steps);
    for (int p0 = 0; p0 < npix; p0 += 4) {
        const int n = npix - p0 < 4 ? npix - p0 : 4;
        /* A short last group leaves stale pixels in col: their outputs stay in tmp. */
        for (int p = 0; p < n; p++) hyb_dsp_live_in(col + p, in + (p0 + p) * in_c, live_in, n_in);
        if (n_out > 0) hyb_dsp_rows_group(col, w, w_end, tmp, n_out, 4, u, 0, relu);
        for (int p = 0; p < n; p++) {
            int8_t *o = out + (p0 + p) * out_c;
            for (int i = 0; i < out_c; i += 4) hyb_dsp_store32(o + i, (uint32_t)hyb_dsp_load32(row + i));
            for (int j = 0; j < n_live; j++) o[live_out[j]] = tmp[p * n_out + j];
        }
    }
}

#endif
