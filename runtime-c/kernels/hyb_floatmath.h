/* exp and log in float32 from +, -, *, / only, in a fixed order, so every
 * target gives the bits of hybridc's Rust reference (compiler/src/quant/
 * floatmath.rs) whatever its libm. Needs -ffp-contract=off (the default
 * with -std=c11) so no multiply-add is fused. */
#ifndef HYB_FLOATMATH_H
#define HYB_FLOATMATH_H

#include <stdint.h>
#include <string.h>

static inline float hyb_bits_f32(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static inline uint32_t hyb_f32_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

static inline float hyb_expf(float x) {
    if (x != x) return x;
    if (x > 88.7f) return hyb_bits_f32(0x7f800000u);
    if (x < -87.3f) return 0.0f;
    const float t = x * 1.442695f + 0.5f;
    int32_t n = (int32_t)t;
    if (t < 0.0f && t != (float)n) n -= 1; /* floor */
    const float nf = (float)n;
    const float r = (x - nf * 0.69314575f) - nf * 1.4286068e-6f;
    const float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6.0f + r * (1.0f / 24.0f + r * (1.0f / 120.0f + r * (1.0f / 720.0f + r * (1.0f / 5040.0f)))))));
    return p * hyb_bits_f32((uint32_t)(n + 127) << 23);
}

static inline float hyb_logf(float x) {
    if (x != x || x < 0.0f) return hyb_bits_f32(0x7fc00000u);
    if (x == 0.0f) return hyb_bits_f32(0xff800000u);
    if (hyb_f32_bits(x) == 0x7f800000u) return x;
    int32_t bias = 0;
    if (x < 1.17549435e-38f) { x = x * 16777216.0f; bias = -24; }
    const uint32_t bits = hyb_f32_bits(x);
    int32_t e = (int32_t)((bits >> 23) & 0xff) - 127 + bias;
    float m = hyb_bits_f32((bits & 0x007fffffu) | 0x3f800000u);
    if (m > 1.41421354f) { m = m * 0.5f; e += 1; }
    const float s = (m - 1.0f) / (m + 1.0f);
    const float z = s * s;
    const float series = 1.0f + z * (1.0f / 3.0f + z * (1.0f / 5.0f + z * (1.0f / 7.0f + z * (1.0f / 9.0f + z * (1.0f / 11.0f)))));
    const float ef = (float)e;
    return ef * 0.69314575f + (ef * 1.4286068e-6f + 2.0f * s * series);
}

#endif
