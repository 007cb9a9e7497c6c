/* Conv2D int8 (regular and pointwise) as im2col + GEMM with dual 16-bit MACs.
 *
 * Output pixels go four at a time. Their patches (k_h*k_w*in_c values,
 * padded to a multiple of 4) are sign-extended once into `col`; then each
 * pair of output channels runs a 4x2 register tile where one weight word
 * (two channels x two taps) feeds eight SMLADs: every loaded weight is used
 * four times and every loaded input twice.
 *
 * col layout: step s holds, for pixels 0..3, the halfword pair
 * (x[k], x[k+2]) with k = 4*(s/2) + s%2, i.e. what SXTB16 and SXTB16 ROR 8
 * make of the int8 word x[4q..4q+3]. The compiler lays the weights out to
 * match: per channel pair, per step, the bytes
 * (w[c][k], w[c+1][k], w[c][k+2], w[c+1][k+2]).
 *
 * Layers with in_c % 4 == 0 and the usual output side take the row kernels
 * at the end (hyb_dsp_conv_rows_s8, hyb_dsp_conv_col_s8): the same tile
 * reading a ring of converted input rows instead of im2col, with the whole
 * channel loop, requantization and stores in one asm block. */
#ifndef HYB_DSP_CONV_H
#define HYB_DSP_CONV_H

#include "hyb_dsp.h"

/* One int8 word of a patch -> its two steps, `stride` words apart. */
HYB_DSP_INLINE void hyb_dsp_expand(int32_t *col, int stride, int32_t x) {
    col[0] = __sxtb16(x);
    col[stride] = hyb_sxtb16_ror8(x);
}

/* The zero point as an int16 pair: a padded tap then adds w * zp, which the
 * folded bias (bias - zp * sum(w)) cancels, exactly as the reference skips it. */
HYB_DSP_INLINE int32_t hyb_dsp_zp_pair(int32_t zp) { return (int32_t)(((uint32_t)zp & 0xffffu) * 0x10001u); }

/* Sign-extends the patch of output pixel (oy, ox) into col (one pixel's column). */
HYB_DSP_INLINE void hyb_dsp_im2col(int32_t *col, int stride, int8_t *patch, const int8_t *in, int oy, int ox,
                                   int in_h, int in_w, int in_c, int k_h, int k_w, int s_h, int s_w, int d_h,
                                   int d_w, int pad_t, int pad_l, int32_t in_zp) {
    const int y0 = oy * s_h - pad_t, x0 = ox * s_w - pad_l;
    if (in_c % 4 == 0) {
        const int words = in_c / 4;
        const int32_t zp2 = hyb_dsp_zp_pair(in_zp);
        int32_t *c = col;
        for (int ky = 0; ky < k_h; ky++) {
            const int iy = y0 + ky * d_h;
            for (int kx = 0; kx < k_w; kx++) {
                const int ix = x0 + kx * d_w;
                if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                    const int8_t *src = in + (iy * in_w + ix) * in_c;
#pragma GCC unroll 4
                    for (int j = 0; j < words; j++, c += 2 * stride) hyb_dsp_expand(c, stride, hyb_dsp_load32(src + 4 * j));
                } else {
                    for (int j = 0; j < words; j++, c += 2 * stride) c[0] = c[stride] = zp2;
                }
            }
        }
        return;
    }
    /* Channel counts that are not a multiple of 4 (first layers): gather the
     * patch bytes. Under 4 channels a tap moves as one unaligned word whose
     * extra bytes the next tap overwrites (patch has 4 bytes of slack; bytes
     * past k meet zero weights). */
    const int k4 = (k_h * k_w * in_c + 3) & ~3;
    int k = 0;
    if (d_w == 1 && y0 >= 0 && y0 + (k_h - 1) * d_h < in_h && x0 >= 0 && x0 + k_w - 1 < in_w) {
        /* The whole window inside (most pixels): each kernel row is k_w * in_c
         * contiguous bytes, a constant-size copy (word loads and stores). */
        const int row = k_w * in_c;
        for (int ky = 0; ky < k_h; ky++, k += row)
            __builtin_memcpy(patch + k, in + ((y0 + ky * d_h) * in_w + x0) * in_c, row);
    } else
    for (int ky = 0; ky < k_h; ky++) {
        const int iy = y0 + ky * d_h;
        for (int kx = 0; kx < k_w; kx++, k += in_c) {
            const int ix = x0 + kx * d_w;
            const int inside = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w;
            const int8_t *src = in + (iy * in_w + ix) * in_c;
            if (in_c < 4)
                hyb_dsp_store32(patch + k, inside ? (uint32_t)hyb_dsp_load32(src) : ((uint32_t)in_zp & 0xffu) * 0x01010101u);
            else
                for (int ic = 0; ic < in_c; ic++) patch[k + ic] = inside ? src[ic] : (int8_t)in_zp;
        }
    }
    if (in_c >= 4)
        for (; k < k4; k++) patch[k] = 0;
    for (int q = 0; q < k4 / 4; q++) hyb_dsp_expand(col + 2 * stride * q, stride, hyb_dsp_load32(patch + 4 * q));
}

/* Requantizes one pixel's two channels and stores them (one if c is the last). */
HYB_DSP_INLINE void hyb_dsp_store2(int8_t *out, int32_t a0, int32_t a1, const hyb_dsp_chan *ch, int has_second,
                                   hyb_dsp_outq q) {
    out[0] = (int8_t)hyb_dsp_out(a0, ch, q);
    if (has_second) out[1] = (int8_t)hyb_dsp_out(a1, ch + 1, q);
}

/* Requantizes one channel of up to four pixels (out_c apart) in place. The
 * constants go through an empty asm so gcc keeps them in registers instead
 * of reloading them for every pixel. */
HYB_DSP_INLINE void hyb_dsp_rq4(int npix, int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3, const hyb_dsp_chan *ch,
                                hyb_dsp_outq q) {
    int32_t m = ch->mult, sh = ch->shift, rnd = ch->round;
    __asm__("" : "+r"(m), "+r"(sh), "+r"(rnd));
#define HYB_OUT1(a) hyb_dsp_clamp(hyb_dsp_requant((a), m, sh, rnd, q.shift0), q.lo, q.hi)
    *a0 = HYB_OUT1(*a0);
    if (npix > 1) *a1 = HYB_OUT1(*a1);
    if (npix > 2) *a2 = HYB_OUT1(*a2);
    if (npix > 3) *a3 = HYB_OUT1(*a3);
#undef HYB_OUT1
}

