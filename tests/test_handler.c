/* fd handlers: add/update/remove, level triggering, removal during dispatch,
 * fd reuse, error delivery, close(all). Real loopback sockets. */
#include <criterion/criterion.h>
#include <string.h>

#include "loop_util.h"
#include "sockpair.h"
#include "tornuv.h"

#ifndef _WIN32
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

TestSuite(handler, .timeout = 20);

typedef struct {
    int calls;
    int events[16];
    tn_socket_t fd;
    int stop_after;
} seen_t;

static void on_event(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    seen_t *s = arg;
    if (s->calls < 16)
        s->events[s->calls] = events;
    s->calls++;
    s->fd = fd;
    if (s->stop_after && s->calls >= s->stop_after)
        tn_ioloop_stop(loop);
}

static void on_stop(tn_ioloop_t *loop, void *arg)
{
    tn_ioloop_stop(loop);
}

Test(handler, read_fires_when_data_arrives_and_is_level_triggered)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    seen_t s = {0};
    s.stop_after = 3;
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_READ, on_event, &s), 0);
    cr_assert_eq(tn_ioloop_alive_count(loop), 1);
    /* Nothing readable: the handler must not run. */
    tn_ioloop_call_later(loop, 30, on_stop, NULL);
    tn_test_run(loop, 2000);
    cr_assert_eq(s.calls, 0);
    /* Unread data keeps the fd ready: called on every iteration. */
    cr_assert_eq(tn_test_send(sv[1], "x", 1), 1);
    tn_test_run(loop, 2000);
    cr_assert_eq(s.calls, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(s.events[i], TN_READ);
    cr_assert_eq(s.fd, sv[0]);
    tn_ioloop_remove_handler(loop, sv[0]);
    tn_test_closesocket(sv[0]);
    tn_test_closesocket(sv[1]);
    tn_test_close(loop, 0);
}

/* tornado: ioloop_test test_read_while_writeable */
Test(handler, read_registration_never_sees_write)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    seen_t s = {0};
    s.stop_after = 1;
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_READ, on_event, &s), 0);
    tn_test_send(sv[1], "x", 1);
    tn_test_run(loop, 2000);
    cr_assert_eq(s.events[0], TN_READ, "events %#x", s.events[0]);
    tn_ioloop_remove_handler(loop, sv[0]);
    tn_test_closesocket(sv[0]);
    tn_test_closesocket(sv[1]);
    tn_test_close(loop, 0);
}

Test(handler, update_switches_interest)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    seen_t s = {0};
    s.stop_after = 1;
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_NONE, on_event, &s), 0);
    cr_assert_eq(tn_ioloop_update_handler(loop, sv[0], TN_WRITE), 0);
    tn_test_run(loop, 2000);
    cr_assert_eq(s.events[0], TN_WRITE);
    /* Back to READ with nothing to read: silence. */
    cr_assert_eq(tn_ioloop_update_handler(loop, sv[0], TN_READ), 0);
    s.calls = 0;
    tn_ioloop_call_later(loop, 30, on_stop, NULL);
    tn_test_run(loop, 2000);
    cr_assert_eq(s.calls, 0);
    /* Both bits arrive in one call. */
    cr_assert_eq(tn_ioloop_update_handler(loop, sv[0], TN_READ | TN_WRITE), 0);
    tn_test_send(sv[1], "x", 1);
    tn_test_sleep_ms(10);
#ifdef _WIN32
    /* libuv's Windows poll (AFD) may report the two readinesses in separate
     * callbacks; both must still arrive, level-triggered. */
    s.stop_after = 4;
    tn_test_run(loop, 2000);
    int all = 0;
    for (int i = 0; i < 4; i++)
        all |= s.events[i];
    cr_assert_eq(all, TN_READ | TN_WRITE, "events %#x", all);
#else
    tn_test_run(loop, 2000);
    cr_assert_eq(s.events[0], TN_READ | TN_WRITE, "events %#x", s.events[0]);
#endif
    cr_assert_eq(tn_ioloop_update_handler(loop, sv[1], TN_READ), TN_ENOTFOUND);
    tn_ioloop_remove_handler(loop, sv[0]);
    tn_test_closesocket(sv[0]);
    tn_test_closesocket(sv[1]);
    tn_test_close(loop, 0);
}

