/* tornuv futures: deferred done callbacks, resolve rules, thread-safe
 * completion, with_timeout, multi (Tornado's error order), chain, sleep and
 * the adapters for reads, writes, connects, timeouts and executor work. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#ifdef _WIN32
#include <winsock2.h>
#else
#include <sys/socket.h>
#endif

#include "loop_util.h"
#include "memtransport.h"
#include "net_peer.h"

TestSuite(future, .timeout = 30);

typedef struct {
    int order[16];
    int n;
    int in_call;
    int status;
} flog_t;

typedef struct {
    flog_t *log;
    int who;
} ftag_t;

static void done_cb(tn_future_t *f, void *arg)
{
    ftag_t *t = arg;
    cr_assert_eq(t->log->in_call, 0, "a done callback ran inside a call");
    cr_assert(tn_future_done(f));
    t->log->status = tn_future_status(f);
    t->log->order[t->log->n++] = t->who;
}

/* asyncio/Tornado IOLoop.add_future: never inline, FIFO, also when done. */
Test(future, done_callbacks_are_deferred_and_fifo)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_future_t *f;
    flog_t l = {0};
    ftag_t t[4] = {{&l, 0}, {&l, 1}, {&l, 2}, {&l, 3}};
    cr_assert_eq(tn_future_new(loop, &f), 0);
    cr_assert_eq(tn_future_status(f), TN_EPENDING);
    cr_assert_null(tn_future_value(f));
    l.in_call = 1;
    cr_assert_eq(tn_future_add_done_callback(f, done_cb, &t[0]), 0);
    cr_assert_eq(tn_future_add_done_callback(f, done_cb, &t[1]), 0);
    char *v = tn_strndup("value", 5);
    cr_assert_eq(tn_future_resolve(f, 0, v, tn_free), 0);
    char other[] = "not taken";
    cr_assert_eq(tn_future_resolve(f, 0, other, NULL), TN_EALREADY);
    cr_assert_eq(tn_future_cancel(f), TN_EALREADY);
    cr_assert_eq(tn_future_add_done_callback(f, done_cb, &t[2]), 0);
    l.in_call = 0;
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(l.order[i], i);
    cr_assert_str_eq(tn_future_value(f), "value");
    l.in_call = 1;
    cr_assert_eq(tn_future_add_done_callback(f, done_cb, &t[3]), 0);
    l.in_call = 0;
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 4);
    tn_future_unref(f); /* frees the value (ASan/LSan check it) */
    tn_test_close(loop, 0);
}

static void drop_cb(tn_future_t *f, void *arg)
{
    (void)arg;
    tn_future_unref(f); /* the caller's last reference, from inside */
}

Test(future, callback_may_drop_the_last_reference_and_cancel)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_future_t *f;
    cr_assert_eq(tn_future_new(loop, &f), 0);
    cr_assert_eq(tn_future_add_done_callback(f, drop_cb, NULL), 0);
    cr_assert_eq(tn_future_cancel(f), 0);
    cr_assert_eq(tn_future_status(f), TN_ECANCELED);
    cr_assert_eq(tn_future_resolve(f, 0, NULL, NULL), TN_EALREADY);
    tn_mt_turn(loop);
    tn_test_close(loop, 0);
}

/* ---- with_timeout ----------------------------------------------------------- */

/* tornado: gen_test WithTimeoutTest test_timeout / test_completes_before_
 * timeout / test_fails_before_timeout; the input is not cancelled. */
Test(future, with_timeout)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    flog_t l = {0};
    ftag_t t = {&l, 0};
    tn_future_t *in, *out;
    cr_assert_eq(tn_future_new(loop, &in), 0);
    double t0 = tn_test_now_ms();
    cr_assert_eq(tn_future_with_timeout(in, 20, 0, &out), 0);
    cr_assert_eq(tn_future_add_done_callback(out, done_cb, &t), 0);
    for (int i = 0; i < 200 && l.n == 0; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(l.status, TN_ETIMEOUT);
    cr_assert_geq(tn_test_now_ms() - t0, 19.0);
    cr_assert_eq(tn_future_status(in), TN_EPENDING, "not cancelled");
    /* a later result leaves the output as it is */
    cr_assert_eq(tn_future_resolve(in, 0, NULL, NULL), 0);
    tn_mt_turn(loop);
    tn_mt_turn(loop);
    cr_assert_eq(tn_future_status(out), TN_ETIMEOUT);
    tn_future_unref(in);
    tn_future_unref(out);

    /* completes before: the output borrows the input's value */
    cr_assert_eq(tn_future_new(loop, &in), 0);
    cr_assert_eq(tn_future_with_timeout(in, 5000, 0, &out), 0);
    tn_future_resolve(in, 0, tn_strndup("x", 1), tn_free);
    tn_future_unref(in); /* out keeps it alive for its value */
    tn_mt_turn(loop);
    cr_assert_eq(tn_future_status(out), 0);
    cr_assert_str_eq(tn_future_value(out), "x");
    tn_future_unref(out);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0, "the timer is gone");

    /* CANCEL_ON_TIMEOUT: asyncio.wait_for's behaviour */
    cr_assert_eq(tn_future_new(loop, &in), 0);
    cr_assert_eq(tn_future_with_timeout(in, 1, TN_FUTURE_CANCEL_ON_TIMEOUT, &out), 0);
    for (int i = 0; i < 200 && !tn_future_done(in); i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(tn_future_status(in), TN_ECANCELED);
    cr_assert_eq(tn_future_status(out), TN_ETIMEOUT);
    tn_mt_turn(loop);
    tn_future_unref(in);
    tn_future_unref(out);
    tn_test_close(loop, 0);
}