/* One pixel's two channels (c, c+1): one halfword store when out_c is even
 * (then c+1 exists), else one or two bytes. */
HYB_DSP_INLINE void hyb_dsp_put2(int8_t *o, int32_t r0, int32_t r1, int has_second, int out_c) {
    if (out_c % 2 == 0) {
        uint32_t h = (uint32_t)r0;
        __asm__("bfi %0, %1, #8, #8" : "+r"(h) : "r"(r1));
        const uint16_t v = (uint16_t)h;
        __builtin_memcpy(o, &v, 2);
    } else {
        o[0] = (int8_t)r0;
        if (has_second) o[1] = (int8_t)r1;
    }
}

/* Requantizes a 4x2 tile (aPC: pixel P, channel c + C) and stores it. */
HYB_DSP_INLINE void hyb_dsp_store_4x2(int8_t *o, int out_c, int npix, int has_second, int32_t a00, int32_t a01,
                                      int32_t a10, int32_t a11, int32_t a20, int32_t a21, int32_t a30, int32_t a31,
                                      const hyb_dsp_chan *ch, hyb_dsp_outq q) {
    hyb_dsp_rq4(npix, &a00, &a10, &a20, &a30, ch, q);
    hyb_dsp_rq4(npix, &a01, &a11, &a21, &a31, ch + 1, q);
    hyb_dsp_put2(o, a00, a01, has_second, out_c);
    if (npix > 1) hyb_dsp_put2(o + out_c, a10, a11, has_second, out_c);
    if (npix > 2) hyb_dsp_put2(o + 2 * out_c, a20, a21, has_second, out_c);
    if (npix > 3) hyb_dsp_put2(o + 3 * out_c, a30, a31, has_second, out_c);
}

/* One step of the 4x2 tile: a weight word (channels c, c+1 x taps k, k+2)
 * against the column words of pixels 0..3: 2 + 3 + 3 load cycles, 2 SXTB16
 * and 8 SMLADs for 16 MACs. `inc` takes the input pointer from pixel 2's
 * word to the next step's pixel 0. */
#define HYB_DSP_STEP_(wload, wext, inc)                    \
    wload                                                  \
    "ldrd   %[x0], %[x1], [%[xp]], #8\n\t" wext           \
    "smlad  %[a00], %[x0], %[w0], %[a00]\n\t"              \
    "smlad  %[a01], %[x0], %[w1], %[a01]\n\t"              \
    "smlad  %[a10], %[x1], %[w0], %[a10]\n\t"              \
    "smlad  %[a11], %[x1], %[w1], %[a11]\n\t"              \
    "ldrd   %[x0], %[x1], [%[xp]], " inc "\n\t"            \
    "smlad  %[a20], %[x0], %[w0], %[a20]\n\t"              \
    "smlad  %[a21], %[x0], %[w1], %[a21]\n\t"              \
    "smlad  %[a30], %[x1], %[w0], %[a30]\n\t"              \
    "smlad  %[a31], %[x1], %[w1], %[a31]\n\t"
#define HYB_DSP_STEP(inc)                                                                                   \
    HYB_DSP_STEP_("ldr    %[w0], [%[wp]], #4\n\t",                                                          \
                  "sxtb16 %[w1], %[w0], ror #8\n\tsxtb16 %[w0], %[w0]\n\t", inc)
/* The same with the weights already sign-extended (two words a step): 17
 * cycles for 16 MACs. */
#define HYB_DSP_STEP_WIDE(inc) HYB_DSP_STEP_("ldrd   %[w0], %[w1], [%[wp]], #8\n\t", "", inc)
#define HYB_DSP_STEP_4X2 HYB_DSP_STEP("#8")

#define HYB_DSP_STEP8_4X2                                                                                   \
    HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2         \
        HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2

/* The 4x2 tile needs all 14 allocatable registers (8 accumulators, 2
 * pointers, 4 operands), more than gcc keeps from spilling when it
 * schedules the intrinsics itself, hence assembly. The loop end lives in
 * memory; steps is always even, and the body is unrolled as far as it divides. */
#define HYB_DSP_LOOP_4X2(body)                                                                             \
    __asm__("1:\n\t" body "ldr %[x0], %[end]\n\tcmp %[xp], %[x0]\n\tbne 1b\n\t"                            \
            : [a00] "+r"(*a00), [a01] "+r"(*a01), [a10] "+r"(*a10), [a11] "+r"(*a11), [a20] "+r"(*a20),      \
              [a21] "+r"(*a21), [a30] "+r"(*a30), [a31] "+r"(*a31), [xp] "+r"(x), [wp] "+r"(w),              \
              [w0] "=&r"(t0), [w1] "=&r"(t1), [x0] "=&r"(t2), [x1] "=&r"(t3)                                 \
            : [end] "m"(end)                                                                                \
            : "cc", "memory")

HYB_DSP_INLINE void hyb_dsp_mac_4x2(const int32_t *x, const int32_t *w, int steps, int32_t *a00, int32_t *a01,
                                    int32_t *a10, int32_t *a11, int32_t *a20, int32_t *a21, int32_t *a30,
                                    int32_t *a31) {
    const int32_t *end = x + 4 * steps;
    int32_t t0, t1, t2, t3;
    if (steps % 16 == 0)
        HYB_DSP_LOOP_4X2(HYB_DSP_STEP8_4X2 HYB_DSP_STEP8_4X2);
    else if (steps % 8 == 0)
        HYB_DSP_LOOP_4X2(HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2
                             HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2);
    else if (steps % 4 == 0)
        HYB_DSP_LOOP_4X2(HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2);
    else
        HYB_DSP_LOOP_4X2(HYB_DSP_STEP_4X2 HYB_DSP_STEP_4X2);
}

/* The requantization of hyb_dsp_requant_x2 on accumulator `a` (not yet
 * doubled) with the sign of the accumulator, for layers where every right
 * shift is >= 1 (w0 = mult, w1 = shift, x1 = round; x0 is clobbered). */
#define HYB_DSP_RQ_(a, dbl)                                                                                 \
    "add    %[x0], %[x1], %[" a "], asr #31\n\t" dbl                                                       \
    "smmlar %[" a "], %[" a "], %[w0], %[x0]\n\t"                                                           \
    "asr    %[" a "], %[" a "], %[w1]\n\t"                                                                  \
    "ssat   %[" a "], #8, %[" a "]\n\t"
