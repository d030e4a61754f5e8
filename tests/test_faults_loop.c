/* FAULTS.md section 6, the IOLoop half: timeouts removed from inside
 * callbacks (F8-F10), deferred callbacks (F11), handlers removed or reused
 * during dispatch (F12-F14), close with live objects (F25), re-entry, stop
 * and run_sync timeouts (F26), and wall-clock jumps (F28). Each test also
 * checks that callbacks ran at most once and that the loop closes cleanly
 * (no live object left behind). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "loop_util.h"
#include "net_peer.h"
#include "sockpair.h"
#include "tornuv.h"
#include "tornuv/uv.h"

TestSuite(faults, .timeout = 60);

static void on_count(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    (*(int *)arg)++;
}

/* ---- F8: a timeout removes itself ----------------------------------------- */

typedef struct {
    tn_timeout_id id;
    int calls;
} self_remove_t;

static void on_self_remove(tn_ioloop_t *loop, void *arg)
{
    self_remove_t *r = arg;
    r->calls++;
    tn_ioloop_remove_timeout(loop, r->id);
    tn_ioloop_remove_timeout(loop, r->id);
}

/* tornado: ioloop_test test_remove_timeout_after_fire */
Test(faults, F8_timeout_removes_itself_in_its_callback)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    self_remove_t r = {0};
    r.id = tn_ioloop_call_later(loop, 5, on_self_remove, &r);
    cr_assert_neq(r.id, 0);
    tn_test_settle(loop, 40);
    cr_assert_eq(r.calls, 1);
    tn_ioloop_remove_timeout(loop, r.id);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    tn_test_close(loop, 0);
}

/* ---- F9: t1 removes t2, both due in the same iteration ------------------- */

typedef struct {
    tn_timeout_id t2;
    int t1_calls, t2_calls;
} pair_t;

static void on_t1(tn_ioloop_t *loop, void *arg)
{
    pair_t *p = arg;
    p->t1_calls++;
    tn_ioloop_remove_timeout(loop, p->t2);
}

static void on_t2(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    ((pair_t *)arg)->t2_calls++;
}

/* tornado: ioloop_test test_remove_timeout_from_timeout */
Test(faults, F9_timeout_removed_by_earlier_timeout_due_together_never_runs)
{
    for (int delay = 0; delay <= 10; delay += 10) {
        tn_ioloop_t *loop = tn_test_loop_new();
        pair_t p = {0};
        cr_assert_neq(tn_ioloop_call_later(loop, (uint64_t)delay, on_t1, &p), 0);
        p.t2 = tn_ioloop_call_later(loop, (uint64_t)delay, on_t2, &p);
        cr_assert_neq(p.t2, 0);
        /* Both are overdue by the time the loop first looks. */
        tn_test_sleep_ms(30);
        tn_test_settle(loop, 30);
        cr_assert_eq(p.t1_calls, 1, "delay %d", delay);
        cr_assert_eq(p.t2_calls, 0, "delay %d: the removed timeout ran", delay);
        cr_assert_eq(tn_ioloop_alive_count(loop), 0);
        tn_test_close(loop, 0);
    }
}

/* ---- F10: remove twice, after firing, or nothing -------------------------- */

/* tornado: ioloop_test test_remove_without_add */
Test(faults, F10_remove_timeout_twice_fired_or_zero_is_a_no_op)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int fired = 0, other = 0;
    tn_timeout_id a = tn_ioloop_call_later(loop, 1, on_count, &fired);
    tn_timeout_id b = tn_ioloop_call_later(loop, 10000, on_count, &other);
    cr_assert_neq(a, 0);
    cr_assert_neq(b, 0);
    tn_ioloop_remove_timeout(loop, 0);
    tn_ioloop_remove_timeout(loop, b + 1000); /* never issued */
    tn_ioloop_remove_timeout(loop, b);
    tn_ioloop_remove_timeout(loop, b);
    tn_test_settle(loop, 30);
    cr_assert_eq(fired, 1);
    tn_ioloop_remove_timeout(loop, a); /* already fired */
    tn_ioloop_remove_timeout(loop, a);
    tn_test_settle(loop, 10);
    cr_assert_eq(fired, 1);
    cr_assert_eq(other, 0);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    tn_test_close(loop, 0);
}

/* ---- F11: callbacks added from callbacks, zero and past deadlines --------- */

