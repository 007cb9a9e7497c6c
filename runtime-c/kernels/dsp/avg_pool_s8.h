/* AveragePool2D int8, channels a multiple of 4 and windows of at most 256
 * values: SXTAB16 sums four channels per load in two halfword lanes each
 * (|sum| <= 128 * 256 fits 16 bits). Padding is excluded from the count and
 * the average rounds half away from zero, as TFLite's reference does. */
#ifndef HYB_DSP_AVG_POOL_H
#define HYB_DSP_AVG_POOL_H

#include "hyb_dsp.h"

HYB_DSP_INLINE int32_t hyb_sxtab16_ror8(int32_t acc, int32_t x) {
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
    return r;
}

HYB_DSP_INLINE int32_t hyb_dsp_avg(int32_t sum, int32_t count, int32_t lo, int32_t hi) {
    const int32_t avg = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
    return avg < lo ? lo : (avg > hi ? hi : avg);
}

HYB_DSP_INLINE void hyb_dsp_avg_pool_s8(const int8_t *in, int8_t *out, int in_h, int in_w, int c_n, int out_h,
                                        int out_w, int k_h, int k_w, int s_h, int s_w, int pad_t, int pad_l,
                                        int32_t lo, int32_t hi) {
    for (int oy = 0; oy < out_h; oy++) {
        for (int ox = 0; ox < out_w; ox++) {
            const int y0 = oy * s_h - pad_t, x0 = ox * s_w - pad_l;
            const int ys = y0 < 0 ? 0 : y0, ye = y0 + k_h < in_h ? y0 + k_h : in_h;
            const int xs = x0 < 0 ? 0 : x0, xe = x0 + k_w < in_w ? x0 + k_w : in_w;
            const int32_t count = (ye > ys && xe > xs) ? (ye - ys) * (xe - xs) : 0;
            int8_t *o = out + (oy * out_w + ox) * c_n;
            for (int c = 0; c < c_n; c += 4) {
                int32_t s02 = 0, s13 = 0;
                for (int y = ys; y < ye; y++) {
                    const int8_t *p = in + (y * in_w + xs) * c_n + c;
                    for (int x = xs; x < xe; x++, p += c_n) {
                        const int32_t v = hyb_dsp_load32(p);
                        s02 = __sxtab16(s02, v);
                        s13 = hyb_sxtab16_ror8(s13, v);
                    }
                }
                if (count == 0) {
                    hyb_dsp_store32(o + c, hyb_dsp_pack4(lo > 0 ? lo : (hi < 0 ? hi : 0), 0, 0, 0) * 0x01010101u);
                    continue;
                }
                hyb_dsp_store32(o + c, hyb_dsp_pack4(hyb_dsp_avg((int16_t)s02, count, lo, hi),
                                                     hyb_dsp_avg((int16_t)s13, count, lo, hi),
                                                     hyb_dsp_avg(s02 >> 16, count, lo, hi),
                                                     hyb_dsp_avg(s13 >> 16, count, lo, hi)));
            }
        }
    }
}

#endif
