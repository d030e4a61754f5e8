/* tornuv queues: the behaviours of Tornado's tornado.test.queues_test
 * (FIFO/LIFO/priority order, maxsize, put/get with timeouts and their
 * nowait forms, task_done/join, producer/consumer), plus cancellation
 * between a grant and its delivery. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "loop_util.h"
#include "memtransport.h"
#include "net_peer.h"

TestSuite(queues, .timeout = 30);

#define I(x) ((void *)(intptr_t)(x))
#define V(p) ((int)(intptr_t)(p))

typedef struct {
    int kind[128]; /* 'p' put, 'g' get, 'j' join */
    int status[128];
    int value[128];
    int who[128];
    int n;
    int in_call;
} qlog_t;

typedef struct {
    qlog_t *log;
    int who;
} qtag_t;

static qtag_t qtags[128];

static qtag_t *qt(qlog_t *l, int who)
{
    qtags[who].log = l;
    qtags[who].who = who;
    return &qtags[who];
}

static void add(qtag_t *t, int kind, int status, int value)
{
    qlog_t *l = t->log;
    cr_assert_eq(l->in_call, 0, "callback inside the call");
    cr_assert_lt(l->n, 128);
    l->kind[l->n] = kind;
    l->status[l->n] = status;
    l->value[l->n] = value;
    l->who[l->n] = t->who;
    l->n++;
}

static void put_cb(tn_queue_t *q, int status, void *arg)
{
    (void)q;
    add(arg, 'p', status, 0);
}

static void get_cb(tn_queue_t *q, int status, void *item, void *arg)
{
    (void)q;
    if (status != 0)
        cr_assert_null(item);
    add(arg, 'g', status, status == 0 ? V(item) : -1);
}

static void join_cb(tn_queue_t *q, int status, void *item, void *arg)
{
    (void)q;
    cr_assert_null(item);
    add(arg, 'j', status, 0);
}

static tn_queue_t *mkq(tn_ioloop_t *loop, size_t maxsize, int kind)
{
    tn_queue_t *q;
    tn_queue_options_t o = {.maxsize = maxsize, .kind = kind};
    cr_assert_eq(tn_queue_new(loop, &o, &q), 0);
    return q;
}

static int getnow(tn_queue_t *q)
{
    void *item = NULL;
    cr_assert_eq(tn_queue_get_nowait(q, &item), 0);
    return V(item);
}

/* tornado: queues_test QueueBasicTest test_order, LifoQueueJoinTest
 * test_order */
Test(queues, fifo_and_lifo_order)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_queue_t *f = mkq(loop, 0, TN_QUEUE_FIFO), *l = mkq(loop, 0, TN_QUEUE_LIFO);
    int in[] = {1, 3, 2};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(tn_queue_put_nowait(f, I(in[i])), 0);
        cr_assert_eq(tn_queue_put_nowait(l, I(in[i])), 0);
    }
    cr_assert_eq(getnow(f), 1);
    cr_assert_eq(getnow(f), 3);
    cr_assert_eq(getnow(f), 2);
    cr_assert_eq(getnow(l), 2);
    cr_assert_eq(getnow(l), 3);
    cr_assert_eq(getnow(l), 1);
    void *x;
    cr_assert_eq(tn_queue_get_nowait(f, &x), TN_EEMPTY);
    cr_assert(tn_queue_empty(f));
    tn_queue_free(f);
    tn_queue_free(l);
    tn_test_close(loop, 0);
}

typedef struct {
    int prio;
    char name;
} pitem_t;

static int pcmp(const void *a, const void *b)
{
    return ((const pitem_t *)a)->prio - ((const pitem_t *)b)->prio;
}

/* tornado: queues_test PriorityQueueJoinTest test_order: equal priorities
 * come out in insertion order. */
Test(queues, priority_order_ties_fifo)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_queue_t *q;
    tn_queue_options_t o = {.kind = TN_QUEUE_PRIORITY};
    cr_assert_eq(tn_queue_new(loop, &o, &q), TN_EINVAL, "priority needs cmp");
    o.cmp = pcmp;
    cr_assert_eq(tn_queue_new(loop, &o, &q), 0);
    pitem_t items[] = {{1, 'a'}, {0, 'b'}, {2, 'c'}, {1, 'd'}, {1, 'e'}, {0, 'f'}, {3, 'g'}};
    for (size_t i = 0; i < 7; i++)
        cr_assert_eq(tn_queue_put_nowait(q, &items[i]), 0);
    char got[8] = {0};
    for (int i = 0; i < 7; i++) {
        void *p;
        cr_assert_eq(tn_queue_get_nowait(q, &p), 0);
        got[i] = ((pitem_t *)p)->name;
    }
    cr_assert_str_eq(got, "bfadecg");
    tn_queue_free(q);
    tn_test_close(loop, 0);
}

