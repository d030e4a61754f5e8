/* Builds against an installed tornuv: runs a loop with one deferred callback
 * and one timeout, then tests one web handler the way a user's own test
 * would, with <tornuv/testing.h> (an HTTP test server on an ephemeral port
 * and a synchronous fetch). Exit status 0 means it worked. */
#include <stdio.h>
#include <string.h>
#include <tornuv.h>
#include <tornuv/testing.h>

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

/* The handler under test: GET /greet?name=X answers "Hello, X". */
static int greet_get(tn_handler_t *h)
{
    tn_strview_t name;
    int rc = tn_handler_get_argument(h, "name", "stranger", &name);
    if (rc != 0)
        return rc;
    tn_handler_write_str(h, "Hello, ");
    tn_handler_write(h, name.base, name.len);
    return TN_WEB_DONE;
}

static const tn_handler_class_t greet = {.name = "greet", .get = greet_get};

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "consumer: check failed: %s\n", #cond);                                \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static int test_handler(void)
{
    tn_ioloop_t *loop;
    tn_app_t *app;
    tn_testing_http_t *t;
    tn_testing_response_t r;
    CHECK(tn_ioloop_new(&loop) == 0);
    CHECK(tn_app_new(NULL, &app) == 0);
    CHECK(tn_app_add_route(app, NULL, "/greet", &greet, NULL, NULL) == 0);
    CHECK(tn_testing_http_start(loop, app, NULL, &t) == 0);
    CHECK(tn_testing_http_fetch(t, "GET", "/greet?name=consumer", NULL, NULL, 0, 0, &r) == 0);
    CHECK(r.code == 200);
    CHECK(strcmp(r.body, "Hello, consumer") == 0);
    tn_testing_response_clear(&r);
    CHECK(tn_testing_http_fetch(t, "GET", "/greet", NULL, NULL, 0, 0, &r) == 0);
    CHECK(strcmp(r.body, "Hello, stranger") == 0);
    tn_testing_response_clear(&r);
    CHECK(tn_testing_http_stop(t, 0) == 0);
    tn_app_free(app);
    size_t leaked = 1;
    CHECK(tn_testing_loop_close(loop, &leaked) == 0 && leaked == 0);
    return 0;
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
    if (test_handler() != 0)
        return 1;
    printf("consumer: tornuv %s works, handler tested with tornuv/testing.h (%s)\n",
           tn_version_string(), tn_err_name(TN_ECLOSED));
    return strcmp(tn_version_string(), TN_VERSION_STRING) != 0;
}
