/* Conv2D int8 for input channel counts that are not a multiple of 4 (first
 * layers: RGB images, single-channel spectrograms), where k = k_h*k_w*in_c
 * is small and the column building and requantization weigh as much as the
 * MACs.
 *
 * Column order: a kernel row is R = k_w*in_c = 4m + e contiguous input
 * bytes; its first m words are sign-extended straight from the input, its
 * last e bytes go to a tail that is packed into words after all rows (the
 * compiler orders the weights the same way, zero past k). As in conv_s8.h,
 * col[4*s + p] holds step s of pixel p: the halfword pair (x[k], x[k+2])
 * that SXTB16 (and SXTB16 ROR 8) make of a word.
 *
 * The weights (int8 in flash, conv_s8.h's layout) are widened once a layer
 * into scratch as doubled int16 pairs, one word per channel and step, so a
 * 4x2 tile step is three LDRDs and eight SMLADs with no unpacking, and the
 * accumulator is already 2*acc for SMMLAR. */
#ifndef HYB_DSP_CONV_FIRST_H
#define HYB_DSP_CONV_FIRST_H

#include "hyb_dsp.h"

/* One int8 word of a window -> its two steps for pixel column c (stride 4). */
HYB_DSP_INLINE void hyb_dsp_first_expand(int32_t *c, int32_t x) {
    c[0] = __sxtb16(x);
    c[4] = hyb_sxtb16_ror8(x);
}

/* Word j of the column of a window wholly inside the image, at p with rows
 * rs apart: a row's word, or a word of the row tails gathered in registers. */
HYB_DSP_INLINE int32_t hyb_dsp_first_word(const int8_t *p, int j, int rs, int R, int k_h) {
    const int m = R / 4, e = R % 4;
    if (j < k_h * m) return hyb_dsp_load32(p + j / m * rs + 4 * (j % m));
    const int t = 4 * (j - k_h * m);
    uint32_t v = 0;
    for (int i = 0; i < 4 && t + i < k_h * e; i++)
        v |= (uint32_t)(uint8_t)p[(t + i) / e * rs + 4 * m + (t + i) % e] << (8 * i);
    return (int32_t)v;
}

/* The column of one window wholly inside the image, at p with rows rs apart. */
HYB_DSP_INLINE void hyb_dsp_first_window(int32_t *c, const int8_t *p, int rs, int R, int k_h) {
    const int words = k_h * (R / 4) + (k_h * (R % 4) + 3) / 4;
#pragma GCC unroll 64
    for (int j = 0; j < words; j++, c += 8) hyb_dsp_first_expand(c, hyb_dsp_first_word(p, j, rs, R, k_h));
}

/* The columns of the tile's four windows, all inside the image, at p[i]:
 * straight-line loads at constant offsets; the four pixels of a step are
 * adjacent, so their stores pair up. */
HYB_DSP_INLINE void hyb_dsp_first_window4(int32_t *c, const int8_t *const p[4], int rs, int R, int k_h) {
    const int words = k_h * (R / 4) + (k_h * (R % 4) + 3) / 4;
#pragma GCC unroll 64
    for (int j = 0; j < words; j++, c += 8) {
        int32_t lo[4], hi[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            const int32_t v = hyb_dsp_first_word(p[i], j, rs, R, k_h);
            lo[i] = __sxtb16(v), hi[i] = hyb_sxtb16_ror8(v);
        }
        __asm__("strd %[a], %[b], [%[c]]\n\tstrd %[d], %[e], [%[c], #8]\n\t"
                "strd %[f], %[g], [%[c], #16]\n\tstrd %[h], %[i], [%[c], #24]"
                :
                : [c] "r"(c), [a] "r"(lo[0]), [b] "r"(lo[1]), [d] "r"(lo[2]), [e] "r"(lo[3]), [f] "r"(hi[0]),
                  [g] "r"(hi[1]), [h] "r"(hi[2]), [i] "r"(hi[3])
                : "memory");
    }
}

/* Copies the input into pin with the zero point around it (pad_t rows above,
 * pad_l columns left, ph x pw in all), so every window is inside. */
