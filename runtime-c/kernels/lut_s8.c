/* Element-wise int8 -> int8 function as a 256-entry table (index q + 128). */
#include "hyb_kernels.h"

void hyb_lut_s8(int32_t len, const int8_t *table, const int8_t *in, int8_t *out) {
    for (int i = 0; i < len; i++) out[i] = table[in[i] + 128];
}
