/* The RFC 6455 frame machine: a byte-fed parser with the protocol's rules,
 * and the sender, for either role.
 *
 * The parser keeps no pointer into the caller's bytes: a frame header is
 * collected in hdr[] across feeds, payload bytes are unmasked straight into
 * the message buffer (or the 125-byte control buffer), so any split of the
 * input gives the same events. Every rule is checked on the first byte that
 * can break it: the two header bytes before the extended length arrives, a
 * message size before its payload does (uncompressed), UTF-8 byte by byte.
 *
 * Failure (RFC 6455 section 7.1.7, "fail the WebSocket connection"): we
 * send a Close with the code (1002 protocol, 1007 bad UTF-8, 1009 too big,
 * 1011 out of memory) unless ours was already sent, and ignore everything
 * after. Nothing at all is sent once our Close went out. */
#include <string.h>

#include "crypto.h"
#include "tornuv/common.h"
#include "websocket_proto.h"

unsigned tn__ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                     unsigned phase)
{
    size_t i = 0;
    /* Byte by byte up to a key boundary, then eight bytes per step with the
     * key repeated twice (built by memcpy, so byte order does not matter). */
    while (i < n && (phase & 3) != 0) {
        dst[i] = src[i] ^ key[phase & 3];
        i++;
        phase++;
    }
    if (n - i >= 8) {
        uint8_t k8[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
        uint64_t k;
        memcpy(&k, k8, 8);
        for (; n - i >= 8; i += 8) {
            uint64_t w;
            memcpy(&w, src + i, 8);
            w ^= k;
            memcpy(dst + i, &w, 8);
        }
    }
    for (; i < n; i++, phase++)
        dst[i] = src[i] ^ key[phase & 3];
    return phase & 3;
}

size_t tn__ws_frame_header(uint8_t hdr[TN__WS_MAX_HEADER], int fin, int rsv1, int opcode,
                           uint64_t len, const uint8_t *mask)
{
    size_t n = 2;
    hdr[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f));
    uint8_t m = mask ? 0x80 : 0;
    if (len <= 125) {
        hdr[1] = (uint8_t)(m | len);
    } else if (len <= 0xffff) {
        hdr[1] = (uint8_t)(m | 126);
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        n = 4;
    } else {
        hdr[1] = (uint8_t)(m | 127);
        for (int i = 0; i < 8; i++)
            hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        memcpy(hdr + n, mask, 4);
        n += 4;
    }
    return n;
}

int tn__ws_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

enum { ST_HDR, ST_PAYLOAD, ST_DONE, ST_FAILED };

/* Message buffers above this are released after delivery, so an idle
 * connection keeps at most this much. */
#define KEEP_MSG_CAP 4096

struct tn__ws_s {
    tn__ws_events_t ev;
    void *arg;
    int server;
    uint64_t max_message;
    tn__ws_zlib_t *z;
    int state;
    int result;
    int fail_code;
    int close_sent;
    int close_received;
    /* the frame being read */
    uint8_t hdr[TN__WS_MAX_HEADER];
    size_t hdr_have, hdr_need;
    int fin, opcode;
    uint64_t remaining;
    uint8_t key[4];
    unsigned phase;
    int masked;
    /* the message being assembled (msg_opcode 0: none) */
    int msg_opcode;
    int msg_compressed;
    unsigned utf8;
    uint8_t *msg;
    size_t msg_len, msg_cap;
    uint8_t ctrl[125];
    size_t ctrl_len;
};

int tn__ws_new(const tn__ws_config_t *cfg, const tn__ws_events_t *ev, void *arg, tn__ws_t **out)
{
    if (!cfg || !ev || !ev->send || !out)
        return TN_EINVAL;
    tn__ws_t *w = tn_calloc(1, sizeof *w);
    if (!w)
        return TN_ENOMEM;
    w->ev = *ev;
    w->arg = arg;
    w->server = cfg->server;
    w->max_message = cfg->max_message ? cfg->max_message : TN__WS_DEFAULT_MAX_MESSAGE;
    w->hdr_need = 2;
    if (cfg->pmd && cfg->pmd->enabled) {
        int rc = tn__ws_zlib_new(cfg->pmd, cfg->zopts, cfg->server, &w->z);
        if (rc < 0) {
            tn_free(w);
            return rc;
        }
    }
    *out = w;
    return 0;
}

void tn__ws_free(tn__ws_t *w)
{
    if (!w)
        return;
    tn__ws_zlib_free(w->z);
    tn_free(w->msg);
    tn_free(w);
}

int tn__ws_fail_code(const tn__ws_t *w)
{
    return w->fail_code;
}

int tn__ws_close_sent(const tn__ws_t *w)
{
    return w->close_sent;
}