HYB_DSP_INLINE void hyb_dsp_first_pad(int8_t *pin, const int8_t *in, int in_h, int in_w, int in_c, int ph, int pw,
                                      int pad_t, int pad_l, int32_t zp) {
    const uint32_t z4 = ((uint32_t)zp & 0xffu) * 0x01010101u;
    for (int i = 0; i < ph * pw * in_c; i += 4) hyb_dsp_store32(pin + i, z4);
    for (int y = 0; y < in_h; y++)
        __builtin_memcpy(pin + ((y + pad_t) * pw + pad_l) * in_c, in + y * in_w * in_c, in_w * in_c);
}

/* Builds the column of output pixel (oy, ox) at col (one pixel of the tile).
 * buf: R + 4 bytes for a row cut by the padding, then the tail. */
HYB_DSP_INLINE void hyb_dsp_first_col(int32_t *col, int8_t *buf, const int8_t *in, int oy, int ox, int in_h,
                                      int in_w, int in_c, int k_h, int k_w, int s_h, int s_w, int d_h, int d_w,
                                      int pad_t, int pad_l, int32_t zp) {
    const int R = k_w * in_c, m = R / 4, e = R % 4;
    const int y0 = oy * s_h - pad_t, x0 = ox * s_w - pad_l;
    const int x_inside = d_w == 1 && x0 >= 0 && x0 + k_w - 1 < in_w;
    if (x_inside && y0 >= 0 && y0 + (k_h - 1) * d_h < in_h) {
        hyb_dsp_first_window(col, in + (y0 * in_w + x0) * in_c, d_h * in_w * in_c, R, k_h);
        return;
    }
    int32_t *c = col;
    int8_t *tail = buf + R + 4;
    for (int ky = 0; ky < k_h; ky++) {
        const int iy = y0 + ky * d_h;
        const int8_t *row = buf;
        if (iy < 0 || iy >= in_h) {
            const int32_t z4 = (int32_t)(((uint32_t)zp & 0xffu) * 0x01010101u);
            for (int j = 0; j < m; j++, c += 8) hyb_dsp_first_expand(c, z4);
            for (int i = 0; i < e; i++) tail[ky * e + i] = (int8_t)zp;
            continue;
        }
        if (x_inside) {
            row = in + (iy * in_w + x0) * in_c;
        } else {
            /* Taps outside the image read the zero point (the folded bias cancels it). */
            for (int kx = 0; kx < k_w; kx++) {
                const int ix = x0 + kx * d_w;
                const int8_t *src = in + (iy * in_w + ix) * in_c;
                for (int ic = 0; ic < in_c; ic++) buf[kx * in_c + ic] = ix >= 0 && ix < in_w ? src[ic] : (int8_t)zp;
            }
        }
        for (int j = 0; j < m; j++, c += 8) hyb_dsp_first_expand(c, hyb_dsp_load32(row + 4 * j));
        for (int i = 0; i < e; i++) tail[ky * e + i] = row[4 * m + i];
    }
    /* Bytes past the tail meet zero weights. */
    for (int j = 0; j < (k_h * e + 3) / 4; j++, c += 8) hyb_dsp_first_expand(c, hyb_dsp_load32(tail + 4 * j));
}

/* Steps of the 4x2 tile: channels c, c+1 (w0, w1: int16 pairs) against
 * pixels 0..3; the first is HYB_DSP_TILE_STEP0 (hyb_dsp.h). */
#define HYB_DSP_FIRST_STEPS(count)                                                                                     \
    ".rept " count "\n\t"                                                                                              \
    "ldrd   %[w0], %[w1], [%[wp]], #8\n\t"                                                                             \
    "ldrd   %[x0], %[x1], [%[xp]], #8\n\t"                                                                             \
    "smlad  %[a00], %[x0], %[w0], %[a00]\n\t"                                                                          \
    "smlad  %[a01], %[x0], %[w1], %[a01]\n\t"                                                                          \
    "smlad  %[a10], %[x1], %[w0], %[a10]\n\t"                                                                          \
    "smlad  %[a11], %[x1], %[w1], %[a11]\n\t"                                                                          \
    "ldrd   %[x0], %[x1], [%[xp]], #8\n\t"                                                                             \
    "smlad  %[a20], %[x0], %[w0], %[a20]\n\t"                                                                          \
    "smlad  %[a21], %[x0], %[w1], %[a21]\n\t"                                                                          \
    "smlad  %[a30], %[x1], %[w0], %[a30]\n\t"                                                                          \
    "smlad  %[a31], %[x1], %[w1], %[a31]\n\t"                                                                          \
    ".endr\n\t"

