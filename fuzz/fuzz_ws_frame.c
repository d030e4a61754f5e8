/* libFuzzer target: the WebSocket frame machine on arbitrary bytes. The
 * first byte picks the role, compression and a small message limit, the
 * second the feed size; the rest is the peer's bytes. Events echo messages
 * and pings back, so the sender runs too. Any input must end in events or
 * a clean failure, never a crash, an overrun or a leak; after a failure or
 * the peer's Close nothing more may be sent. */
#include <stdint.h>
#include <string.h>

#include "tornuv/common.h"
#include "websocket_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    tn__ws_t *w;
    size_t sent;
    int closed; /* our Close went out */
    int binary_echo;
} fz_t;

static int f_send(void *arg, const uint8_t *hdr, size_t hlen, const uint8_t *p, size_t n)
{
    fz_t *f = arg;
    if (f->closed)
        __builtin_trap(); /* a frame after our Close */
    if ((hdr[0] & 0x0f) == TN__WS_OP_CLOSE)
        f->closed = 1;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < n; i++)
        sink ^= p[i];
    (void)sink;
    f->sent += hlen + n;
    return 0;
}

static void f_message(void *arg, int op, const char *d, size_t n)
{
    fz_t *f = arg;
    if (op == TN__WS_OP_TEXT && !tn__utf8_valid(d, n))
        __builtin_trap();
    (void)tn__ws_send_message(f->w, op == TN__WS_OP_BINARY, d, n);
}

static void f_close(void *arg, int code, const char *reason, size_t n)
{
    if (code != 1005 && !tn__ws_close_code_valid(code))
        __builtin_trap();
    if (!tn__utf8_valid(reason, n))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    fz_t f = {0};
    tn__ws_pmd_t pmd = {.enabled = 1,
                        .server_no_context_takeover = data[0] & 4,
                        .client_no_context_takeover = data[0] & 8,
                        .server_max_window_bits = 9 + (data[0] >> 5),
                        .client_max_window_bits = 9 + (data[0] >> 5)};
    tn__ws_zopts_t zo = {.level = 1, .mem_level = 2};
    tn__ws_config_t cfg = {.server = data[0] & 1,
                           .max_message = (data[0] & 16) ? 300 : 70000,
                           .pmd = (data[0] & 2) ? &pmd : NULL,
                           .zopts = &zo};
    tn__ws_events_t ev = {f_send, f_message, NULL, NULL, f_close};
    if (tn__ws_new(&cfg, &ev, &f, &f.w) != 0)
        return 0;
    size_t chunk = data[1] ? data[1] : size;
    const char *p = (const char *)data + 2;
    size_t n = size - 2;
    int last = 0;
    for (size_t i = 0; i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        int rc = tn__ws_feed(f.w, p + i, k);
        if (last != 0 && rc != last)
            __builtin_trap(); /* a final state never changes */
        last = rc;
    }
    tn__ws_free(f.w);
    return 0;
}