int tn__ws_close_received(const tn__ws_t *w)
{
    return w->close_received;
}

/* ---- sending --------------------------------------------------------------- */

static int emit(tn__ws_t *w, int rsv1, int opcode, const uint8_t *payload, size_t len, int owned)
{
    uint8_t hdr[TN__WS_MAX_HEADER];
    uint8_t key[4];
    const uint8_t *mask = NULL;
    uint8_t small[125];
    uint8_t *masked = NULL;
    if (!w->server) {
        int rc = tn__random_bytes(key, sizeof key);
        if (rc < 0)
            return rc;
        mask = key;
        if (len > 0) {
            if (owned) {
                masked = (uint8_t *)(uintptr_t)payload; /* ours to scribble on */
            } else if (len <= sizeof small) {
                masked = small;
            } else if (!(masked = tn_malloc(len))) {
                return TN_ENOMEM;
            }
            tn__ws_mask(masked, payload, len, key, 0);
            payload = masked;
        }
    }
    size_t hlen = tn__ws_frame_header(hdr, 1, rsv1, opcode, len, mask);
    int rc = w->ev.send(w->arg, hdr, hlen, payload, len);
    if (masked && masked != small && !owned)
        tn_free(masked);
    return rc;
}

int tn__ws_send_message(tn__ws_t *w, int binary, const void *data, size_t len)
{
    if (w->close_sent)
        return TN_ECLOSED;
    int op = binary ? TN__WS_OP_BINARY : TN__WS_OP_TEXT;
    if (!w->z)
        return emit(w, 0, op, data, len, 0);
    uint8_t *z;
    size_t zlen;
    int rc = tn__ws_zlib_compress(w->z, data, len, &z, &zlen);
    if (rc < 0)
        return rc;
    rc = emit(w, 1, op, z, zlen, 1);
    tn_free(z);
    return rc;
}

int tn__ws_send_control(tn__ws_t *w, int opcode, const void *data, size_t len)
{
    if (opcode != TN__WS_OP_PING && opcode != TN__WS_OP_PONG)
        return TN_EINVAL;
    if (len > 125 || (len && !data))
        return TN_EINVAL;
    if (w->close_sent)
        return TN_ECLOSED;
    return emit(w, 0, opcode, data, len, 0);
}

int tn__ws_send_close(tn__ws_t *w, int code, const char *reason, size_t len)
{
    if (w->close_sent)
        return TN_ECLOSED;
    if (code == 0 ? len != 0 : !tn__ws_close_code_valid(code))
        return TN_EINVAL;
    if (len > 123 || (len && !reason) || !tn__utf8_valid(reason, len))
        return TN_EINVAL;
    uint8_t body[125];
    size_t n = 0;
    if (code) {
        body[0] = (uint8_t)(code >> 8);
        body[1] = (uint8_t)code;
        if (len)
            memcpy(body + 2, reason, len);
        n = 2 + len;
    }
    w->close_sent = 1;
    return emit(w, 0, TN__WS_OP_CLOSE, body, n, 0);
}

/* ---- receiving ------------------------------------------------------------- */

static int fail(tn__ws_t *w, int code, int err)
{
    if (!w->close_sent) {
        /* The peer may be gone; the send's outcome changes nothing. */
        (void)tn__ws_send_close(w, code, NULL, 0);
    }
    w->fail_code = code;
    w->state = ST_FAILED;
    w->result = err;
    return err;
}

static int grow(tn__ws_t *w, size_t need)
{
    if (need <= w->msg_cap)
        return 0;
    size_t cap = w->msg_cap ? w->msg_cap * 2 : 256;
    if (cap < need)
        cap = need;
    if (cap > w->max_message)
        cap = (size_t)w->max_message;
    uint8_t *nb = tn_realloc(w->msg, cap);
    if (!nb)
        return TN_ENOMEM;
    w->msg = nb;
    w->msg_cap = cap;
    return 0;
}

/* Appends message bytes (already unmasked and inflated), checking the size
 * limit and, for text, UTF-8 as they arrive. */
static int append(void *arg, const uint8_t *p, size_t n)
{
    tn__ws_t *w = arg;
    if ((uint64_t)w->msg_len + n > w->max_message)
        return TN_ETOOLARGE;
    int rc = grow(w, w->msg_len + n);
    if (rc < 0)
        return rc;
    memcpy(w->msg + w->msg_len, p, n);
    if (w->msg_opcode == TN__WS_OP_TEXT) {
        w->utf8 = tn__utf8_step(w->utf8, w->msg + w->msg_len, n);
        if (w->utf8 == TN__UTF8_REJECT)
            return TN_EINVAL;
    }
    w->msg_len += n;
    return 0;
}