/* hyb_dsp_requant_x2 and SSAT of one accumulator, the channel's mult,
 * shift, round in w0, w1, x0 (the full int8 range, no channel shift 0).
 * With `relu` (see relu_floor in layout.rs) the sign term is skipped; with
 * a uniform shift `ush` (mult, round' in w0, x0) it is the SSAT's. */
#define HYB_DSP_FIRST_REQ(a)                                                                                           \
    ".if %c[ush]\n\t"                                                                                                  \
    "smmla  %[" a "], %[" a "], %[w0], %[x0]\n\t"                                                                      \
    "ssat   %[" a "], #8, %[" a "], asr #%c[ush]\n\t"                                                                  \
    ".else\n\t"                                                                                                        \
    ".if %c[relu]\n\t"                                                                                                 \
    "smmlar %[" a "], %[" a "], %[w0], %[x0]\n\t"                                                                      \
    ".else\n\t"                                                                                                        \
    "add    %[x1], %[x0], %[" a "], asr #31\n\t"                                                                       \
    "smmlar %[" a "], %[" a "], %[w0], %[x1]\n\t"                                                                      \
    ".endif\n\t"                                                                                                       \
    "asr    %[" a "], %[" a "], %[w1]\n\t"                                                                             \
    "ssat   %[" a "], #8, %[" a "]\n\t"                                                                                \
    ".endif\n\t"

/* A channel's requantization constants from the stream. */
#define HYB_DSP_FIRST_CONSTS                                                                                           \
    ".if %c[ush]\n\t"                                                                                                  \
    "ldrd   %[w0], %[x0], [%[wp]], #8\n\t"                                                                             \
    ".else\n\t"                                                                                                        \
    "ldr    %[w0], [%[wp]], #4\n\t"                                                                                    \
    "ldrd   %[w1], %[x0], [%[wp]], #8\n\t"                                                                             \
    ".endif\n\t"

/* One channel pair of the tile, looped over all pairs in one assembly block
 * (the 4x2 tile needs all 14 allocatable registers: 8 accumulators, 2
 * pointers, 4 operands): accumulators from the biases, the MACs, both
 * channels requantized, each pixel's two results packed and stored as one
 * halfword at out + p*out_c. The biases and requantization constants come
 * in the weight stream (hyb_dsp_first_widen), whose last shift word has
 * bit 31 set (ASR reads only its low byte) to end the loop (with `ush`, no
 * shift words: the stream's end); the output pointer waits in memory. */
#define HYB_DSP_FIRST_PAIR(macs)                                                                               \
    "ldrd   %[a00], %[a01], [%[wp]], #8\n\t" macs HYB_DSP_FIRST_CONSTS                                           \
    HYB_DSP_FIRST_REQ("a00") HYB_DSP_FIRST_REQ("a10") HYB_DSP_FIRST_REQ("a20") HYB_DSP_FIRST_REQ("a30")        \
    HYB_DSP_FIRST_CONSTS                                                                                       \
    HYB_DSP_FIRST_REQ("a01") HYB_DSP_FIRST_REQ("a11") HYB_DSP_FIRST_REQ("a21") HYB_DSP_FIRST_REQ("a31")        \
    "bfi    %[a00], %[a01], #8, #8\n\t"                                                                        \
    "bfi    %[a10], %[a11], #8, #8\n\t"                                                                        \
    "bfi    %[a20], %[a21], #8, #8\n\t"                                                                        \
    "bfi    %[a30], %[a31], #8, #8\n\t"                                                                        \
    "ldr    %[x0], %[outm]\n\t"                                                                                \
    "strh   %[a10], [%[x0], #hyb_first_k+%c[o1]]\n\t"                                                          \
    "strh   %[a20], [%[x0], #hyb_first_k+%c[o2]]\n\t"                                                          \
    "strh   %[a30], [%[x0], #hyb_first_k+%c[o3]]\n\t"