typedef struct {
    char order[16];
    int n;
    int in_a;
    int b_ran_inside_a;
} order_t;

static void mark(order_t *o, char c)
{
    if (o->n < (int)sizeof(o->order) - 1)
        o->order[o->n++] = c;
}

static void on_b(tn_ioloop_t *loop, void *arg)
{
    order_t *o = arg;
    (void)loop;
    if (o->in_a)
        o->b_ran_inside_a = 1;
    mark(o, 'B');
}

static void on_z(tn_ioloop_t *loop, void *arg)
{
    order_t *o = arg;
    (void)loop;
    if (o->in_a)
        o->b_ran_inside_a = 1;
    mark(o, 'Z');
}

static void on_p(tn_ioloop_t *loop, void *arg)
{
    order_t *o = arg;
    (void)loop;
    if (o->in_a)
        o->b_ran_inside_a = 1;
    mark(o, 'P');
}

static void on_c(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    mark(arg, 'C');
}

static void on_a(tn_ioloop_t *loop, void *arg)
{
    order_t *o = arg;
    o->in_a = 1;
    mark(o, 'A');
    cr_assert_eq(tn_ioloop_add_callback(loop, on_b, o), 0);
    cr_assert_neq(tn_ioloop_call_later(loop, 0, on_z, o), 0);
    /* A deadline in the past (Tornado's negative delay) behaves as 0. */
    uint64_t now = tn_ioloop_time_ms(loop);
    cr_assert_neq(tn_ioloop_call_at(loop, now > 5000 ? now - 5000 : 0, on_p, o), 0);
    o->in_a = 0;
}

typedef struct {
    tn_ioloop_t *loop;
    int spins;
    int timer_fired;
} spin_t;

static void on_spin(tn_ioloop_t *loop, void *arg)
{
    spin_t *s = arg;
    if (s->timer_fired || ++s->spins >= 1000000)
        return;
    cr_assert_eq(tn_ioloop_add_callback(loop, on_spin, s), 0);
}

static void on_spin_timer(tn_ioloop_t *loop, void *arg)
{
    ((spin_t *)arg)->timer_fired = 1;
    tn_ioloop_stop(loop);
}

/* tornado: ioloop_test test_add_callback_while_closing neighbours; the
 * inventory's add_callback row */
Test(faults, F11_callbacks_from_callbacks_run_later_and_never_starve)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    order_t o = {0};
    cr_assert_eq(tn_ioloop_add_callback(loop, on_a, &o), 0);
    cr_assert_eq(tn_ioloop_add_callback(loop, on_c, &o), 0);
    tn_test_settle(loop, 30);
    cr_assert_eq(o.b_ran_inside_a, 0, "a callback ran inside the call that scheduled it");
    /* C was queued before A ran, so it runs in A's drain; B, Z and P come
     * in a later one, in the order they were scheduled. */
    cr_assert_str_eq(o.order, "ACBZP");

    /* A callback that re-adds itself forever does not starve a timer. */
    spin_t s = {.loop = loop};
    cr_assert_eq(tn_ioloop_add_callback(loop, on_spin, &s), 0);
    cr_assert_neq(tn_ioloop_call_later(loop, 20, on_spin_timer, &s), 0);
    tn_test_run(loop, 10000);
    cr_assert_eq(s.timer_fired, 1);
    cr_assert_lt(s.spins, 1000000);
    tn_test_settle(loop, 5);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    tn_test_close(loop, 0);
}

/* ---- F12: handler A removes handler B, both ready ------------------------- */

typedef struct {
    tn_socket_t fds[2];
    int calls[2];
} mutual_t;

static void on_mutual(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    mutual_t *m = arg;
    (void)events;
    int me = fd == m->fds[0] ? 0 : 1;
    m->calls[me]++;
    tn_ioloop_remove_handler(loop, m->fds[1 - me]);
    tn_ioloop_remove_handler(loop, fd);
}