#define HYB_DSP_RQ(a) HYB_DSP_RQ_(a, "add    %[" a "], %[" a "], %[" a "]\n\t")
/* The same on an accumulator already doubled (widened weights). */
#define HYB_DSP_RQ_X2(a) HYB_DSP_RQ_(a, "")
/* Both without the sign term, for layers whose activation floor is the
 * output zero point (-128): a negative accumulator ends at the floor
 * however it rounds (codegen's relu_floor), so x1 is the rounding itself. */
#define HYB_DSP_RQ_RELU_(a, dbl)                                                                            \
    dbl "smmlar %[" a "], %[" a "], %[w0], %[x1]\n\t"                                                        \
    "asr    %[" a "], %[" a "], %[w1]\n\t"                                                                  \
    "ssat   %[" a "], #8, %[" a "]\n\t"
#define HYB_DSP_RQ_RELU(a) HYB_DSP_RQ_RELU_(a, "add    %[" a "], %[" a "], %[" a "]\n\t")
#define HYB_DSP_RQ_X2_RELU(a) HYB_DSP_RQ_RELU_(a, "")

/* Whether the output side allows HYB_DSP_RQ and halfword stores at
 * offsets up to 3 * out_c (12-bit immediates). */
#define HYB_DSP_RQ_OK(q, out_c) ((q).lo == -128 && (q).hi == 127 && !(q).shift0 && (out_c) % 2 == 0 && 3 * (out_c) <= HYB_DSP_STRB_IMM_MAX)

/* Requantizes a 4x2 tile in registers (aPC: pixel P, channel of ch + C) for
 * the usual output side (int8 range, every right shift >= 1, out_c even)
 * and stores each pixel's two channels as one halfword, pixels out_c apart. */
HYB_DSP_INLINE void hyb_dsp_store_4x2_rq(int8_t *o, int out_c, int32_t a00, int32_t a01, int32_t a10, int32_t a11,
                                         int32_t a20, int32_t a21, int32_t a30, int32_t a31, const hyb_dsp_chan *ch) {
    int32_t w0, w1, x0, x1;
    /* volatile: the stores are its only effect. */
    __asm__ volatile("ldrd   %[w0], %[w1], [%[ch], #4]\n\t"
            "ldr    %[x1], [%[ch], #12]\n\t" HYB_DSP_RQ("a00") HYB_DSP_RQ("a10") HYB_DSP_RQ("a20") HYB_DSP_RQ("a30")
            "ldrd   %[w0], %[w1], [%[ch], #20]\n\t"
            "ldr    %[x1], [%[ch], #28]\n\t" HYB_DSP_RQ("a01") HYB_DSP_RQ("a11") HYB_DSP_RQ("a21") HYB_DSP_RQ("a31")
            "bfi    %[a00], %[a01], #8, #8\n\t"
            "strh   %[a00], [%[o]]\n\t"
            "bfi    %[a10], %[a11], #8, #8\n\t"
            "strh   %[a10], [%[o], #%c[o1]]\n\t"
            "bfi    %[a20], %[a21], #8, #8\n\t"
            "strh   %[a20], [%[o], #%c[o2]]\n\t"
            "bfi    %[a30], %[a31], #8, #8\n\t"
            "strh   %[a30], [%[o], #%c[o3]]\n\t"
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [a20] "+r"(a20), [a21] "+r"(a21),
              [a30] "+r"(a30), [a31] "+r"(a31), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1)
            : [o] "r"(o), [ch] "r"(ch), [o1] "n"(out_c), [o2] "n"(2 * out_c), [o3] "n"(3 * out_c)
            : "memory");
}

/* hyb_dsp_gemm_4x2 for four pixels and the usual output side. */
HYB_DSP_INLINE void hyb_dsp_gemm_4x2_rq(const int32_t *col, const int32_t *w, const hyb_dsp_chan *ch, int8_t *out,
                                        int steps, int out_c) {
    for (int c = 0; c < out_c; c += 2, w += steps) {
        const int32_t b0 = ch[c].bias, b1 = ch[c + 1].bias;
        int32_t a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
        hyb_dsp_mac_4x2(col, w, steps, &a00, &a01, &a10, &a11, &a20, &a21, &a30, &a31);
        hyb_dsp_store_4x2_rq(out + c, out_c, a00, a01, a10, a11, a20, a21, a30, a31, ch + c);
    }
}

/* All output channels of `npix` (<= 4) consecutive output pixels from col
 * (all four windows are already in col, so the order of the stores within
 * the tile does not matter in place). */
HYB_DSP_INLINE void hyb_dsp_gemm_4x2(const int32_t *col, const int32_t *w, const hyb_dsp_chan *ch, int8_t *out,
                                     int steps, int out_c, int npix, hyb_dsp_outq q) {
    for (int c = 0; c < out_c; c += 2, w += steps) {
        const int32_t b0 = ch[c].bias, b1 = ch[c + 1].bias;
        int32_t a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
        hyb_dsp_mac_4x2(col, w, steps, &a00, &a01, &a10, &a11, &a20, &a21, &a30, &a31);
        hyb_dsp_store_4x2(out + c, out_c, npix, c + 1 < out_c, a00, a01, a10, a11, a20, a21, a30, a31, ch + c, q);
    }
}

/* All output channels of one pixel whose column is col[4 * s] (the last,
 * short tile when the pixel count leaves one over): a 1x2 tile, two SMLADs
 * per weight word, instead of a 4x2 tile's work for one pixel. */
HYB_DSP_INLINE void hyb_dsp_gemm_1x2(const int32_t *col, const int32_t *w, const hyb_dsp_chan *ch, int8_t *out,
                                     int steps, int out_c, hyb_dsp_outq q) {
    for (int c = 0; c < out_c; c += 2) {
        int32_t a0 = ch[c].bias, a1 = ch[c + 1].bias;
        const int32_t *wp = w + (c / 2) * steps;
#pragma GCC unroll 4
        for (int s = 0; s < steps; s++) {
            const int32_t wv = wp[s], x = col[4 * s];
            a0 = __smlad(x, __sxtb16(wv), a0);
            a1 = __smlad(x, hyb_sxtb16_ror8(wv), a1);
        }
        hyb_dsp_store2(out + c, a0, a1, ch + c, c + 1 < out_c, q);
    }
}

