/* DepthwiseConv2D 3x3 int8, stride 1 or 2 (both axes alike), dilation 1,
 * channels a multiple of 4, channel-planar.
 *
 * The layer runs in bands of output rows. A band's input rows are first
 * converted, four channels at a time, into one int16 plane per channel
 * (zero point in the padding, so the folded bias cancels padded taps
 * exactly as the reference skips them); two horizontal neighbours share a
 * word, so one SMLAD does two taps. A band's first rows that the previous
 * band converted are moved up instead. Then each channel runs the band's
 * outputs in 2x2 tiles with its weights, bias and requantization set up
 * once (rows of up to 48 outputs unrolled whole). Every input row is
 * converted before the first output row that needs it is written, and
 * outputs are written in raster order of rows, so the in-place lag holds
 * (the next band reads only rows its own outputs need).
 *
 * Stride 1, per kernel row, words x0 = (c0, c1), x1 = (c2, c3) give the
 * left output c0*w0 + c1*w1 + c2*w2 as SMLAD + SMLABT and the right one
 * c1*w0 + c2*w1 + c3*w2 as SMLATB + SMLAD, with the weight pairs
 * p = (w0, w1) and q = (w1, w2): six registers. Stride 2 needs words
 * (c0, c1), (c2, c3), (c4, c5): left c0*w0 + c1*w1 + c2*w2, right
 * c2*w0 + c3*w1 + c4*w2, so p and the third taps suffice: five registers.
 *
 * Weights arrive per channel as three words, bytes (w0, w1, w1, w2) of each
 * kernel row (SXTB16 gives p, SXTB16 ROR 8 gives q); they are scaled when
 * loaded and the bias at compile time, so the accumulator is 2*acc (what
 * the per-channel requantization wants) or, with a layer-wide shift S,
 * 2^k*acc with k = 1 + S - the channel's shift: then the requantization is
 * SMMLA and SSAT with ASR #S, its constants and the output pointer in FPU
 * registers. A sparse layer (see hyb_dsp_dw3_known) computes only the
 * channels whose outputs are not known at compile time. */
#ifndef HYB_DSP_DEPTHWISE3X3_H
#define HYB_DSP_DEPTHWISE3X3_H

#include "hyb_dsp.h"

/* An instruction of two registers a, b as a function. */
#define HYB_DW3_OP2(name, insn)                                         \
    HYB_DSP_INLINE int32_t name(int32_t a, int32_t b) {                 \
        int32_t r;                                                      \
        __asm__(insn : "=r"(r) : "r"(a), "r"(b));                       \
        return r;                                                       \
    }
/* (a.lo, b.lo) and (a.hi, b.hi) as PKHBT / PKHTB (gcc spends two
 * instructions on each written in C). */
HYB_DW3_OP2(hyb_pk_lo, "pkhbt %0, %1, %2, lsl #16")
HYB_DW3_OP2(hyb_pk_hi, "pkhtb %0, %2, %1, asr #16")

/* Pixels a, b, c, e (4 channels each) -> words (a.ch, b.ch), (c.ch, e.ch)
 * of each channel's plane, stored with STRD and write-back: the bytes are
 * paired first (PKH), so eight SXTB16 finish the job. Planes close enough
 * for STRD's offset (`one`) take one pointer, p0, the others one each. */
#define HYB_DW3_PUT2                                   \
    "pkhbt  %[t0], %[a], %[b], lsl #16\n\t"            \
    "pkhtb  %[u0], %[b], %[a], asr #16\n\t"            \
    "pkhbt  %[t1], %[c], %[e], lsl #16\n\t"            \
    "pkhtb  %[u1], %[e], %[c], asr #16\n\t"            \
    "sxtb16 %[a], %[t0]\n\t"                           \
    "sxtb16 %[b], %[t1]\n\t"                           \
    "sxtb16 %[c], %[t0], ror #8\n\t"                   \
    "sxtb16 %[e], %[t1], ror #8\n\t"                   \
    HYB_DW3_ST(1, "c", "e")                            \
    "sxtb16 %[c], %[u0]\n\t"                           \
    "sxtb16 %[e], %[u1]\n\t"                           \
    HYB_DW3_ST(2, "c", "e")                            \
    "sxtb16 %[c], %[u0], ror #8\n\t"                   \
    "sxtb16 %[e], %[u1], ror #8\n\t"                   \
    HYB_DW3_ST(3, "c", "e")                            \
    "strd   %[a], %[b], [%[p0]], #8\n\t"
/* Column q of a step from s: the pixel (bit q of the step's mask) or the
 * zero point. */
#define HYB_DW3_COL(reg, q, mask)                                   \
    ".if (" mask ") & (1 << " q ")\n\t"                             \
    "ldr    %[" reg "], [%[s], #" q "*%c[cn]]\n\t"                  \
    ".else\n\t"                                                     \
    "mov    %[" reg "], #%c[zp]\n\t"                                \
    ".endif\n\t"
/* The same after s moved on by the step (the first column's load did it). */
#define HYB_DW3_COLN(reg, q, mask)                                  \
    ".if (" mask ") & (1 << " q ")\n\t"                             \
    "ldr    %[" reg "], [%[s], #(" q "-4)*%c[cn]]\n\t"              \
    ".else\n\t"                                                     \
    "mov    %[" reg "], #%c[zp]\n\t"                                \
    ".endif\n\t"