static int fail_for(tn__ws_t *w, int rc)
{
    switch (rc) {
    case TN_ETOOLARGE:
        return fail(w, 1009, TN_ETOOLARGE);
    case TN_EINVAL:
        return fail(w, 1007, TN_EHTTP);
    case TN_ENOMEM:
        return fail(w, 1011, TN_ENOMEM);
    default:
        return fail(w, 1002, TN_EHTTP);
    }
}

/* Checks the first two header bytes and works out the header's full size. */
static int header_start(tn__ws_t *w)
{
    uint8_t b0 = w->hdr[0], b1 = w->hdr[1];
    int op = b0 & 0x0f;
    int rsv1 = (b0 & 0x40) != 0;
    if (b0 & 0x30)
        return fail(w, 1002, TN_EHTTP); /* RSV2/RSV3: no extension defines them */
    if (op >= 0x8) {
        if (op > TN__WS_OP_PONG || !(b0 & 0x80) || (b1 & 0x7f) > 125 || rsv1)
            return fail(w, 1002, TN_EHTTP);
    } else if (op == TN__WS_OP_CONT) {
        if (!w->msg_opcode || rsv1)
            return fail(w, 1002, TN_EHTTP);
    } else if (op == TN__WS_OP_TEXT || op == TN__WS_OP_BINARY) {
        if (w->msg_opcode || (rsv1 && !w->z))
            return fail(w, 1002, TN_EHTTP);
    } else {
        return fail(w, 1002, TN_EHTTP); /* reserved data opcodes 3..7 */
    }
    w->masked = (b1 & 0x80) != 0;
    if (w->masked != w->server)
        return fail(w, 1002, TN_EHTTP); /* clients mask, servers never do */
    size_t len7 = b1 & 0x7f;
    w->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (w->masked ? 4 : 0);
    return 0;
}

static int deliver_control(tn__ws_t *w)
{
    const char *p = (const char *)w->ctrl;
    size_t n = w->ctrl_len;
    if (w->opcode == TN__WS_OP_PING) {
        if (!w->close_sent) {
            int rc = tn__ws_send_control(w, TN__WS_OP_PONG, p, n);
            if (rc < 0)
                return rc;
        }
        if (w->ev.ping)
            w->ev.ping(w->arg, p, n);
        return 0;
    }
    if (w->opcode == TN__WS_OP_PONG) {
        if (w->ev.pong)
            w->ev.pong(w->arg, p, n);
        return 0;
    }
    int code = 1005;
    if (n == 1)
        return fail(w, 1002, TN_EHTTP);
    if (n >= 2) {
        code = (w->ctrl[0] << 8) | w->ctrl[1];
        if (!tn__ws_close_code_valid(code))
            return fail(w, 1002, TN_EHTTP);
        if (!tn__utf8_valid(p + 2, n - 2))
            return fail(w, 1007, TN_EHTTP);
    }
    w->close_received = 1;
    w->state = ST_DONE;
    if (!w->close_sent)
        (void)tn__ws_send_close(w, code == 1005 ? 0 : code, NULL, 0);
    if (w->ev.close)
        w->ev.close(w->arg, code, n > 2 ? p + 2 : "", n > 2 ? n - 2 : 0);
    return TN__WS_CLOSED;
}

static int end_frame(tn__ws_t *w)
{
    if (w->opcode >= 0x8)
        return deliver_control(w);
    if (!w->fin)
        return 0;
    if (w->msg_compressed) {
        int rc = tn__ws_zlib_inflate(w->z, NULL, 0, 1, append, w);
        if (rc < 0)
            return fail_for(w, rc);
    }
    if (w->msg_opcode == TN__WS_OP_TEXT && w->utf8 != TN__UTF8_ACCEPT)
        return fail(w, 1007, TN_EHTTP); /* a character cut off at the end */
    int op = w->msg_opcode;
    w->msg_opcode = 0;
    if (w->ev.message && !w->close_sent)
        w->ev.message(w->arg, op, w->msg ? (const char *)w->msg : "", w->msg_len);
    w->msg_len = 0;
    if (w->msg_cap > KEEP_MSG_CAP) {
        tn_free(w->msg);
        w->msg = NULL;
        w->msg_cap = 0;
    }
    return 0;
}

static uint64_t frame_length(const uint8_t *h, size_t *at)
{
    size_t len7 = h[1] & 0x7f;
    uint64_t len = len7;
    *at = 2;
    if (len7 == 126) {
        len = ((uint64_t)h[2] << 8) | h[3];
        *at = 4;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | h[2 + i];
        *at = 10;
    }
    return len;
}