/* Conv2D for in_c % 4 == 0, dilation 1 and the usual output side
 * (HYB_DSP_RQ_OK), without im2col: input rows are sign-extended once into
 * a ring of consecutive rows, each `in_c / 2` blocks (one per step, the
 * halfword pairs of hyb_dsp_expand) of wb = s_w * hw words, pixel x at
 * position (x % s_w) * hw + x / s_w. Four output pixels of a row then read
 * four consecutive words per step for every tap, so the 4x2 tile addresses
 * the ring directly: a step goes wb words on, and with the rows consecutive
 * the k_h taps of one kernel column are one run of steps. The weight stream
 * (see hyb_dsp_rows_group; ch is unused) has per channel pair the steps in
 * that order (kx, ky, step), with a control word after every `u` steps: the
 * byte adjustment of the input pointer (nonzero between kernel columns),
 * bit 0 set on the last. */

/* All channel pairs of four output pixels whose first column word is x, in
 * one asm block (the tile needs all 14 registers; the group's pointers wait
 * on the stack): per pair, the biases, the MAC loop and the requantization
 * constants all come from the weight stream, then the halfword stores of
 * hyb_dsp_store_4x2_rq. */
/* The group blocks' registers: the four inputs ride in the first four. */
#define HYB_DSP_GROUP_REGS                                                                                  \
    [a00] "+r"(r0), [a01] "+r"(r1), [xp] "+r"(r2), [wp] "+r"(r3), [a10] "=&r"(t0), [a11] "=&r"(t1),         \
        [a20] "=&r"(t2), [a21] "=&r"(t3), [a30] "=&r"(t4), [a31] "=&r"(t5), [w0] "=&r"(t6), [w1] "=&r"(t7),   \
        [x0] "=&r"(t8), [x1] "=&r"(t9)

/* A pair's requantization with its constants from the stream. */
#define HYB_DSP_RQ_PAIR(RQ)                                                                                 \
    "ldrd   %[w0], %[w1], [%[wp]], #8\n\t"                                                                  \
    "ldr    %[x1], [%[wp]], #4\n\t" RQ("a00") RQ("a10") RQ("a20") RQ("a30")                               \
    "ldrd   %[w0], %[w1], [%[wp]], #8\n\t"                                                                  \
    "ldr    %[x1], [%[wp]], #4\n\t" RQ("a01") RQ("a11") RQ("a21") RQ("a31")

/* Pixels 1..3 of a requantized tile as halfwords at x0 + out_c * P. */
#define HYB_DSP_PUT_123                                                                                     \
    "bfi    %[a10], %[a11], #8, #8\n\t"                                                                     \
    "strh   %[a10], [%[x0], #%c[o1]]\n\t"                                                                   \
    "bfi    %[a20], %[a21], #8, #8\n\t"                                                                     \
    "strh   %[a20], [%[x0], #%c[o2]]\n\t"                                                                   \
    "bfi    %[a30], %[a31], #8, #8\n\t"                                                                     \
    "strh   %[a30], [%[x0], #%c[o3]]\n\t"

#define HYB_DSP_ROWS_GROUP(body, RQ)                                                                        \
    __asm__ volatile(                                                                                       \
        "sub    sp, sp, #16\n\t"                                                                            \
        "str    %[xp], [sp]\n\t"                                                                            \
        "str    %[a00], [sp, #4]\n\t"                                                                       \
        "str    %[a01], [sp, #8]\n\t"                                                                       \
        "2:\n\t"                                                                                            \
        "ldrd   %[a00], %[a01], [%[wp]], #8\n\t"                                                            \
        "mov    %[a10], %[a00]\n\tmov %[a20], %[a00]\n\tmov %[a30], %[a00]\n\t"                             \
        "mov    %[a11], %[a01]\n\tmov %[a21], %[a01]\n\tmov %[a31], %[a01]\n\t"                             \
        "ldr    %[xp], [sp]\n\t"                                                                            \
        "1:\n\t" body                                                                                       \
        "ldr    %[x0], [%[wp]], #4\n\t"                                                                     \
        "asrs   %[x0], %[x0], #1\n\t"                                                                       \
        "add    %[xp], %[xp], %[x0], lsl #1\n\t"                                                            \
        "bcc    1b\n\t"                                                                                     \
        HYB_DSP_RQ_PAIR(RQ)                                                                                 \
        "ldr    %[x0], [sp, #4]\n\t"                                                                        \
        "bfi    %[a00], %[a01], #8, #8\n\t"                                                                 \
        "strh   %[a00], [%[x0]]\n\t"                                                                        \
        HYB_DSP_PUT_123                                                                                     \
        "add    %[x0], %[x0], #2\n\t"                                                                       \
        "str    %[x0], [sp, #4]\n\t"                                                                        \
        "ldr    %[x1], [sp, #8]\n\t"                                                                        \
        "cmp    %[wp], %[x1]\n\t"                                                                           \
        "bne    2b\n\t"                                                                                     \
        "add    sp, sp, #16\n\t"                                                                            \
        : HYB_DSP_GROUP_REGS                                                                                \
        : [inc] "n"(4 * wb - 8), [o1] "n"(out_c), [o2] "n"(2 * out_c), [o3] "n"(3 * out_c)                  \
        : "cc", "memory")

/* The unrollings of the weight stream's chunks (u steps), with step macro S and requantization RQ. */
#define HYB_DSP_ROWS_UNROLL(S, RQ)                                                                          \
    if (u % 32 == 0)                                                                                        \
        HYB_DSP_ROWS_GROUP(S S S S S S S S S S S S S S S S S S S S S S S S S S S S S S S S, RQ);                \
    else if (u % 24 == 0)                                                                                   \
        HYB_DSP_ROWS_GROUP(S S S S S S S S S S S S S S S S S S S S S S S S, RQ);                                \
    else if (u % 16 == 0)                                                                                   \
        HYB_DSP_ROWS_GROUP(S S S S S S S S S S S S S S S S, RQ);                                                \
    else if (u % 8 == 0)                                                                                    \
        HYB_DSP_ROWS_GROUP(S S S S S S S S, RQ);                                                                \
    else if (u % 4 == 0)                                                                                    \
        HYB_DSP_ROWS_GROUP(S S S S, RQ);                                                                        \
    else                                                                                                    \
        HYB_DSP_ROWS_GROUP(S S, RQ)