/* F14, tornado: ioloop_test test_add_handler_twice / test_remove_without_add */
Test(handler, add_twice_is_an_error_and_remove_unknown_is_harmless)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    seen_t s = {0};
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_READ, on_event, &s), 0);
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_WRITE, on_event, &s), TN_EEXIST);
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_READ, NULL, &s), TN_EINVAL);
    tn_ioloop_remove_handler(loop, sv[1]);
    tn_ioloop_remove_handler(loop, sv[0]);
    tn_ioloop_remove_handler(loop, sv[0]);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    /* The fd can be registered again right away. */
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_READ, on_event, &s), 0);
    tn_ioloop_remove_handler(loop, sv[0]);
    tn_test_closesocket(sv[0]);
    tn_test_closesocket(sv[1]);
    tn_test_close(loop, 0);
}

/* F12, tornado: ioloop_test test_remove_handler_from_handler */
typedef struct {
    tn_socket_t fds[2];
    int calls[2];
} mutual_t;

static void on_mutual(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    mutual_t *m = arg;
    int me = fd == m->fds[0] ? 0 : 1;
    m->calls[me]++;
    tn_ioloop_remove_handler(loop, m->fds[1 - me]);
    tn_ioloop_remove_handler(loop, fd);
}

Test(handler, handler_removed_by_another_in_same_iteration_does_not_run)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_socket_t a[2], b[2];
    tn_test_socketpair(a);
    tn_test_socketpair(b);
    mutual_t m = {{a[0], b[0]}, {0, 0}};
    /* Both ready before the loop polls, so one poll reports both. */
    tn_test_send(a[1], "x", 1);
    tn_test_send(b[1], "x", 1);
    tn_test_sleep_ms(10);
    cr_assert_eq(tn_ioloop_add_handler(loop, a[0], TN_READ, on_mutual, &m), 0);
    cr_assert_eq(tn_ioloop_add_handler(loop, b[0], TN_READ, on_mutual, &m), 0);
    tn_ioloop_call_later(loop, 30, on_stop, NULL);
    tn_test_run(loop, 2000);
    cr_assert_eq(m.calls[0] + m.calls[1], 1, "calls %d %d", m.calls[0], m.calls[1]);
    tn_test_closesocket(a[0]);
    tn_test_closesocket(a[1]);
    tn_test_closesocket(b[0]);
    tn_test_closesocket(b[1]);
    tn_test_close(loop, 0);
}

#ifndef _WIN32
/* F13: handler A removes and closes fd X while X has a pending event, then a
 * new socket reuses number X and gets a handler: the stale event for the old
 * X is not delivered to it. */
typedef struct {
    int victim;
    int reused[2];
    int stale_calls;
    int a_calls;
    int victim_calls;
} reuse_t;

static void on_stale(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    ((reuse_t *)arg)->stale_calls++;
}

static void on_victim(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    ((reuse_t *)arg)->victim_calls++;
}

static void on_reuser(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    reuse_t *r = arg;
    if (r->a_calls++ > 0)
        return;
    tn_ioloop_remove_handler(loop, fd);
    tn_ioloop_remove_handler(loop, r->victim);
    close(r->victim);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, r->reused), 0);
    cr_assert_eq(r->reused[0], r->victim, "fd number was not reused");
    cr_assert_eq(tn_ioloop_add_handler(loop, r->reused[0], TN_READ, on_stale, r), 0);
}

Test(handler, stale_event_of_reused_fd_number_is_not_delivered)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int a[2], v[2];
    /* v[0] gets the lowest free number; a is created after so the victim is
     * the one freed and reused. */
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, v), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    reuse_t r = {0};
    r.victim = v[0];
    cr_assert_eq(write(a[1], "x", 1), 1);
    cr_assert_eq(write(v[1], "x", 1), 1);
    cr_assert_eq(tn_ioloop_add_handler(loop, a[0], TN_READ, on_reuser, &r), 0);
    cr_assert_eq(tn_ioloop_add_handler(loop, v[0], TN_READ, on_victim, &r), 0);
    tn_ioloop_call_later(loop, 30, on_stop, NULL);
    tn_test_run(loop, 2000);
    /* Epoll reports in registration order, so a ran first in the shared
     * iteration and the victim never ran. */
    cr_assert_eq(r.a_calls, 1);
    cr_assert_eq(r.victim_calls, 0);
    cr_assert_eq(r.stale_calls, 0, "stale readiness delivered to the new handler");
    tn_ioloop_remove_handler(loop, r.reused[0]);
    close(r.reused[0]);
    close(r.reused[1]);
    close(a[0]);
    close(a[1]);
    close(v[1]);
    tn_test_close(loop, 0);
}
#endif