/* Runs once the length bytes are in, before the masking key: a 64-bit
 * length must have its top bit clear, and without compression a message
 * too big is known at this point. */
static int length_check(tn__ws_t *w)
{
    size_t at;
    uint64_t len = frame_length(w->hdr, &at);
    if ((w->hdr[1] & 0x7f) == 127 && (w->hdr[2] & 0x80))
        return fail(w, 1002, TN_EHTTP);
    int op = w->hdr[0] & 0x0f;
    if (op >= 0x8)
        return 0;
    int compressed = op == TN__WS_OP_CONT ? w->msg_compressed : (w->hdr[0] & 0x40) != 0;
    uint64_t have = op == TN__WS_OP_CONT ? w->msg_len : 0;
    if (!compressed && have + len > w->max_message)
        return fail(w, 1009, TN_ETOOLARGE);
    return 0;
}

static int header_done(tn__ws_t *w)
{
    uint8_t *h = w->hdr;
    size_t at;
    uint64_t len = frame_length(h, &at);
    if (w->masked)
        memcpy(w->key, h + at, 4);
    w->fin = (h[0] & 0x80) != 0;
    w->opcode = h[0] & 0x0f;
    w->remaining = len;
    w->phase = 0;
    if (w->opcode >= 0x8) {
        w->ctrl_len = 0;
    } else {
        if (w->opcode != TN__WS_OP_CONT) {
            w->msg_opcode = w->opcode;
            w->msg_compressed = (h[0] & 0x40) != 0;
            w->utf8 = TN__UTF8_ACCEPT;
            w->msg_len = 0;
        }
    }
    w->state = ST_PAYLOAD;
    w->hdr_have = 0;
    w->hdr_need = 2;
    if (len == 0) {
        w->state = ST_HDR;
        return end_frame(w);
    }
    return 0;
}

static void unmask(tn__ws_t *w, uint8_t *dst, const uint8_t *src, size_t n)
{
    if (w->masked)
        w->phase = tn__ws_mask(dst, src, n, w->key, w->phase);
    else
        memcpy(dst, src, n);
}

static int payload(tn__ws_t *w, const uint8_t *p, size_t n)
{
    if (w->opcode >= 0x8) {
        unmask(w, w->ctrl + w->ctrl_len, p, n);
        w->ctrl_len += n;
    } else if (!w->msg_compressed) {
        int rc = grow(w, w->msg_len + n);
        if (rc < 0)
            return fail_for(w, rc);
        uint8_t *dst = w->msg + w->msg_len;
        unmask(w, dst, p, n);
        if (w->msg_opcode == TN__WS_OP_TEXT) {
            w->utf8 = tn__utf8_step(w->utf8, dst, n);
            if (w->utf8 == TN__UTF8_REJECT)
                return fail(w, 1007, TN_EHTTP);
        }
        w->msg_len += n;
    } else {
        uint8_t chunk[4096];
        while (n > 0) {
            size_t k = n < sizeof chunk ? n : sizeof chunk;
            unmask(w, chunk, p, k);
            int rc = tn__ws_zlib_inflate(w->z, chunk, k, 0, append, w);
            if (rc < 0)
                return fail_for(w, rc);
            p += k;
            n -= k;
        }
    }
    return 0;
}

int tn__ws_feed(tn__ws_t *w, const char *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    while (len > 0) {
        if (w->state == ST_DONE)
            return TN__WS_CLOSED;
        if (w->state == ST_FAILED)
            return w->result;
        int rc = 0;
        if (w->state == ST_HDR) {
            size_t take = w->hdr_need - w->hdr_have;
            if (take > len)
                take = len;
            memcpy(w->hdr + w->hdr_have, p, take);
            size_t before = w->hdr_have;
            w->hdr_have += take;
            p += take;
            len -= take;
            if (before < 2 && w->hdr_have >= 2)
                rc = header_start(w);
            size_t len_end = w->hdr_need - (w->masked ? 4 : 0);
            if (rc == 0 && w->hdr_have >= 2 && before < len_end && w->hdr_have >= len_end)
                rc = length_check(w);
            if (rc == 0 && w->hdr_have >= 2 && w->hdr_have == w->hdr_need)
                rc = header_done(w);
        } else {
            size_t take = w->remaining < len ? (size_t)w->remaining : len;
            rc = payload(w, p, take);
            p += take;
            len -= take;
            w->remaining -= take;
            if (rc == 0 && w->remaining == 0) {
                w->state = ST_HDR;
                rc = end_frame(w);
            }
        }
        if (rc != 0)
            return rc;
    }
    if (w->state == ST_DONE)
        return TN__WS_CLOSED;
    return w->state == ST_FAILED ? w->result : 0;
}