/* A step of the zero point only: its words stored (no loads). */
#define HYB_DW3_ZP_WORD "mov    %[a], #%c[zp]\n\tsxtb16 %[a], %[a]\n\t"
#define HYB_DW3_STEP(mask)                                                                      \
    ".if (" mask ") == 0\n\t" HYB_DW3_ZP_WORD "mov    %[b], %[a]\n\t"                           \
    HYB_DW3_ST(1, "a", "b") HYB_DW3_ST(2, "a", "b") HYB_DW3_ST(3, "a", "b")                     \
    "strd   %[a], %[b], [%[p0]], #8\n\t"                                                        \
    ".elseif ((" mask ") & 1) && (4*%c[cn] <= 255)\n\t"                                         \
    "ldr    %[a], [%[s]], #4*%c[cn]\n\t"                                                         \
    HYB_DW3_COLN("b", "1", mask) HYB_DW3_COLN("c", "2", mask) HYB_DW3_COLN("e", "3", mask)      \
    HYB_DW3_PUT2 ".else\n\t"                                                                    \
    HYB_DW3_COL("a", "0", mask) HYB_DW3_COL("b", "1", mask) HYB_DW3_COL("c", "2", mask)         \
    HYB_DW3_COL("e", "3", mask) "add    %[s], %[s], #4*%c[cn]\n\t" HYB_DW3_PUT2                  \
    ".endif\n\t"
/* Two columns: one word per plane. */
#define HYB_DW3_HALF(mask)                                        \
    ".if (" mask ") == 0\n\t" HYB_DW3_ZP_WORD                      \
    "str    %[a], [%[p0]]\n\t" HYB_DW3_ST1(1, "a") HYB_DW3_ST1(2, "a") HYB_DW3_ST1(3, "a") \
    ".else\n\t"                                                   \
    HYB_DW3_COL("a", "0", mask) HYB_DW3_COL("b", "1", mask)       \
    "pkhbt  %[t0], %[a], %[b], lsl #16\n\t"                       \
    "pkhtb  %[u0], %[b], %[a], asr #16\n\t"                       \
    "sxtb16 %[a], %[t0]\n\t"                                      \
    "sxtb16 %[b], %[t0], ror #8\n\t"                              \
    "sxtb16 %[c], %[u0]\n\t"                                      \
    "sxtb16 %[e], %[u0], ror #8\n\t"                              \
    "str    %[a], [%[p0]]\n\t" HYB_DW3_ST1(1, "b") HYB_DW3_ST1(2, "c") HYB_DW3_ST1(3, "e") \
    ".endif\n\t"
#define HYB_DW3_ROW                                                                                     \
    ".if %c[head]\n\t" HYB_DW3_STEP("%c[mh]") ".endif\n\t"                                              \
    ".if %c[body] & 1\n\t" HYB_DW3_STEP("15") ".endif\n\t"                                              \
    ".if %c[body] >= 2\n\t"                                                                             \
    "mov    %[n], #%c[body] / 2\n"                                                                      \
    "1:\n\t" HYB_DW3_STEP("15") HYB_DW3_STEP("15")                                                      \
    "subs   %[n], %[n], #1\n\t"                                                                         \
    "bne    1b\n\t"                                                                                     \
    ".endif\n\t"                                                                                        \
    ".if %c[tail] >= 1\n\t" HYB_DW3_STEP("%c[mt0]") ".endif\n\t"                                        \
    ".if %c[tail] >= 2\n\t.rept %c[tail] - 1\n\t" HYB_DW3_STEP("0") ".endr\n\t.endif\n\t"               \
    ".if %c[half]\n\t" HYB_DW3_HALF("%c[mf]") ".endif\n\t"

/* Input row `row` (NULL: outside the image) of channels c..c+3 into their
 * planes' row at dst (plane_words apart): pw columns, pad_l of them left of
 * the image. One asm block walks the row in steps of four columns: a head
 * step with columns left of the image, a body of steps inside it (a loop,
 * two steps an iteration), tail steps (the first may hold pixels, the
 * others the zero point only) and a last pair of columns; the pattern is a
 * compile-time constant, so an edge costs a step as the body does (a step
 * of the zero point only, less). */
