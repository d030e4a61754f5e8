/* TLS as a transport over another stream (tls.h).
 *
 * Two streams per connection: the plain one ("inner", over TCP or any
 * transport, owned by this layer) carries records; the TLS one ("outer",
 * the user's) runs over the transport ops below. OpenSSL reads and writes
 * through a BIO of our own:
 *   - reading hands OpenSSL the inner stream's buffer in place, inside a
 *     read_some callback: it consumes what it needs (one record at a time)
 *     and the rest stays in the inner buffer, so ciphertext is never copied
 *     before decryption and a reader that stops reading stops the peer;
 *   - writing appends to an output block that is handed to the inner stream
 *     after every OpenSSL call (handshake, read, write, shutdown): OpenSSL
 *     may write while reading (alerts, KeyUpdate responses, session
 *     tickets), and that output must always be flushed, not only after
 *     SSL_write. Blocks are freed when the inner stream has sent them, so an
 *     idle connection holds no buffer of ours, and OpenSSL releases its own
 *     record buffers (SSL_MODE_RELEASE_BUFFERS).
 *
 * Writes: try_write encrypts at once when the handshake is done and the
 * inner stream has nothing waiting; otherwise the outer stream falls back to
 * ops->write, which completes (on_write_done) when the ciphertext of that
 * write has been handed to the OS, so max_write_buffer_size and write
 * callbacks keep their meaning. A write that finds the handshake unfinished
 * or OpenSSL wanting to read first waits and is retried after input.
 *
 * Ends: the inner stream runs in half-close mode, so ciphertext that came
 * before the peer's FIN is still decrypted. close_notify from the peer is a
 * clean end (TN_EOF to the reader); a FIN without it after the handshake is
 * TN_ETLSTRUNC. Our close sends close_notify and closes the inner stream
 * once that is flushed (bounded by a timer for peers that do not read).
 *
 * Lifetime: the record lives until both the outer stream was told its
 * transport closed (tn_iostream__on_closed, after ops->close) and the inner
 * stream's close callback ran; deferred work holds references. */
#include <string.h>

#include "tornuv/tls.h"

#ifdef TN_HAVE_TLS

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "loop_defer.h"
#include "tls_conn.h"
#include "tornuv/transport.h"

/* Plaintext encrypted per try_write call at most; more goes through
 * ops->write, whose completion waits for the ciphertext to be sent. */
#define TRY_WRITE_MAX ((size_t)64 * 1024)
/* How long a close waits for close_notify to be sent to a peer that does
 * not read. */
#define CLOSE_LINGER_MS 5000

static const tn_transport_ops_t tls_ops;
static void process(tls_conn_t *c);

/* ---- the BIO: OpenSSL's view of the inner stream ------------------------ */

static int bio_write(BIO *b, const char *data, int len)
{
    tls_conn_t *c = BIO_get_data(b);
    size_t n = (size_t)len;
    obuf_t *o = c->out;
    if (o == NULL || o->cap - o->len < n) {
        size_t used = o ? o->len : 0;
        size_t cap = used + n < 4096 ? 4096 : (used + n) * 2;
        obuf_t *no = tn_realloc(o, sizeof(*no) + cap);
        if (no == NULL)
            return -1;
        if (o == NULL) {
            no->conn = c;
            no->completes_write = 0;
            no->len = 0;
        }
        no->cap = cap;
        c->out = o = no;
    }
    memcpy(o->data + o->len, data, n);
    o->len += n;
    return len;
}