#define HYB_DSP_FIRST_OPERANDS                                                                                 \
    : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [a20] "=&r"(a20),                \
      [a21] "=&r"(a21), [a30] "=&r"(a30), [a31] "=&r"(a31), [xp] "+r"(x), [wp] "+r"(w), [w0] "=&r"(t0),        \
      [w1] "=&r"(t1), [x0] "=&r"(t2), [x1] "=&r"(t3), [outm] "+m"(o)                                           \
    : [n1] "i"(steps - 1), [back] "i"(16 * steps), [o1] "i"(out_c), [o2] "i"(2 * out_c),                      \
      [o3] "i"(3 * out_c), [relu] "i"(relu), [ush] "i"(ush), [endm] "m"(w_end), [pairs] "i"(out_c / 2)         \
    : "cc", "memory"
#define HYB_DSP_FIRST_LOOP                                                                                     \
    __asm__ volatile(                                                                                          \
        ".set hyb_first_k, 0\n\t"                                                                              \
        "1:\n\t" HYB_DSP_FIRST_PAIR(HYB_DSP_TILE_STEP0(", #16") HYB_DSP_FIRST_STEPS("%c[n1]"))                         \
        "strh   %[a00], [%[x0]], #2\n\t"                                                                       \
        "str    %[x0], %[outm]\n\t"                                                                            \
        "sub    %[xp], %[xp], #%c[back]\n\t"                                                                   \
        ".if %c[ush]\n\t"                                                                                       \
        "ldr    %[w1], %[endm]\n\t"                                                                            \
        "cmp    %[wp], %[w1]\n\t"                                                                              \
        "bne    1b\n\t"                                                                                        \
        ".else\n\t"                                                                                             \
        "cmp    %[w1], #0\n\t"                                                                                 \
        "bge    1b\n\t"                                                                                        \
        ".endif\n\t" HYB_DSP_FIRST_OPERANDS)
/* The same with the pairs unrolled (no loop control; the stores' offsets
 * step by 2 in hyb_first_k), for layers of at most HYB_DSP_FIRST_UNROLL_MAX outputs
 * and 16 steps (the copies HYB_DSP_REP4 and HYB_DSP_REP16 make). */
#define HYB_DSP_FIRST_UNROLLED                                                                                 \
    __asm__ volatile(                                                                                          \
        ".set hyb_first_k, 0\n\t"                                                                              \
        HYB_DSP_REP4("%c[pairs]", HYB_DSP_FIRST_PAIR(HYB_DSP_TILE_STEP0("") HYB_DSP_TILE_STEPS_AT(HYB_DSP_REP16))  \
        "strh   %[a00], [%[x0], #hyb_first_k]\n\t"                                                             \
        ".set hyb_first_k, hyb_first_k + 2\n\t") HYB_DSP_FIRST_OPERANDS)
#define HYB_DSP_FIRST_UNROLL_MAX 8

/* The MACs alone, for the general requantization in C. */
#define HYB_DSP_FIRST_ASM(body)                                                                                        \
    __asm__(body                                                                                                       \
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [a20] "+r"(a20),                     \
              [a21] "+r"(a21), [a30] "+r"(a30), [a31] "+r"(a31), [xp] "+r"(x), [wp] "+r"(w), [w0] "=&r"(t0),           \
              [w1] "=&r"(t1), [x0] "=&r"(t2), [x1] "=&r"(t3)                                                           \
            : [n] "i"(steps)                                                                                           \
            : "memory")

/* Requantizes one channel of the four pixels (out_c apart) and stores them. */
HYB_DSP_INLINE void hyb_dsp_first_store(int8_t *o, int out_c, int32_t a0, int32_t a1, int32_t a2, int32_t a3,
                                        const hyb_dsp_chan *ch, hyb_dsp_outq q) {
    int32_t m = ch->mult, sh = ch->shift, rnd = ch->round;
    __asm__("" : "+r"(m), "+r"(sh), "+r"(rnd));
#define HYB_OUT1(a) (int8_t)hyb_dsp_clamp(hyb_dsp_requant_x2((a), m, sh, rnd, q.shift0), q.lo, q.hi)
    o[0] = HYB_OUT1(a0);
    o[out_c] = HYB_OUT1(a1);
    o[2 * out_c] = HYB_OUT1(a2);
    o[3 * out_c] = HYB_OUT1(a3);
#undef HYB_OUT1
}

