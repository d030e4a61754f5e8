/* Command peers (see cmd_peer.h). */
#ifndef _WIN32
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_peer.h"
#include "loop_util.h"
#include "net_peer.h"

static void *cmd_main(void *arg)
{
    tn_cmd_t *c = arg;
    FILE *f = popen(c->cmd, "r");
    size_t cap = 0;
    if (f != NULL) {
        for (;;) {
            if (cap - c->len < 4096) {
                cap = cap ? cap * 2 : 65536;
                c->out = realloc(c->out, cap + 1);
            }
            size_t n = fread(c->out + c->len, 1, cap - c->len, f);
            if (n == 0)
                break;
            c->len += n;
        }
        c->status = pclose(f);
    } else {
        c->status = -1;
    }
    if (c->out == NULL)
        c->out = calloc(1, 1);
    c->out[c->len] = '\0';
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

void tn_cmd_start(tn_cmd_t *c)
{
    cr_assert_eq(pthread_create(&c->thread, NULL, cmd_main, c), 0);
}

void tn_cmd_wait(tn_ioloop_t *loop, tn_cmd_t *c, unsigned timeout_ms)
{
    double t0 = tn_test_now_ms();
    while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE) && tn_test_now_ms() - t0 < timeout_ms)
        tn_test_settle(loop, 5);
    cr_assert(__atomic_load_n(&c->done, __ATOMIC_ACQUIRE), "command finished: %s", c->cmd);
    pthread_join(c->thread, NULL);
}

void tn_cmd_run(tn_ioloop_t *loop, tn_cmd_t *c, unsigned timeout_ms)
{
    tn_cmd_start(c);
    tn_cmd_wait(loop, c, timeout_ms);
}

int tn_cmd_count(const tn_cmd_t *c, const char *needle)
{
    int n = 0;
    size_t k = strlen(needle);
    for (const char *p = c->out; p != NULL && (p = strstr(p, needle)) != NULL; p += k)
        n++;
    return n;
}

void tn_cmd_free(tn_cmd_t *c)
{
    free(c->out);
    /* Ready for the next command. */
    memset(c, 0, sizeof(*c));
}
#endif