/* The weight stream of the row kernels, per pair of output channels: the
 * two biases; `chunks` chunks of u weight words (one a step) and a control
 * word; then mult, shift, round of either channel. w_end: past the last pair.
 * wide: the weight words are sign-extended (hyb_dsp_widen), two a step.
 * relu: requantize with HYB_DSP_RQ_RELU. */
HYB_DSP_INLINE void hyb_dsp_rows_group(const int32_t *x, const int32_t *w, const int32_t *w_end, int8_t *out,
                                       int out_c, int wb, int u, int wide, int relu) {
    /* Inputs ride in the registers the block then reuses. */
    int32_t r0 = (int32_t)out, r1 = (int32_t)w_end, r2 = (int32_t)x, r3 = (int32_t)w;
    int32_t t0, t1, t2, t3, t4, t5, t6, t7, t8, t9;
    if (wide && relu) {
        HYB_DSP_ROWS_UNROLL(HYB_DSP_STEP_WIDE("#%c[inc]"), HYB_DSP_RQ_X2_RELU);
    } else if (wide) {
        HYB_DSP_ROWS_UNROLL(HYB_DSP_STEP_WIDE("#%c[inc]"), HYB_DSP_RQ_X2);
    } else if (relu) {
        HYB_DSP_ROWS_UNROLL(HYB_DSP_STEP("#%c[inc]"), HYB_DSP_RQ_RELU);
    } else {
        HYB_DSP_ROWS_UNROLL(HYB_DSP_STEP("#%c[inc]"), HYB_DSP_RQ);
    }
}

/* wide_at of a layer whose weight stream the compiler widened (in flash, no scratch). */
#define HYB_DSP_WIDE_FLASH (-2)

/* Words of a pair in the weight stream. */
#define HYB_DSP_PAIR_WORDS(chunks, u, wide) (8 + (chunks) * ((wide) ? 2 * (u) + 1 : (u) + 1))

/* The weight stream into dst with each weight word as its two SXTB16
 * halves, doubled, once per layer: then a step loads its weights with one
 * LDRD and no SXTB16, and with the biases doubled too (wrapping like the
 * accumulator) the accumulator is 2*acc, what the requantization takes. */
HYB_DSP_INLINE void hyb_dsp_widen(int32_t *dst, const int32_t *w, int pairs, int chunks, int u) {
    for (int p = 0; p < pairs; p++) {
        *dst++ = (int32_t)(2u * (uint32_t)*w++);
        *dst++ = (int32_t)(2u * (uint32_t)*w++);
        for (int i = 0; i < chunks; i++) {
            for (int j = 0; j < u; j++, w++, dst += 2) {
                const int32_t lo = __sxtb16(*w), hi = hyb_sxtb16_ror8(*w);
                dst[0] = __sadd16(lo, lo);
                dst[1] = __sadd16(hi, hi);
            }
            *dst++ = *w++;
        }
        for (int k = 0; k < 6; k++) *dst++ = *w++;
    }
}

/* n (even) words of v, two a STRD. */
HYB_DSP_INLINE void hyb_dsp_fill_words(int32_t *d, int n, int32_t v) {
    for (int i = 0; i < n; i += 2) d[i] = d[i + 1] = v;
}

/* Input row iy of the image into ring row dst (rows outside: all zero point;
 * inside, the padding columns keep the zero point the ring started with). */
HYB_DSP_INLINE void hyb_dsp_rows_in(int32_t *dst, const int8_t *in, int iy, int in_h, int in_w, int in_c, int s_w,
                                    int pad_l, int hw, int32_t zp2) {
    const int wb = s_w * hw;
    if (iy < 0 || iy >= in_h) {
        hyb_dsp_fill_words(dst, in_c / 2 * wb, zp2);
        return;
    }
    const int8_t *src = in + iy * in_w * in_c;
    for (int x = pad_l; x < pad_l + in_w && x < wb; x++, src += in_c) {
        int32_t *d = dst + (x % s_w) * hw + x / s_w;
#pragma GCC unroll 8
        for (int j = 0; j < in_c / 4; j++, d += 2 * wb) hyb_dsp_expand(d, wb, hyb_dsp_load32(src + 4 * j));
    }
}

/* Forward word copy (the ring moves rows down), four words an LDM/STM pair
 * (gcc would call a byte-wise library memmove). */
HYB_DSP_INLINE void hyb_dsp_copy_words(int32_t *d, const int32_t *s, int n) {
    for (; n >= 4; n -= 4)
        __asm__ volatile("ldmia %0!, {r4-r7}\n\tstmia %1!, {r4-r7}" : "+r"(s), "+r"(d) : : "r4", "r5", "r6", "r7", "memory");
    for (; n > 0; n--) {
        *d++ = *s++;
        __asm__("");
    }
}

/* ring: nb rows of in_c / 2 * s_w * hw words, then 4 * out_c bytes for the
 * last, short group of a row (stored through it so that no pixel beyond the
 * row is written: in place the raster order must hold). Reading whole rows
 * ahead of the current kernel's windows only reads earlier, which is safe. */
HYB_DSP_INLINE void hyb_dsp_conv_rows_s8(const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch,
                                         int32_t *ring, int in_h, int in_w, int in_c, int out_h, int out_w, int out_c,
                                         int k_h, int k_w, int s_h, int s_w, int pad_t, int pad_l, int32_t in_zp, int hw,
                                         int nb, int u, int wide_at, int relu) {
    /* wide_at: where in scratch the widened weights go, -1 for none,
     * HYB_DSP_WIDE_FLASH when w is the widened stream (a literal, so only
     * the variant in use is compiled). */
    int32_t *wide = wide_at < 0 ? 0 : ring + wide_at;
    const int is_wide = wide_at != -1;
    const int wb = s_w * hw, row_w = in_c / 2 * wb;
    const int chunks = k_h * k_w * in_c / 2 / u;
    const int32_t *ws = wide ? wide : w, *w_end = ws + out_c / 2 * HYB_DSP_PAIR_WORDS(chunks, u, is_wide);
    if (wide) hyb_dsp_widen(wide, w, out_c / 2, chunks, u);
    const int32_t zp2 = hyb_dsp_zp_pair(in_zp);
    int8_t *tmp = (int8_t *)(ring + nb * row_w);
    hyb_dsp_fill_words(ring, nb * row_w, zp2);
    int first = 0, have = 0; /* padded row in slot 0, rows converted */
    for (int oy = 0; oy < out_h; oy++) {
        const int r0 = oy * s_h;
        if (r0 >= first + have) {
            first = r0, have = 0;
        } else if (r0 - first + k_h > nb) {
            have -= r0 - first;
            hyb_dsp_copy_words(ring, ring + (r0 - first) * row_w, have * row_w);
            first = r0;
        }
        for (; have < r0 - first + k_h; have++)
            hyb_dsp_rows_in(ring + have * row_w, in, first + have - pad_t, in_h, in_w, in_c, s_w, pad_l, hw, zp2);
        const int32_t *x = ring + (r0 - first) * row_w;
        int8_t *o = out + oy * out_w * out_c;
        int ox = 0;
        for (; ox + 4 <= out_w; ox += 4) hyb_dsp_rows_group(x + ox, ws, w_end, o + ox * out_c, out_c, wb, u, is_wide, relu);
        if (ox < out_w) {
            hyb_dsp_rows_group(x + ox, ws, w_end, tmp, out_c, wb, u, is_wide, relu);
            for (int i = 0; i < (out_w - ox) * out_c; i++) o[ox * out_c + i] = tmp[i];
        }
    }
}

