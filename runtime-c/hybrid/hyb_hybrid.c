/* hyb_infer: edge + router on the device, the cloud only for flagged inputs. */
#include <string.h>
#include "hyb_hybrid.h"
#include "hyb_frame.h"
#include "model.h"

__attribute__((weak)) int hyb_offload(const uint8_t *payload, uint32_t len, int32_t *label) {
    (void)payload; (void)len; (void)label;
    return HYB_OFFLOAD_NO_LINK;
}

static float value_at(const void *t, int32_t is_float, float scale, int32_t zp, int32_t i) {
    if (is_float) return ((const float *)t)[i];
    return (float)(((const int8_t *)t)[i] - zp) * scale;
}

int hyb_infer(const void *input, hyb_result *r) {
    static uint32_t seq;
    const hyb_hybrid_config *c = &hyb_hybrid;
    memcpy(hyb_model_input(0), input, hyb_model_input_bytes[0]);
    hyb_model_invoke();
    const void *edge = hyb_model_output(c->edge_output);
    int32_t best = 0;
    for (int32_t k = 1; k < c->num_classes; k++) {
        /* Compare in the stored type: int8 order is the real order (scale > 0). */
        const int better = c->edge_is_float ? ((const float *)edge)[k] > ((const float *)edge)[best]
                                            : ((const int8_t *)edge)[k] > ((const int8_t *)edge)[best];
        if (better) best = k;
    }
    r->label = best;
    r->score = value_at(hyb_model_output(c->router_output), c->router_is_float, c->router_scale, c->router_zero_point, 0);
    r->source = HYB_SOURCE_EDGE;
    if (r->score > c->threshold) {
        const uint32_t n = hyb_frame_query(hyb_query_frame, hyb_query_frame_size, c->model_id, ++seq, c->query_scale,
                                           c->query_zero_point, c->query_rank, c->query_dims,
                                           (const int8_t *)hyb_model_output(c->query_output), c->query_bytes);
        int32_t label = 0;
        if (n > 0 && hyb_offload(hyb_query_frame, n, &label) == HYB_OFFLOAD_OK) {
            r->label = label;
            r->source = HYB_SOURCE_CLOUD;
        } else {
            r->source = HYB_SOURCE_EDGE_FALLBACK;
        }
    }
    return 0;
}