/* ---- multi ------------------------------------------------------------------ */

/* tornado: gen_test test_multi_exceptions: all done, then the first
 * failure in input order (not time order). */
Test(future, multi_error_order)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    for (int fast = 0; fast < 2; fast++) {
        tn_future_t *c[3], *m;
        for (int i = 0; i < 3; i++)
            cr_assert_eq(tn_future_new(loop, &c[i]), 0);
        cr_assert_eq(tn_future_multi(loop, c, 3, fast ? TN_MULTI_FAIL_FAST : 0, &m), 0);
        tn_future_resolve(c[2], -2, NULL, NULL);
        tn_mt_turn(loop);
        cr_assert_eq(tn_future_status(m), fast ? -2 : TN_EPENDING);
        tn_future_resolve(c[1], -1, NULL, NULL);
        tn_mt_turn(loop);
        cr_assert_eq(tn_future_status(m), fast ? -2 : TN_EPENDING);
        tn_future_resolve(c[0], 0, NULL, NULL);
        tn_mt_turn(loop);
        cr_assert_eq(tn_future_status(m), fast ? -2 : -1);
        for (int i = 0; i < 3; i++)
            tn_future_unref(c[i]);
        tn_future_unref(m);
    }
    /* all succeed; and no children at all */
    tn_future_t *c[2], *m, *e;
    flog_t l = {0};
    ftag_t t = {&l, 0};
    for (int i = 0; i < 2; i++)
        cr_assert_eq(tn_future_new(loop, &c[i]), 0);
    cr_assert_eq(tn_future_multi(loop, c, 2, 0, &m), 0);
    tn_future_resolve(c[1], 0, NULL, NULL);
    tn_future_resolve(c[0], 0, NULL, NULL);
    cr_assert_eq(tn_future_multi(loop, NULL, 0, 0, &e), 0);
    l.in_call = 1;
    cr_assert_eq(tn_future_add_done_callback(e, done_cb, &t), 0);
    l.in_call = 0;
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.status, 0);
    tn_mt_turn(loop);
    cr_assert_eq(tn_future_status(m), 0);
    for (int i = 0; i < 2; i++)
        tn_future_unref(c[i]);
    tn_future_unref(m);
    tn_future_unref(e);
    tn_test_close(loop, 0);
}

Test(future, chain_and_sleep)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_future_t *a, *b, *c, *s;
    cr_assert_eq(tn_future_new(loop, &a), 0);
    cr_assert_eq(tn_future_new(loop, &b), 0);
    cr_assert_eq(tn_future_new(loop, &c), 0);
    cr_assert_eq(tn_future_chain(a, b), 0);
    cr_assert_eq(tn_future_chain(a, c), 0);
    tn_future_cancel(c); /* done first: chain leaves it alone */
    tn_future_resolve(a, -7, NULL, NULL);
    tn_mt_turn(loop);
    cr_assert_eq(tn_future_status(b), -7);
    cr_assert_eq(tn_future_status(c), TN_ECANCELED);
    double t0 = tn_test_now_ms();
    cr_assert_eq(tn_future_sleep(loop, 15, &s), 0);
    for (int i = 0; i < 200 && !tn_future_done(s); i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(tn_future_status(s), 0);
    cr_assert_geq(tn_test_now_ms() - t0, 14.0);
    tn_future_unref(a);
    tn_future_unref(b);
    tn_future_unref(c);
    tn_future_unref(s);
    tn_test_close(loop, 0);
}

/* ---- threads ------------------------------------------------------------------ */

enum { THREADS = 4, PER_THREAD = 500 };

typedef struct {
    tn_future_t **futures;
    int base;
} th_t;

static void *resolver(void *arg)
{
    th_t *t = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        int *v = malloc(sizeof(int));
        *v = t->base + i;
        cr_assert_eq(tn_future_resolve_threadsafe(t->futures[t->base + i], 0, v, free), 0);
    }
    return NULL;
}

static pthread_t loop_thread;
static int off_thread_callbacks, callbacks_run;

static void count_cb(tn_future_t *f, void *arg)
{
    (void)arg;
    if (!pthread_equal(pthread_self(), loop_thread))
        off_thread_callbacks++;
    cr_assert_eq(*(int *)tn_future_value(f), (int)(intptr_t)arg);
    callbacks_run++;
}