HYB_DSP_INLINE void hyb_dsp_dw3_row_in(int32_t *dst, int plane_words, const int8_t *row, int in_w, int c_n, int pw,
                                       int pad_l, int32_t zp4) {
    const int pw_words = pw / 2;
    if (!row) {
        const int32_t z = __sxtb16(zp4);
        for (int k = 0; k < 4; k++, dst += plane_words) {
            int32_t *p = dst;
            int x = 0;
            if (pw_words > 4) /* in pairs: gcc pairs only short runs of these stores */
                for (; x + 2 <= pw_words; x += 2, p += 2) __asm__ volatile("strd %1, %1, [%0]" : : "r"(p), "r"(z) : "memory");
            for (; x < pw_words; x++) *p++ = z;
        }
        return;
    }
    /* Bit q of mask(j): column 4j + q holds a pixel. */
#define HYB_DW3_PIX(x) (0 <= (x) - pad_l && (x) - pad_l < in_w)
#define HYB_DW3_MASK(j) \
    (HYB_DW3_PIX(4 * (j)) | HYB_DW3_PIX(4 * (j) + 1) << 1 | HYB_DW3_PIX(4 * (j) + 2) << 2 | HYB_DW3_PIX(4 * (j) + 3) << 3)
    const int steps = pw / 4, head = steps > 0 && HYB_DW3_MASK(0) != 15;
    int body = 0;
    while (head + body < steps && HYB_DW3_MASK(head + body) == 15) body++;
    const int tail = steps - head - body, half = pw % 4 != 0;
    int32_t a, b, c, e, t0, t1, u0, u1, n;
    int32_t *p0 = dst, *p1 = dst + plane_words, *p2 = dst + 2 * plane_words, *p3 = dst + 3 * plane_words;
    const int8_t *s = (const int8_t *)((uintptr_t)row - (uintptr_t)(pad_l * c_n));
    (void)n;
#define HYB_DW3_ROW_OUT                                                                                            \
    [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [e] "=&r"(e), [t0] "=&r"(t0), [t1] "=&r"(t1), [u0] "=&r"(u0), \
        [u1] "=&r"(u1), [n] "=&r"(n), [p0] "+&r"(p0), [s] "+&r"(s)
#define HYB_DW3_ROW_IN                                                                                            \
    [cn] "i"(c_n), [zp] "i"(zp4), [head] "i"(head), [body] "i"(body), [tail] "i"(tail), [half] "i"(half),        \
        [mh] "i"(HYB_DW3_MASK(0)), [mt0] "i"(HYB_DW3_MASK(steps - tail)), [mf] "i"(HYB_DW3_MASK(steps) & 3), \
        [pwb] "i"(4 * plane_words)
    if (3 * 4 * plane_words <= HYB_DSP_LDRD_IMM_MAX) {
#define HYB_DW3_ST(k, x, y) "strd   %[" x "], %[" y "], [%[p0], #" #k "*%c[pwb]]\n\t"
#define HYB_DW3_ST1(k, x) "str    %[" x "], [%[p0], #" #k "*%c[pwb]]\n\t"
        __asm__ volatile(HYB_DW3_ROW : HYB_DW3_ROW_OUT : HYB_DW3_ROW_IN : "memory", "cc");
#undef HYB_DW3_ST
#undef HYB_DW3_ST1
    } else {
#define HYB_DW3_ST(k, x, y) "strd   %[" x "], %[" y "], [%[p" #k "]], #8\n\t"
#define HYB_DW3_ST1(k, x) "str    %[" x "], [%[p" #k "]]\n\t"
        __asm__ volatile(HYB_DW3_ROW : HYB_DW3_ROW_OUT, [p1] "+&r"(p1), [p2] "+&r"(p2), [p3] "+&r"(p3) : HYB_DW3_ROW_IN
                         : "memory", "cc");
#undef HYB_DW3_ST
#undef HYB_DW3_ST1
    }
#undef HYB_DW3_ROW_OUT
#undef HYB_DW3_ROW_IN
#undef HYB_DW3_MASK
#undef HYB_DW3_PIX
}

/* One channel's input row (c_n bytes apart from src) into its plane's row
 * at dst, for the channels a sparse layer converts alone: pairs of LDRSB
 * and PKHBT, the zero point outside the image. */
HYB_DSP_INLINE void hyb_dsp_dw3_row_in1(int32_t *dst, const int8_t *src, int in_w, int c_n, int pw, int pad_l,
                                        int32_t zp) {
#pragma GCC unroll 32
    for (int x = 0; x < pw; x += 2) {
        const int i = x - pad_l;
        const int32_t a = i >= 0 && i < in_w ? src[i * c_n] : zp, b = i + 1 >= 0 && i + 1 < in_w ? src[(i + 1) * c_n] : zp;
        dst[x / 2] = hyb_pk_lo(a, b);
    }
}

/* Per channel, what the tiles read from the stack without a layer-wide
 * shift: {mult, round} and {shift, out} as two LDRD, and the bias
 * (restored after the non-ReLU requantization borrows its register). */
typedef struct {
    int32_t mult, round, shift;
    int8_t *o;
    int32_t bias;
} hyb_dw3_q;

/* With a layer-wide shift, a channel's multiplier and rounding term ride
 * in FPU registers, as does the output pointer (VMOV is one cycle, a load
 * two). */
typedef struct {
    float m, r;
} hyb_dw3_f;
HYB_DSP_INLINE float hyb_dw3_bits(int32_t x) {
    float f;
    __builtin_memcpy(&f, &x, 4);
    return f;
}
HYB_DSP_INLINE float hyb_dw3_pbits(const void *p) {
    float f;
    __builtin_memcpy(&f, &p, 4);
    return f;
}

/* Requantizes the tile's accumulators and stores them at o + oo (+ ocol for
 * the right column, + orow for the lower row). With a layer-wide shift S
 * the weights carry each channel's remaining scale, `round` is the whole
 * rounding term and the shift rides on the saturation: SMMLA, then SSAT
 * with ASR #S (no sign term: S is used under a ReLU floor only). */
#define HYB_DW3_RQ2(a) "smmla  %[" a "], %[" a "], %[x0], %[x1]\n\t"
#define HYB_DW3_ST2(a, off)                                      \
    "ssat   %[" a "], #8, %[" a "], asr #%c[S]\n\t"              \
    "strb   %[" a "], [%[x1], #" off "]\n\t"
#define HYB_DW3_OUT_S                                                                 \
    "vmov   %[x0], %[fm]\n\t"                                                         \
    "vmov   %[x1], %[fr]\n\t" HYB_DW3_RQ2("a0")                                       \
    ".if %c[w2]\n\t" HYB_DW3_RQ2("a1") ".endif\n\t"                                   \
    ".if %c[h2]\n\t" HYB_DW3_RQ2("a2") ".if %c[w2]\n\t" HYB_DW3_RQ2("a3")             \
    ".endif\n\t.endif\n\t"                                                            \
    "vmov   %[x1], %[fo]\n\t" HYB_DW3_ST2("a0", "%c[oo]")                             \
    ".if %c[w2]\n\t" HYB_DW3_ST2("a1", "%c[oo]+%c[oc]") ".endif\n\t"                  \
    ".if %c[h2]\n\t" HYB_DW3_ST2("a2", "%c[oo]+%c[or]")                               \
    ".if %c[w2]\n\t" HYB_DW3_ST2("a3", "%c[oo]+%c[or]+%c[oc]") ".endif\n\t.endif\n\t"
/* Without: SMMLAR, ASR by the channel's shift, SSAT. With `relu`
 * (activation floor at or above the output zero point) a negative product
 * clamps to the floor however it rounds, so the sign term is skipped;
 * otherwise `tmp` holds round + sign. */
#define HYB_DW3_RQ1(a, tmp)                                      \
    ".if %c[relu]\n\t"                                           \
    "smmlar %[" a "], %[" a "], %[x0], %[x1]\n\t"                \
    ".else\n\t"                                                  \
    "add    %[" tmp "], %[x1], %[" a "], asr #31\n\t"            \
    "smmlar %[" a "], %[" a "], %[x0], %[" tmp "]\n\t"           \
    ".endif\n\t"
#define HYB_DW3_ST1(a, off)                                      \
    "asr    %[" a "], %[" a "], %[x0]\n\t"                       \
    "ssat   %[" a "], #8, %[" a "]\n\t"                          \
    "strb   %[" a "], [%[x1], #" off "]\n\t"
#define HYB_DW3_OUT_Q(tmp)                                                            \
    "ldrd   %[x0], %[x1], %[mq]\n\t" HYB_DW3_RQ1("a0", tmp)                           \
    ".if %c[w2]\n\t" HYB_DW3_RQ1("a1", tmp) ".endif\n\t"                              \
    ".if %c[h2]\n\t" HYB_DW3_RQ1("a2", tmp) ".if %c[w2]\n\t" HYB_DW3_RQ1("a3", tmp)   \
    ".endif\n\t.endif\n\t"                                                            \
    "ldrd   %[x0], %[x1], %[so]\n\t" HYB_DW3_ST1("a0", "%c[oo]")                      \
    ".if %c[w2]\n\t" HYB_DW3_ST1("a1", "%c[oo]+%c[oc]") ".endif\n\t"                  \
    ".if %c[h2]\n\t" HYB_DW3_ST1("a2", "%c[oo]+%c[or]")                               \
    ".if %c[w2]\n\t" HYB_DW3_ST1("a3", "%c[oo]+%c[or]+%c[oc]") ".endif\n\t.endif\n\t" \
    ".if !%c[relu]\n\tldr    %[b], %[bm]\n\t.endif\n\t"

/* Stride 1: kernel row with weights p, q into the left (and right) output
 * a, c, starting from `in` (the bias register or the accumulators). */
#define HYB_DW3_S1(a, c, p, q, ina, inc)                         \
    "smlad  %[" a "], %[x0], %[" p "], %[" ina "]\n\t"           \
    "smlabt %[" a "], %[x1], %[" q "], %[" a "]\n\t"             \
    ".if %c[w2]\n\t"                                             \
    "smlatb %[" c "], %[x0], %[" p "], %[" inc "]\n\t"           \
    "smlad  %[" c "], %[x1], %[" q "], %[" c "]\n\t"             \
    ".endif\n\t"
#define HYB_DW3_LD1(k) "ldrd   %[x0], %[x1], [%[r], #%c[k0]+" k "*%c[pw]]\n\t"
#define HYB_DW3_MACS1                                                                 \
    HYB_DW3_LD1("0") HYB_DW3_S1("a0", "a1", "p0", "q0", "b", "b")                     \
    HYB_DW3_LD1("1") HYB_DW3_S1("a0", "a1", "p1", "q1", "a0", "a1")                   \
    ".if %c[h2]\n\t" HYB_DW3_S1("a2", "a3", "p0", "q0", "b", "b") ".endif\n\t"        \
    HYB_DW3_LD1("2") HYB_DW3_S1("a0", "a1", "p2", "q2", "a0", "a1")                   \
    ".if %c[h2]\n\t" HYB_DW3_S1("a2", "a3", "p1", "q1", "a2", "a3")                   \
    HYB_DW3_LD1("3") HYB_DW3_S1("a2", "a3", "p2", "q2", "a2", "a3") ".endif\n\t"

/* Stride 2: the third tap's weight is the bottom (xy = b) or top (t) half of t. */
#define HYB_DW3_S2(a, c, p, t, xy, ina, inc)                     \
    "smlad  %[" a "], %[x0], %[" p "], %[" ina "]\n\t"           \
    "smlab" xy " %[" a "], %[x1], %[" t "], %[" a "]\n\t"        \
    ".if %c[w2]\n\t"                                             \
    "smlad  %[" c "], %[x1], %[" p "], %[" inc "]\n\t"           \
    "smlab" xy " %[" c "], %[x2], %[" t "], %[" c "]\n\t"        \
    ".endif\n\t"
#define HYB_DW3_LD2(k)                                           \
    "ldrd   %[x0], %[x1], [%[r], #%c[k0]+" k "*%c[pw]]\n\t"      \
    ".if %c[w2]\n\tldr    %[x2], [%[r], #%c[k0]+" k "*%c[pw]+8]\n\t.endif\n\t"
#define HYB_DW3_MACS2                                                                 \
    HYB_DW3_LD2("0") HYB_DW3_S2("a0", "a1", "p0", "t01", "b", "b", "b")               \
    HYB_DW3_LD2("1") HYB_DW3_S2("a0", "a1", "p1", "t01", "t", "a0", "a1")             \
    HYB_DW3_LD2("2") HYB_DW3_S2("a0", "a1", "p2", "t2", "t", "a0", "a1")              \
    ".if %c[h2]\n\t" HYB_DW3_S2("a2", "a3", "p0", "t01", "b", "b", "b")               \
    HYB_DW3_LD2("3") HYB_DW3_S2("a2", "a3", "p1", "t01", "t", "a2", "a3")             \
    HYB_DW3_LD2("4") HYB_DW3_S2("a2", "a3", "p2", "t2", "t", "a2", "a3") ".endif\n\t"

#define HYB_DW3_IMM                                                                              \
    [k0] "i"(4 * k0), [pw] "i"(4 * pw_words), [oo] "i"(oo), [oc] "i"(ocol), [or] "i"(orow), \
        [w2] "i"(w2), [h2] "i"(h2), [relu] "i"(relu), [S] "i"(S)
#define HYB_DW3_OUTS_1 [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x0] "=&r"(x0), [x1] "=&r"(x1)
#define HYB_DW3_INS_1                                                                                     \
    [b] "r"(b), [r] "r"(r), [p0] "r"(v0), [q0] "r"(v1), [p1] "r"(v2), [q1] "r"(v3), [p2] "r"(v4), \
        [q2] "r"(v5)
#define HYB_DW3_INS_2 [b] "r"(b), [r] "r"(r), [p0] "r"(v0), [p1] "r"(v2), [p2] "r"(v4), [t01] "r"(v1), [t2] "r"(v5)
#define HYB_DW3_F [fm] "t"(f.m), [fr] "t"(f.r), [fo] "t"(hyb_dw3_pbits(o))
#define HYB_DW3_Q                                                                               \
    [mq] "m"(*(const int32_t(*)[2]) & qs->mult), [so] "m"(*(const int32_t(*)[2]) & qs->shift), \
        [bm] "m"(qs->bias)

/* One channel's int16 weight pairs in tile order: stride 1 (p0, q0, p1,
 * q1, p2, q2); stride 2 (p0, t01, p1, -, p2, t2) with t01 = (w0[2], w1[2])
 * and t2's top half w2[2]. Passed by value, so gcc keeps them in registers
 * across the tiles (the tiles clobber memory). */
typedef struct {
    int32_t v[6];
} hyb_dw3_w;

/* One tile of one channel: outputs (h2 ? 2 : 1) rows x (w2 ? 2 : 1) columns
 * at o + oo; r + k0 is the window's top left word, pw_words apart the rows. */
HYB_DSP_INLINE void hyb_dsp_dw3_tile(const int32_t *r, hyb_dw3_w w, int32_t bias, const hyb_dw3_q *qs, hyb_dw3_f f,
                                     int8_t *o, int s, int k0, int pw_words, int oo, int orow, int ocol, int w2, int h2,
                                     int relu, int S) {
    int32_t a0, a1, a2, a3, x0, x1, x2;
    /* The same registers for the weights and bias in every tile, so gcc
     * does not shuffle them between tiles and loops. The non-ReLU
     * requantization borrows b and restores it from memory before the end,
     * so b is an input (its own register: all seven are fixed). */
    register int32_t v0 __asm__("r4") = w.v[0], v1 __asm__("r5") = w.v[1], v2 __asm__("r6") = w.v[2];
    register int32_t v3 __asm__("r8") = w.v[3], v4 __asm__("r9") = w.v[4], v5 __asm__("r10") = w.v[5];
    register int32_t b __asm__("r11") = bias;
    if (s == 1 && S)
        __asm__ volatile(HYB_DW3_MACS1 HYB_DW3_OUT_S
                         : HYB_DW3_OUTS_1
                         : HYB_DW3_INS_1, HYB_DW3_F, HYB_DW3_IMM
                         : "memory");
    else if (s == 1)
        __asm__ volatile(HYB_DW3_MACS1 HYB_DW3_OUT_Q("b")
                         : HYB_DW3_OUTS_1
                         : HYB_DW3_INS_1, HYB_DW3_Q, HYB_DW3_IMM
                         : "memory");
    else if (S)
        __asm__ volatile(HYB_DW3_MACS2 HYB_DW3_OUT_S
                         : HYB_DW3_OUTS_1, [x2] "=&r"(x2)
                         : HYB_DW3_INS_2, HYB_DW3_F, HYB_DW3_IMM
                         : "memory");
    else
        __asm__ volatile(HYB_DW3_MACS2 HYB_DW3_OUT_Q("x2")
                         : HYB_DW3_OUTS_1, [x2] "=&r"(x2)
                         : HYB_DW3_INS_2, HYB_DW3_Q, HYB_DW3_IMM
                         : "memory");
    (void)v3;
}

/* Output rows (two if h2) of one channel across the width from o: r is the
 * plane at the window's top row. Wide rows loop over groups of U tiles. */
HYB_DSP_INLINE void hyb_dsp_dw3_rows(const int32_t *r, hyb_dw3_w w, int32_t bias, hyb_dw3_q *qs, hyb_dw3_f f,
                                     int8_t *o, int s, int pw_words, int out_w, int orow, int ocol, int h2, int relu,
                                     int S) {
    enum { U = 4 };
    /* Rows of up to 48 outputs whose offsets fit the immediates unroll whole. */
    if (out_w <= 48 && 4 * ((out_w / 2) * s + (2 * s + 1) * pw_words) + 8 <= HYB_DSP_LDRD_IMM_MAX && 2 * out_w * ocol + ocol <= HYB_DSP_STRB_IMM_MAX) {
        if (!S) qs->o = o;
#pragma GCC unroll 24
        for (int u = 0; 2 * u < out_w; u++)
            hyb_dsp_dw3_tile(r, w, bias, qs, f, o, s, u * s, pw_words, 2 * u * ocol, orow, ocol, 2 * u + 1 < out_w, h2,
                             relu, S);
        return;
    }
    const int main_cols = out_w > 2 * U + 1 ? out_w / (2 * U) * (2 * U) : 0;
    const int32_t *rr = r;
    for (int ox = 0; ox < main_cols; ox += 2 * U, rr += U * s, o += 2 * U * ocol) {
        if (!S) qs->o = o;
#pragma GCC unroll 4
        for (int u = 0; u < U; u++)
            hyb_dsp_dw3_tile(rr, w, bias, qs, f, o, s, u * s, pw_words, 2 * u * ocol, orow, ocol, 1, h2, relu, S);
    }
    rr = r + main_cols / 2 * s;
    if (!S) qs->o = o;
#pragma GCC unroll 8
    for (int u = 0; main_cols + 2 * u < out_w; u++)
        hyb_dsp_dw3_tile(rr, w, bias, qs, f, o, s, u * s, pw_words, 2 * u * ocol, orow, ocol,
                         main_cols + 2 * u + 1 < out_w, h2, relu, S);
}

/* Halves of a times the bottom half of b. */
HYB_DW3_OP2(hyb_dw3_mulb, "smulbb %0, %1, %2")
HYB_DW3_OP2(hyb_dw3_mult, "smultb %0, %1, %2")

/* One channel's hyb_dw3_w from its three weight words, each int16 weight
 * times 2^k (k = 1, doubled, without a layer-wide shift). */
HYB_DSP_INLINE hyb_dw3_w hyb_dsp_dw3_weights(const int32_t *w, int s, int S, int32_t k) {
    hyb_dw3_w r;
    const int32_t scale = 1 << k;
#pragma GCC unroll 3
    for (int j = 0; j < 3; j++) {
        const int32_t a = __sxtb16(w[j]), b = hyb_sxtb16_ror8(w[j]);
        if (S) {
            /* w0, w1 from a = (w0, w1), w2 from b = (w1, w2). */
            const int32_t w0 = hyb_dw3_mulb(a, scale), w1 = hyb_dw3_mult(a, scale), w2 = hyb_dw3_mult(b, scale);
            r.v[2 * j] = hyb_pk_lo(w0, w1);
            r.v[2 * j + 1] = hyb_pk_lo(w1, w2);
        } else {
            r.v[2 * j] = __sadd16(a, a);
            r.v[2 * j + 1] = __sadd16(b, b);
        }
    }
    if (s == 2) r.v[1] = hyb_pk_hi(r.v[1], r.v[3]);
    return r;
}

/* The requantization of hyb_dsp_requant on an accumulator already doubled. */
HYB_DSP_INLINE int32_t hyb_dsp_out2(int32_t acc2, const hyb_dsp_chan *c, hyb_dsp_outq q) {
    return hyb_dsp_clamp(hyb_dsp_requant_x2(acc2, c->mult, c->shift, c->round, q.shift0), q.lo, q.hi);
}

/* One channel's outputs of a band in C, for layers with a clamp narrower
 * than int8, or a right shift of 0 without the ReLU shortcut. */
HYB_DSP_INLINE void hyb_dsp_dw3_band_c(const int32_t *plane, const int32_t *w, const hyb_dsp_chan *ch, int8_t *o,
                                       int nb, int out_w, int s, int pw_words, int orow, int ocol, hyb_dsp_outq q) {
    const int16_t *pl = (const int16_t *)plane;
    for (int oy = 0; oy < nb; oy++)
        for (int ox = 0; ox < out_w; ox++) {
            int32_t acc = 0;
            for (int ky = 0; ky < 3; ky++) {
                const int16_t *x = pl + (oy * s + ky) * 2 * pw_words + ox * s;
                const int32_t wk = w[ky];
                acc += x[0] * (int8_t)wk + x[1] * (int8_t)(wk >> 8) + x[2] * (int8_t)(wk >> 24);
            }
            o[oy * orow + ox * ocol] = (int8_t)hyb_dsp_out2(ch->bias + 2 * acc, ch, q);
        }
}

/* A sparse layer's channels whose outputs are known at compile time (a
 * constant input channel, or one output over the whole accumulator range)
 * are not computed: they come from a template pixel per class of output
 * pixel (which window rows and columns lie in the image). `w` starts with a
 * header (counts, then word offsets into w of byte lists) and the live
 * channels' weights (and records, with S) follow it; `ch` holds the live
 * channels' records without S. Groups of four with at least three live
 * channels are converted together, the other live channels alone. */
enum {
    HYB_DW3_N_LIVE, /* channels the tiles run */
    HYB_DW3_N_GROUPS, /* groups of four channels converted (their planes first) */
    HYB_DW3_N_SINGLE, /* live channels converted alone (planes after the groups') */
    HYB_DW3_N_COLS, /* column classes of the templates */
    HYB_DW3_PLANE_OF, /* per live channel, its plane */
    HYB_DW3_LIVE, /* the live channels */
    HYB_DW3_GROUPS, /* the converted groups */
    HYB_DW3_SINGLE, /* the channels converted alone */
    HYB_DW3_ROWC, /* per output row, its class */
    HYB_DW3_COLC, /* per output column, its class */
    HYB_DW3_TEMPL, /* per row class and column class, a pixel */
    HYB_DW3_HEADER = 12
};

/* The known channels of output rows y0..y0+n-1: each pixel copied whole
 * from the template of its row and column class (the live channels' bytes
 * in it are overwritten after), four words at a time (LDM, STM: the output
 * is word-aligned, c_n a multiple of 4). */
HYB_DSP_INLINE void hyb_dsp_dw3_known(const int32_t *w, int8_t *out, int y0, int n, int out_w, int c_n) {
    const int n_cols = w[HYB_DW3_N_COLS];
    const uint8_t *rowc = (const uint8_t *)(w + w[HYB_DW3_ROWC]), *colc = (const uint8_t *)(w + w[HYB_DW3_COLC]);
    const int32_t *templ = w + w[HYB_DW3_TEMPL];
    int32_t *o = (int32_t *)(void *)(out + y0 * out_w * c_n);
    for (int y = y0; y < y0 + n; y++) {
        const int32_t *t_row = templ + rowc[y] * n_cols * (c_n / 4);
        for (int x = 0; x < out_w; x++) {
            const int32_t *t = t_row + colc[x] * (c_n / 4);
            int32_t a, b, c, d, k;
            __asm__ volatile(".if %c[n4]\n\t"
                             "mov    %[k], #%c[n4]\n"
                             "1:\n\t"
                             "ldmia  %[t]!, {%[a], %[b], %[c], %[d]}\n\t"
                             "stmia  %[o]!, {%[a], %[b], %[c], %[d]}\n\t"
                             "subs   %[k], %[k], #1\n\t"
                             "bne    1b\n\t"
                             ".endif\n\t"
                             ".rept %c[n1]\n\t"
                             "ldr    %[a], [%[t]], #4\n\t"
                             "str    %[a], [%[o]], #4\n\t"
                             ".endr\n\t"
                             : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d), [k] "=&r"(k), [t] "+&r"(t),
                               [o] "+&r"(o)
                             : [n4] "i"(c_n / 16), [n1] "i"(c_n / 4 % 4)
                             : "memory", "cc");
        }
    }
}

