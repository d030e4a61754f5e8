/* The opening handshake (RFC 6455 section 4): keys, the accept value, the
 * server's checks of an upgrade request and the client's of the answer.
 * No sockets: the client check takes the raw response head, so a fuzzer
 * can drive it. */
#include <string.h>

#include "crypto.h"
#include "tornuv/common.h"
#include "websocket_proto.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int tn__ws_key_valid(const char *key, size_t len)
{
    /* 16 bytes encode to 22 characters and "==". Re-encoding the decoded
     * bytes must give the key back, which also refuses nonzero padding
     * bits (a non-canonical spelling of the same bytes). */
    if (!key || len != TN__WS_KEY_LEN || key[22] != '=' || key[23] != '=')
        return 0;
    unsigned char raw[18];
    if (tn__base64_decode(raw, key, len) != 16)
        return 0;
    char again[TN__WS_KEY_LEN + 1];
    tn__base64_encode(again, raw, 16);
    return memcmp(again, key, TN__WS_KEY_LEN) == 0;
}

int tn__ws_accept_value(const char *key, size_t len, char out[TN__WS_ACCEPT_LEN + 1])
{
    char buf[128];
    if (len > sizeof buf - (sizeof ws_guid - 1))
        return TN_EINVAL;
    memcpy(buf, key, len);
    memcpy(buf + len, ws_guid, sizeof ws_guid - 1);
    unsigned char digest[20];
    int rc = tn__sha1(buf, len + sizeof ws_guid - 1, digest);
    if (rc < 0)
        return rc;
    tn__base64_encode(out, digest, sizeof digest);
    return 0;
}