/* tornado: ioloop_test test_remove_handler_from_handler */
Test(faults, F12_handler_removed_by_another_in_the_same_poll_is_not_called)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_socket_t a[2], b[2];
    tn_test_socketpair(a);
    tn_test_socketpair(b);
    mutual_t m = {{a[0], b[0]}, {0, 0}};
    tn_test_send(a[1], "x", 1);
    tn_test_send(b[1], "x", 1);
    tn_test_sleep_ms(10);
    cr_assert_eq(tn_ioloop_add_handler(loop, a[0], TN_READ, on_mutual, &m), 0);
    cr_assert_eq(tn_ioloop_add_handler(loop, b[0], TN_READ, on_mutual, &m), 0);
    tn_test_settle(loop, 30);
    cr_assert_eq(m.calls[0] + m.calls[1], 1, "calls %d %d", m.calls[0], m.calls[1]);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    /* The loop still serves a new handler. */
    m.calls[0] = m.calls[1] = 0;
    m.fds[1] = TN_INVALID_SOCKET;
    tn_test_send(a[1], "y", 1);
    cr_assert_eq(tn_ioloop_add_handler(loop, a[0], TN_READ, on_mutual, &m), 0);
    tn_test_settle(loop, 30);
    cr_assert_eq(m.calls[0], 1);
    cr_assert_eq(m.calls[1], 0);
    tn_ioloop_remove_handler(loop, a[0]);
    for (int i = 0; i < 2; i++) {
        tn_test_closesocket(a[i]);
        tn_test_closesocket(b[i]);
    }
    tn_test_close(loop, 0);
}

/* ---- F13: fd number reused within one iteration --------------------------- */

typedef struct {
    int victim;
    int reused[2];
    int a_calls, victim_calls, stale_calls;
} reuse_t;

static void on_stale(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    ((reuse_t *)arg)->stale_calls++;
}

static void on_victim(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    ((reuse_t *)arg)->victim_calls++;
}

static void on_reuser(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    reuse_t *r = arg;
    (void)events;
    if (r->a_calls++ > 0)
        return;
    tn_ioloop_remove_handler(loop, fd);
    tn_ioloop_remove_handler(loop, r->victim);
    close(r->victim);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, r->reused), 0);
    cr_assert_eq(r->reused[0], r->victim, "fd number was not reused");
    cr_assert_eq(tn_ioloop_add_handler(loop, r->reused[0], TN_READ, on_stale, r), 0);
}

/* libuv: uv__platform_invalidate_fd; events are mapped by handle, not number */
Test(faults, F13_stale_readiness_of_a_reused_fd_number_is_not_delivered)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int v[2], a[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, v), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    reuse_t r = {.victim = v[0]};
    cr_assert_eq(write(a[1], "x", 1), 1);
    cr_assert_eq(write(v[1], "x", 1), 1);
    cr_assert_eq(tn_ioloop_add_handler(loop, a[0], TN_READ, on_reuser, &r), 0);
    cr_assert_eq(tn_ioloop_add_handler(loop, v[0], TN_READ, on_victim, &r), 0);
    tn_test_settle(loop, 30);
    cr_assert_eq(r.a_calls, 1);
    cr_assert_eq(r.victim_calls, 0);
    cr_assert_eq(r.stale_calls, 0, "stale readiness delivered to the new handler");
    /* The new registration works once it really has data. */
    cr_assert_eq(write(r.reused[1], "y", 1), 1);
    tn_test_settle(loop, 30);
    cr_assert_geq(r.stale_calls, 1);
    tn_ioloop_remove_handler(loop, r.reused[0]);
    close(r.reused[0]);
    close(r.reused[1]);
    close(a[0]);
    close(a[1]);
    close(v[1]);
    tn_test_close(loop, 0);
}

/* ---- F14: double add, unknown remove/update ------------------------------- */

static void on_never(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    (*(int *)arg)++;
}

/* tornado: ioloop_test test_add_handler twice (ValueError), test_remove_without_add */
Test(faults, F14_add_handler_twice_fails_remove_unknown_is_a_no_op)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    int calls = 0;
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_READ, on_never, &calls), 0);
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_READ, on_never, &calls), TN_EEXIST);
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_WRITE, on_never, &calls), TN_EEXIST);
    cr_assert_eq(tn_ioloop_alive_count(loop), 1);
    tn_ioloop_remove_handler(loop, sv[1]); /* never registered */
    tn_ioloop_remove_handler(loop, (tn_socket_t)4000);
    cr_assert_eq(tn_ioloop_update_handler(loop, sv[1], TN_READ), TN_ENOTFOUND);
    /* The first registration is intact. */
    tn_test_send(sv[1], "x", 1);
    tn_test_settle(loop, 20);
    cr_assert_geq(calls, 1);
    tn_ioloop_remove_handler(loop, sv[0]);
    tn_ioloop_remove_handler(loop, sv[0]);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    tn_test_closesocket(sv[0]);
    tn_test_closesocket(sv[1]);
    tn_test_close(loop, 0);
}

