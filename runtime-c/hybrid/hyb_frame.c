/* Offload frames, version 1: encoding, CRC-32 and reading (FRAMES.md). */
#include <string.h>
#include "hyb_frame.h"

uint32_t hyb_crc32(const uint8_t *data, uint32_t len) {
    uint32_t crc = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

uint32_t hyb_frame_query(uint8_t *buf, uint32_t cap, uint32_t model_id, uint32_t seq, float scale,
                         int32_t zero_point, int32_t rank, const uint32_t *dims, const int8_t *data,
                         uint32_t data_len) {
    const uint32_t payload = 20u + 4u * (uint32_t)rank + data_len;
    const uint32_t total = HYB_FRAME_HEADER + payload + 4u;
    if (total > cap || rank < 1 || rank > 8) return 0;
    uint32_t scale_bits;
    memcpy(&scale_bits, &scale, 4);
    buf[0] = 0x48; buf[1] = 0x59; buf[2] = HYB_FRAME_VERSION; buf[3] = HYB_FRAME_QUERY;
    put32(buf + 4, payload);
    uint8_t *p = buf + HYB_FRAME_HEADER;
    put32(p, model_id);
    put32(p + 4, seq);
    p[8] = 1; /* int8 */
    p[9] = (uint8_t)rank;
    p[10] = 0; p[11] = 0;
    put32(p + 12, scale_bits);
    put32(p + 16, (uint32_t)zero_point);
    for (int32_t d = 0; d < rank; d++) put32(p + 20 + 4 * d, dims[d]);
    memcpy(p + 20 + 4 * rank, data, data_len);
    put32(buf + HYB_FRAME_HEADER + payload, hyb_crc32(buf, HYB_FRAME_HEADER + payload));
    return total;
}

int32_t hyb_frame_read(int (*get_byte)(void *ctx), void *ctx, uint8_t *buf, uint32_t cap) {
    int c, prev = -1;
    for (;;) { /* resync on the magic */
        if ((c = get_byte(ctx)) < 0) return -1;
        if (prev == 0x48 && c == 0x59) break;
        prev = c;
    }
    buf[0] = 0x48; buf[1] = 0x59;
    for (uint32_t i = 2; i < HYB_FRAME_HEADER; i++) {
        if ((c = get_byte(ctx)) < 0) return -1;
        buf[i] = (uint8_t)c;
    }
    const uint32_t payload = get32(buf + 4);
    if (payload > HYB_FRAME_MAX_PAYLOAD || HYB_FRAME_HEADER + payload + 4 > cap) return -1;
    for (uint32_t i = 0; i < payload + 4; i++) {
        if ((c = get_byte(ctx)) < 0) return -1;
        buf[HYB_FRAME_HEADER + i] = (uint8_t)c;
    }
    return (int32_t)(HYB_FRAME_HEADER + payload + 4);
}

int hyb_frame_parse_reply(const uint8_t *f, uint32_t len, uint32_t seq, int32_t *label) {
    if (len < HYB_FRAME_HEADER + 4 || f[0] != 0x48 || f[1] != 0x59 || f[2] != HYB_FRAME_VERSION) return -1;
    const uint32_t payload = get32(f + 4);
    if (HYB_FRAME_HEADER + payload + 4 != len) return -1;
    if (get32(f + HYB_FRAME_HEADER + payload) != hyb_crc32(f, HYB_FRAME_HEADER + payload)) return -1;
    const uint8_t *p = f + HYB_FRAME_HEADER;
    if (f[3] == HYB_FRAME_ERROR && payload >= 12) return HYB_FRAME_ERROR;
    if (f[3] != HYB_FRAME_REPLY || payload < 20 || get32(p + 4) != seq) return -1;
    *label = (int32_t)get32(p + 8);
    return HYB_FRAME_REPLY;
}