/* n words from src to dst (word-aligned, not overlapping), four at a time. */
HYB_DSP_INLINE void hyb_dsp_dw3_copy(int32_t *dst, const int32_t *src, int n) {
    int32_t a, b, c, d, k = n / 4;
    if (k)
        __asm__ volatile("1:\n\t"
                         "ldmia  %[s]!, {%[a], %[b], %[c], %[d]}\n\t"
                         "stmia  %[o]!, {%[a], %[b], %[c], %[d]}\n\t"
                         "subs   %[k], %[k], #1\n\t"
                         "bne    1b\n\t"
                         : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d), [k] "+&r"(k), [s] "+&r"(src),
                           [o] "+&r"(dst)
                         :
                         : "memory", "cc");
    for (int i = 0; i < n % 4; i++) dst[i] = src[i];
}

/* planes: one plane per channel of the converted groups (all c_n / 4
 * groups unless sparse) and per channel converted alone, each
 * ((band - 1) * s + 3) rows of pw int16 columns, and one word of zero
 * point after them (a right pad when pw leaves it out). band: output rows
 * per band (even unless it covers the layer). relu: the activation floor is
 * at or above the output zero point. S: the layer-wide shift (0: per
 * channel; with S, each channel's record follows its weights in w and ch is
 * unused). sparse: w starts with the header above. The output is
 * word-aligned (the arena's placements are). */