/* ---- F25: close(all_fds) with live streams, timers, handlers -------------- */

typedef struct {
    int read_calls, read_status;
    int write_calls, write_status;
    int close_calls;
    int timer_calls;
    int handler_calls;
    int accepted;
    int detached;
} live_t;

static void live_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    live_t *l = arg;
    (void)s;
    (void)data;
    (void)len;
    l->read_calls++;
    l->read_status = status;
}

static void live_write(tn_iostream_t *s, int status, void *arg)
{
    live_t *l = arg;
    (void)s;
    l->write_calls++;
    l->write_status = status;
}

static void live_close(tn_iostream_t *s, void *arg)
{
    (void)s;
    ((live_t *)arg)->close_calls++;
}

static void live_handler(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    ((live_t *)arg)->handler_calls++;
}

static void live_tick(tn_periodic_t *p, void *arg)
{
    (void)p;
    (void)arg;
}

static void live_accept(tn_tcpserver_t *server, tn_iostream_t *stream, const char *ip, int port,
                        void *arg)
{
    (void)server;
    (void)ip;
    (void)port;
    ((live_t *)arg)->accepted++;
    tn_iostream_set_close_callback(stream, live_close, arg);
}

static void on_detached(void *arg)
{
    ((live_t *)arg)->detached++;
}

/* A stream with a pending read and a write stuck behind a tiny send buffer,
 * a handler, a timer, a periodic and a server with one accepted stream. */
static void make_live_objects(tn_ioloop_t *loop, live_t *l, tn_socket_t *peer, int *hfd,
                              int *client)
{
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    *peer = sv[1];
    tn_iostream_t *s;
    cr_assert_eq(tn_iostream_from_socket(loop, sv[0], NULL, &s), 0);
    tn_iostream_set_close_callback(s, live_close, l);
    cr_assert_eq(tn_iostream_read_until(s, "\n", 1, 0, live_read, l), 0);
    static char big[8 * 1024 * 1024];
    cr_assert_eq(tn_iostream_write(s, big, sizeof(big), live_write, l), 0);
    int hp[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, hp), 0);
    *hfd = hp[0];
    close(hp[1]);
    cr_assert_eq(tn_ioloop_add_handler(loop, hp[0], TN_WRITE, live_handler, l), 0);
    cr_assert_neq(tn_ioloop_call_later(loop, 60000, on_count, &l->timer_calls), 0);
    tn_periodic_t *p;
    cr_assert_eq(tn_periodic_new(loop, 1000, live_tick, NULL, &p), 0);
    cr_assert_eq(tn_periodic_start(p), 0);
    tn_tcpserver_options_t opts = {.handle_stream = live_accept, .arg = l};
    tn_tcpserver_t *server;
    cr_assert_eq(tn_tcpserver_new(loop, &opts, &server), 0);
    cr_assert_eq(tn_tcpserver_listen(server, 0, "127.0.0.1"), 0);
    *client = tn_peer_connect(AF_INET, tn_tcpserver_port(server), NULL);
    cr_assert_geq(*client, 0);
    for (int i = 0; i < 200 && l->accepted == 0; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(l->accepted, 1);
    /* stream, accepted stream, handler, timer, periodic, server */
    cr_assert_geq(tn_ioloop_alive_count(loop), 6);
    cr_assert_eq(tn_ioloop_close(loop, 0), TN_EBUSY);
}

static void assert_all_completed(const live_t *l)
{
    cr_assert_eq(l->read_calls, 1);
    cr_assert_eq(l->read_status, TN_ECLOSED);
    cr_assert_eq(l->write_calls, 1);
    cr_assert_eq(l->write_status, TN_ECLOSED);
    cr_assert_eq(l->close_calls, 2, "close callbacks: %d", l->close_calls);
    cr_assert_eq(l->timer_calls, 0);
}

/* libuv: test-loop-close.c; tornado: IOLoop.close(all_fds=True) */
Test(faults, F25_close_all_fds_closes_every_live_object_once)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    live_t l = {0};
    tn_socket_t peer;
    int hfd, client;
    make_live_objects(loop, &l, &peer, &hfd, &client);
    cr_assert_eq(tn_ioloop_close(loop, TN_CLOSE_ALL_FDS), 0);
    assert_all_completed(&l);
    cr_assert_eq(fcntl(hfd, F_GETFD), -1, "the handler's fd was not closed");
    tn_test_closesocket(peer);
    close(client);
}

