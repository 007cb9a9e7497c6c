/* The hybrid on the device: the edge model and the router run, and the cloud
 * is queried only when the router's score exceeds the threshold. */
#ifndef HYB_HYBRID_H
#define HYB_HYBRID_H

#include <stdint.h>

typedef enum {
    HYB_SOURCE_EDGE = 0,          /* the edge model's answer */
    HYB_SOURCE_CLOUD = 1,         /* the cloud model's answer */
    HYB_SOURCE_EDGE_FALLBACK = 2  /* the cloud was wanted but not reached: edge answer */
} hyb_source;

typedef struct {
    int32_t label;
    int32_t source; /* hyb_source */
    float score;    /* the router's score, in the float model's units */
} hyb_result;

#define HYB_OFFLOAD_OK 0
#define HYB_OFFLOAD_NO_LINK (-1)
#define HYB_OFFLOAD_ERROR (-2)

/* Generated per project (hybrid.c). */
typedef struct {
    float threshold;
    uint32_t model_id;
    int32_t num_classes;
    int32_t edge_output, router_output, query_output; /* indices for hyb_model_output() */
    int32_t edge_is_float, router_is_float;
    float edge_scale, router_scale, query_scale;
    int32_t edge_zero_point, router_zero_point, query_zero_point;
    int32_t query_rank;
    uint32_t query_dims[8];
    uint32_t query_bytes;
} hyb_hybrid_config;

extern const hyb_hybrid_config hyb_hybrid;
extern uint8_t hyb_query_frame[];
extern const uint32_t hyb_query_frame_size;

/* Runs edge and router on one input (the model's input type and size) and
 * fills the result; queries the cloud through hyb_offload when the score
 * exceeds the threshold. Returns 0. */
int hyb_infer(const void *input, hyb_result *result);

/* Carries one query frame (runtime-c/hybrid/FRAMES.md) to the cloud and
 * fills the cloud's label. Returns HYB_OFFLOAD_OK, or a negative code to use
 * the edge's answer. The weak default reports HYB_OFFLOAD_NO_LINK; a platform
 * or the application overrides it. */
int hyb_offload(const uint8_t *payload, uint32_t len, int32_t *label);

#endif
