/* DepthwiseConv2D 3x3 int8, stride 1 or 2 (both axes alike), dilation 1,
 * channels a multiple of 4, channel-planar.
 *
 * Input rows are converted, four channels at a time, into a ring of three
 * int16 rows per channel (zero point in the padding, so the folded bias
 * cancels padded taps exactly as the reference skips them). There two
 * horizontal neighbours share a word, so one SMLAD does two taps of one
 * output, and a channel's nine weights stay in six registers as int16
 * pairs (w0,w1) and (w1,w2) per kernel row. Two outputs of a row go
 * together: stride 1 reads two words per kernel row for 6 MACs
 * (SMLAD + SMLABT and SMLATB + SMLAD), stride 2 three words.
 *
 * Weights arrive per channel as three words, bytes (w0, w1, w1, w2) of each
 * kernel row (SXTB16 gives (w0,w1), SXTB16 ROR 8 gives (w1,w2)); they are
 * doubled when loaded and the bias is doubled at compile time, so the
 * accumulator is 2*acc, what the requantization wants. */
#ifndef HYB_DSP_DEPTHWISE3X3_H
#define HYB_DSP_DEPTHWISE3X3_H

#include "hyb_dsp.h"

/* (a.lo, b.lo) and (a.hi, b.hi) as PKHBT / PKHTB (gcc spends two
 * instructions on each written in C). */
