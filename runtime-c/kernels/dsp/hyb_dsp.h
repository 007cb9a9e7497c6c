/* hybridc int8 kernels for Armv7E-M and Armv8-M Mainline with the DSP
 * extension (Cortex-M4, M7, M33). Every kernel is static inline and always
 * inlined: the generated model.c calls it once per layer with that layer's
 * shapes and quantization as literal constants, so gcc -O2 specialises it.
 * The compiler (compiler/src/codegen/dsp) has already re-laid-out the
 * weights, folded the input zero point into the bias and checked that the
 * requantization shortcuts below are exact for the layer; layers it cannot
 * prove that for use the portable kernels. */
#ifndef HYB_DSP_H
#define HYB_DSP_H

#include <stdint.h>
#include <arm_acle.h>

#define HYB_DSP_INLINE static inline __attribute__((always_inline))
/* A layer's kernel (model.c's hyb_dsp_fnN). The asm blocks take compile-time
 * constants ("i" operands) that only inlining and constant propagation
 * provide, so GCC builds these functions at -O2 whatever the build's level
 * (-O0 and -Og Debug builds included; docs/cmake.md). */
#if defined(__GNUC__) && !defined(__clang__)
#define HYB_DSP_FN static __attribute__((noinline, optimize("O2")))
#else
#define HYB_DSP_FN static __attribute__((noinline))
#endif

/* The largest immediate offsets the asm encodes come from the compiler
 * (codegen/dsp: LDRD_IMM_MAX, STRB_IMM_MAX), which picks the kernels by the
 * same numbers; every generated project defines them ahead of this header. */
#if !defined(HYB_DSP_LDRD_IMM_MAX) || !defined(HYB_DSP_STRB_IMM_MAX)
#error "HYB_DSP_LDRD_IMM_MAX and HYB_DSP_STRB_IMM_MAX must be defined (hybridc writes them ahead of the DSP headers)"
#endif

/* Per output channel: bias with the input offset folded in, then what
 * TFLite's MultiplyByQuantizedMultiplier needs for a right shift >= 0.
 * round = (1 << (shift - 1)) (0 when shift is 0) + (output zero point << shift):
 * adding the zero point before the shift equals adding it after. */
typedef struct {
    int32_t bias, mult, shift, round;
} hyb_dsp_chan;

/* SXTB16 of x rotated by 8: bytes 1 and 3 sign-extended to two halfwords
 * (gcc does not fold the rotation into the instruction by itself). */
