/* permessage-deflate (RFC 7692): the parameter negotiation on both sides and
 * the zlib streams.
 *
 * Our decompressor always uses a 32 KiB window: it reads any stream the
 * peer's agreed window allows, so the *_max_window_bits we receive only
 * bind our compressor. zlib's raw deflate cannot produce an 8-bit window
 * (it silently uses 9), so a peer that demands 8 for our side gets no
 * compression (server) or a failed handshake (client) rather than a stream
 * that breaks its promise. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "tornuv/common.h"
#include "websocket_proto.h"

/* ---- parameter parsing ----------------------------------------------------- */

typedef struct {
    int seen_snct, seen_cnct, seen_smwb, seen_cmwb;
    int snct, cnct;
    int smwb, cmwb; /* values; -1 when given without a value */
} pmd_params_t;

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **b, const char **e)
{
    while (*b < *e && is_space(**b))
        (*b)++;
    while (*e > *b && is_space((*e)[-1]))
        (*e)--;
}

static int eq(const char *b, const char *e, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(e - b) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return 0;
    }
    return 1;
}

/* Window bits: "8".."15" exactly (RFC 7692 7.1.2: 1*DIGIT, no leading 0),
 * optionally as a quoted-string. -2 when malformed. */
static int window_bits(const char *b, const char *e)
{
    if (e - b >= 2 && *b == '"' && e[-1] == '"') {
        b++;
        e--;
    }
    if (e - b == 1 && *b >= '8' && *b <= '9')
        return *b - '0';
    if (e - b == 2 && b[0] == '1' && b[1] >= '0' && b[1] <= '5')
        return 10 + b[1] - '0';
    return -2;
}

/* Parses the parameters of one extension ("; a; b=c" from p to e). Returns 0
 * or -1 for an unknown, repeated or malformed parameter. */
static int parse_params(const char *p, const char *e, pmd_params_t *o)
{
    memset(o, 0, sizeof *o);
    while (p < e) {
        if (*p != ';')
            return -1;
        p++;
        const char *q = p;
        while (q < e && *q != ';')
            q++;
        const char *nb = p, *ne = q, *vb = NULL, *ve = NULL;
        const char *eqs = memchr(p, '=', (size_t)(q - p));
        if (eqs) {
            ne = eqs;
            vb = eqs + 1;
            ve = q;
            trim(&vb, &ve);
        }
        trim(&nb, &ne);
        int v = vb ? window_bits(vb, ve) : -1;
        if (eq(nb, ne, "server_no_context_takeover")) {
            if (o->seen_snct++ || vb)
                return -1;
            o->snct = 1;
        } else if (eq(nb, ne, "client_no_context_takeover")) {
            if (o->seen_cnct++ || vb)
                return -1;
            o->cnct = 1;
        } else if (eq(nb, ne, "server_max_window_bits")) {
            if (o->seen_smwb++ || v < 8)
                return -1;
            o->smwb = v;
        } else if (eq(nb, ne, "client_max_window_bits")) {
            if (o->seen_cmwb++ || v == -2)
                return -1;
            o->cmwb = v;
        } else {
            return -1;
        }
        p = q;
    }
    return 0;
}

/* Calls fn for each comma-separated extension of a header value; stops when
 * fn returns nonzero and returns that value. Quoted strings never contain
 * commas in a valid permessage-deflate offer, so a plain split is exact
 * for the extension we understand. */
static int each_extension(const char *s, size_t len,
                          int (*fn)(const char *nb, const char *ne, const char *pb, const char *pe,
                                    void *arg),
                          void *arg)
{
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        const char *nb = p, *ne = p;
        while (ne < e && *ne != ';')
            ne++;
        trim(&nb, &ne);
        const char *pb = ne;
        while (pb < e && is_space(*pb))
            pb++;
        const char *pe = e;
        while (pe > pb && is_space(pe[-1]))
            pe--;
        if (nb != ne) {
            int rc = fn(nb, ne, pb, pe, arg);
            if (rc)
                return rc;
        }
        p = c ? c + 1 : end;
    }
    return 0;
}

static int own_bits(const tn__ws_zopts_t *zo)
{
    return zo && zo->max_window_bits >= 9 && zo->max_window_bits <= 15 ? zo->max_window_bits : 15;
}

typedef struct {
    const tn__ws_zopts_t *zo;
    tn__ws_pmd_t *agreed;
    int found;
    int bad;
} pick_t;

