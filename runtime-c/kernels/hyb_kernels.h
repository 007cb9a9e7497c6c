/* hybridc portable int8 kernels: TFLite reference semantics, NHWC layout.
 * One file per op; each is the reference that optimised variants must equal. */
#ifndef HYB_KERNELS_H
#define HYB_KERNELS_H

#include <stdint.h>

typedef struct {
    int32_t in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int32_t depth_multiplier;
    int32_t input_offset, output_offset, act_min, act_max;
    const int32_t *multiplier, *shift;
    const int8_t *weights; /* conv: [out_c][k_h][k_w][in_c]; depthwise: [k_h][k_w][out_c] */
    const int32_t *bias;
} hyb_conv_params;

typedef struct {
    int32_t in_len, out_len;
    int32_t input_offset, output_offset, multiplier, shift, act_min, act_max;
    const int8_t *weights; /* [out_len][in_len] */
    const int32_t *bias;
} hyb_fc_params;

typedef struct {
    int32_t len, input1_offset, input2_offset, output_offset, left_shift;
    int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift, act_min, act_max;
} hyb_add_params;

typedef struct {
    int32_t in_h, in_w, channels, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_top, pad_left, act_min, act_max;
    /* Average pooling into another scale (TFLite Mean): sum(x - zp_in) is
     * multiplied by in/out scale, then divided by the count; requant 2: the
     * count is folded into the multiplier (TFLite Micro's Mean). */
    int32_t requant, input_offset, output_offset, multiplier, shift;
} hyb_pool_params;

typedef struct {
    int32_t rows, depth, input_multiplier, input_left_shift, diff_min;
} hyb_softmax_params;

typedef struct {
    int32_t mul; /* 0: add, 1: mul */
    int32_t out_shape[4], a_strides[4], b_strides[4];
    hyb_add_params add; /* mul uses the offsets, output multiplier/shift and range */
} hyb_binary_params;

typedef struct {
    int32_t len, zero_point;
    float scale;
    /* Quantize only: int8 element (i0..i3) of out_shape reads the float at
     * sum(ik * in_strides[k]) (e.g. an NCHW float input into NHWC int8). */
    int32_t out_shape[4], in_strides[4];
} hyb_quant_params;

typedef struct {
    int32_t inner, input_offset, requant, multiplier, shift;
} hyb_concat_input;

typedef struct {
    int32_t outer, output_offset, num_inputs;
    const hyb_concat_input *inputs;
} hyb_concat_params;

typedef struct {
    int32_t in_shape[4], out_shape[4], before[4];
    int8_t value;
} hyb_pad_params;

typedef struct {
    int32_t out_shape[4], in_strides[4];
} hyb_transpose_params;

/* Resize: per output row (ys) and column (xs) three words: lower and upper
 * input coordinate, distance from the lower one in 1/1024. */
typedef struct {
    int32_t in_w, channels, out_h, out_w, bilinear;
    const int32_t *ys, *xs;
} hyb_resize_params;

/* float32 ops (hyb_float_op): kind, function and shapes as in the Rust
 * reference's FloatParams. */
enum { HYB_FK_UNARY, HYB_FK_BINARY, HYB_FK_REDUCE, HYB_FK_SOFTMAX, HYB_FK_TOPK, HYB_FK_CONCAT, HYB_FK_STRIDED, HYB_FK_MATMUL };
enum { HYB_F_EXP, HYB_F_LOG, HYB_F_SQRT, HYB_F_NEG, HYB_F_ABS, HYB_F_SIGMOID, HYB_F_TANH, HYB_F_RELU, HYB_F_RECIPROCAL };
enum { HYB_F_ADD, HYB_F_SUB, HYB_F_MUL, HYB_F_DIV, HYB_F_MAX, HYB_F_MIN };
enum { HYB_F_RSUM, HYB_F_RMEAN, HYB_F_RMAX, HYB_F_RMIN };

typedef struct {
    int32_t kind, fn;
    int32_t out_shape[4], a_strides[4], b_strides[4], red_shape[4], red_strides[4];
    int32_t offset, strides[4];
    int32_t rows, depth, k, largest;
    int32_t outer, num_inputs;
    const int32_t *inners;
} hyb_float_params;

/* Runs `body` for every index (i0..i3) of the 4-D shape `d`, row-major,
 * with `o` counting the elements from 0 and `at` = sum(ik * s[k]): the walk
 * of the strided kernels (transpose, quantize with a layout change). */
#define HYB_FOR4(d, s, body)                                                                 \
    for (int i0 = 0, o = 0; i0 < (d)[0]; i0++)                                               \
        for (int i1 = 0; i1 < (d)[1]; i1++)                                                  \
            for (int i2 = 0; i2 < (d)[2]; i2++)                                              \
                for (int i3 = 0; i3 < (d)[3]; i3++, o++) {                                   \
                    const int at = i0 * (s)[0] + i1 * (s)[1] + i2 * (s)[2] + i3 * (s)[3];    \
                    body                                                                     \
                }

void hyb_conv_s8(const hyb_conv_params *p, const int8_t *in, int8_t *out);
void hyb_depthwise_conv_s8(const hyb_conv_params *p, const int8_t *in, int8_t *out);
void hyb_conv_transpose_s8(const hyb_conv_params *p, const int8_t *in, int8_t *out);
void hyb_fully_connected_s8(const hyb_fc_params *p, const int8_t *in, int8_t *out);
void hyb_add_s8(const hyb_add_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void hyb_avg_pool_s8(const hyb_pool_params *p, const int8_t *in, int8_t *out);
void hyb_softmax_s8(const hyb_softmax_params *p, const int8_t *in, int8_t *out);
void hyb_max_pool_s8(const hyb_pool_params *p, const int8_t *in, int8_t *out);
void hyb_binary_s8(const hyb_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void hyb_quantize_f32_s8(const hyb_quant_params *p, const float *in, int8_t *out);
void hyb_dequantize_s8_f32(const hyb_quant_params *p, const int8_t *in, float *out);
void hyb_concat_s8(const hyb_concat_params *p, const int8_t *const *in, int8_t *out);
void hyb_pad_s8(const hyb_pad_params *p, const int8_t *in, int8_t *out);
void hyb_transpose_s8(const hyb_transpose_params *p, const int8_t *in, int8_t *out);
void hyb_resize_s8(const hyb_resize_params *p, const int8_t *in, int8_t *out);
void hyb_float_op(const hyb_float_params *p, const float *const *in, float *out);
void hyb_lut_s8(int32_t len, const int8_t *table, const int8_t *in, int8_t *out);

/* The input rows [*ys, *ye) and columns [*xs, *xe) of pooling output pixel
 * (oy, ox), clipped to the image: padding is neither read nor counted. */
static inline void hyb_pool_window(const hyb_pool_params *p, int oy, int ox, int *ys, int *ye, int *xs, int *xe) {
    const int y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
    *ys = y0 < 0 ? 0 : y0;
    *ye = y0 + p->k_h < p->in_h ? y0 + p->k_h : p->in_h;
    *xs = x0 < 0 ? 0 : x0;
    *xe = x0 + p->k_w < p->in_w ? x0 + p->k_w : p->in_w;
}

static inline int8_t hyb_clamp_s8(int32_t v, int32_t lo, int32_t hi) {
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

#endif