/* tornado: queues_test QueueBasicTest test_maxsize, QueuePutTest
 * test_nonblocking_put_exception, QueueGetTest test_get_with_putters */
Test(queues, maxsize_put_waits_and_get_takes_a_putter_in)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    qlog_t l = {0};
    tn_queue_t *q = mkq(loop, 2, TN_QUEUE_FIFO);
    cr_assert_eq(tn_queue_full(q), 0);
    cr_assert_eq(tn_queue_put_nowait(q, I(0)), 0);
    l.in_call = 1;
    cr_assert_neq(tn_queue_put(q, I(1), 0, put_cb, qt(&l, 1)), 0);
    l.in_call = 0;
    cr_assert(tn_queue_full(q));
    cr_assert_eq(tn_queue_put_nowait(q, I(9)), TN_EBUFFULL);
    l.in_call = 1;
    cr_assert_neq(tn_queue_put(q, I(2), 0, put_cb, qt(&l, 2)), 0);
    l.in_call = 0;
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 1, "the first put had room");
    cr_assert_eq(l.who[0], 1);
    cr_assert_eq(getnow(q), 0);
    cr_assert_eq(tn_queue_size(q), 2, "the putter's item was taken in");
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.who[1], 2);
    cr_assert_eq(l.status[1], 0);
    cr_assert_eq(getnow(q), 1);
    cr_assert_eq(getnow(q), 2);
    tn_queue_free(q);
    tn_test_close(loop, 0);
}

/* tornado: queues_test QueueGetTest test_blocking_get_wait and QueuePutTest
 * test_put_with_getters: a put goes straight to the oldest getter. */
Test(queues, put_hands_to_waiting_getters_in_order)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    qlog_t l = {0};
    tn_queue_t *q = mkq(loop, 1, TN_QUEUE_FIFO);
    tn_queue_get(q, 0, get_cb, qt(&l, 0));
    tn_queue_get(q, 0, get_cb, qt(&l, 1));
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 0);
    cr_assert_eq(tn_queue_put_nowait(q, I(10)), 0);
    tn_queue_put(q, I(11), 0, put_cb, qt(&l, 2));
    cr_assert_eq(tn_queue_size(q), 0);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 3);
    cr_assert_eq(l.kind[0], 'g');
    cr_assert_eq(l.value[0], 10);
    cr_assert_eq(l.kind[1], 'g');
    cr_assert_eq(l.value[1], 11);
    cr_assert_eq(l.kind[2], 'p');
    cr_assert_eq(l.status[2], 0);
    tn_queue_free(q);
    tn_test_close(loop, 0);
}

/* tornado: queues_test QueueGetTest test_get_timeout and
 * test_get_clears_timed_out_getters: a timed-out getter is gone; the next
 * item goes to a live getter or stays queued. */
Test(queues, get_timeout_leaves_no_waiter_behind)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    qlog_t l = {0};
    tn_queue_t *q = mkq(loop, 0, TN_QUEUE_FIFO);
    double t0 = tn_test_now_ms();
    for (int i = 0; i < 10; i++)
        tn_queue_get(q, 10, get_cb, qt(&l, i));
    for (int i = 0; i < 200 && l.n < 10; i++)
        tn_test_settle(loop, 5);
    cr_assert_geq(tn_test_now_ms() - t0, 9.0);
    cr_assert_eq(l.n, 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(l.status[i], TN_ETIMEOUT);
    tn_queue_get(q, 0, get_cb, qt(&l, 10));
    cr_assert_eq(tn_queue_put_nowait(q, I(5)), 0);
    cr_assert_eq(tn_queue_put_nowait(q, I(6)), 0);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 11);
    cr_assert_eq(l.who[10], 10);
    cr_assert_eq(l.value[10], 5);
    cr_assert_eq(tn_queue_size(q), 1);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    tn_queue_free(q);
    tn_test_close(loop, 0);
}