HYB_DSP_INLINE int32_t hyb_sxtb16_ror8(int32_t x) {
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* Most significant word of a*b, rounded: (a*b + 2^31) >> 32. */
HYB_DSP_INLINE int32_t hyb_smmulr(int32_t a, int32_t b) {
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* The output side of a layer: fused activation range, and whether some
 * channel's right shift is 0 (then rounding needs a mask). */
typedef struct {
    int32_t lo, hi, shift0;
} hyb_dsp_outq;

/* Most significant word of a*b + (c << 32), rounded: c + ((a*b + 2^31) >> 32). */
HYB_DSP_INLINE int32_t hyb_smmlar(int32_t a, int32_t b, int32_t c) {
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
}

/* TFLite MultiplyByQuantizedMultiplier for a right shift >= 0, given
 * acc2 = 2*acc. SaturatingRoundingDoublingHighMul(acc, m) is
 * v = floor((acc*m + 2^30) / 2^31) = smmulr(2acc, m) exactly when 2acc fits
 * in int32 (the compiler checked the accumulator bound); RoundingDivideByPOT
 * (v, r) rounds half away from zero: floor((v + 2^(r-1) - (v < 0)) / 2^r)
 * for r >= 1, v itself for r = 0 (the mask (-r) >> 31 then drops the sign
 * term). With m > 0, v < 0 implies acc < 0, and acc < 0 with v = 0 gives
 * the same result either way for r >= 1, so the sign of acc serves; SMMLAR
 * adds `round` (2^(r-1) plus the output zero point << r) on the way.
 * Returns the result plus the output zero point. */
HYB_DSP_INLINE int32_t hyb_dsp_requant_x2(int32_t acc2, int32_t mult, int32_t shift, int32_t round, int shift0) {
    const int32_t neg = shift0 ? (acc2 >> 31) & (-shift >> 31) : acc2 >> 31;
    return hyb_smmlar(acc2, mult, round + neg) >> shift;
}

/* The same on a plain accumulator, as SMMULR then the rounding shift with
 * the sign of the product (fewer live registers in the conv tiles). */
HYB_DSP_INLINE int32_t hyb_dsp_requant(int32_t acc, int32_t mult, int32_t shift, int32_t round, int shift0) {
    const int32_t v = hyb_smmulr(acc + acc, mult);
    const int32_t neg = shift0 ? (v >> 31) & (-shift >> 31) : v >> 31;
    return (v + round + neg) >> shift;
}

/* Clamp to the fused activation range (constants: the tests fold away). */
HYB_DSP_INLINE int32_t hyb_dsp_clamp(int32_t v, int32_t lo, int32_t hi) {
    v = __ssat(v, 8);
    if (lo > -128 && v < lo) v = lo;
    if (hi < 127 && v > hi) v = hi;
    return v;
}

HYB_DSP_INLINE int32_t hyb_dsp_out(int32_t acc, const hyb_dsp_chan *c, hyb_dsp_outq q) {
    return hyb_dsp_clamp(hyb_dsp_requant(acc, c->mult, c->shift, c->round, q.shift0), q.lo, q.hi);
}

/* Four int8 results packed little-endian into one word (three BFIs; gcc
 * spends eight instructions on the shifts and masks). */
HYB_DSP_INLINE uint32_t hyb_dsp_pack4(int32_t a, int32_t b, int32_t c, int32_t d) {
    uint32_t r = (uint32_t)a;
    __asm__("bfi %0, %1, #8, #8\n\tbfi %0, %2, #16, #8\n\tbfi %0, %3, #24, #8" : "+&r"(r) : "r"(b), "r"(c), "r"(d));
    return r;
}

/* The 4x2 tiles' asm (operands a00..a31, xp, wp, w0, w1, x0, x1; the
 * widened weights two words a step, four column words a step). The first
 * step starts from the biases in a00, a01, pixels 2 and 3 first so that no
 * moves are needed; inc: the input pointer's post-increment ("" for none). */
#define HYB_DSP_TILE_STEP0(inc)                                                                             \
    "ldrd   %[w0], %[w1], [%[wp]], #8\n\t"                                                                  \
    "ldrd   %[x0], %[x1], [%[xp], #8]\n\t"                                                                  \
    "smlad  %[a20], %[x0], %[w0], %[a00]\n\t"                                                               \
    "smlad  %[a21], %[x0], %[w1], %[a01]\n\t"                                                               \
    "smlad  %[a30], %[x1], %[w0], %[a00]\n\t"                                                               \
    "smlad  %[a31], %[x1], %[w1], %[a01]\n\t"                                                               \
    "ldrd   %[x0], %[x1], [%[xp]]" inc "\n\t"                                                               \
    "smlad  %[a10], %[x1], %[w0], %[a00]\n\t"                                                               \
    "smlad  %[a11], %[x1], %[w1], %[a01]\n\t"                                                               \
    "smlad  %[a00], %[x0], %[w0], %[a00]\n\t"                                                               \
    "smlad  %[a01], %[x0], %[w1], %[a01]\n\t"
/* Copies of an asm fragment x, those from the n-th on (n an assembler
 * expression) assembled to nothing. Not .rept: gcc sizes an asm by its
 * lines, and must know how long it is to keep literal pools in reach. */
#define HYB_DSP_REP_IF(i, n, x) ".if " #i " < " n "\n\t" x ".endif\n\t"
#define HYB_DSP_REP4(n, x) HYB_DSP_REP_IF(0, n, x) HYB_DSP_REP_IF(1, n, x) HYB_DSP_REP_IF(2, n, x) HYB_DSP_REP_IF(3, n, x)
#define HYB_DSP_REP8(n, x)                                                                                  \
    HYB_DSP_REP4(n, x) HYB_DSP_REP_IF(4, n, x) HYB_DSP_REP_IF(5, n, x) HYB_DSP_REP_IF(6, n, x) HYB_DSP_REP_IF(7, n, x)
#define HYB_DSP_REP16(n, x)                                                                                 \
    HYB_DSP_REP8(n, x) HYB_DSP_REP_IF(8, n, x) HYB_DSP_REP_IF(9, n, x) HYB_DSP_REP_IF(10, n, x)            \
        HYB_DSP_REP_IF(11, n, x) HYB_DSP_REP_IF(12, n, x) HYB_DSP_REP_IF(13, n, x) HYB_DSP_REP_IF(14, n, x)  \
            HYB_DSP_REP_IF(15, n, x)

/* The later %c[n1] steps (REP: copies enough for them) with the input at
 * immediate offsets from xp (no pointer updates, so no step back either). */
#define HYB_DSP_TILE_STEPS_AT(REP) ".set hyb_step_s, 16\n\t" REP("%c[n1]", HYB_DSP_TILE_STEP_AT)
#define HYB_DSP_TILE_STEP_AT                                                                                \
    "ldrd   %[w0], %[w1], [%[wp]], #8\n\t"                                                                  \
    "ldrd   %[x0], %[x1], [%[xp], #hyb_step_s]\n\t"                                                         \
    "smlad  %[a00], %[x0], %[w0], %[a00]\n\t"                                                               \
    "smlad  %[a01], %[x0], %[w1], %[a01]\n\t"                                                               \
    "smlad  %[a10], %[x1], %[w0], %[a10]\n\t"                                                               \
    "smlad  %[a11], %[x1], %[w1], %[a11]\n\t"                                                               \
    "ldrd   %[x0], %[x1], [%[xp], #hyb_step_s+8]\n\t"                                                       \
    "smlad  %[a20], %[x0], %[w0], %[a20]\n\t"                                                               \
    "smlad  %[a21], %[x0], %[w1], %[a21]\n\t"                                                               \
    "smlad  %[a30], %[x1], %[w0], %[a30]\n\t"                                                               \
    "smlad  %[a31], %[x1], %[w1], %[a31]\n\t"                                                               \
    ".set hyb_step_s, hyb_step_s + 16\n\t"

HYB_DSP_INLINE int32_t hyb_dsp_load32(const int8_t *p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

HYB_DSP_INLINE void hyb_dsp_store32(int8_t *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }

/* An int16 pair times 2^n (the compiler checked that it fits). */
HYB_DSP_INLINE int32_t hyb_dsp_pair_pow2(int32_t v, int n) {
    const uint32_t lo = (uint32_t)(int32_t)(int16_t)v << n, hi = (uint32_t)(v >> 16) << n;
    return (int32_t)((lo & 0xffffu) | hi << 16);
}

/* With one right shift `ush` for all channels (uniform_shift in layout.rs),
 * a channel of right shift r scales its weights and bias by 2^j more, j =
 * ush - r >= 1, and requantizes as smmla(acc2 * 2^j, mult, round') >> ush
 * with this round'. */
HYB_DSP_INLINE int32_t hyb_dsp_round_ush(int32_t round, int j) {
    return (int32_t)((uint32_t)round << j) + (1 << (j - 1));
}

#endif