/* All channels of the tile's four pixels; steps is a compile-time constant,
 * so the tap loop is unrolled whole (no loop overhead per channel pair).
 * All four windows are already in col, so in place the order of the stores
 * does not matter. */
/* The common case (full int8 range, no shift 0, paired channels): the tile
 * loops and requantizes in assembly (and may take a uniform shift). */
#define HYB_DSP_FIRST_FAST(q, out_c) (!(q).shift0 && (q).lo == -128 && (q).hi == 127 && (out_c) % 2 == 0)

HYB_DSP_INLINE void hyb_dsp_first_gemm(const int32_t *col, const int32_t *w, const int32_t *w_end,
                                       const hyb_dsp_chan *ch, int8_t *out, int steps, int out_c, hyb_dsp_outq q,
                                       int relu, int ush) {
    int32_t a00, a01, a10, a11, a20, a21, a30, a31, t0, t1, t2, t3;
    const int32_t *x;
    if (HYB_DSP_FIRST_FAST(q, out_c)) {
        int8_t *o = out;
        x = col;
        if (out_c <= HYB_DSP_FIRST_UNROLL_MAX && steps <= 16)
            HYB_DSP_FIRST_UNROLLED;
        else
            HYB_DSP_FIRST_LOOP;
        return;
    }
    for (int c = 0; c < out_c; c += 2) {
        a00 = a10 = a20 = a30 = ch[c].bias;
        a01 = a11 = a21 = a31 = ch[c + 1].bias;
        x = col;
        w += 2;
        HYB_DSP_FIRST_ASM(HYB_DSP_FIRST_STEPS("%c[n]"));
        w += 6;
        const hyb_dsp_chan *chp = ch + c;
        int8_t *o = out + c;
        hyb_dsp_first_store(o, out_c, a00, a10, a20, a30, chp, q);
        if (c + 1 < out_c) hyb_dsp_first_store(o + 1, out_c, a01, a11, a21, a31, chp + 1, q);
    }
}

/* Widens the int8 weight words (conv_s8.h's layout) into int16 pairs,
 * doubled so the accumulator is 2*acc: per channel pair, the two biases,
 * per step channel c's word then channel c+1's, then both channels' mult,
 * shift, round (the order the tile reads them in; the last shift flagged,
 * see HYB_DSP_FIRST_LOOP), or with `ush` mult and round' (see
 * hyb_dsp_round_ush). Once a layer, into RAM, which also reads faster than
 * flash. Returns the stream's end. */
HYB_DSP_INLINE int32_t *hyb_dsp_first_widen(int32_t *wx, const int32_t *w, const hyb_dsp_chan *ch, int out_c,
                                            int steps, int ush) {
    for (int c = 0; c < out_c; c += 2, ch += 2) {
        const int j0 = ush ? ush - ch[0].shift : 0, j1 = ush ? ush - ch[1].shift : 0;
        *wx++ = (int32_t)((uint32_t)ch[0].bias << j0);
        *wx++ = (int32_t)((uint32_t)ch[1].bias << j1);
        for (int i = 0; i < steps; i++, w++, wx += 2) {
            wx[0] = hyb_dsp_pair_pow2(__sxtb16(*w), 1 + j0);
            wx[1] = hyb_dsp_pair_pow2(hyb_sxtb16_ror8(*w), 1 + j1);
        }
        for (int j = 0; j < 2; j++) {
            *wx++ = ch[j].mult;
            if (ush)
                *wx++ = hyb_dsp_round_ush(ch[j].round, ush - ch[j].shift);
            else
                *wx++ = ch[j].shift, *wx++ = ch[j].round;
        }
    }
    if (!ush) wx[-2] |= INT32_MIN;
    return wx;
}

/* w: int8 weight words (out_c rounded up to even); ch: doubled biases.
 * Scratch from col: 4 * steps words, buf (R + 4 + k_h*e + 4 bytes, in
 * words), then when ph > 0 the input copied with its padding into ph x pw
 * pixels (every pixel then takes the inside path), then 4 * out_c bytes
 * for a short last tile, then the widened weights ((out_c + 1) / 2 pairs
 * of 2 * steps + 8 words) unless the compiler widened them (`wide_flash`). */
