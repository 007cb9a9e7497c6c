/* Element-wise Add int8 (TFLite reference_integer_ops::Add), four elements
 * per word. Each input is rescaled with the smmulr form of
 * MultiplyByQuantizedMultiplierSmallerThanOneExp; the compiler checked that
 * the doubled operands fit in int32, so the results equal the reference. */
#ifndef HYB_DSP_ADD_H
#define HYB_DSP_ADD_H

#include "hyb_dsp.h"

/* RoundingDivideByPOT for a constant exponent (0 allowed). */
HYB_DSP_INLINE int32_t hyb_dsp_rdivpot(int32_t v, int32_t r) {
    return r > 0 ? (v + (1 << (r - 1)) + (v >> 31)) >> r : v;
}

HYB_DSP_INLINE int32_t hyb_dsp_add1(int32_t a, int32_t b, int32_t off1, int32_t off2, int32_t ls, int32_t m1,
                                    int32_t r1, int32_t m2, int32_t r2, int32_t mo, int32_t ro, int32_t out_off,
                                    int32_t lo, int32_t hi) {
    const int32_t sa = hyb_dsp_rdivpot(hyb_smmulr((a + off1) * (1 << (ls + 1)), m1), r1);
    const int32_t sb = hyb_dsp_rdivpot(hyb_smmulr((b + off2) * (1 << (ls + 1)), m2), r2);
    const int32_t sum = sa + sb;
    return hyb_dsp_clamp(hyb_dsp_rdivpot(hyb_smmulr(sum + sum, mo), ro) + out_off, lo, hi);
}

HYB_DSP_INLINE void hyb_dsp_add_s8(const int8_t *a, const int8_t *b, int8_t *out, int len, int32_t off1,
                                   int32_t off2, int32_t ls, int32_t m1, int32_t r1, int32_t m2, int32_t r2,
                                   int32_t mo, int32_t ro, int32_t out_off, int32_t lo, int32_t hi) {
#define HYB_ADD1(x, y) hyb_dsp_add1((x), (y), off1, off2, ls, m1, r1, m2, r2, mo, ro, out_off, lo, hi)
    int i = 0;
    for (; i + 4 <= len; i += 4) {
        const int32_t va = hyb_dsp_load32(a + i), vb = hyb_dsp_load32(b + i);
        hyb_dsp_store32(out + i, hyb_dsp_pack4(HYB_ADD1((int8_t)va, (int8_t)vb),
                                               HYB_ADD1((int8_t)(va >> 8), (int8_t)(vb >> 8)),
                                               HYB_ADD1((int8_t)(va >> 16), (int8_t)(vb >> 16)),
                                               HYB_ADD1(va >> 24, vb >> 24)));
    }
    for (; i < len; i++) out[i] = (int8_t)HYB_ADD1(a[i], b[i]);
#undef HYB_ADD1
}

#endif
