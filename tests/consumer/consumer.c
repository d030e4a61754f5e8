/* Builds against an installed tornuv: runs a loop with one deferred callback
 * and one timeout, then closes it. Exit status 0 means it worked. */
#include <stdio.h>
#include <string.h>
#include <tornuv.h>

static void on_timeout(tn_ioloop_t *loop, void *arg)
{
    *(int *)arg += 10;
    tn_ioloop_stop(loop);
}

static void on_callback(tn_ioloop_t *loop, void *arg)
{
    *(int *)arg += 1;
    tn_ioloop_call_later(loop, 1, on_timeout, arg);
}

int main(void)
{
    tn_ioloop_t *loop;
    int hits = 0;
    if (tn_ioloop_new(&loop) != 0)
        return 1;
    tn_ioloop_add_callback(loop, on_callback, &hits);
    tn_ioloop_start(loop);
    if (tn_ioloop_close(loop, 0) != 0 || hits != 11)
        return 1;
    printf("consumer: tornuv %s works (%s)\n", tn_version_string(), tn_err_name(TN_ECLOSED));
    return strcmp(tn_version_string(), TN_VERSION_STRING) != 0;
}