/* tornado: queues_test QueuePutTest test_put_timeout and
 * test_put_clears_timed_out_putters: the timed-out item is not in the
 * queue and stays the caller's. */
Test(queues, put_timeout_item_stays_the_callers)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    qlog_t l = {0};
    tn_queue_t *q = mkq(loop, 1, TN_QUEUE_FIFO);
    cr_assert_eq(tn_queue_put_nowait(q, I(0)), 0);
    for (int i = 0; i < 5; i++)
        tn_queue_put(q, I(100 + i), 10, put_cb, qt(&l, i));
    tn_queue_put(q, I(1), 0, put_cb, qt(&l, 5));
    for (int i = 0; i < 200 && l.n < 5; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(l.n, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(l.status[i], TN_ETIMEOUT);
    cr_assert_eq(getnow(q), 0);
    cr_assert_eq(getnow(q), 1, "the live putter's item, not a timed-out one");
    void *x;
    cr_assert_eq(tn_queue_get_nowait(q, &x), TN_EEMPTY);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 6);
    cr_assert_eq(l.status[5], 0);
    tn_queue_free(q);
    tn_test_close(loop, 0);
}

/* tornado: queues_test QueueGetTest test_get_timeout_preempted */
Test(queues, get_timeout_preempted_by_put)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    qlog_t l = {0};
    tn_queue_t *q = mkq(loop, 0, TN_QUEUE_FIFO);
    tn_queue_get(q, 10, get_cb, qt(&l, 0));
    tn_queue_put_nowait(q, I(0));
    tn_test_settle(loop, 30);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.status[0], 0);
    cr_assert_eq(l.value[0], 0);
    tn_queue_free(q);
    tn_test_close(loop, 0);
}

/* A getter handed an item and cancelled before its callback: the item goes
 * to the next getter, or back to the head of the queue. */
Test(queues, cancel_granted_getter_keeps_the_item)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    qlog_t l = {0};
    tn_queue_t *q = mkq(loop, 0, TN_QUEUE_FIFO);
    tn_wait_id a = tn_queue_get(q, 0, get_cb, qt(&l, 0));
    tn_wait_id b = tn_queue_get(q, 0, get_cb, qt(&l, 1));
    tn_queue_put_nowait(q, I(7));
    cr_assert_eq(tn_queue_cancel(q, a), 0);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.status[0], TN_ECANCELED);
    cr_assert_eq(l.who[1], 1);
    cr_assert_eq(l.value[1], 7);
    cr_assert_eq(tn_queue_cancel(q, b), TN_ENOTFOUND);
    /* no getter left: back to the head */
    tn_queue_put_nowait(q, I(1));
    tn_queue_put_nowait(q, I(2));
    tn_wait_id c = tn_queue_get(q, 0, get_cb, qt(&l, 2));
    cr_assert_eq(tn_queue_size(q), 1);
    cr_assert_eq(tn_queue_cancel(q, c), 0);
    cr_assert_eq(tn_queue_size(q), 2);
    cr_assert_eq(getnow(q), 1);
    cr_assert_eq(getnow(q), 2);
    /* an accepted put cannot be taken back */
    tn_wait_id p = tn_queue_put(q, I(3), 0, put_cb, qt(&l, 3));
    cr_assert_eq(tn_queue_cancel(q, p), TN_EALREADY);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 4);
    cr_assert_eq(l.status[2], TN_ECANCELED);
    cr_assert_eq(l.status[3], 0);
    cr_assert_eq(getnow(q), 3);
    tn_queue_free(q);
    tn_test_close(loop, 0);
}

/* tornado: queues_test QueueJoinTest test_task_done_underflow,
 * test_join_empty_queue, test_join_timeout, test_task_done */
Test(queues, task_done_and_join)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    qlog_t l = {0};
    tn_queue_t *q = mkq(loop, 0, TN_QUEUE_FIFO);
    cr_assert_eq(tn_queue_task_done(q), TN_EINVAL);
    l.in_call = 1;
    tn_queue_join(q, 0, join_cb, qt(&l, 0));
    tn_queue_join(q, 0, join_cb, qt(&l, 1));
    l.in_call = 0;
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 2);
    tn_queue_put_nowait(q, I(1));
    tn_queue_join(q, 10, join_cb, qt(&l, 2));
    for (int i = 0; i < 200 && l.n < 3; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(l.status[2], TN_ETIMEOUT);
    for (int i = 2; i < 100; i++)
        tn_queue_put_nowait(q, I(i));
    cr_assert_eq(tn_queue_unfinished(q), 99);
    tn_queue_join(q, 0, join_cb, qt(&l, 3));
    for (int i = 0; i < 99; i++) {
        getnow(q);
        cr_assert_eq(tn_queue_task_done(q), 0);
        if (i == 50) {
            tn_mt_turn(loop);
            cr_assert_eq(l.n, 3, "not joined while tasks are unfinished");
        }
    }
    cr_assert_eq(tn_queue_task_done(q), TN_EINVAL);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 4);
    cr_assert_eq(l.status[3], 0);
    tn_queue_free(q);
    tn_test_close(loop, 0);
}