static int bio_read(BIO *b, char *buf, int len)
{
    tls_conn_t *c = BIO_get_data(b);
    size_t avail = c->in ? c->in_len - c->in_off : 0;
    BIO_clear_retry_flags(b);
    if (avail == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = (size_t)len < avail ? (size_t)len : avail;
    memcpy(buf, c->in + c->in_off, n);
    c->in_off += n;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

BIO_METHOD *tn__tls_bio_method_new(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tornuv stream");
    if (m == NULL)
        return NULL;
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
}

/* ---- lifetime ---------------------------------------------------------- */

static void conn_unref(tls_conn_t *c)
{
    if (--c->refs > 0)
        return;
    if (c->timer)
        tn_ioloop_remove_timeout(c->loop, c->timer);
    SSL_free(c->ssl);
    tn_free(c->out);
    tn_free(c->pw);
    tn_free(c->alpn);
    tn_free(c->head.hostname);
    tn_tls_context_free(c->head.sni_ctx);
    tn_tls_context_free(c->head.ctx);
    tn_free(c);
}

static void stop_timer(tls_conn_t *c)
{
    if (c->timer) {
        tn_ioloop_remove_timeout(c->loop, c->timer);
        c->timer = 0;
    }
}

/* ---- output ------------------------------------------------------------ */

static void on_obuf_sent(tn_iostream_t *inner, int status, void *arg)
{
    obuf_t *o = arg;
    tls_conn_t *c = o->conn;
    int completes = o->completes_write;
    tn_free(o);
    if (completes && !c->outer_closing)
        tn_iostream__on_write_done(c->outer, status);
    /* A close waits for close_notify (and whatever preceded it) to leave. */
    if (c->outer_closing && !c->inner_closing && !tn_iostream_writing(inner)) {
        c->inner_closing = 1;
        tn_iostream_close(inner);
    }
    conn_unref(c);
}

/* Hands what OpenSSL wrote to the inner stream. Returns 0 or an error. */
static int flush_out(tls_conn_t *c, int completes_write)
{
    obuf_t *o = c->out;
    if (o == NULL || o->len == 0) {
        if (completes_write && !c->outer_closing)
            tn_iostream__on_write_done(c->outer, 0); /* nothing to send: done */
        return 0;
    }
    c->out = NULL;
    /* A plain stream already closing cannot send; that is not a TLS error:
     * its close callback reports the cause (a refused connect, a reset). */
    if (c->inner_gone || c->inner_closing || tn_iostream_closed(c->inner)) {
        tn_free(o);
        return 0;
    }
    o->completes_write = completes_write;
    int err = tn_iostream_write_ref(c->inner, o->data, o->len, on_obuf_sent, o);
    if (err != 0) {
        tn_free(o);
        return err;
    }
    c->refs++;
    return 0;
}

/* ---- failures and ends ------------------------------------------------- */

/* The connection failed: the outer stream closes with the cause (its
 * handshake waiter first learns it). Any alert OpenSSL wrote goes out
 * first. */
static void fail(tls_conn_t *c, int err)
{
    if (c->error == 0)
        c->error = err;
    flush_out(c, 0);
    if (!c->outer_closing)
        tn_iostream_close_with(c->outer, err);
}

static int ssl_failure(tls_conn_t *c, int ret)
{
    int e = SSL_get_error(c->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    int code = tn__tls_error(&c->reason);
    long vr = SSL_get_verify_result(c->ssl);
    if (code == TN_ETLSVERIFY && vr != X509_V_OK)
        c->reason = X509_verify_cert_error_string(vr);
    return code;
}

static void report_handshake(tls_conn_t *c, int status)
{
    tn_tls_handshake_cb cb = c->hs_cb;
    if (cb == NULL)
        return;
    c->hs_cb = NULL;
    cb(c->outer, status, c->hs_arg);
}

static void on_handshake_report(tn_ioloop_t *loop, void *arg)
{
    tls_conn_t *c = arg;
    (void)loop;
    report_handshake(c, c->hs_status);
    conn_unref(c);
}

/* The stream is closing with the handshake unfinished or failed. The outer
 * stream stays valid until its close callback, which comes after this. */
static void defer_handshake_report(tls_conn_t *c, int status)
{
    if (c->hs_cb == NULL)
        return;
    c->hs_status = status;
    if (tn__loop_defer_node(c->loop, &c->hs_node, on_handshake_report, c) == 0)
        c->refs++;
    else
        report_handshake(c, status);
}

/* ---- input ------------------------------------------------------------- */

static void arm_read(tls_conn_t *c);

static size_t on_cipher(tn_iostream_t *inner, int status, const char *data, size_t len, void *arg)
{
    tls_conn_t *c = arg;
    (void)inner;
    c->inner_reading = 0;
    if (status != 0)
        return 0; /* the inner stream is closing: its close callback follows */
    c->refs++;
    c->in = data;
    c->in_len = len;
    c->in_off = 0;
    process(c);
    size_t used = c->in_off;
    c->in = NULL;
    c->in_len = c->in_off = 0;
    conn_unref(c);
    return used;
}

static void arm_read(tls_conn_t *c)
{
    if (c->inner_reading || c->inner_gone || c->inner_closing)
        return;
    if (tn_iostream_read_some(c->inner, on_cipher, c) == 0)
        c->inner_reading = 1;
}

/* The reader asked for data and nothing more will come: report the end
 * (once OpenSSL holds no more plaintext). */
static void report_end(tls_conn_t *c)
{
    if (c->end_reported || c->outer_closing || c->pending_end == 0)
        return;
    c->end_reported = 1;
    if (c->pending_end == TN_EOF)
        tn_iostream__on_read(c->outer, TN_EOF);
    else
        tn_iostream_close_with(c->outer, c->pending_end);
}

/* Decrypts into the outer stream while it reads. */
static void deliver(tls_conn_t *c)
{
    while (c->want_read && !c->outer_closing && !c->end_reported) {
        char *base;
        size_t room;
        tn_iostream__on_alloc(c->outer, 16384, &base, &room);
        if (room == 0) {
            tn_iostream_close_with(c->outer, TN_ENOMEM);
            return;
        }
        int n = SSL_read(c->ssl, base, room > INT32_MAX ? INT32_MAX : (int)room);
        if (n > 0) {
            tn_iostream__on_read(c->outer, n);
            continue;
        }
        tn_iostream__on_read(c->outer, 0); /* nothing: the empty buffer may go */
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_ZERO_RETURN) {
            /* close_notify: a clean end, whatever the TCP connection does. */
            c->pending_end = TN_EOF;
            report_end(c);
        } else if (e == SSL_ERROR_WANT_READ) {
            ERR_clear_error();
            if (c->inner_gone)
                report_end(c);
            else
                arm_read(c);
        } else {
            int err = ssl_failure(c, n);
            fail(c, err ? err : TN_ETLS);
        }
        return;
    }
}

/* Encrypts the outer stream's pending ops->write. */
static void write_pending(tls_conn_t *c)
{
    if (c->pw == NULL || !c->handshake_done || c->outer_closing)
        return;
    c->write_wants_read = 0;
    while (c->pw_i < c->pw_n) {
        const tn_buf_t *b = &c->pw[c->pw_i];
        if (c->pw_off == b->len) {
            c->pw_i++;
            c->pw_off = 0;
            continue;
        }
        size_t want = b->len - c->pw_off;
        int n = SSL_write(c->ssl, b->base + c->pw_off, want > INT32_MAX ? INT32_MAX : (int)want);
        if (n <= 0) {
            int err = ssl_failure(c, n);
            if (err != 0) {
                fail(c, err);
                return;
            }
            /* OpenSSL must read first (a handshake message is due). */
            c->write_wants_read = 1;
            flush_out(c, 0);
            arm_read(c);
            return;
        }
        c->pw_off += (size_t)n;
    }
    tn_free(c->pw);
    c->pw = NULL;
    int err = flush_out(c, 1);
    if (err != 0)
        fail(c, err);
}

static void handshake(tls_conn_t *c)
{
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->handshake_done = 1;
        stop_timer(c);
        const unsigned char *alpn;
        unsigned alpn_len;
        SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
        if (alpn_len > 0 && (c->alpn = tn_strndup((const char *)alpn, alpn_len)) == NULL)
            fail(c, TN_ENOMEM);
        return;
    }
    int err = ssl_failure(c, r);
    if (err != 0) {
        fail(c, err);
        return;
    }
    arm_read(c);
}

/* Runs OpenSSL on whatever input is lent and the outer stream's wishes,
 * then flushes its output. */
static void process(tls_conn_t *c)
{
    if (c->outer_closing || c->error != 0)
        return;
    int was_done = c->handshake_done;
    if (!c->handshake_done)
        handshake(c);
    if (c->handshake_done && c->error == 0) {
        write_pending(c);
        deliver(c);
        if (c->write_wants_read || c->want_read)
            arm_read(c);
    }
    if (c->error == 0 && !c->outer_closing) {
        int err = flush_out(c, 0);
        if (err != 0)
            fail(c, err);
    }
    if (!was_done && c->handshake_done && c->error == 0)
        report_handshake(c, 0);
}

static void on_pump(tn_ioloop_t *loop, void *arg)
{
    tls_conn_t *c = arg;
    (void)loop;
    c->pump_queued = 0;
    process(c);
    if (c->inner_gone && c->want_read && c->handshake_done)
        report_end(c);
    /* wait_for_handshake after the handshake: its answer is due now. */
    if (c->handshake_done && c->error == 0 && !c->outer_closing)
        report_handshake(c, 0);
    conn_unref(c);
}

static void schedule_pump(tls_conn_t *c)
{
    if (c->pump_queued)
        return;
    if (tn__loop_defer_node(c->loop, &c->pump_node, on_pump, c) == 0) {
        c->pump_queued = 1;
        c->refs++;
    }
}

/* ---- the inner stream's end -------------------------------------------- */

static void on_outer_closed(tn_ioloop_t *loop, void *arg)
{
    tls_conn_t *c = arg;
    (void)loop;
    tn_iostream__on_closed(c->outer);
    conn_unref(c);
}

static void on_inner_closed(tn_iostream_t *inner, void *arg)
{
    tls_conn_t *c = arg;
    int cause = tn_iostream_error(inner);
    c->inner_gone = 1;
    c->inner = NULL;
    if (c->outer_closing) {
        tn_iostream__on_closed(c->outer);
        conn_unref(c); /* the inner stream's reference */
        return;
    }
    /* The peer's side ended: how the reader learns it depends on whether
     * the TLS session ended properly. */
    if (cause != 0)
        c->pending_end = cause;
    else if (!c->handshake_done)
        c->pending_end = TN_EOF;
    else if (SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN)
        c->pending_end = TN_EOF;
    else
        c->pending_end = TN_ETLSTRUNC;
    if (!c->handshake_done || c->pw != NULL) {
        /* Nothing more can be sent or negotiated. */
        fail(c, c->pending_end);
    } else if (c->want_read) {
        schedule_pump(c);
    }
    conn_unref(c); /* the inner stream's reference */
}

static void on_deadline(tn_ioloop_t *loop, void *arg)
{
    tls_conn_t *c = arg;
    (void)loop;
    c->timer = 0;
    if (c->outer_closing) {
        /* The close_notify linger ran out: drop the connection. */
        if (!c->inner_gone && !c->inner_closing) {
            c->inner_closing = 1;
            tn_iostream_close(c->inner);
        }
        return;
    }
    if (!c->handshake_done)
        fail(c, TN_ETIMEOUT);
}

/* ---- transport ops for the outer stream -------------------------------- */

static int t_read_start(void *t)
{
    tls_conn_t *c = t;
    c->want_read = 1;
    schedule_pump(c);
    return 0;
}

static int t_read_stop(void *t)
{
    ((tls_conn_t *)t)->want_read = 0;
    return 0;
}

static long t_try_write(void *t, const tn_buf_t *bufs, size_t nbufs)
{
    tls_conn_t *c = t;
    if (!c->handshake_done || c->pw != NULL || c->write_wants_read || c->inner_gone ||
        c->error != 0 || tn_iostream_write_buffered(c->inner) > 0)
        return 0;
    size_t done = 0;
    for (size_t i = 0; i < nbufs && done < TRY_WRITE_MAX; i++) {
        size_t off = 0;
        while (off < bufs[i].len && done < TRY_WRITE_MAX) {
            size_t want = bufs[i].len - off;
            if (want > TRY_WRITE_MAX - done)
                want = TRY_WRITE_MAX - done;
            int n = SSL_write(c->ssl, bufs[i].base + off, (int)want);
            if (n <= 0) {
                int err = ssl_failure(c, n);
                if (err != 0) {
                    c->error = err;
                    flush_out(c, 0);
                    return err;
                }
                goto out;
            }
            off += (size_t)n;
            done += (size_t)n;
        }
        if (off < bufs[i].len)
            break;
    }
out:;
    int err = flush_out(c, 0);
    return err != 0 ? err : (long)done;
}

static int t_write(void *t, const tn_buf_t *bufs, size_t nbufs)
{
    tls_conn_t *c = t;
    if (c->pw != NULL)
        return TN_EALREADY;
    if (c->inner_gone)
        return c->pending_end != 0 && c->pending_end != TN_EOF ? c->pending_end : TN_ECLOSED;
    c->pw = tn_malloc(sizeof(*bufs) * (nbufs ? nbufs : 1));
    if (c->pw == NULL)
        return TN_ENOMEM;
    if (nbufs > 0)
        memcpy(c->pw, bufs, sizeof(*bufs) * nbufs);
    c->pw_n = nbufs;
    c->pw_i = c->pw_off = 0;
    /* Encrypting now could run inside a read callback's OpenSSL call; the
     * next drain is soon enough. */
    schedule_pump(c);
    return 0;
}

static int t_shutdown(void *t)
{
    tls_conn_t *c = t;
    if (c->inner_gone)
        return TN_ECLOSED;
    if (c->handshake_done && c->error == 0) {
        SSL_shutdown(c->ssl); /* sends close_notify; reading goes on */
        ERR_clear_error();
        int err = flush_out(c, 0);
        if (err != 0)
            return err;
    }
    return tn_iostream_shutdown(c->inner);
}

static void t_close(void *t)
{
    tls_conn_t *c = t;
    c->outer_closing = 1;
    c->want_read = 0;
    stop_timer(c);
    /* Closing can be the user's own call: the waiter hears it later. */
    if (!c->handshake_done || c->error != 0)
        defer_handshake_report(c, c->error != 0 ? c->error : TN_ECLOSED);
    if (c->inner_gone) {
        if (tn__loop_defer_node(c->loop, &c->closed_node, on_outer_closed, c) == 0)
            c->refs++;
        else
            tn_iostream__on_closed(c->outer);
        conn_unref(c); /* the outer stream's reference */
        return;
    }
    conn_unref(c); /* the outer stream's reference; the inner's close keeps c */
    if (c->handshake_done && c->error == 0 && !(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN)) {
        SSL_shutdown(c->ssl);
        ERR_clear_error();
        flush_out(c, 0);
    }
    if (c->inner_closing)
        return;
    if (tn_iostream_writing(c->inner)) {
        /* close_notify (or an alert) is on its way: close once it left, or
         * after the linger for a peer that reads nothing. */
        c->timer = tn_ioloop_call_later(c->loop, CLOSE_LINGER_MS, on_deadline, c);
        if (c->timer != 0)
            return;
    }
    c->inner_closing = 1;
    tn_iostream_close(c->inner);
}

static int t_nodelay(void *t, int on)
{
    tls_conn_t *c = t;
    return c->inner_gone ? TN_ECLOSED : tn_iostream_set_nodelay(c->inner, on);
}

static int t_address(void *t, char *ip, size_t iplen, int *port)
{
    tls_conn_t *c = t;
    return c->inner_gone ? TN_ECLOSED : tn_iostream_remote_address(c->inner, ip, iplen, port);
}

static const tn_transport_ops_t tls_ops = {t_read_start, t_read_stop, t_try_write, t_write,
                                           t_shutdown,   t_close,     t_nodelay,   t_address};

/* ---- public API -------------------------------------------------------- */

tls_conn_t *tn__tls_conn_of(const tn_iostream_t *s)
{
    void *t;
    if (s == NULL || tn_iostream__ops(s, &t) != &tls_ops)
        return NULL;
    return t;
}

static int setup_ssl(tls_conn_t *c, tn_tls_context_t *ctx, const char *server_hostname)
{
    c->ssl = SSL_new(ctx->ctx);
    BIO *bio = c->ssl ? BIO_new(ctx->bio_method) : NULL;
    if (bio == NULL)
        return TN_ENOMEM;
    BIO_set_data(bio, c);
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_app_data(c->ssl, &c->head);
    if (ctx->server) {
        SSL_set_accept_state(c->ssl);
        return 0;
    }
    SSL_set_connect_state(c->ssl);
    if (server_hostname == NULL)
        return 0;
    c->head.hostname = tn_strndup(server_hostname, strlen(server_hostname));
    if (c->head.hostname == NULL)
        return TN_ENOMEM;
    /* SNI carries host names only, never address literals (RFC 6066). */
    int literal = strchr(server_hostname, ':') != NULL ||
                  strspn(server_hostname, "0123456789.") == strlen(server_hostname);
    if (!literal && SSL_set_tlsext_host_name(c->ssl, server_hostname) != 1)
        return TN_EINVAL;
    if (!ctx->insecure) {
        /* SSL_set1_host checks an address literal as an IP address. */
        if (SSL_set1_host(c->ssl, server_hostname) != 1)
            return TN_EINVAL;
        SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    SSL_SESSION *sess = tn__tls_session_get(ctx, server_hostname);
    if (sess != NULL) {
        SSL_set_session(c->ssl, sess);
        SSL_SESSION_free(sess);
    }
    return 0;
}

int tn_tls_stream_new(tn_iostream_t *plain, tn_tls_context_t *ctx, const char *server_hostname,
                      const tn_iostream_options_t *opts, tn_iostream_t **out)
{
    if (plain == NULL || ctx == NULL || out == NULL)
        return TN_EINVAL;
    if (tn_iostream_closed(plain))
        return TN_ECLOSED;
    if (tn_iostream_reading(plain) || tn_iostream_writing(plain) || tn_iostream_buffered(plain) > 0)
        return TN_EINVAL;
    if (!ctx->server && !ctx->insecure && (server_hostname == NULL || server_hostname[0] == '\0'))
        return TN_EINVAL;
    tls_conn_t *c = tn_calloc(1, sizeof(*c));
    if (c == NULL)
        return TN_ENOMEM;
    c->loop = tn_iostream_loop(plain);
    c->head.ctx = ctx;
    tn__tls_context_ref(ctx);
    c->refs = 1; /* the outer stream's, until ops->close */
    ERR_clear_error();
    int err = setup_ssl(c, ctx, ctx->server ? NULL : server_hostname);
    if (err == 0) {
        c->timer = tn_ioloop_call_later(c->loop, ctx->handshake_timeout_ms, on_deadline, c);
        if (c->timer == 0)
            err = TN_ENOMEM;
    }
    if (err == 0)
        err = tn_iostream_new(c->loop, &tls_ops, c, opts, &c->outer);
    if (err != 0) {
        ERR_clear_error();
        conn_unref(c);
        return err;
    }
    /* From here on the plain stream is ours; its close ends the layer. */
    c->inner = plain;
    c->refs++; /* the inner stream's, until its close callback */
    tn_iostream_set_half_close(plain, 1);
    tn_iostream_set_close_callback(plain, on_inner_closed, c);
    /* A client speaks first; a server waits for the ClientHello. */
    schedule_pump(c);
    *out = c->outer;
    return 0;
}

int tn_tls_wait_for_handshake(tn_iostream_t *s, tn_tls_handshake_cb cb, void *arg)
{
    tls_conn_t *c = tn__tls_conn_of(s);
    if (c == NULL || cb == NULL)
        return TN_EINVAL;
    if (c->hs_cb != NULL)
        return TN_EALREADY;
    if (tn_iostream_closed(s))
        return TN_ECLOSED;
    c->hs_cb = cb;
    c->hs_arg = arg;
    if (c->handshake_done)
        schedule_pump(c); /* process() reports it; see on_pump */
    return 0;
}

int tn_iostream_start_tls(tn_iostream_t *plain, tn_tls_context_t *ctx, const char *server_hostname,
                          const tn_iostream_options_t *opts, tn_tls_handshake_cb cb, void *arg)
{
    if (cb == NULL)
        return TN_EINVAL;
    tn_iostream_t *s;
    int err = tn_tls_stream_new(plain, ctx, server_hostname, opts, &s);
    if (err != 0)
        return err;
    tls_conn_t *c = tn__tls_conn_of(s);
    c->hs_cb = cb;
    c->hs_arg = arg;
    return 0;
}

#endif /* TN_HAVE_TLS */
