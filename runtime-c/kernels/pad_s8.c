/* Constant Pad int8 (the value is the quantized zero), up to 4 dims. */
#include <string.h>
#include "hyb_kernels.h"

void hyb_pad_s8(const hyb_pad_params *p, const int8_t *in, int8_t *out) {
    const int32_t *s = p->in_shape, *os = p->out_shape, *b = p->before;
    memset(out, p->value, (size_t)os[0] * os[1] * os[2] * os[3]);
    for (int i0 = 0; i0 < s[0]; i0++)
        for (int i1 = 0; i1 < s[1]; i1++)
            for (int i2 = 0; i2 < s[2]; i2++) {
                const int src = ((i0 * s[1] + i1) * s[2] + i2) * s[3];
                const int dst = (((i0 + b[0]) * os[1] + i1 + b[1]) * os[2] + i2 + b[2]) * os[3] + b[3];
                memcpy(out + dst, in + src, (size_t)s[3]);
            }
}
