/* Transpose int8 up to 4-D: output element (i0..i3) reads the input at
 * sum(ik * in_strides[k]) (e.g. NHWC feature map -> NCHW before a Flatten). */
#include "hyb_kernels.h"

void hyb_transpose_s8(const hyb_transpose_params *p, const int8_t *in, int8_t *out) {
    HYB_FOR4(p->out_shape, p->in_strides, { out[o] = in[at]; })
}