int tn__ws_new_key(char out[TN__WS_KEY_LEN + 1])
{
    unsigned char raw[16];
    int rc = tn__random_bytes(raw, sizeof raw);
    if (rc < 0)
        return rc;
    tn__base64_encode(out, raw, sizeof raw);
    return 0;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int tn__ws_list_next(const char **p, const char *end, tn_strview_t *item)
{
    if (!*p || *p >= end)
        return 0;
    const char *c = memchr(*p, ',', (size_t)(end - *p));
    const char *b = *p, *e = c ? c : end;
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    item->base = b;
    item->len = (size_t)(e - b);
    *p = c ? c + 1 : end;
    return 1;
}

int tn__ws_has_token(const char *list, size_t len, const char *token)
{
    size_t tl = strlen(token);
    const char *p = list;
    tn_strview_t it;
    while (tn__ws_list_next(&p, list + len, &it)) {
        if (it.len != tl)
            continue;
        size_t i = 0;
        while (i < tl && lower(it.base[i]) == lower(token[i]))
            i++;
        if (i == tl)
            return 1;
    }
    return 0;
}

/* Nonzero when any header line called name lists token. */
static int header_has_token(const tn_headers_t *h, const char *name, const char *token)
{
    tn_strview_t v[16];
    size_t n = tn_headers_get_all(h, name, v, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        if (tn__ws_has_token(v[i].base, v[i].len, token))
            return 1;
    return 0;
}

int tn__ws_check_request(const char *method, size_t mlen, int version, const tn_headers_t *h)
{
    if (mlen != 3 || memcmp(method, "GET", 3) != 0)
        return 405;
    if (version < 11)
        return 400;
    if (!header_has_token(h, "Upgrade", "websocket") ||
        !header_has_token(h, "Connection", "upgrade") || !tn_headers_get(h, "Host", NULL))
        return 400;
    size_t vl = 0;
    const char *ver = tn_headers_get(h, "Sec-WebSocket-Version", &vl);
    if (!ver || vl != 2 || memcmp(ver, "13", 2) != 0 ||
        tn_headers_get_all(h, "Sec-WebSocket-Version", NULL, 0) != 1)
        return 426;
    size_t kl = 0;
    const char *key = tn_headers_get(h, "Sec-WebSocket-Key", &kl);
    if (!tn__ws_key_valid(key, kl) || tn_headers_get_all(h, "Sec-WebSocket-Key", NULL, 0) != 1)
        return 400;
    return 0;
}

/* ---- the client's view of the response ------------------------------------ */

/* Parses "HTTP/1.x NNN reason\r\n" and the header lines into h. Returns
 * the status or TN_EHTTP. */
static int parse_head(const char *s, size_t len, tn_headers_t *h)
{
    const char *end = s + len, *p = s;
    const char *eol = NULL;
    for (const char *q = p; q + 1 < end; q++)
        if (q[0] == '\r' && q[1] == '\n') {
            eol = q;
            break;
        }
    if (!eol || eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' ||
        p[8] != ' ')
        return TN_EHTTP;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return TN_EHTTP;
        status = status * 10 + p[i] - '0';
    }
    if (eol - p > 12 && p[12] != ' ')
        return TN_EHTTP;
    p = eol + 2;
    for (;;) {
        const char *q = p;
        while (q + 1 < end && !(q[0] == '\r' && q[1] == '\n'))
            q++;
        if (q + 1 >= end)
            return TN_EHTTP; /* no blank line */
        if (q == p)
            return p + 2 == end ? status : TN_EHTTP;
        const char *colon = memchr(p, ':', (size_t)(q - p));
        if (!colon || colon == p || !tn_http_is_token(p, (size_t)(colon - p)))
            return TN_EHTTP; /* includes obs-fold lines starting with a space */
        const char *vb = colon + 1, *ve = q;
        for (const char *c = vb; c < ve; c++)
            if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
                return TN_EHTTP;
        while (vb < ve && (*vb == ' ' || *vb == '\t'))
            vb++;
        while (ve > vb && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (tn_headers_add(h, p, (size_t)(colon - p), vb, (size_t)(ve - vb)) < 0)
            return TN_EHTTP;
        p = q + 2;
    }
}

static int check_parsed(const tn_headers_t *h, const char *key, const char *const *subprotocols,
                        const tn__ws_zopts_t *zo, tn__ws_client_result_t *res)
{
    if (res->status != 101)
        return TN_EHTTP;
    if (!header_has_token(h, "Upgrade", "websocket") ||
        !header_has_token(h, "Connection", "upgrade"))
        return TN_EHTTP;
    char want[TN__WS_ACCEPT_LEN + 1];
    size_t al = 0;
    const char *acc = tn_headers_get(h, "Sec-WebSocket-Accept", &al);
    if (!acc || tn__ws_accept_value(key, strlen(key), want) < 0 || al != TN__WS_ACCEPT_LEN ||
        memcmp(acc, want, al) != 0 || tn_headers_get_all(h, "Sec-WebSocket-Accept", NULL, 0) != 1)
        return TN_EHTTP;
    size_t pl = 0;
    const char *proto = tn_headers_get(h, "Sec-WebSocket-Protocol", &pl);
    if (proto) {
        int offered = 0;
        for (size_t i = 0; subprotocols && subprotocols[i]; i++)
            if (strlen(subprotocols[i]) == pl && memcmp(subprotocols[i], proto, pl) == 0)
                offered = 1;
        if (!offered || pl >= sizeof res->subprotocol ||
            tn_headers_get_all(h, "Sec-WebSocket-Protocol", NULL, 0) != 1)
            return TN_EHTTP;
        memcpy(res->subprotocol, proto, pl);
        res->subprotocol[pl] = '\0';
    }
    tn_strview_t ext[8];
    size_t n = tn_headers_get_all(h, "Sec-WebSocket-Extensions", ext, 8);
    if (n > 1)
        return TN_EHTTP;
    if (n == 1 && tn__ws_pmd_parse_response(ext[0].base, ext[0].len, zo, &res->pmd) < 0)
        return TN_EHTTP;
    return 0;
}

int tn__ws_client_check(const char *head, size_t len, const char *key,
                        const char *const *subprotocols, const tn__ws_zopts_t *zo,
                        tn__ws_client_result_t *res)
{
    memset(res, 0, sizeof *res);
    tn_headers_t *h;
    int rc = tn_headers_new(&h);
    if (rc < 0)
        return rc;
    rc = parse_head(head, len, h);
    if (rc >= 0) {
        res->status = rc;
        rc = check_parsed(h, key, subprotocols, zo, res);
    }
    tn_headers_free(h);
    return rc;
}
