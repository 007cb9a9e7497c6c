/* hyb_offload over the UART of QEMU's MPS2 boards (CMSDK APB UART0 at
 * 0x40004000 on mps2-an386 and mps2-an500), which `hybridc run --cloud`
 * connects to the gateway with `-serial tcp:...`. Compiled in with
 * -DHYB_OFFLOAD_UART. A reply that does not come within the polling budget
 * makes the device use its own answer. */
#ifdef HYB_OFFLOAD_UART
#include "hyb_frame.h"
#include "hyb_hybrid.h"

#define UART_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART_BASE + 0x00))
#define UART_STATE (*(volatile uint32_t *)(UART_BASE + 0x04))
#define UART_CTRL (*(volatile uint32_t *)(UART_BASE + 0x08))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART_BASE + 0x10))
#define STATE_TX_FULL 1u
#define STATE_RX_FULL 2u
#define POLL_BUDGET 50000000u

static uint8_t reply[4096];

static int get_byte(void *ctx) {
    (void)ctx;
    for (uint32_t i = 0; i < POLL_BUDGET; i++)
        if (UART_STATE & STATE_RX_FULL) return (int)(UART_DATA & 0xFFu);
    return -1;
}

int hyb_offload(const uint8_t *payload, uint32_t len, int32_t *label) {
    static int ready;
    if (!ready) {
        UART_BAUDDIV = 16;
        UART_CTRL = 3; /* TX and RX enabled */
        ready = 1;
    }
    for (uint32_t i = 0; i < len; i++) {
        while (UART_STATE & STATE_TX_FULL) {}
        UART_DATA = payload[i];
    }
    const uint32_t seq = (uint32_t)payload[12] | ((uint32_t)payload[13] << 8) | ((uint32_t)payload[14] << 16) | ((uint32_t)payload[15] << 24);
    const int32_t n = hyb_frame_read(get_byte, 0, reply, sizeof reply);
    if (n < 0) return HYB_OFFLOAD_NO_LINK;
    return hyb_frame_parse_reply(reply, (uint32_t)n, seq, label) == HYB_FRAME_REPLY ? HYB_OFFLOAD_OK : HYB_OFFLOAD_ERROR;
}
#endif