/* Peer hang-up arrives as ERROR together with READ; recv then sees EOF. */
typedef struct {
    int events;
    long got;
} hup_t;

static void on_hup(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    hup_t *h = arg;
    char buf[16];
    h->events = events;
    h->got = tn_test_recv(fd, buf, sizeof(buf));
    tn_ioloop_remove_handler(loop, fd);
    tn_ioloop_stop(loop);
}

Test(handler, peer_close_is_delivered_as_error_with_read)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    hup_t h = {0, -2};
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_READ, on_hup, &h), 0);
    tn_test_closesocket(sv[1]);
    tn_test_run(loop, 2000);
    cr_assert_eq(h.events & TN_ERROR, TN_ERROR, "events %#x", h.events);
    cr_assert_eq(h.events & TN_READ, TN_READ, "events %#x", h.events);
    cr_assert_eq(h.got, 0);
    tn_test_closesocket(sv[0]);
    tn_test_close(loop, 0);
}

/* Not on Windows: there libuv asks the AFD driver for resets only along
 * with READ interest (AFD_POLL_ABORT), so a handler without it never hears
 * one (docs/WINDOWS.md). */
#ifndef _WIN32
Test(handler, peer_reset_is_delivered_as_error)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    hup_t h = {0, -2};
    /* Write-only interest still hears about the reset. */
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_NONE, on_hup, &h), 0);
    tn_test_reset(sv[1]);
    tn_test_run(loop, 2000);
    cr_assert_eq(h.events & TN_ERROR, TN_ERROR, "events %#x", h.events);
    cr_assert_lt(h.got, 0);
    tn_test_closesocket(sv[0]);
    tn_test_close(loop, 0);
}
#endif

/* A handler may remove itself and register the same fd again. */
typedef struct {
    int calls;
    int readd_rc;
} readd_t;

static void on_readd(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    readd_t *r = arg;
    if (++r->calls == 1) {
        tn_ioloop_remove_handler(loop, fd);
        r->readd_rc = tn_ioloop_add_handler(loop, fd, TN_READ, on_readd, r);
        return;
    }
    tn_ioloop_stop(loop);
}

Test(handler, handler_can_remove_and_readd_itself)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    readd_t r = {0, 1};
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_READ, on_readd, &r), 0);
    tn_test_send(sv[1], "x", 1);
    tn_test_run(loop, 2000);
    cr_assert_eq(r.readd_rc, 0);
    cr_assert_eq(r.calls, 2);
    tn_ioloop_remove_handler(loop, sv[0]);
    tn_test_closesocket(sv[0]);
    tn_test_closesocket(sv[1]);
    tn_test_close(loop, 0);
}

Test(handler, close_busy_then_close_all_closes_fds)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    seen_t s = {0};
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_READ, on_event, &s), 0);
    cr_assert_eq(tn_ioloop_close(loop, 0), TN_EBUSY);
    tn_test_close(loop, TN_CLOSE_ALL_FDS);
    cr_assert_eq(s.calls, 0);
#ifndef _WIN32
    errno = 0;
    cr_assert_eq(fcntl(sv[0], F_GETFD), -1, "close(all) left the handler's fd open");
    cr_assert_eq(errno, EBADF);
#endif
    tn_test_closesocket(sv[1]);
}

#ifndef _WIN32
Test(handler, non_pollable_fd_is_refused_cleanly)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int fd = open("/dev/null", O_RDONLY);
    cr_assert_geq(fd, 0);
    seen_t s = {0};
    int rc = tn_ioloop_add_handler(loop, fd, TN_READ, on_event, &s);
    cr_assert_lt(rc, 0);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    close(fd);
    tn_test_close(loop, 0);
}
#endif