/* One pixel's output channels from col (a step 4 words on) with the row
 * kernels' weight stream (not widened): a 1x2 tile. */
HYB_DSP_INLINE void hyb_dsp_stream_1x2(const int32_t *col, const int32_t *w, int8_t *out, int chunks, int out_c,
                                       int u) {
    for (int c = 0; c < out_c; c += 2, w += 6) {
        int32_t a0 = *w++, a1 = *w++;
        const int32_t *x = col;
        for (int i = 0; i < chunks; i++, w++)
#pragma GCC unroll 4
            for (int s = 0; s < u; s++, w++, x += 4) {
                a0 = __smlad(*x, __sxtb16(*w), a0);
                a1 = __smlad(*x, hyb_sxtb16_ror8(*w), a1);
            }
        out[c] = (int8_t)hyb_dsp_clamp(hyb_dsp_requant(a0, w[0], w[1], w[2], 0), -128, 127);
        out[c + 1] = (int8_t)hyb_dsp_clamp(hyb_dsp_requant(a1, w[3], w[4], w[5], 0), -128, 127);
    }
}

/* Conv2D with in_c % 4 == 0 and the usual output side that the row kernel
 * does not take (1x1 kernels): im2col of four pixels, then
 * hyb_dsp_rows_group on col (a step 4 words on) with the row kernel's
 * weights for one kernel column of k / 2 steps. A last single pixel takes
 * a 1x2 tile; two or three go through tmp (4 * out_c bytes after col), so
 * that nothing beyond the last pixel is written. */
HYB_DSP_INLINE void hyb_dsp_conv_col_s8(const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch,
                                        int32_t *col, int in_h, int in_w, int in_c, int out_h, int out_w, int out_c,
                                        int k_h, int k_w, int s_h, int s_w, int d_h, int d_w, int pad_t, int pad_l,
                                        int32_t in_zp, int u, int wide_at, int relu) {
    int32_t *wide = wide_at < 0 ? 0 : col + wide_at; /* as in hyb_dsp_conv_rows_s8 */
    const int is_wide = wide_at != -1;
    const int steps = k_h * k_w * in_c / 2, npix = out_h * out_w;
    const int pointwise = k_h == 1 && k_w == 1 && s_h == 1 && s_w == 1 && pad_t == 0 && pad_l == 0;
    int8_t *tmp = (int8_t *)(col + 4 * steps);
    const int chunks = steps / u;
    const int32_t *ws = wide ? wide : w, *w_end = ws + out_c / 2 * HYB_DSP_PAIR_WORDS(chunks, u, is_wide);
    if (wide) hyb_dsp_widen(wide, w, out_c / 2, chunks, u);
    int oy = 0, ox = 0, p0 = 0;
#define HYB_DSP_COL_IN(n)                                                                                   \
    if (pointwise) {                                                                                        \
        /* The pixels are consecutive in the input: no window tests. */                                    \
        const int8_t *src = in + p0 * in_c;                                                                 \
        for (int p = 0; p < (n); p++, src += in_c)                                                          \
            _Pragma("GCC unroll 8") for (int j = 0; j < in_c / 4; j++)                                      \
                hyb_dsp_expand(col + p + 8 * j, 4, hyb_dsp_load32(src + 4 * j));                           \
    } else {                                                                                                \
        for (int p = 0; p < (n); p++) {                                                                     \
            hyb_dsp_im2col(col + p, 4, 0, in, oy, ox, in_h, in_w, in_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, \
                           pad_l, in_zp);                                                                   \
            if (++ox == out_w) ox = 0, oy++;                                                                \
        }                                                                                                   \
    }
    for (; p0 + 4 <= npix; p0 += 4) {
        HYB_DSP_COL_IN(4)
        hyb_dsp_rows_group(col, ws, w_end, out + p0 * out_c, out_c, 4, u, is_wide, relu);
    }
    /* The short last group apart, so that only its own case is compiled. */
    const int n = npix - p0;
    if (n == 0) return;
    HYB_DSP_COL_IN(n)
#undef HYB_DSP_COL_IN
    int8_t *o = out + p0 * out_c;
    /* One pixel: the 1x2 tile reads the int8 stream, which a layer widened
     * in flash does not have: it runs the group on stale columns into tmp. */
    if (n == 1 && wide_at != HYB_DSP_WIDE_FLASH) {
        hyb_dsp_stream_1x2(col, w, o, chunks, out_c, u);
    } else {
        hyb_dsp_rows_group(col, ws, w_end, tmp, out_c, 4, u, is_wide, relu);
        for (int i = 0; i < n * out_c; i++) o[i] = tmp[i];
    }
}

/* Narrow pointwise layers (1x1, stride 1, in_c <= 32): with 2 to 16 steps a
 * pair, the per-pair overhead of hyb_dsp_rows_group weighs, so the whole
 * MAC run is unrolled (no control word), the first step starts from the
 * biases (no copies) and the input pointer steps back by a constant. Its
 * widened stream per pair: the two doubled biases, two words a step, then
 * mult, shift, round of either channel. */
#define HYB_DSP_PW_FIRST_(inc) "ldrd   %[a00], %[a01], [%[wp]], #8\n\t" HYB_DSP_TILE_STEP0(inc)
#define HYB_DSP_PW_FIRST HYB_DSP_PW_FIRST_(", #16")
#define HYB_DSP_PW_MACS_AT HYB_DSP_PW_FIRST_("") HYB_DSP_TILE_STEPS_AT(HYB_DSP_REP8)