static int freed_items;
static void free_item(void *item)
{
    (void)item;
    freed_items++;
}

/* Freeing with waiters: all TN_ECLOSED, held items to free_item, pending
 * puts' items stay the caller's. */
Test(queues, free_with_waiters_and_items)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    qlog_t l = {0};
    tn_queue_t *q;
    tn_queue_options_t o = {.maxsize = 2, .free_item = free_item};
    cr_assert_eq(tn_queue_new(loop, &o, &q), 0);
    tn_queue_put_nowait(q, I(1));
    tn_queue_put_nowait(q, I(2));
    tn_queue_put(q, I(3), 0, put_cb, qt(&l, 0));
    tn_queue_join(q, 0, join_cb, qt(&l, 1));
    freed_items = 0;
    tn_queue_free(q);
    cr_assert_eq(freed_items, 2);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.status[0], TN_ECLOSED);
    cr_assert_eq(l.status[1], TN_ECLOSED);
    tn_queue_t *e = mkq(loop, 0, TN_QUEUE_FIFO);
    tn_queue_get(e, 0, get_cb, qt(&l, 2));
    tn_queue_free(e);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 3);
    cr_assert_eq(l.status[2], TN_ECLOSED);
    tn_test_close(loop, 0);
}

/* tornado: queues_test ProducerConsumerTest test_producer_consumer: a
 * producer putting ten items into a queue of three, a consumer getting
 * them; puts wait for room, gets for items, nothing lost or reordered. */
typedef struct {
    tn_ioloop_t *loop;
    tn_queue_t *q;
    int produced, consumed;
    int got[10];
    char history[64];
    int h;
    int joined;
} pc_t;

static void produce(pc_t *pc);

static void pc_put(tn_queue_t *q, int status, void *arg)
{
    pc_t *pc = arg;
    (void)q;
    cr_assert_eq(status, 0);
    pc->history[pc->h++] = 'p';
    produce(pc);
}

static void produce(pc_t *pc)
{
    if (pc->produced < 10) {
        int i = pc->produced++;
        cr_assert_neq(tn_queue_put(pc->q, I(i), 0, pc_put, pc), 0);
    }
}

static void pc_get(tn_queue_t *q, int status, void *item, void *arg)
{
    pc_t *pc = arg;
    if (status == TN_ECLOSED)
        return; /* the queue was freed */
    cr_assert_eq(status, 0);
    pc->got[pc->consumed++] = V(item);
    pc->history[pc->h++] = 'g';
    tn_queue_task_done(q);
    cr_assert_neq(tn_queue_get(q, 0, pc_get, pc), 0);
}

static void pc_join(tn_queue_t *q, int status, void *item, void *arg)
{
    pc_t *pc = arg;
    (void)q;
    (void)item;
    cr_assert_eq(status, 0);
    pc->joined = pc->consumed;
    tn_ioloop_stop(pc->loop);
}

Test(queues, producer_consumer)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    pc_t pc = {.loop = loop, .q = mkq(loop, 3, TN_QUEUE_FIFO)};
    produce(&pc);
    cr_assert_neq(tn_queue_get(pc.q, 0, pc_get, &pc), 0);
    /* tornado: join must not complete after the first items: a get waits
     * for the next tick, so the producer refills first */
    cr_assert_neq(tn_queue_join(pc.q, 0, pc_join, &pc), 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(pc.consumed, 10);
    cr_assert_eq(pc.joined, 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(pc.got[i], i);
    cr_assert_eq(tn_queue_unfinished(pc.q), 0);
    tn_queue_free(pc.q); /* the consumer's pending get ends with TN_ECLOSED */
    tn_mt_turn(loop);
    tn_test_close(loop, 0);
}
