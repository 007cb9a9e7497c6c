/* Element-wise Add int8 (TFLite reference_integer_ops::Add) by lookup, four
 * elements per word. The compiler tabulated, per int8 value of each input,
 * twice its rescaled value ((x + offset) << left_shift through
 * MultiplyByQuantizedMultiplierSmallerThanOneExp), exactly as the reference
 * computes it. An input whose table is t[0] + (x << sh) is shifted instead
 * (mode 1: input b, mode 2: input a; t[0] is folded into the other table);
 * in mode 0, t holds a's table then b's.
 * The doubled sum then takes the requantization shortcut of hyb_dsp.h,
 * which the compiler checked is exact for every pair of inputs. */
#ifndef HYB_DSP_ADD_H
#define HYB_DSP_ADD_H

#include "hyb_dsp.h"

/* Element i (byte lane) of the words va, vb. */
HYB_DSP_INLINE int32_t hyb_dsp_add1(uint32_t va, uint32_t vb, int i, const int32_t *ta, const int32_t *tb, int mode,
                                    int sh, int32_t mo, int ro, int32_t round, int32_t lo, int32_t hi) {
    const int32_t x = ta[(va >> (8 * i)) & 0xffu];
    const int32_t y = mode ? (int8_t)(vb >> (8 * i)) * (1 << sh) : tb[(vb >> (8 * i)) & 0xffu];
    const int32_t s2 = x + y;
    /* round already holds 2^(ro-1) and the output zero point << ro. */
    return hyb_dsp_clamp(hyb_smmlar(s2, mo, ro ? round + (s2 >> 31) : round) >> ro, lo, hi);
}

HYB_DSP_INLINE void hyb_dsp_add_s8(const int8_t *a, const int8_t *b, int8_t *out, const int32_t *ta, int len,
                                   int mode, int sh, int32_t mo, int ro, int32_t round, int32_t lo, int32_t hi) {
    const int32_t *tb = ta + 256;
    /* In a register, so adding the sign takes one ADD with ASR #31. */
    __asm__("" : "+r"(round));
    if (mode == 2) {
        const int8_t *t = a;
        a = b, b = t;
    }
#define HYB_ADD1(x, y, i) hyb_dsp_add1((x), (y), (i), ta, tb, mode, sh, mo, ro, round, lo, hi)
    int i = 0;
    /* Both words are read before the result is written (in place, out may be a or b). */
    for (; i + 4 <= len; i += 4) {
        const uint32_t va = (uint32_t)hyb_dsp_load32(a + i), vb = (uint32_t)hyb_dsp_load32(b + i);
        hyb_dsp_store32(out + i, hyb_dsp_pack4(HYB_ADD1(va, vb, 0), HYB_ADD1(va, vb, 1), HYB_ADD1(va, vb, 2),
                                               HYB_ADD1(va, vb, 3)));
    }
    for (; i < len; i++) out[i] = (int8_t)HYB_ADD1((uint8_t)a[i], (uint8_t)b[i], 0);
#undef HYB_ADD1
}

#endif