/* A channel's requantization in the narrow pointwise group: with a
 * uniform shift `ush` (mult, round' in w0, x1) SMMLA and the SSAT's shift,
 * else HYB_DSP_RQ_X2 (its sign term skipped with `relu`). */
#define HYB_DSP_PW_RQ(a)                                                                                    \
    ".if %c[ush]\n\t"                                                                                       \
    "smmla  %[" a "], %[" a "], %[w0], %[x1]\n\t"                                                           \
    "ssat   %[" a "], #8, %[" a "], asr #%c[ush]\n\t"                                                       \
    ".elseif %c[relu]\n\t" HYB_DSP_RQ_X2_RELU(a) ".else\n\t" HYB_DSP_RQ_X2(a) ".endif\n\t"
#define HYB_DSP_PW_CONSTS                                                                                   \
    ".if %c[ush]\n\t"                                                                                       \
    "ldrd   %[w0], %[x1], [%[wp]], #8\n\t"                                                                  \
    ".else\n\t"                                                                                             \
    "ldrd   %[w0], %[w1], [%[wp]], #8\n\t"                                                                  \
    "ldr    %[x1], [%[wp]], #4\n\t"                                                                         \
    ".endif\n\t"

/* One pair of the narrow pointwise group: the MACs (leaving the input
 * pointer at col), both channels requantized. */
#define HYB_DSP_PW_PAIR(macs)                                                                               \
    macs HYB_DSP_PW_CONSTS HYB_DSP_PW_RQ("a00") HYB_DSP_PW_RQ("a10") HYB_DSP_PW_RQ("a20") HYB_DSP_PW_RQ("a30")     \
    HYB_DSP_PW_CONSTS HYB_DSP_PW_RQ("a01") HYB_DSP_PW_RQ("a11") HYB_DSP_PW_RQ("a21") HYB_DSP_PW_RQ("a31")

/* Pixels 1..3 of the pair as halfwords at x0 + hyb_pw_k + out_c * P. */
#define HYB_DSP_PW_PUT_123                                                                                  \
    "bfi    %[a10], %[a11], #8, #8\n\t"                                                                     \
    "strh   %[a10], [%[x0], #hyb_pw_k+%c[o1]]\n\t"                                                          \
    "bfi    %[a20], %[a21], #8, #8\n\t"                                                                     \
    "strh   %[a20], [%[x0], #hyb_pw_k+%c[o2]]\n\t"                                                          \
    "bfi    %[a30], %[a31], #8, #8\n\t"                                                                     \
    "strh   %[a30], [%[x0], #hyb_pw_k+%c[o3]]\n\t"                                                          \
    "bfi    %[a00], %[a01], #8, #8\n\t"

#define HYB_DSP_PW_OPERANDS                                                                                 \
    : HYB_DSP_GROUP_REGS                                                                                    \
    : [back] "n"(16 * steps), [o1] "n"(out_c), [o2] "n"(2 * out_c), [o3] "n"(3 * out_c), [relu] "n"(relu),   \
      [ush] "n"(ush), [pairs] "n"(out_c / 2), [n1] "n"(steps - 1)                                           \
    : "cc", "memory"

/* The group's pair loop ends on the last pair's second shift word, which
 * hyb_dsp_widen_pw flags with bit 31 (ASR reads only its low byte), or with
 * `ush` at the stream's end (a01 brings it, then waits with the output
 * pointer on the stack). */
#define HYB_DSP_PW_GROUP                                                                                    \
    __asm__ volatile(                                                                                       \
        "strd   %[a00], %[a01], [sp, #-8]!\n\t"                                                             \
        ".set hyb_pw_k, 0\n\t"                                                                              \
        "2:\n\t" HYB_DSP_PW_PAIR(HYB_DSP_PW_FIRST HYB_DSP_REP16("%c[n1]", HYB_DSP_STEP_WIDE("#8"))             \
                                "sub    %[xp], %[xp], #%c[back]\n\t")                                         \
        ".if %c[ush]\n\tldrd   %[x0], %[x1], [sp]\n\t.else\n\tldr    %[x0], [sp]\n\t.endif\n\t"            \
        HYB_DSP_PW_PUT_123                                                                                  \
        "strh   %[a00], [%[x0]], #2\n\t"                                                                    \
        "str    %[x0], [sp]\n\t"                                                                            \
        ".if %c[ush]\n\tcmp    %[wp], %[x1]\n\tbne    2b\n\t"                                              \
        ".else\n\tcmp    %[w1], #0\n\tbge    2b\n\t.endif\n\t"                                            \
        "add    sp, sp, #8\n\t" HYB_DSP_PW_OPERANDS)

/* The same with the pairs unrolled (no loop control; the stores' offsets
 * step by 2 in hyb_pw_k), for layers of at most HYB_DSP_PW_UNROLL_MAX outputs
 * (the copies HYB_DSP_REP16 makes). */
#define HYB_DSP_PW_GROUP_UNROLLED                                                                           \
    __asm__ volatile(                                                                                       \
        "str    %[a00], [sp, #-8]!\n\t"                                                                     \
        ".set hyb_pw_k, 0\n\t"                                                                              \
        HYB_DSP_REP16("%c[pairs]", HYB_DSP_PW_PAIR(HYB_DSP_PW_MACS_AT)                                       \
        "ldr    %[x0], [sp]\n\t" HYB_DSP_PW_PUT_123                                                         \
        "strh   %[a00], [%[x0], #hyb_pw_k]\n\t"                                                             \
        ".set hyb_pw_k, hyb_pw_k + 2\n\t")                                                                  \
        "add    sp, sp, #8\n\t" HYB_DSP_PW_OPERANDS)
#define HYB_DSP_PW_UNROLL_MAX 32

/* All channel pairs of four pixels from col with the widened stream ws (ending at w_end). */
HYB_DSP_INLINE void hyb_dsp_pw_group(const int32_t *col, const int32_t *ws, const int32_t *w_end, int8_t *out,
                                     int out_c, int steps, int relu, int ush) {
    int32_t r0 = (int32_t)out, r1 = (int32_t)w_end, r2 = (int32_t)col, r3 = (int32_t)ws;
    int32_t t0, t1, t2, t3, t4, t5, t6, t7, t8, t9;
    if (out_c <= HYB_DSP_PW_UNROLL_MAX && steps <= 8)
        HYB_DSP_PW_GROUP_UNROLLED;
    else
        HYB_DSP_PW_GROUP;
}

