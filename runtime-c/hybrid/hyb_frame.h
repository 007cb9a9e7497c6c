/* Offload frames, version 1 (see FRAMES.md in this folder). */
#ifndef HYB_FRAME_H
#define HYB_FRAME_H

#include <stdint.h>

#define HYB_FRAME_VERSION 1
#define HYB_FRAME_QUERY 1
#define HYB_FRAME_REPLY 2
#define HYB_FRAME_ERROR 3
#define HYB_FRAME_HEADER 8
#define HYB_FRAME_MAX_PAYLOAD (1u << 20)

uint32_t hyb_crc32(const uint8_t *data, uint32_t len);

/* Writes a query frame into buf (cap bytes); returns its length, 0 if it does not fit. */
uint32_t hyb_frame_query(uint8_t *buf, uint32_t cap, uint32_t model_id, uint32_t seq, float scale,
                         int32_t zero_point, int32_t rank, const uint32_t *dims, const int8_t *data,
                         uint32_t data_len);

/* Reads one whole frame through get_byte (returns a byte 0..255, or -1 on
 * timeout), skipping bytes until a magic; returns the frame length or -1. */
int32_t hyb_frame_read(int (*get_byte)(void *ctx), void *ctx, uint8_t *buf, uint32_t cap);

/* Checks a reply frame for `seq`: returns HYB_FRAME_REPLY with *label set,
 * HYB_FRAME_ERROR for an error frame, or -1 if the frame is malformed. */
int hyb_frame_parse_reply(const uint8_t *frame, uint32_t len, uint32_t seq, int32_t *label);

#endif
