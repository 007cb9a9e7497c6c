/* hyb_offload over TCP for the host build: connects once to the gateway
 * named by the environment variable HYB_GATEWAY (host:port) and exchanges
 * frames; any failure makes the device use its own answer. Compiled in with
 * -DHYB_OFFLOAD_TCP. */
#ifdef HYB_OFFLOAD_TCP
#define _POSIX_C_SOURCE 200809L
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "hyb_frame.h"
#include "hyb_hybrid.h"

static int sock = -1;
static uint8_t reply[4096];

static int connect_gateway(void) {
    const char *spec = getenv("HYB_GATEWAY");
    if (!spec) return -1;
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof host) return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0) return -1;
    int s = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (s >= 0 && connect(s, res->ai_addr, res->ai_addrlen) != 0) { close(s); s = -1; }
    freeaddrinfo(res);
    if (s >= 0) {
        struct timeval tv = {10, 0}; /* the gateway answers within its cloud timeout */
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    return s;
}

static int get_byte(void *ctx) {
    unsigned char b;
    return recv(*(int *)ctx, &b, 1, 0) == 1 ? b : -1;
}

int hyb_offload(const uint8_t *payload, uint32_t len, int32_t *label) {
    if (sock < 0 && (sock = connect_gateway()) < 0) return HYB_OFFLOAD_NO_LINK;
    uint32_t sent = 0;
    while (sent < len) {
        ssize_t n = send(sock, payload + sent, len - sent, 0);
        if (n <= 0) { close(sock); sock = -1; return HYB_OFFLOAD_NO_LINK; }
        sent += (uint32_t)n;
    }
    const uint32_t seq = (uint32_t)payload[12] | ((uint32_t)payload[13] << 8) | ((uint32_t)payload[14] << 16) | ((uint32_t)payload[15] << 24);
    const int32_t n = hyb_frame_read(get_byte, &sock, reply, sizeof reply);
    if (n < 0) { close(sock); sock = -1; return HYB_OFFLOAD_NO_LINK; }
    return hyb_frame_parse_reply(reply, (uint32_t)n, seq, label) == HYB_FRAME_REPLY ? HYB_OFFLOAD_OK : HYB_OFFLOAD_ERROR;
}
#endif
