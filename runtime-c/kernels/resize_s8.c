/* RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR int8 NHWC, same quantization
 * in and out (TFLite reference_ops ResizeNearestNeighbor and
 * ResizeBilinearInteger). Per output row (ys) and column (xs): lower and
 * upper input coordinate and the distance from the lower one in 1/1024,
 * computed at compile time. */
#include <stddef.h>
#include "hyb_kernels.h"

void hyb_resize_s8(const hyb_resize_params *p, const int8_t *in, int8_t *out) {
    const int iw = p->in_w, c = p->channels;
    for (int oy = 0; oy < p->out_h; oy++) {
        const int32_t *ys = p->ys + 3 * oy;
        for (int ox = 0; ox < p->out_w; ox++) {
            const int32_t *xs = p->xs + 3 * ox;
            int8_t *o = out + ((size_t)oy * p->out_w + ox) * c;
            const int8_t *r00 = in + ((size_t)ys[0] * iw + xs[0]) * c;
            if (!p->bilinear) {
                for (int ch = 0; ch < c; ch++) o[ch] = r00[ch];
                continue;
            }
            const int8_t *r10 = in + ((size_t)ys[1] * iw + xs[0]) * c;
            const int8_t *r01 = in + ((size_t)ys[0] * iw + xs[1]) * c;
            const int8_t *r11 = in + ((size_t)ys[1] * iw + xs[1]) * c;
            const int64_t one = 1 << 10, fy = ys[2], fx = xs[2];
            for (int ch = 0; ch < c; ch++) {
                const int64_t sum = r00[ch] * (one - fy) * (one - fx) + r10[ch] * fy * (one - fx)
                                  + r01[ch] * (one - fy) * fx + r11[ch] * fy * fx;
                const int64_t round = sum > 0 ? (1 << 19) : -(1 << 19);
                int64_t v = (sum + round) / (1 << 20);
                o[ch] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
            }
        }
    }
}
