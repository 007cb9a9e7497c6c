/* FullyConnected int8: the input is sign-extended once into col (the conv
 * kernel's layout for a single pixel), or read as it is (`direct`), then each four outputs take two
 * weight words (two pairs of outputs x two inputs, one LDRD) per step into
 * four SMLADs: 12.5 cycles for 8 MACs. Weights are laid out as for Conv2D
 * with k = in_len, the words of pairs 2q and 2q+1 interleaved per step;
 * ch has out_len rounded up to a multiple of 4. */
#ifndef HYB_DSP_FULLY_CONNECTED_H
#define HYB_DSP_FULLY_CONNECTED_H

#include "conv_s8.h"

/* Two steps of the 1x4 tile: the input words of both (x0, x1), then per
 * step the two pairs' weight words, each half sign-extended into t. */
#define HYB_DSP_FC_STEP(x)                                                                                  \
    "ldrd   %[wa], %[wb], [%[wp]], #8\n\t"                                                                 \
    "sxtb16 %[t], %[wa]\n\tsmlad %[a0], %[" x "], %[t], %[a0]\n\t"                                       \
    "sxtb16 %[t], %[wa], ror #8\n\tsmlad %[a1], %[" x "], %[t], %[a1]\n\t"                               \
    "sxtb16 %[t], %[wb]\n\tsmlad %[a2], %[" x "], %[t], %[a2]\n\t"                                       \
    "sxtb16 %[t], %[wb], ror #8\n\tsmlad %[a3], %[" x "], %[t], %[a3]\n\t"
#define HYB_DSP_FC_STEP2 "ldrd   %[x0], %[x1], [%[xp]], #8\n\t" HYB_DSP_FC_STEP("x0") HYB_DSP_FC_STEP("x1")
/* The same reading the int8 input itself (no col): its word's two SXTB16
 * halves are col's two words, one cycle more per two steps. */
#define HYB_DSP_FC_STEP2_DIRECT                                                                             \
    "ldr    %[x0], [%[xp]], #4\n\t"                                                                        \
    "sxtb16 %[x1], %[x0], ror #8\n\tsxtb16 %[x0], %[x0]\n\t" HYB_DSP_FC_STEP("x0") HYB_DSP_FC_STEP("x1")
#define HYB_DSP_FC_LOOP(body)                                                                               \
    __asm__("1:\n\t" body "cmp %[xp], %[end]\n\tbne 1b\n\t"                                                \
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xp] "+r"(x), [wp] "+r"(wp),        \
              [x0] "=&r"(x0), [x1] "=&r"(x1), [wa] "=&r"(wa), [wb] "=&r"(wb), [t] "=&r"(t)                    \
            : [end] "r"(end)                                                                                \
            : "cc", "memory")

/* col 0 (`direct`, in_len % 4 == 0): the steps read the input (no scratch). */
HYB_DSP_INLINE void hyb_dsp_fully_connected_s8(const int8_t *in, int8_t *out, const int32_t *w,
                                               const hyb_dsp_chan *ch, int32_t *col, int8_t *patch, int in_len,
                                               int out_len, hyb_dsp_outq q) {
    const int steps = ((in_len + 3) & ~3) / 2; /* even */
    const int direct = col == 0;
    if (!direct) hyb_dsp_im2col(col, 1, patch, in, 0, 0, 1, 1, in_len, 1, 1, 1, 1, 1, 1, 0, 0, 0);
    const int32_t *wp = w;
    const int32_t *const start = direct ? (const int32_t *)in : col, *const end = start + (direct ? steps / 2 : steps);
    for (int c = 0; c < out_len; c += 4) {
        int32_t a0 = ch[c].bias, a1 = ch[c + 1].bias, a2 = ch[c + 2].bias, a3 = ch[c + 3].bias;
        const int32_t *x = start;
        int32_t x0, x1, wa, wb, t;
        if (direct && steps % 4 == 0)
            HYB_DSP_FC_LOOP(HYB_DSP_FC_STEP2_DIRECT HYB_DSP_FC_STEP2_DIRECT);
        else if (direct)
            HYB_DSP_FC_LOOP(HYB_DSP_FC_STEP2_DIRECT);
        else if (steps % 4 == 0)
            HYB_DSP_FC_LOOP(HYB_DSP_FC_STEP2 HYB_DSP_FC_STEP2);
        else
            HYB_DSP_FC_LOOP(HYB_DSP_FC_STEP2);
        hyb_dsp_store2(out + c, a0, a1, ch + c, c + 1 < out_len, q);
        if (c + 2 < out_len) hyb_dsp_store2(out + c + 2, a2, a3, ch + c + 2, c + 3 < out_len, q);
    }
}

#endif