/* The same on a host's loop: after detach the host's uv_loop_close must not
 * report UV_EBUSY (every tornuv handle closed). */
Test(faults, F25_detach_leaves_no_handle_on_the_host_loop)
{
    uv_loop_t uv;
    tn_ioloop_t *loop;
    cr_assert_eq(uv_loop_init(&uv), 0);
    cr_assert_eq(tn_ioloop_attach(&uv, &loop), 0);
    live_t l = {0};
    tn_socket_t peer;
    int hfd, client = -1;
    /* make_live_objects runs the loop through tn_ioloop_start, which an
     * attached loop refuses; build the objects by hand instead. */
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    peer = sv[1];
    tn_iostream_t *s;
    cr_assert_eq(tn_iostream_from_socket(loop, sv[0], NULL, &s), 0);
    tn_iostream_set_close_callback(s, live_close, &l);
    cr_assert_eq(tn_iostream_read_until(s, "\n", 1, 0, live_read, &l), 0);
    cr_assert_eq(tn_iostream_write(s, "x", 1, live_write, &l), 0);
    int hp[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, hp), 0);
    hfd = hp[0];
    cr_assert_eq(tn_ioloop_add_handler(loop, hp[0], TN_READ, live_handler, &l), 0);
    cr_assert_neq(tn_ioloop_call_later(loop, 60000, on_count, &l.timer_calls), 0);
    tn_tcpserver_options_t opts = {.handle_stream = live_accept, .arg = &l};
    tn_tcpserver_t *server;
    cr_assert_eq(tn_tcpserver_new(loop, &opts, &server), 0);
    cr_assert_eq(tn_tcpserver_listen(server, 0, "127.0.0.1"), 0);
    client = tn_peer_connect(AF_INET, tn_tcpserver_port(server), NULL);
    for (int i = 0; i < 1000 && l.accepted == 0; i++)
        uv_run(&uv, UV_RUN_NOWAIT);
    cr_assert_eq(l.accepted, 1);
    cr_assert_eq(tn_ioloop_detach(loop, on_detached, &l), 0);
    for (int i = 0; i < 1000 && !l.detached; i++)
        uv_run(&uv, UV_RUN_ONCE);
    cr_assert_eq(l.detached, 1);
    cr_assert_eq(l.read_calls, 1);
    cr_assert_eq(l.read_status, TN_ECLOSED);
    cr_assert_eq(l.write_calls, 1);
    cr_assert_eq(l.close_calls, 2);
    cr_assert_eq(l.timer_calls, 0);
    cr_assert_eq(uv_loop_close(&uv), 0, "tornuv left a handle on the host loop");
    cr_assert_eq(fcntl(hfd, F_GETFD), -1);
    close(hp[1]);
    tn_test_closesocket(peer);
    close(client);
}

/* ---- F26: re-entrant start, stop from a callback, run_sync timeout -------- */

typedef struct {
    int reentry;
    int after_stop;
    int queued_later;
} stopper_t;

static void on_reenter(tn_ioloop_t *loop, void *arg)
{
    ((stopper_t *)arg)->reentry = tn_ioloop_start(loop);
}

static void on_later(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    ((stopper_t *)arg)->queued_later++;
}

static void on_stopper(tn_ioloop_t *loop, void *arg)
{
    tn_ioloop_stop(loop);
    /* Queued during this drain: must wait for the next start. */
    cr_assert_eq(tn_ioloop_add_callback(loop, on_later, arg), 0);
}

static void on_after_stop(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    ((stopper_t *)arg)->after_stop++;
}

static void sync_never(tn_ioloop_t *loop, tn_sync_t *sync, void *arg)
{
    (void)loop;
    *(tn_sync_t **)arg = sync;
}

static void sync_now(tn_ioloop_t *loop, tn_sync_t *sync, void *arg)
{
    (void)loop;
    (void)arg;
    tn_sync_done(sync, 7);
}

