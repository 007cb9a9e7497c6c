/* Transpose int8 up to 4-D: output element (i0..i3) reads the input at
 * sum(ik * in_strides[k]) (e.g. NHWC feature map -> NCHW before a Flatten). */
#include "hyb_kernels.h"

void hyb_transpose_s8(const hyb_transpose_params *p, const int8_t *in, int8_t *out) {
    const int32_t *d = p->out_shape, *s = p->in_strides;
    int o = 0;
    for (int i0 = 0; i0 < d[0]; i0++)
        for (int i1 = 0; i1 < d[1]; i1++)
            for (int i2 = 0; i2 < d[2]; i2++)
                for (int i3 = 0; i3 < d[3]; i3++) out[o++] = in[i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3]];
}