Test(future, resolve_threadsafe_from_threads)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    loop_thread = pthread_self();
    static tn_future_t *fs[THREADS * PER_THREAD];
    for (int i = 0; i < THREADS * PER_THREAD; i++) {
        cr_assert_eq(tn_future_new(loop, &fs[i]), 0);
        cr_assert_eq(tn_future_add_done_callback(fs[i], count_cb, (void *)(intptr_t)i), 0);
        tn_future_ref(fs[i]); /* the resolving thread's, consumed by it */
    }
    pthread_t th[THREADS];
    th_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (th_t){fs, i * PER_THREAD};
        pthread_create(&th[i], NULL, resolver, &args[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 100 && callbacks_run < THREADS * PER_THREAD; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(callbacks_run, THREADS * PER_THREAD);
    cr_assert_eq(off_thread_callbacks, 0);
    for (int i = 0; i < THREADS * PER_THREAD; i++)
        tn_future_unref(fs[i]);
    tn_test_close(loop, 0);
}

/* ---- adapters ------------------------------------------------------------------ */

static void work(void *arg)
{
    (void)arg;
}

Test(future, adapters_read_write_timeout_executor)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    tn_future_t *r, *w, *t, *x;
    cr_assert_eq(tn_future_new(loop, &r), 0);
    cr_assert_eq(tn_future_new(loop, &w), 0);
    cr_assert_eq(tn_future_new(loop, &t), 0);
    cr_assert_eq(tn_future_new(loop, &x), 0);
    tn_future_ref(r);
    cr_assert_eq(tn_iostream_read_bytes(mt->stream, 5, 0, tn_future_read_cb, r), 0);
    tn_future_ref(w);
    cr_assert_eq(tn_iostream_write(mt->stream, "out", 3, tn_future_write_cb, w), 0);
    tn_future_ref(t);
    cr_assert_neq(tn_ioloop_call_later(loop, 1, tn_future_timeout_cb, t), 0);
    int result = 0;
    tn_future_ref(x);
    cr_assert_eq(tn_ioloop_run_in_executor(loop, work, tn_future_work_done_cb, x), 0);
    (void)result;
    cr_assert_eq(tn_mt_feed(mt, "hello!", 6, 0), 6);
    for (int i = 0; i < 200 && !(tn_future_done(r) && tn_future_done(x) && tn_future_done(t)); i++)
        tn_test_settle(loop, 2);
    cr_assert_eq(tn_future_status(r), 0);
    const tn_buf_t *b = tn_future_value(r);
    cr_assert_eq(b->len, 5);
    cr_assert_eq(memcmp(b->base, "hello", 5), 0);
    cr_assert_eq(tn_future_status(w), 0);
    cr_assert_eq(tn_future_status(t), 0);
    cr_assert_eq(tn_future_status(x), 0);
    (void)result;
    tn_future_unref(r);
    tn_future_unref(w);
    tn_future_unref(t);
    tn_future_unref(x);
    /* a read failing: the status, no value */
    tn_future_t *rf;
    cr_assert_eq(tn_future_new(loop, &rf), 0);
    tn_future_ref(rf);
    cr_assert_eq(tn_iostream_read_bytes(mt->stream, 100, 0, tn_future_read_cb, rf), 0);
    tn_iostream_close(mt->stream);
    for (int i = 0; i < 5; i++)
        tn_mt_turn(loop);
    cr_assert_eq(tn_future_status(rf), TN_ECLOSED);
    cr_assert_null(tn_future_value(rf));
    tn_future_unref(rf);
    tn_mt_free(mt);
    tn_test_close(loop, 0);
}

static int executor_value;
static void exec_work(void *arg)
{
    (void)arg;
    executor_value = 42;
}

Test(future, adapter_connect_over_loopback)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int port;
    int lfd = tn_test_raw_listener(AF_INET, 8, &port);
    tn_future_t *c, *bad, *x;
    cr_assert_eq(tn_future_new(loop, &c), 0);
    cr_assert_eq(tn_future_new(loop, &bad), 0);
    cr_assert_eq(tn_future_new(loop, &x), 0);
    tn_future_ref(c);
    cr_assert_eq(tn_tcpclient_connect(loop, "127.0.0.1", port, 5000, NULL, tn_future_connect_cb, c),
                 0);
    tn_future_ref(bad);
    cr_assert_eq(tn_tcpclient_connect(loop, "127.0.0.1", tn_test_closed_port(AF_INET), 5000, NULL,
                                      tn_future_connect_cb, bad),
                 0);
    tn_future_ref(x);
    cr_assert_eq(tn_ioloop_run_in_executor(loop, exec_work, tn_future_work_done_cb, x), 0);
    for (int i = 0; i < 400 && !(tn_future_done(c) && tn_future_done(bad) && tn_future_done(x));
         i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(tn_future_status(c), 0);
    cr_assert_not_null(tn_future_value(c));
    cr_assert_lt(tn_future_status(bad), 0);
    cr_assert_null(tn_future_value(bad));
    cr_assert_eq(tn_future_status(x), 0);
    cr_assert_eq(executor_value, 42);
    tn_iostream_close(tn_future_value(c));
    tn_test_settle(loop, 20);
    tn_future_unref(c);
    tn_future_unref(bad);
    tn_future_unref(x);
    tn_test_close_fd(lfd);
    tn_test_close(loop, 0);
}
