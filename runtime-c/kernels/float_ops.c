/* float32 ops for what has no int8 kernel (e.g. a router's TopK, Log,
 * ReduceSum). Same loops, same order and the same exp/log as hybridc's Rust
 * reference (compiler/src/reference/float.rs), hence the same bits. */
#include "hyb_kernels.h"
#include "hyb_floatmath.h"

static float unary(int32_t fn, float x) {
    switch (fn) {
    case HYB_F_EXP: return hyb_expf(x);
    case HYB_F_LOG: return hyb_logf(x);
    case HYB_F_SQRT: return __builtin_sqrtf(x);
    case HYB_F_NEG: return -x;
    case HYB_F_ABS: return x < 0.0f ? -x : (x == 0.0f ? 0.0f : x);
    case HYB_F_SIGMOID: return 1.0f / (1.0f + hyb_expf(-x));
    case HYB_F_TANH: { const float e = hyb_expf(-2.0f * x); return (1.0f - e) / (1.0f + e); }
    case HYB_F_RELU: return x > 0.0f ? x : 0.0f;
    default: return 1.0f / x; /* HYB_F_RECIPROCAL */
    }
}

static float binary(int32_t fn, float a, float b) {
    switch (fn) {
    case HYB_F_ADD: return a + b;
    case HYB_F_SUB: return a - b;
    case HYB_F_MUL: return a * b;
    case HYB_F_DIV: return a / b;
    case HYB_F_MAX: return b > a ? b : a;
    default: return b < a ? b : a; /* HYB_F_MIN */
    }
}

#define FOR4(s, i0, i1, i2, i3)                 \
    for (int i0 = 0; i0 < (s)[0]; i0++)         \
        for (int i1 = 0; i1 < (s)[1]; i1++)     \
            for (int i2 = 0; i2 < (s)[2]; i2++) \
                for (int i3 = 0; i3 < (s)[3]; i3++)
#define DOT4(s, i0, i1, i2, i3) ((i0) * (s)[0] + (i1) * (s)[1] + (i2) * (s)[2] + (i3) * (s)[3])

static void reduce(const hyb_float_params *p, const float *a, float *out) {
    int o = 0, count = p->red_shape[0] * p->red_shape[1] * p->red_shape[2] * p->red_shape[3];
    FOR4(p->out_shape, i0, i1, i2, i3) {
        const float *base = a + DOT4(p->a_strides, i0, i1, i2, i3);
        float acc = p->fn == HYB_F_RMAX ? hyb_bits_f32(0xff800000u) : (p->fn == HYB_F_RMIN ? hyb_bits_f32(0x7f800000u) : 0.0f);
        FOR4(p->red_shape, j0, j1, j2, j3) {
            const float v = base[DOT4(p->red_strides, j0, j1, j2, j3)];
            if (p->fn == HYB_F_RMAX) acc = v > acc ? v : acc;
            else if (p->fn == HYB_F_RMIN) acc = v < acc ? v : acc;
            else acc = acc + v;
        }
        out[o++] = p->fn == HYB_F_RMEAN ? acc / (float)count : acc;
    }
}

static void softmax(const hyb_float_params *p, const float *a, float *out) {
    for (int r = 0; r < p->rows; r++) {
        const float *row = a + r * p->depth;
        float *orow = out + r * p->depth;
        float max = hyb_bits_f32(0xff800000u), sum = 0.0f;
        for (int c = 0; c < p->depth; c++) max = row[c] > max ? row[c] : max;
        for (int c = 0; c < p->depth; c++) { orow[c] = hyb_expf(row[c] - max); sum = sum + orow[c]; }
        for (int c = 0; c < p->depth; c++) orow[c] = orow[c] / sum;
    }
}

static void topk(const hyb_float_params *p, const float *a, float *out) {
    uint8_t taken[256];
    for (int r = 0; r < p->rows; r++) {
        const float *row = a + r * p->depth;
        for (int c = 0; c < p->depth && c < 256; c++) taken[c] = 0;
        for (int j = 0; j < p->k; j++) {
            int best = -1;
            for (int c = 0; c < p->depth && c < 256; c++) {
                if (taken[c]) continue;
                if (best < 0 || (p->largest ? row[c] > row[best] : row[c] < row[best])) best = c;
            }
            if (best < 0) best = 0;
            taken[best] = 1;
            out[r * p->k + j] = row[best];
        }
    }
}

void hyb_float_op(const hyb_float_params *p, const float *const *in, float *out) {
    int o = 0;
    switch (p->kind) {
    case HYB_FK_UNARY:
        FOR4(p->out_shape, i0, i1, i2, i3) out[o++] = unary(p->fn, in[0][DOT4(p->a_strides, i0, i1, i2, i3)]);
        break;
    case HYB_FK_BINARY:
        FOR4(p->out_shape, i0, i1, i2, i3)
            out[o++] = binary(p->fn, in[0][DOT4(p->a_strides, i0, i1, i2, i3)], in[1][DOT4(p->b_strides, i0, i1, i2, i3)]);
        break;
    case HYB_FK_REDUCE: reduce(p, in[0], out); break;
    case HYB_FK_SOFTMAX: softmax(p, in[0], out); break;
    case HYB_FK_TOPK: topk(p, in[0], out); break;
    case HYB_FK_CONCAT:
        for (int outer = 0; outer < p->outer; outer++)
            for (int k = 0; k < p->num_inputs; k++) {
                const float *src = in[k] + outer * p->inners[k];
                for (int i = 0; i < p->inners[k]; i++) out[o++] = src[i];
            }
        break;
    case HYB_FK_MATMUL: /* x [rows, depth], w [k, depth] (one row per output), bias [k] */
        for (int r = 0; r < p->rows; r++)
            for (int n = 0; n < p->k; n++) {
                const float *x = in[0] + r * p->depth, *w = in[1] + n * p->depth;
                float acc = 0.0f;
                for (int d = 0; d < p->depth; d++) acc += x[d] * w[d];
                out[o++] = acc + in[2][n];
            }
        break;
    default: /* HYB_FK_STRIDED */
        FOR4(p->out_shape, i0, i1, i2, i3) out[o++] = in[0][p->offset + DOT4(p->strides, i0, i1, i2, i3)];
        break;
    }
}
