/* hybridc in-place kernels: the output overwrites the input (same H, W, C;
 * stride 1). Each input pixel is copied into `ring` just before its slot is
 * overwritten; the ring keeps the pad_top * in_w + pad_left + 1 most recent
 * pixels, all a later output pixel can still read. Same arithmetic as
 * hyb_conv_s8 / hyb_depthwise_conv_s8, so the results are identical.
 *
 * Other convolution and pooling kernels also get outputs that overlap their
 * input, from below (compiler/src/plan/inplace.rs, "lag"); they stay correct
 * as long as they write output pixels in raster order, each after reading
 * its own window (as the portable kernels and CMSIS-NN's do). */
#ifndef HYB_INPLACE_H
#define HYB_INPLACE_H

#include "hyb_kernels.h"

void hyb_conv_s8_inplace(const hyb_conv_params *p, int8_t *buf, int8_t *ring);
void hyb_depthwise_conv_s8_inplace(const hyb_conv_params *p, int8_t *buf, int8_t *ring);

#endif