HYB_DSP_INLINE void hyb_dsp_conv_first_s8(const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch,
                                          int32_t *col, int in_h, int in_w, int in_c, int out_h, int out_w,
                                          int out_c, int k_h, int k_w, int s_h, int s_w, int d_h, int d_w,
                                          int pad_t, int pad_l, int32_t in_zp, int ph, int pw, hyb_dsp_outq q,
                                          int relu, int ush, int wide_flash) {
    const int R = k_w * in_c;
    const int steps = 2 * (k_h * (R / 4) + (k_h * (R % 4) + 3) / 4);
    int8_t *buf = (int8_t *)(col + 4 * steps);
    int8_t *pin = buf + ((R + 4 + k_h * (R % 4) + 4 + 3) & ~3);
    int8_t *tmp = pin + ((ph * pw * in_c + 3) & ~3);
    int32_t *wx = (int32_t *)(tmp + (out_h * out_w % 4 ? 4 * out_c : 0));
    if (!HYB_DSP_FIRST_FAST(q, out_c)) ush = 0;
    /* wide_flash: w is hyb_dsp_first_widen's result, made by the compiler (no wx). */
    const int32_t *const w_end =
        wide_flash ? w + (out_c + 1) / 2 * (2 * steps + (ush ? 6 : 8)) : hyb_dsp_first_widen(wx, w, ch, out_c, steps, ush);
    if (!wide_flash) w = wx;
    if (ph) hyb_dsp_first_pad(pin, in, in_h, in_w, in_c, ph, pw, pad_t, pad_l, in_zp);
    const int npix = out_h * out_w;
    int oy = 0, ox = 0;
    for (int p0 = 0; p0 < npix; p0 += 4) {
        const int n = npix - p0 < 4 ? npix - p0 : 4;
        const int y0 = oy * s_h - pad_t, x0 = ox * s_w - pad_l;
        if (ph && n == 4) {
            /* Padded copy: every window inside (a tile spans rows unless out_w % 4 == 0). */
            const int8_t *src = pin + (oy * s_h * pw + ox * s_w) * in_c;
            const int8_t *p[4] = {src, src + s_w * in_c, src + 2 * s_w * in_c, src + 3 * s_w * in_c};
            if (out_w % 4 == 0) {
                if ((ox += 4) == out_w) ox = 0, oy++;
            } else {
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    p[i] = pin + (oy * s_h * pw + ox * s_w) * in_c;
                    if (++ox == out_w) ox = 0, oy++;
                }
            }
            hyb_dsp_first_window4(col, p, d_h * pw * in_c, R, k_h);
        } else if (__builtin_expect(!ph && n == 4 && ox + 3 < out_w && d_w == 1 && x0 >= 0 &&
                                        x0 + 3 * s_w + k_w - 1 < in_w && y0 >= 0 && y0 + (k_h - 1) * d_h < in_h,
                                    1)) {
            /* Four windows of one row, all inside (most tiles). */
            const int8_t *src = in + (y0 * in_w + x0) * in_c;
            const int8_t *const p[4] = {src, src + s_w * in_c, src + 2 * s_w * in_c, src + 3 * s_w * in_c};
            hyb_dsp_first_window4(col, p, d_h * in_w * in_c, R, k_h);
            if ((ox += 4) == out_w) ox = 0, oy++;
        } else if (ph) {
#pragma GCC unroll 1
            for (int p = 0; p < n; p++) {
                hyb_dsp_first_window(col + p, pin + (oy * s_h * pw + ox * s_w) * in_c, d_h * pw * in_c, R, k_h);
                if (++ox == out_w) ox = 0, oy++;
            }
        } else {
#pragma GCC unroll 1
            for (int p = 0; p < n; p++) {
                hyb_dsp_first_col(col + p, buf, in, oy, ox, in_h, in_w, in_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t,
                                  pad_l, in_zp);
                if (++ox == out_w) ox = 0, oy++;
            }
        }
        /* A short last tile runs whole on stale columns into tmp; its pixels are copied out. */
        const int short_tile = npix % 4 != 0 && n < 4;
        hyb_dsp_first_gemm(col, w, w_end, ch, short_tile ? tmp : out + p0 * out_c, steps, out_c, q, relu, ush);
        if (short_tile) __builtin_memcpy(out + p0 * out_c, tmp, n * out_c);
    }
}

#endif