HYB_DSP_INLINE int32_t hyb_pk_lo(int32_t a, int32_t b) {
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
HYB_DSP_INLINE int32_t hyb_pk_hi(int32_t a, int32_t b) {
    int32_t r;
    __asm__("pkhtb %0, %2, %1, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* Two pixels (a, b) x four channels -> one word in each of the four planes. */
HYB_DSP_INLINE void hyb_dsp_dw3_put(int32_t *p, int plane_words, int32_t a, int32_t b) {
    const int32_t a02 = __sxtb16(a), a13 = hyb_sxtb16_ror8(a), b02 = __sxtb16(b), b13 = hyb_sxtb16_ror8(b);
    p[0] = hyb_pk_lo(a02, b02);
    p[plane_words] = hyb_pk_lo(a13, b13);
    p[2 * plane_words] = hyb_pk_hi(a02, b02);
    p[3 * plane_words] = hyb_pk_hi(a13, b13);
}

/* Input row iy (or the zero point outside) of channels c..c+3 into the planes'
 * row `dst` (pw columns, pad_l of them left of the image). */
HYB_DSP_INLINE void hyb_dsp_dw3_row_in(int32_t *dst, int plane_words, const int8_t *in, int iy, int in_h, int in_w,
                                       int c_n, int pw, int pad_l, int32_t zp4) {
    if (iy < 0 || iy >= in_h) {
        const int32_t z = __sxtb16(zp4);
        for (int x = 0; x < pw; x += 2, dst++) dst[0] = dst[plane_words] = dst[2 * plane_words] = dst[3 * plane_words] = z;
        return;
    }
    const int8_t *row = in + iy * in_w * c_n;
    /* Pairs wholly inside the image between lo and hi: no tests there. */
    const int lo = (pad_l + 1) & ~1;
    const int full = lo + ((in_w - (lo - pad_l)) & ~1), hi = full < pw ? full : pw;
    int x = 0;
    for (; x < lo; x += 2, dst++) {
        const int i0 = x - pad_l, i1 = i0 + 1;
        hyb_dsp_dw3_put(dst, plane_words, i0 >= 0 ? hyb_dsp_load32(row + i0 * c_n) : zp4,
                        i1 >= 0 && i1 < in_w ? hyb_dsp_load32(row + i1 * c_n) : zp4);
    }
    const int8_t *src = row + (lo - pad_l) * c_n;
    for (; x < hi; x += 2, dst++, src += 2 * c_n) hyb_dsp_dw3_put(dst, plane_words, hyb_dsp_load32(src), hyb_dsp_load32(src + c_n));
    for (; x < pw; x += 2, dst++) {
        const int i0 = x - pad_l, i1 = i0 + 1;
        hyb_dsp_dw3_put(dst, plane_words, i0 < in_w ? hyb_dsp_load32(row + i0 * c_n) : zp4,
                        i1 < in_w ? hyb_dsp_load32(row + i1 * c_n) : zp4);
    }
}

/* The requantization of hyb_dsp_requant on an accumulator already doubled. */
HYB_DSP_INLINE int32_t hyb_dsp_out2(int32_t acc2, const hyb_dsp_chan *c, hyb_dsp_outq q) {
    return hyb_dsp_clamp(hyb_dsp_requant_x2(acc2, c->mult, c->shift, c->round, q.shift0), q.lo, q.hi);
}

/* One output row of one channel in C, for layers with a clamp or a right
 * shift of 0 (see hyb_dsp_dw3_out_row). */
HYB_DSP_INLINE void hyb_dsp_dw3_out_row_c(const int32_t *r, int k0, int k1, int k2, int8_t *o, int c_n, int out_w, int s,
                                        const int32_t *wv, const hyb_dsp_chan *ch, hyb_dsp_outq q) {
    const int32_t w0a = wv[0], w0b = wv[1], w1a = wv[2], w1b = wv[3], w2a = wv[4], w2b = wv[5];
    const int32_t bias = ch->bias;
    for (int ox = 0; ox < out_w; ox += 2, r += s, o += 2 * c_n) {
        int32_t a0 = bias, a1 = bias;
        if (s == 1) {
            int32_t x0 = r[k0], x1 = r[k0 + 1];
            a0 = __smlad(x0, w0a, a0), a0 = __smlabt(x1, w0b, a0), a1 = __smlatb(x0, w0a, a1), a1 = __smlad(x1, w0b, a1);
            x0 = r[k1], x1 = r[k1 + 1];
            a0 = __smlad(x0, w1a, a0), a0 = __smlabt(x1, w1b, a0), a1 = __smlatb(x0, w1a, a1), a1 = __smlad(x1, w1b, a1);
            x0 = r[k2], x1 = r[k2 + 1];
            a0 = __smlad(x0, w2a, a0), a0 = __smlabt(x1, w2b, a0), a1 = __smlatb(x0, w2a, a1), a1 = __smlad(x1, w2b, a1);
        } else {
            int32_t x0 = r[k0], x1 = r[k0 + 1], x2 = r[k0 + 2];
            a0 = __smlad(x0, w0a, a0), a0 = __smlabt(x1, w0b, a0), a1 = __smlad(x1, w0a, a1), a1 = __smlabt(x2, w0b, a1);
            x0 = r[k1], x1 = r[k1 + 1], x2 = r[k1 + 2];
            a0 = __smlad(x0, w1a, a0), a0 = __smlabt(x1, w1b, a0), a1 = __smlad(x1, w1a, a1), a1 = __smlabt(x2, w1b, a1);
            x0 = r[k2], x1 = r[k2 + 1], x2 = r[k2 + 2];
            a0 = __smlad(x0, w2a, a0), a0 = __smlabt(x1, w2b, a0), a1 = __smlad(x1, w2a, a1), a1 = __smlabt(x2, w2b, a1);
        }
        o[0] = (int8_t)hyb_dsp_out2(a0, ch, q);
        if (out_w % 2 == 0 || ox + 1 < out_w) o[c_n] = (int8_t)hyb_dsp_out2(a1, ch, q);
    }
}

/* One kernel row (word offset k) for two outputs, stride 1: x0 = (x0, x1),
 * x1 = (x2, x3); out0 = x0*w0 + x1*w1 + x2*w2, out1 = x1*w0 + x2*w1 + x3*w2. */
#define HYB_DW3_S1(k, wa, wb)                                   \
    "ldrd   %[x0], %[x1], [%[r], #" k "]\n\t"                   \
    "smlad  %[a0], %[x0], %[" wa "], %[a0]\n\t"                 \
    "smlabt %[a0], %[x1], %[" wb "], %[a0]\n\t"                 \
    "smlatb %[a1], %[x0], %[" wa "], %[a1]\n\t"                 \
    "smlad  %[a1], %[x1], %[" wb "], %[a1]\n\t"

/* Stride 2: words (x0,x1), (x2,x3), (x4,x5); out1 starts at x2. */
#define HYB_DW3_S2(k, wa, wb)                                   \
    "ldrd   %[x0], %[x1], [%[r], #" k "]\n\t"                   \
    "ldr    %[t0], [%[r], #" k "+8]\n\t"                        \
    "smlad  %[a0], %[x0], %[" wa "], %[a0]\n\t"                 \
    "smlabt %[a0], %[x1], %[" wb "], %[a0]\n\t"                 \
    "smlad  %[a1], %[x1], %[" wa "], %[a1]\n\t"                 \
    "smlabt %[a1], %[t0], %[" wb "], %[a1]\n\t"

/* Requantizes a0, a1 (doubled accumulators) and stores them at o + oo and,
 * if `two`, o + oo + c_n: no right shift of 0, no clamp narrower than int8. */
#define HYB_DW3_OUT                                              \
    "ldrd   %[t0], %[t1], %[q]\n\t"                              \
    "add    %[x0], %[t1], %[a0], asr #31\n\t"                    \
    "add    %[x1], %[t1], %[a1], asr #31\n\t"                    \
    "smmlar %[a0], %[a0], %[t0], %[x0]\n\t"                      \
    "smmlar %[a1], %[a1], %[t0], %[x1]\n\t"                      \
    "ldr    %[t0], %[sh]\n\t"                                    \
    "asr    %[a0], %[a0], %[t0]\n\t"                             \
    "ssat   %[a0], #8, %[a0]\n\t"                                \
    "strb   %[a0], [%[o], #%c[oo]]\n\t"                          \
    ".if %c[two]\n\t"                                            \
    "asr    %[a1], %[a1], %[t0]\n\t"                             \
    "ssat   %[a1], #8, %[a1]\n\t"                                \
    "strb   %[a1], [%[o], #%c[oo]+%c[cn]]\n\t"                   \
    ".endif\n\t"

/* The tile's operands: 14 registers (6 weights, 2 accumulators, 4
 * temporaries, 2 bases), the rest memory operands and immediates. */
#define HYB_DW3_OPERANDS                                                                                     \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [x0] "=&r"(x0), [x1] "=&r"(x1), [t0] "=&r"(t0), [t1] "=&r"(t1)          \
    : [r] "r"(r), [o] "r"(o), [w0a] "r"(w[0]), [w0b] "r"(w[1]), [w1a] "r"(w[2]), [w1b] "r"(w[3]),            \
      [w2a] "r"(w[4]), [w2b] "r"(w[5]), [b] "m"(*(const int32_t(*)[2])bias2), [q] "m"(*(const int32_t(*)[2])mq), \
      [sh] "m"(*shift), [oo] "i"(oo), [cn] "i"(c_n), [two] "i"(two), [k0] "i"(4 * k0), [k1] "i"(4 * k1),     \
      [k2] "i"(4 * k2)                                                                                        \
    : "memory"

/* Two outputs (one if !two) of one channel's row: r + ro words is their
 * window's left column in the ring row at word offset k0 (then k1, k2),
 * o + oo the first output. bias2 = {bias, bias}, mq = {mult, round}. */
HYB_DSP_INLINE void hyb_dsp_dw3_tile(const int32_t *r, int k0, int k1, int k2, int8_t *o, int oo, int c_n, int s,
                                     int two, const int32_t *w, const int32_t *bias2, const int32_t *mq,
                                     const int32_t *shift) {
    int32_t a0, a1, x0, x1, t0, t1;
#define HYB_K(k) "%c[k" #k "]"
    if (s == 1)
        __asm__ volatile("ldrd %[a0], %[a1], %[b]\n\t" HYB_DW3_S1(HYB_K(0), "w0a", "w0b")
                             HYB_DW3_S1(HYB_K(1), "w1a", "w1b") HYB_DW3_S1(HYB_K(2), "w2a", "w2b") HYB_DW3_OUT HYB_DW3_OPERANDS);
    else
        __asm__ volatile("ldrd %[a0], %[a1], %[b]\n\t" HYB_DW3_S2(HYB_K(0), "w0a", "w0b")
                             HYB_DW3_S2(HYB_K(1), "w1a", "w1b") HYB_DW3_S2(HYB_K(2), "w2a", "w2b") HYB_DW3_OUT HYB_DW3_OPERANDS);
#undef HYB_K
}

HYB_DSP_INLINE void hyb_dsp_dw3_out_row_asm(const int32_t *r, int k0, int k1, int k2, int8_t *o, int c_n, int out_w,
                                            int s, const int32_t *wv, const int32_t *bias2, const int32_t *mq,
                                            const int32_t *shift_p);

/* One output row of one channel: r points at its window's left column in
 * the channel's ring; k0..k2 are the word offsets of the window's three
 * rows (constants for each rotation of the ring). Short rows unroll fully,
 * so the tiles address the ring and the output with immediates. */
HYB_DSP_INLINE void hyb_dsp_dw3_out_row(const int32_t *r, int k0, int k1, int k2, int8_t *o, int c_n, int out_w, int s,
                                        const int32_t *wv, const hyb_dsp_chan *ch, hyb_dsp_outq q) {
    if (q.shift0 || q.lo > -128 || q.hi < 127) {
        hyb_dsp_dw3_out_row_c(r, k0, k1, k2, o, c_n, out_w, s, wv, ch, q);
        return;
    }
    const int32_t bias2[2] = {ch->bias, ch->bias}, mq[2] = {ch->mult, ch->round}, shift = ch->shift;
    hyb_dsp_dw3_out_row_asm(r, k0, k1, k2, o, c_n, out_w, s, wv, bias2, mq, &shift);
}

/* The same once the channel's constants are in memory (bias2 = {bias, bias},
 * mq = {mult, round}), for callers that run many rows of one channel. */
HYB_DSP_INLINE void hyb_dsp_dw3_out_row_asm(const int32_t *r, int k0, int k1, int k2, int8_t *o, int c_n, int out_w,
                                            int s, const int32_t *wv, const int32_t *bias2, const int32_t *mq,
                                            const int32_t *shift_p) {
    const int32_t shift = *shift_p;
    const int32_t w[6] = {wv[0], wv[1], wv[2], wv[3], wv[4], wv[5]};
    enum { UNROLL = 4 };
    int ox = 0;
    if (out_w > 2 * UNROLL) {
        for (; ox + 2 * UNROLL <= out_w; ox += 2 * UNROLL, r += UNROLL * s, o += 2 * UNROLL * c_n) {
#pragma GCC unroll 4
            for (int u = 0; u < UNROLL; u++)
                hyb_dsp_dw3_tile(r, k0 + u * s, k1 + u * s, k2 + u * s, o, 2 * u * c_n, c_n, s, 1, w, bias2, mq, &shift);
        }
    }
#pragma GCC unroll 8
    for (int u = 0; ox + 2 * u < out_w; u++)
        hyb_dsp_dw3_tile(r, k0 + u * s, k1 + u * s, k2 + u * s, o, 2 * u * c_n, c_n, s, ox + 2 * u + 1 < out_w, w, bias2, mq, &shift);
}

/* Doubled int16 weight pairs of one channel: (w0,w1), (w1,w2) per kernel row. */
HYB_DSP_INLINE void hyb_dsp_dw3_weights(const int32_t *w, int32_t *wv) {
    for (int k = 0; k < 3; k++) {
        const int32_t a = __sxtb16(w[k]), b = hyb_sxtb16_ror8(w[k]);
        wv[2 * k] = __sadd16(a, a);
        wv[2 * k + 1] = __sadd16(b, b);
    }
}

/* Output row oy of every channel, its window's rows at ring slots t, t+1, t+2 (mod 3). */
HYB_DSP_INLINE void hyb_dsp_dw3_rows(const int32_t *ring, int t, int8_t *o, const int32_t *w, const hyb_dsp_chan *ch,
                                     int c_n, int out_w, int s, int pw_words, hyb_dsp_outq q) {
    const int k0 = t * pw_words, k1 = ((t + 1) % 3) * pw_words, k2 = ((t + 2) % 3) * pw_words;
    for (int c = 0; c < c_n; c++) {
        int32_t wv[6];
        hyb_dsp_dw3_weights(w + 3 * c, wv);
        hyb_dsp_dw3_out_row(ring + c * 3 * pw_words, k0, k1, k2, o + c, c_n, out_w, s, wv, ch + c, q);
    }
}

/* Narrow layers (DS-CNN's 5-wide rows): every padded input row is converted
 * into the planes first (`ph` rows of pw columns per channel), then each
 * channel runs all its output rows with its weights and requantization set
 * up once. No output is written before the whole input has been read, so
 * the in-place contract holds trivially. */
HYB_DSP_INLINE void hyb_dsp_depthwise3x3_full_s8(const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch,
                                                 int32_t *planes, int in_h, int in_w, int c_n, int out_h, int out_w,
                                                 int s, int pad_t, int pad_l, int pw, int ph, int32_t in_zp,
                                                 hyb_dsp_outq q) {
    const int pw_words = pw / 2, plane_words = ph * pw_words;
    const int32_t zp4 = (int32_t)(((uint32_t)in_zp & 0xffu) * 0x01010101u);
    for (int y = 0; y < ph; y++)
        for (int c = 0; c < c_n; c += 4)
            hyb_dsp_dw3_row_in(planes + c * plane_words + y * pw_words, plane_words, in + c, y - pad_t, in_h, in_w,
                               c_n, pw, pad_l, zp4);
    for (int c = 0; c < c_n; c++) {
        int32_t wv[6];
        hyb_dsp_dw3_weights(w + 3 * c, wv);
        const int32_t *r = planes + c * plane_words;
        int8_t *o = out + c;
        if (q.shift0 || q.lo > -128 || q.hi < 127) {
            for (int oy = 0; oy < out_h; oy++, r += s * pw_words, o += out_w * c_n)
                hyb_dsp_dw3_out_row_c(r, 0, pw_words, 2 * pw_words, o, c_n, out_w, s, wv, ch + c, q);
            continue;
        }
        const int32_t bias2[2] = {ch[c].bias, ch[c].bias}, mq[2] = {ch[c].mult, ch[c].round}, shift = ch[c].shift;
        for (int oy = 0; oy < out_h; oy++, r += s * pw_words, o += out_w * c_n)
            hyb_dsp_dw3_out_row_asm(r, 0, pw_words, 2 * pw_words, o, c_n, out_w, s, wv, bias2, mq, &shift);
    }
}

/* ring: c_n * 3 * pw / 2 words (three int16 rows of pw columns per channel).
 * Every input row is converted once, just before the first output row
 * whose window needs it, so outputs written below the input (the in-place
 * lag) never meet a row still to be converted. */
HYB_DSP_INLINE void hyb_dsp_depthwise3x3_s8(const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch,
                                            int32_t *ring, int in_h, int in_w, int c_n, int out_h, int out_w, int s,
                                            int pad_t, int pad_l, int pw, int32_t in_zp, hyb_dsp_outq q) {
    const int pw_words = pw / 2, plane_words = 3 * pw_words;
    const int32_t zp4 = (int32_t)(((uint32_t)in_zp & 0xffu) * 0x01010101u);
    int next = -pad_t; /* the first input row not yet in the ring */
    for (int oy = 0; oy < out_h; oy++) {
        const int top = oy * s - pad_t;
        for (; next < top + 3; next++) {
            const int slot = (next + 3) % 3;
            for (int c = 0; c < c_n; c += 4)
                hyb_dsp_dw3_row_in(ring + c * plane_words + slot * pw_words, plane_words, in + c, next, in_h, in_w,
                                   c_n, pw, pad_l, zp4);
        }
        int8_t *o = out + oy * out_w * c_n;
        const int t = (top + 3) % 3;
        if (t == 0)
            hyb_dsp_dw3_rows(ring, 0, o, w, ch, c_n, out_w, s, pw_words, q);
        else if (t == 1)
            hyb_dsp_dw3_rows(ring, 1, o, w, ch, c_n, out_w, s, pw_words, q);
        else
            hyb_dsp_dw3_rows(ring, 2, o, w, ch, c_n, out_w, s, pw_words, q);
    }
}

#endif
