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
} hyb_pool_params;

typedef struct {
    int32_t rows, depth, input_multiplier, input_left_shift, diff_min;
} hyb_softmax_params;

void hyb_conv_s8(const hyb_conv_params *p, const int8_t *in, int8_t *out);
void hyb_depthwise_conv_s8(const hyb_conv_params *p, const int8_t *in, int8_t *out);
void hyb_fully_connected_s8(const hyb_fc_params *p, const int8_t *in, int8_t *out);
void hyb_add_s8(const hyb_add_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void hyb_avg_pool_s8(const hyb_pool_params *p, const int8_t *in, int8_t *out);
void hyb_softmax_s8(const hyb_softmax_params *p, const int8_t *in, int8_t *out);

static inline int8_t hyb_clamp_s8(int32_t v, int32_t lo, int32_t hi) {
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

#endif