/* The row kernels' stream of a 1x1 layer (one chunk of `steps`) widened
 * into dst without its control word (see hyb_dsp_widen), the last shift
 * flagged for HYB_DSP_PW_GROUP; with `ush` each channel scaled by 2^j
 * more and its constants mult, round' (see hyb_dsp_round_ush). Returns
 * the stream's end. */
HYB_DSP_INLINE int32_t *hyb_dsp_widen_pw(int32_t *dst, const int32_t *w, int pairs, int steps, int ush) {
    for (int p = 0; p < pairs; p++, w += 2 + steps + 7) {
        const int32_t *k = w + 2 + steps + 1;
        const int j0 = ush ? ush - k[1] : 0, j1 = ush ? ush - k[4] : 0;
        *dst++ = (int32_t)((uint32_t)w[0] << (1 + j0));
        *dst++ = (int32_t)((uint32_t)w[1] << (1 + j1));
        for (int j = 0; j < steps; j++, dst += 2) {
            dst[0] = hyb_dsp_pair_pow2(__sxtb16(w[2 + j]), 1 + j0);
            dst[1] = hyb_dsp_pair_pow2(hyb_sxtb16_ror8(w[2 + j]), 1 + j1);
        }
        if (ush) {
            *dst++ = k[0], *dst++ = hyb_dsp_round_ush(k[2], j0);
            *dst++ = k[3], *dst++ = hyb_dsp_round_ush(k[5], j1);
        } else {
            for (int i = 0; i < 6; i++) *dst++ = k[i];
        }
    }
    if (!ush) dst[-2] |= INT32_MIN;
    return dst;
}

/* n consecutive pixels of in_c channels into col (4 words a step). */
HYB_DSP_INLINE void hyb_dsp_pw_in(int32_t *col, const int8_t *src, int n, int in_c) {
    if (n == 4) {
        /* Two pixels a word: their halves go out as STRD pairs. */
#pragma GCC unroll 4
        for (int j = 0; j < in_c / 4; j++)
            for (int p = 0; p < 4; p += 2) {
                const int32_t a = hyb_dsp_load32(src + p * in_c + 4 * j), b = hyb_dsp_load32(src + (p + 1) * in_c + 4 * j);
                int32_t *c = col + p + 8 * j;
                c[0] = __sxtb16(a), c[1] = __sxtb16(b);
                c[4] = hyb_sxtb16_ror8(a), c[5] = hyb_sxtb16_ror8(b);
            }
        return;
    }
#pragma GCC unroll 4
    for (int p = 0; p < n; p++, src += in_c)
#pragma GCC unroll 4
        for (int j = 0; j < in_c / 4; j++) hyb_dsp_expand(col + p + 8 * j, 4, hyb_dsp_load32(src + 4 * j));
}

/* Pointwise conv (stride 1, no padding) with in_c a multiple of 4 up to 32 and the
 * usual output side, weights widened into `wide`: hyb_dsp_conv_col_s8's
 * structure with hyb_dsp_pw_group. Each group's inputs are all in col
 * before its outputs are written (in place safe). */
HYB_DSP_INLINE void hyb_dsp_conv_pw_s8(const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch,
                                       int32_t *col, int npix, int in_c, int out_c, int32_t *wide, int relu,
                                       int ush) {
    const int steps = in_c / 2;
    int8_t *tmp = (int8_t *)(col + 4 * steps);
    const int32_t *w_end = hyb_dsp_widen_pw(wide, w, out_c / 2, steps, ush);
    /* col in a register of its own: the conversion's stores pair up as STRDs
     * (gcc would otherwise address col from a far base, beyond STRD's reach). */
    __asm__("" : "+r"(col));
    int p0 = 0;
    /* Full groups apart, so that their conversion unrolls. */
    for (; p0 + 4 <= npix; p0 += 4) {
        hyb_dsp_pw_in(col, in + p0 * in_c, 4, in_c);
        hyb_dsp_pw_group(col, wide, w_end, out + p0 * out_c, out_c, steps, relu, ush);
    }
    const int n = npix - p0;
    int8_t *o = out + p0 * out_c;
    hyb_dsp_pw_in(col, in + p0 * in_c, n, in_c);
    if (n == 1) {
        hyb_dsp_stream_1x2(col, w, o, 1, out_c, steps);
    } else if (n > 1) {
        hyb_dsp_pw_group(col, wide, w_end, tmp, out_c, steps, relu, ush);
        for (int i = 0; i < n * out_c; i++) o[i] = tmp[i];
    }
}

/* w: the re-laid-out weights; ch: out_c rounded up to even; col: 4 * k4 / 2
 * words; patch: k4 + 4 bytes (used only when in_c % 4 != 0). */
HYB_DSP_INLINE void hyb_dsp_conv_s8(const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch,
                                    int32_t *col, int8_t *patch, int in_h, int in_w, int in_c, int out_h, int out_w,
                                    int out_c, int k_h, int k_w, int s_h, int s_w, int d_h, int d_w, int pad_t,
                                    int pad_l, int32_t in_zp, hyb_dsp_outq q) {
    const int steps = ((k_h * k_w * in_c + 3) & ~3) / 2;
    const int npix = out_h * out_w;
    int oy = 0, ox = 0, p0 = 0;
    for (; p0 < npix; p0 += 4) {
        const int n = npix - p0 < 4 ? npix - p0 : 4;
        for (int p = 0; p < n; p++) {
            hyb_dsp_im2col(col + p, 4, patch, in, oy, ox, in_h, in_w, in_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t,
                           pad_l, in_zp);
            if (++ox == out_w) ox = 0, oy++;
        }
        /* Only the last tile can be short; keep the full tiles free of the tests. */
        if ((npix % 4 == 0 || n == 4) && HYB_DSP_RQ_OK(q, out_c))
            hyb_dsp_gemm_4x2_rq(col, w, ch, out + p0 * out_c, steps, out_c);
        else if (npix % 4 == 0 || n == 4)
            hyb_dsp_gemm_4x2(col, w, ch, out + p0 * out_c, steps, out_c, 4, q);
        else if (npix % 4 == 1)
            hyb_dsp_gemm_1x2(col, w, ch, out + p0 * out_c, steps, out_c, q);
        else
            hyb_dsp_gemm_4x2(col, w, ch, out + p0 * out_c, steps, out_c, npix % 4, q);
    }
}

#endif