static int pick_offer(const char *nb, const char *ne, const char *pb, const char *pe, void *arg)
{
    pick_t *k = arg;
    if (!eq(nb, ne, "permessage-deflate"))
        return 0;
    pmd_params_t o;
    if (parse_params(pb, pe, &o) < 0)
        return 0; /* decline this offer, try the next */
    int bits = own_bits(k->zo);
    if (o.seen_smwb) {
        if (o.smwb < 9)
            return 0;
        if (o.smwb < bits)
            bits = o.smwb;
    }
    memset(k->agreed, 0, sizeof *k->agreed);
    k->agreed->enabled = 1;
    k->agreed->server_no_context_takeover = o.snct || (k->zo && k->zo->no_context_takeover);
    k->agreed->client_no_context_takeover = o.cnct;
    k->agreed->server_max_window_bits = bits;
    k->found = 1;
    return 1;
}

int tn__ws_pmd_accept(const char *offers, size_t len, const tn__ws_zopts_t *zo,
                      tn__ws_pmd_t *agreed, char *resp, size_t cap)
{
    pick_t k = {zo, agreed, 0, 0};
    memset(agreed, 0, sizeof *agreed);
    if (!offers || !each_extension(offers, len, pick_offer, &k))
        return 0;
    int n = snprintf(resp, cap, "permessage-deflate%s%s",
                     agreed->server_no_context_takeover ? "; server_no_context_takeover" : "",
                     agreed->client_no_context_takeover ? "; client_no_context_takeover" : "");
    if (n >= 0 && (size_t)n < cap && agreed->server_max_window_bits < 15)
        n += snprintf(resp + n, cap - (size_t)n, "; server_max_window_bits=%d",
                      agreed->server_max_window_bits);
    if (n < 0 || (size_t)n >= cap) {
        memset(agreed, 0, sizeof *agreed);
        return TN_EBUFFULL;
    }
    return 1;
}

int tn__ws_pmd_offer(const tn__ws_zopts_t *zo, char *out, size_t cap)
{
    int bits = own_bits(zo);
    char val[16] = "";
    if (bits < 15)
        snprintf(val, sizeof val, "=%d", bits);
    int n = snprintf(out, cap, "permessage-deflate; client_max_window_bits%s%s", val,
                     zo && zo->no_context_takeover ? "; client_no_context_takeover" : "");
    if (n < 0 || (size_t)n >= cap)
        return TN_EBUFFULL;
    return n;
}

static int check_response(const char *nb, const char *ne, const char *pb, const char *pe, void *arg)
{
    pick_t *k = arg;
    pmd_params_t o;
    if (k->found || !eq(nb, ne, "permessage-deflate") || parse_params(pb, pe, &o) < 0) {
        k->bad = 1;
        return 1;
    }
    int bits = own_bits(k->zo);
    if (o.seen_cmwb) {
        if (o.cmwb < 9) { /* 8, or no value: a response must give one */
            k->bad = 1;
            return 1;
        }
        if (o.cmwb < bits)
            bits = o.cmwb;
    }
    k->agreed->enabled = 1;
    k->agreed->server_no_context_takeover = o.snct;
    k->agreed->client_no_context_takeover = o.cnct || (k->zo && k->zo->no_context_takeover);
    k->agreed->server_max_window_bits = o.seen_smwb ? o.smwb : 15;
    k->agreed->client_max_window_bits = bits;
    k->found = 1;
    return 0;
}

int tn__ws_pmd_parse_response(const char *value, size_t len, const tn__ws_zopts_t *zo,
                              tn__ws_pmd_t *agreed)
{
    memset(agreed, 0, sizeof *agreed);
    if (!value)
        return 0;
    pick_t k = {zo, agreed, 0, 0};
    each_extension(value, len, check_response, &k);
    if (k.bad || (k.found && !zo)) {
        memset(agreed, 0, sizeof *agreed);
        return TN_EHTTP;
    }
    return 0;
}

/* ---- zlib streams ---------------------------------------------------------- */

struct tn__ws_zlib_s {
    z_stream def, inf;
    int def_ready, inf_ready;
    int own_reset, peer_reset;
};

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return tn_malloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    tn_free(p);
}