/* tornado: ioloop_test test_reentrant, test_run_sync_timeout, stop() row */
Test(faults, F26_reentry_refused_stop_after_iteration_run_sync_timeout_reusable)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    stopper_t st = {0};
    cr_assert_eq(tn_ioloop_add_callback(loop, on_reenter, &st), 0);
    cr_assert_eq(tn_ioloop_add_callback(loop, on_stopper, &st), 0);
    cr_assert_eq(tn_ioloop_add_callback(loop, on_after_stop, &st), 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(st.reentry, TN_EALREADY);
    /* The rest of the drain still ran; what it queued did not. */
    cr_assert_eq(st.after_stop, 1);
    cr_assert_eq(st.queued_later, 0);
    tn_test_settle(loop, 5);
    cr_assert_eq(st.queued_later, 1);

    tn_sync_t *pending = NULL;
    double t0 = tn_test_now_ms();
    cr_assert_eq(tn_ioloop_run_sync(loop, sync_never, &pending, 50), TN_ETIMEOUT);
    cr_assert_geq(tn_test_now_ms() - t0, 45.0);
    cr_assert_not_null(pending);
    tn_sync_done(pending, 0); /* late completion is ignored */
    cr_assert_eq(tn_ioloop_run_sync(loop, sync_now, NULL, 1000), 7);
    cr_assert_eq(st.reentry, TN_EALREADY);
    tn_test_close(loop, 0);
}

/* ---- F28: the wall clock jumps -------------------------------------------- */

/* The test program's clock_gettime interposes libc's (and is what libuv
 * calls): CLOCK_REALTIME is shifted by realtime_shift_s, every other clock
 * is the kernel's. */
static volatile long realtime_shift_s;
static volatile long other_clock_calls;

int clock_gettime(clockid_t id, struct timespec *ts)
{
    long rc = syscall(SYS_clock_gettime, id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        ts->tv_sec += realtime_shift_s;
    else
        other_clock_calls++;
    return (int)rc;
}

typedef struct {
    int fired;
    double at_ms;
} stamp_t;

static void on_stamp(tn_ioloop_t *loop, void *arg)
{
    stamp_t *s = arg;
    (void)loop;
    s->fired++;
    s->at_ms = tn_test_now_ms();
}

static void on_jump(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    realtime_shift_s += (long)(intptr_t)arg;
}

/* tornado: ioloop_test test_clock_backwards (timeouts use the monotonic
 * clock: a jump neither fires everything at once nor stalls) */
Test(faults, F28_wall_clock_jumps_neither_fire_nor_stall_timeouts)
{
    struct timespec before, after;
    realtime_shift_s = 0;
    clock_gettime(CLOCK_REALTIME, &before);
    realtime_shift_s = 3600;
    clock_gettime(CLOCK_REALTIME, &after);
    cr_assert_geq(after.tv_sec - before.tv_sec, 3599, "the clock interposer is not in effect");
    realtime_shift_s = 0;

    tn_ioloop_t *loop = tn_test_loop_new();
    other_clock_calls = 0;
    stamp_t near = {0}, far = {0};
    double t0 = tn_test_now_ms();
    uint64_t loop0 = tn_ioloop_time_ms(loop);
    cr_assert_neq(tn_ioloop_call_later(loop, 150, on_stamp, &near), 0);
    cr_assert_neq(tn_ioloop_call_later(loop, 3600 * 1000, on_stamp, &far), 0);
    /* Backwards by a day, then forwards by two. */
    cr_assert_neq(tn_ioloop_call_later(loop, 20, on_jump, (void *)(intptr_t)-86400), 0);
    cr_assert_neq(tn_ioloop_call_later(loop, 60, on_jump, (void *)(intptr_t)(2 * 86400)), 0);
    tn_test_settle(loop, 300);
    cr_assert_gt(other_clock_calls, 0, "libuv's clock reads do not go through the interposer");
    cr_assert_eq(near.fired, 1);
    cr_assert_geq(near.at_ms - t0, 140.0, "fired early: %.1f ms", near.at_ms - t0);
    cr_assert_lt(near.at_ms - t0, 1500.0, "stalled: %.1f ms", near.at_ms - t0);
    cr_assert_eq(far.fired, 0, "a jump forward fired a timeout an hour away");
    uint64_t elapsed = tn_ioloop_time_ms(loop) - loop0;
    cr_assert(elapsed >= 290 && elapsed < 5000, "loop clock moved %llu ms",
              (unsigned long long)elapsed);
    realtime_shift_s = 0;
    tn_test_close(loop, TN_CLOSE_ALL_FDS);
}
