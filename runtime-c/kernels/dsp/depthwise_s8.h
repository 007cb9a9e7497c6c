/* DepthwiseConv2D int8 (any kernel, stride and dilation; depth multiplier 1,
 * channels a multiple of 4).
 *
 * The input is first copied into a buffer padded with the zero point
 * (a padded tap then adds w * zp, which the folded bias cancels, exactly as
 * the reference skips it), so every pixel takes its taps at constant
 * offsets without bounds checks. Two horizontally adjacent output pixels x
 * four channels go together: per tap one weight word, split by SXTB16 into
 * even and odd channels, serves both pixels' input words: 16 MACs per 3 loads
 * and 6 SXTB16. Weights keep their [k_h][k_w][channels] layout. */
#ifndef HYB_DSP_DEPTHWISE_H
#define HYB_DSP_DEPTHWISE_H

#include "hyb_dsp.h"

/* acc[c] += x[c] * w[c] for the four int8 lanes of x and w (split already). */
#define HYB_DSP_DW_LANES(a0, a1, a2, a3)                     \
    "sxtb16 %[x1], %[x0], ror #8\n\t"                        \
    "sxtb16 %[x0], %[x0]\n\t"                                \
    "smlabb %[" #a0 "], %[x0], %[w0], %[" #a0 "]\n\t"        \
    "smlatt %[" #a2 "], %[x0], %[w0], %[" #a2 "]\n\t"        \
    "smlabb %[" #a1 "], %[x1], %[w1], %[" #a1 "]\n\t"        \
    "smlatt %[" #a3 "], %[x1], %[w1], %[" #a3 "]\n\t"

#define HYB_DSP_DW_SPLIT_W "ldr %[w0], [%[wb], %[wo]]\n\t" "sxtb16 %[w1], %[w0], ror #8\n\t" "sxtb16 %[w0], %[w0]\n\t"

/* One tap for two pixels `step` bytes apart: the weight at wb + wo, the
 * inputs at xb + xo and xb + xo + step. Offsets are immediates so that the
 * eight accumulators, four operands and two bases fit the 14 registers. */
HYB_DSP_INLINE void hyb_dsp_dw_tap2(const int8_t *xb, int xo, int step, const int32_t *wb, int wo, int32_t *acc) {
    int32_t w0, w1, x0, x1;
    __asm__("ldr %[x0], [%[xb], %[xo]]\n\t" HYB_DSP_DW_SPLIT_W HYB_DSP_DW_LANES(a0, a1, a2, a3)
            "ldr %[x0], [%[xb], %[xq]]\n\t" HYB_DSP_DW_LANES(b0, b1, b2, b3)
            : [a0] "+r"(acc[0]), [a1] "+r"(acc[1]), [a2] "+r"(acc[2]), [a3] "+r"(acc[3]), [b0] "+r"(acc[4]),
              [b1] "+r"(acc[5]), [b2] "+r"(acc[6]), [b3] "+r"(acc[7]), [w0] "=&r"(w0), [w1] "=&r"(w1),
              [x0] "=&r"(x0), [x1] "=&r"(x1)
            : [xb] "r"(xb), [wb] "r"(wb), [xo] "i"(xo), [xq] "i"(xo + step), [wo] "i"(wo), "m"(*xb), "m"(*wb));
}

HYB_DSP_INLINE void hyb_dsp_dw_tap1(const int8_t *xb, int xo, const int32_t *wb, int wo, int32_t *acc) {
    int32_t w0, w1, x0, x1;
    __asm__("ldr %[x0], [%[xb], %[xo]]\n\t" HYB_DSP_DW_SPLIT_W HYB_DSP_DW_LANES(a0, a1, a2, a3)
            : [a0] "+r"(acc[0]), [a1] "+r"(acc[1]), [a2] "+r"(acc[2]), [a3] "+r"(acc[3]), [w0] "=&r"(w0),
              [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1)
            : [xb] "r"(xb), [wb] "r"(wb), [xo] "i"(xo), [wo] "i"(wo), "m"(*xb), "m"(*wb));
}