int tn__ws_zlib_new(const tn__ws_pmd_t *a, const tn__ws_zopts_t *zo, int server,
                    tn__ws_zlib_t **out)
{
    tn__ws_zlib_t *z = tn_calloc(1, sizeof *z);
    if (!z)
        return TN_ENOMEM;
    int bits = server ? a->server_max_window_bits : a->client_max_window_bits;
    if (bits < 9 || bits > 15)
        bits = 15;
    /* Zero means "default" in our options, like every zero field. */
    int level = zo && zo->level >= 1 && zo->level <= 9 ? zo->level : Z_DEFAULT_COMPRESSION;
    int mem = zo && zo->mem_level >= 1 && zo->mem_level <= 9 ? zo->mem_level : 8;
    z->own_reset = server ? a->server_no_context_takeover : a->client_no_context_takeover;
    z->peer_reset = server ? a->client_no_context_takeover : a->server_no_context_takeover;
    z->def.zalloc = z->inf.zalloc = z_alloc;
    z->def.zfree = z->inf.zfree = z_free;
    if (deflateInit2(&z->def, level, Z_DEFLATED, -bits, mem, Z_DEFAULT_STRATEGY) != Z_OK)
        goto nomem;
    z->def_ready = 1;
    if (inflateInit2(&z->inf, -15) != Z_OK)
        goto nomem;
    z->inf_ready = 1;
    *out = z;
    return 0;
nomem:
    tn__ws_zlib_free(z);
    return TN_ENOMEM;
}

void tn__ws_zlib_free(tn__ws_zlib_t *z)
{
    if (!z)
        return;
    if (z->def_ready)
        deflateEnd(&z->def);
    if (z->inf_ready)
        inflateEnd(&z->inf);
    tn_free(z);
}

int tn__ws_zlib_compress(tn__ws_zlib_t *z, const void *data, size_t len, uint8_t **out,
                         size_t *out_len)
{
    size_t cap = len / 2 + 64, n = 0;
    uint8_t *buf = tn_malloc(cap);
    if (!buf)
        return TN_ENOMEM;
    z->def.next_in = (Bytef *)(uintptr_t)data;
    z->def.avail_in = (uInt)len;
    for (;;) {
        if (cap - n < 64) {
            uint8_t *nb = tn_realloc(buf, cap * 2);
            if (!nb) {
                tn_free(buf);
                deflateReset(&z->def); /* the dictionary no longer matches the peer's */
                return TN_ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        z->def.next_out = buf + n;
        z->def.avail_out = (uInt)(cap - n);
        int zr = deflate(&z->def, Z_SYNC_FLUSH);
        n = cap - z->def.avail_out;
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            tn_free(buf);
            return TN_ENOMEM;
        }
        if (z->def.avail_in == 0 && z->def.avail_out != 0)
            break;
    }
    /* A sync flush ends with an empty stored block: 00 00 FF FF, which the
     * extension leaves out (RFC 7692 section 7.2.1). */
    if (n >= 4 && memcmp(buf + n - 4, "\x00\x00\xff\xff", 4) == 0)
        n -= 4;
    /* zlib emits nothing at all for a flush with nothing new (a second empty
     * message in a row); the peer appends 00 00 FF FF to what it gets, which
     * must then read as an empty stored block: a single 00 byte (RFC 7692
     * section 7.2.3.6). An empty payload would leave its inflater mid-block. */
    if (n == 0)
        buf[n++] = 0x00;
    if (z->own_reset)
        deflateReset(&z->def);
    *out = buf;
    *out_len = n;
    return 0;
}

static int inflate_some(tn__ws_zlib_t *z, const uint8_t *p, size_t len, tn__ws_sink_fn sink,
                        void *arg)
{
    uint8_t out[16384];
    z->inf.next_in = (Bytef *)(uintptr_t)p;
    z->inf.avail_in = (uInt)len;
    for (;;) {
        z->inf.next_out = out;
        z->inf.avail_out = sizeof out;
        int zr = inflate(&z->inf, Z_SYNC_FLUSH);
        size_t got = sizeof out - z->inf.avail_out;
        if (zr == Z_MEM_ERROR)
            return TN_ENOMEM; /* the window is allocated on first use */
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
            return TN_EHTTP;
        if (got) {
            int rc = sink(arg, out, got);
            if (rc < 0)
                return rc;
        }
        if (zr == Z_STREAM_END)
            inflateReset(&z->inf); /* a final block: what follows starts afresh */
        if (z->inf.avail_in == 0 && got < sizeof out)
            return 0;
        if (zr == Z_BUF_ERROR && got == 0)
            return 0;
    }
}

int tn__ws_zlib_inflate(tn__ws_zlib_t *z, const uint8_t *p, size_t len, int last,
                        tn__ws_sink_fn sink, void *arg)
{
    int rc = 0;
    if (len)
        rc = inflate_some(z, p, len, sink, arg);
    if (rc == 0 && last) {
        static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
        rc = inflate_some(z, tail, sizeof tail, sink, arg);
    }
    if (rc < 0 || (last && z->peer_reset))
        inflateReset(&z->inf);
    return rc;
}
