/* AveragePool2D int8: padding excluded, rounding half away from zero. */
#include "hyb_kernels.h"
#include "hyb_fixedpoint.h"

static int32_t rounded_div(int32_t acc, int32_t count) {
    if (count == 0) return 0;
    return acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
}

void hyb_avg_pool_s8(const hyb_pool_params *p, const int8_t *in, int8_t *out) {
    for (int oy = 0; oy < p->out_h; oy++) {
        for (int ox = 0; ox < p->out_w; ox++) {
            int ys, ye, xs, xe;
            hyb_pool_window(p, oy, ox, &ys, &ye, &xs, &xe);
            const int32_t count = (ye > ys && xe > xs) ? (ye - ys) * (xe - xs) : 0;
            for (int c = 0; c < p->channels; c++) {
                int32_t acc = 0;
                for (int y = ys; y < ye; y++)
                    for (int x = xs; x < xe; x++) acc += in[(y * p->in_w + x) * p->channels + c];
                int32_t avg;
                if (p->requant) {
                    const int32_t scaled = hyb_mul_by_qm(acc + count * p->input_offset, p->multiplier, p->shift);
                    /* requant 2: 1 / count is in the multiplier (TFLM's Mean). */
                    avg = (p->requant == 2 ? scaled : rounded_div(scaled, count)) + p->output_offset;
                } else {
                    avg = rounded_div(acc, count);
                }
                out[(oy * p->out_w + ox) * p->channels + c] = hyb_clamp_s8(avg, p->act_min, p->act_max);
            }
        }
    }
}
