/* MaxPool2D int8: padding ignored (TFLite reference_integer_ops::MaxPool). */
#include "hyb_kernels.h"

void hyb_max_pool_s8(const hyb_pool_params *p, const int8_t *in, int8_t *out) {
    for (int oy = 0; oy < p->out_h; oy++) {
        for (int ox = 0; ox < p->out_w; ox++) {
            int ys, ye, xs, xe;
            hyb_pool_window(p, oy, ox, &ys, &ye, &xs, &xe);
            for (int c = 0; c < p->channels; c++) {
                int32_t m = -128;
                for (int y = ys; y < ye; y++)
                    for (int x = xs; x < xe; x++) {
                        const int32_t v = in[(y * p->in_w + x) * p->channels + c];
                        if (v > m) m = v;
                    }
                out[(oy * p->out_w + ox) * p->channels + c] = hyb_clamp_s8(m, p->act_min, p->act_max);
            }
        }
    }
}
