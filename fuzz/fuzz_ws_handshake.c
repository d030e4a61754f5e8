/* libFuzzer target: the WebSocket handshake helpers on arbitrary bytes. The
 * first byte picks: the client's check of a response head; the server's
 * check of "Name: value" lines; the permessage-deflate negotiation (server
 * accept or client parse); key validation. Codes only, never a crash. */
#include <stdint.h>
#include <string.h>

#include "tornuv/common.h"
#include "tornuv/httputil.h"
#include "websocket_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void server_check(const char *in, size_t len)
{
    tn_headers_t *h;
    if (tn_headers_new(&h) != 0)
        return;
    const char *p = in, *end = in + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (colon && colon > p)
            tn_headers_add(h, p, (size_t)(colon - p), colon + 1, (size_t)(e - colon - 1));
        p = nl ? nl + 1 : end;
    }
    int st = tn__ws_check_request("GET", 3, 11, h);
    if (st != 0 && st != 400 && st != 426)
        __builtin_trap();
    tn_headers_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
    static const char *const protos[] = {"chat", "v2.proto", NULL};
    tn__ws_zopts_t zo = {.max_window_bits = 9 + data[0] % 7, .no_context_takeover = data[0] & 8};
    switch (data[0] % 5) {
    case 0: {
        tn__ws_client_result_t res;
        if (tn__ws_client_check(in, len, key, protos, (data[0] & 16) ? &zo : NULL, &res) == 0 &&
            res.status != 101)
            __builtin_trap();
        break;
    }
    case 1:
        server_check(in, len);
        break;
    case 2: {
        tn__ws_pmd_t a;
        char resp[160];
        if (tn__ws_pmd_accept(in, len, &zo, &a, resp, sizeof resp) == 1) {
            tn__ws_pmd_t back;
            if (tn__ws_pmd_parse_response(resp, strlen(resp), &zo, &back) != 0)
                __builtin_trap(); /* our own answer must satisfy a client */
        }
        break;
    }
    case 3: {
        tn__ws_pmd_t a;
        tn__ws_pmd_parse_response(in, len, &zo, &a);
        break;
    }
    default:
        if (tn__ws_key_valid(in, len)) {
            char acc[TN__WS_ACCEPT_LEN + 1];
            if (tn__ws_accept_value(in, len, acc) != 0 || strlen(acc) != TN__WS_ACCEPT_LEN)
                __builtin_trap();
        }
        break;
    }
    return 0;
}
