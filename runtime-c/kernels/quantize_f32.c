/* Float boundaries: Quantize (TFLite: zp + round(x / scale), half away from
 * zero, saturated) and Dequantize ((q - zp) * scale, in float32), which may
 * change the layout on the way (out_shape and in_strides: an NCHW float input
 * becomes NHWC int8, an NHWC int8 result the NCHW float output, in the same
 * pass). */
#include <math.h>
#include "hyb_kernels.h"

void hyb_quantize_f32_s8(const hyb_quant_params *p, const float *in, int8_t *out) {
    HYB_FOR4(p->out_shape, p->in_strides, {
        float r = roundf(in[at] / p->scale);
        if (r != r) r = 0.0f; /* NaN */
        if (r > 512.0f) r = 512.0f;
        if (r < -512.0f) r = -512.0f;
        out[o] = hyb_clamp_s8((int32_t)r + p->zero_point, -128, 127);
    })
}

void hyb_dequantize_s8_f32(const hyb_quant_params *p, const int8_t *in, float *out) {
    HYB_FOR4(p->out_shape, p->in_strides, { out[o] = (float)(in[at] - p->zero_point) * p->scale; })
}