/* `pixels` (1 or 2) outputs, `step` bytes apart in the padded input, all channels. */
HYB_DSP_INLINE void hyb_dsp_dw_pixels(const int8_t *win, int step, int pixels, int8_t *out, const int32_t *w,
                                      const hyb_dsp_chan *ch, int row, int c_n, int k_h, int k_w, int d_h, int d_w,
                                      hyb_dsp_outq q) {
    for (int c = 0; c < c_n; c += 4) {
        const int32_t b0 = ch[c].bias, b1 = ch[c + 1].bias, b2 = ch[c + 2].bias, b3 = ch[c + 3].bias;
        int32_t acc[8] = {b0, b1, b2, b3, b0, b1, b2, b3};
#pragma GCC unroll 64
        for (int t = 0; t < k_h * k_w; t++) {
            const int xo = ((t / k_w) * d_h * row + (t % k_w) * d_w) * c_n;
            if (pixels == 2)
                hyb_dsp_dw_tap2(win + c, xo, step, w + c / 4, t * c_n, acc);
            else
                hyb_dsp_dw_tap1(win + c, xo, w + c / 4, t * c_n, acc);
        }
        for (int p = 0; p < pixels; p++) {
            const int32_t *a = acc + 4 * p;
            hyb_dsp_store32(out + p * c_n + c, hyb_dsp_pack4(hyb_dsp_out(a[0], ch + c, q),
                                                             hyb_dsp_out(a[1], ch + c + 1, q),
                                                             hyb_dsp_out(a[2], ch + c + 2, q),
                                                             hyb_dsp_out(a[3], ch + c + 3, q)));
        }
    }
}

/* Fills n words; the empty asm keeps gcc from calling newlib's bytewise memset. */
HYB_DSP_INLINE uint32_t *hyb_dsp_fill(uint32_t *d, int n, uint32_t v) {
    for (int i = 0; i < n; i++) {
        __asm__("" : "+r"(d));
        *d++ = v;
    }
    return d;
}

/* Copies the input into a (pad_h, pad_w) buffer at (pad_t, pad_l), the rest the zero point. */
HYB_DSP_INLINE const int8_t *hyb_dsp_pad(const int8_t *in, int8_t *buf, int in_h, int in_w, int c_n, int pad_h,
                                         int pad_w, int pad_t, int pad_l, int32_t in_zp) {
    if (pad_t == 0 && pad_l == 0 && pad_h == in_h && pad_w == in_w) return in;
    const uint32_t zp4 = ((uint32_t)in_zp & 0xffu) * 0x01010101u;
    uint32_t *d = (uint32_t *)buf;
    const int row_words = in_w * c_n / 4;
    for (int y = 0; y < pad_h; y++) {
        const int iy = y - pad_t;
        if (iy < 0 || iy >= in_h) {
            d = hyb_dsp_fill(d, pad_w * c_n / 4, zp4);
            continue;
        }
        d = hyb_dsp_fill(d, pad_l * c_n / 4, zp4);
        const uint32_t *s = (const uint32_t *)(in + iy * in_w * c_n);
        for (int i = 0; i < row_words; i++) {
            __asm__("" : "+r"(d));
            *d++ = s[i];
        }
        d = hyb_dsp_fill(d, (pad_w - pad_l - in_w) * c_n / 4, zp4);
    }
    return buf;
}

HYB_DSP_INLINE void hyb_dsp_depthwise_s8(const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch,
                                         int8_t *buf, int in_h, int in_w, int c_n, int out_h, int out_w, int k_h,
                                         int k_w, int s_h, int s_w, int d_h, int d_w, int pad_t, int pad_l,
                                         int pad_h, int pad_w, int32_t in_zp, hyb_dsp_outq q) {
    const int8_t *src = hyb_dsp_pad(in, buf, in_h, in_w, c_n, pad_h, pad_w, pad_t, pad_l, in_zp);
    for (int oy = 0; oy < out_h; oy++) {
        const int8_t *win = src + oy * s_h * pad_w * c_n;
        int8_t *o = out + oy * out_w * c_n;
        for (int ox = 0; ox + 1 < out_w; ox += 2, win += 2 * s_w * c_n, o += 2 * c_n)
            hyb_dsp_dw_pixels(win, s_w * c_n, 2, o, w, ch, pad_w, c_n, k_h, k_w, d_h, d_w, q);
        if (out_w % 2) hyb_dsp_dw_pixels(win, 0, 1, o, w, ch, pad_w, c_n, k_h, k_w, d_h, d_w, q);
    }
}

#endif