HYB_DSP_INLINE void hyb_dsp_depthwise3x3_s8(const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch,
                                            int32_t *planes, int in_h, int in_w, int c_n, int out_h, int out_w, int s,
                                            int pad_t, int pad_l, int pw, int band, int32_t in_zp, hyb_dsp_outq q,
                                            int relu, int S, int sparse) {
    const int pw_words = pw / 2, plane_words = ((band - 1) * s + 3) * pw_words;
    const int orow = out_w * c_n;
    const int32_t zp4 = (int32_t)(((uint32_t)in_zp & 0xffu) * 0x01010101u);
    const int use_c = q.lo > -128 || q.hi < 127 || (q.shift0 && !relu);
    const int n_live = sparse ? w[HYB_DW3_N_LIVE] : c_n, n_groups = sparse ? w[HYB_DW3_N_GROUPS] : c_n / 4;
    const uint8_t *plane_of = sparse ? (const uint8_t *)(w + w[HYB_DW3_PLANE_OF]) : 0;
    const uint8_t *live = sparse ? (const uint8_t *)(w + w[HYB_DW3_LIVE]) : 0;
    const uint8_t *groups = sparse ? (const uint8_t *)(w + w[HYB_DW3_GROUPS]) : 0;
    const int n_single = sparse ? w[HYB_DW3_N_SINGLE] : 0, n_planes = 4 * n_groups + n_single;
    const uint8_t *single = sparse ? (const uint8_t *)(w + w[HYB_DW3_SINGLE]) : 0;
    const int32_t *wl = sparse ? w + HYB_DW3_HEADER : w;
    for (int oy0 = 0; oy0 < out_h; oy0 += band) {
        const int nb = out_h - oy0 < band ? out_h - oy0 : band;
        const int rows = (nb - 1) * s + 3, iy0 = oy0 * s - pad_t;
        /* After the first band, its first 3 - s rows are the last of the
         * previous one: moved up, not converted again. */
        const int have = oy0 > 0 ? 3 - s : 0;
        if (have)
            for (int k = 0; k < n_planes; k++)
                hyb_dsp_dw3_copy(planes + k * plane_words, planes + k * plane_words + band * s * pw_words, have * pw_words);
        /* Rows above and below the image, then the image's, group by group. */
        const int top = iy0 < 0 ? -iy0 : 0, y_lo = top > have ? top : have;
        const int y_hi = in_h - iy0 < rows ? (in_h - iy0 > y_lo ? in_h - iy0 : y_lo) : rows;
        for (int j = 0; j < n_groups; j++) {
            int32_t *dst = planes + 4 * j * plane_words;
            for (int y = y_lo > have ? have : y_hi; y < rows; y = y + 1 == y_lo ? y_hi : y + 1)
                hyb_dsp_dw3_row_in(dst + y * pw_words, plane_words, 0, in_w, c_n, pw, pad_l, zp4);
            const int8_t *src = in + (iy0 + y_lo) * in_w * c_n + 4 * (sparse ? groups[j] : j);
            dst += y_lo * pw_words;
            for (int y = y_lo; y < y_hi; y++, dst += pw_words, src += in_w * c_n)
                hyb_dsp_dw3_row_in(dst, plane_words, src, in_w, c_n, pw, pad_l, zp4);
        }
        for (int j = 0; j < n_single; j++) {
            int32_t *dst = planes + (4 * n_groups + j) * plane_words;
            const int32_t z = __sxtb16(zp4);
            for (int y = y_lo > have ? have : y_hi; y < rows; y = y + 1 == y_lo ? y_hi : y + 1)
                for (int x = 0; x < pw_words; x++) dst[y * pw_words + x] = z;
            const int8_t *src = in + (iy0 + y_lo) * in_w * c_n + single[j];
            dst += y_lo * pw_words;
            for (int y = y_lo; y < y_hi; y++, dst += pw_words, src += in_w * c_n)
                hyb_dsp_dw3_row_in1(dst, src, in_w, c_n, pw, pad_l, (int8_t)in_zp);
        }
        planes[n_planes * plane_words] = __sxtb16(zp4);
        if (sparse) hyb_dsp_dw3_known(w, out, oy0, nb, out_w, c_n);
        int8_t *ob = out + oy0 * orow;
        for (int i = 0; i < n_live; i++) {
            const int c = sparse ? live[i] : i;
            const int32_t *plane = planes + (sparse ? plane_of[i] : i) * plane_words;
            if (use_c) {
                hyb_dsp_dw3_band_c(plane, wl + 3 * i, ch + i, ob + c, nb, out_w, s, pw_words, orow, c_n, q);
                continue;
            }
            /* With S, the channel's words in w: three of weights, then bias,
             * multiplier and rounding term, whose lowest set bit is k - 2. */
            const int32_t *wc = wl + (S ? 6 : 3) * i;
            const hyb_dw3_w wv = hyb_dsp_dw3_weights(wc, s, S, S ? __builtin_ctz((uint32_t)wc[5]) + 2 : 1);
            hyb_dw3_q qs;
            if (!S) qs = (hyb_dw3_q){ch[i].mult, ch[i].round, ch[i].shift, 0, ch[i].bias};
            const hyb_dw3_f f = {S ? hyb_dw3_bits(wc[4]) : 0.f, S ? hyb_dw3_bits(wc[5]) : 0.f};
            const int32_t bias = S ? wc[3] : ch[i].bias;
            int8_t *o = ob + c;
            const int pairs = nb / 2;
            /* Small layers (MobileNet's 6x6 and 3x3) unroll their few row pairs. */
            if (band == out_h && out_h <= 7) {
#pragma GCC unroll 3
                for (int k = 0; k < pairs; k++)
                    hyb_dsp_dw3_rows(plane + 2 * k * s * pw_words, wv, bias, &qs, f, o + 2 * k * orow, s, pw_words,
                                     out_w, orow, c_n, 1, relu, S);
            } else {
                for (int k = 0; k < pairs; k++)
                    hyb_dsp_dw3_rows(plane + 2 * k * s * pw_words, wv, bias, &qs, f, o + 2 * k * orow, s, pw_words,
                                     out_w, orow, c_n, 1, relu, S);
            }
            if (nb & 1)
                hyb_dsp_dw3_rows(plane + 2 * pairs * s * pw_words, wv, bias, &qs, f, o + 2 * pairs * orow, s, pw_words,
                                 out_w, orow, c_n, 0, relu, S);
        }
    }
}

#endif
