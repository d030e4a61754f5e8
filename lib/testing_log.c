/* ExpectLog (see testing.h): a scope installs itself as tornuv's log
 * handler and chains to the one it replaced. The handler may run on the
 * thread pool, so the count is atomic and each match gets its own PCRE2
 * match block; begin and end belong to the test's thread. */
#include <stdatomic.h>
#include <string.h>

#include "log_internal.h"
#include "regex_internal.h"
#include "tornuv/testing.h"

struct tn_expect_log_s {
    tn_regex_t *re;
    int level, required;
    int saved_level; /* the threshold before this scope (restored at end) */
    tn_log_cb prev;
    void *prev_arg;
    atomic_size_t count;
};

static int matches(tn_expect_log_t *e, const char *message)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(e->re->code, NULL);
    if (md == NULL)
        return 0;
    int rc =
        pcre2_match(e->re->code, (PCRE2_SPTR)message, strlen(message), 0, PCRE2_ANCHORED, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

static void on_log(int level, const char *message, void *arg)
{
    tn_expect_log_t *e = arg;
    if ((e->level == 0 || level == e->level) && matches(e, message)) {
        atomic_fetch_add(&e->count, 1);
        return;
    }
    /* The scope may have lowered the threshold to see its level: what the
     * previous handler would not have seen stays unseen. */
    if (level < e->saved_level)
        return;
    if (e->prev != NULL)
        e->prev(level, message, e->prev_arg);
    else
        tn__log_default(level, message);
}

int tn_expect_log_begin(int level, const char *pattern, int required, tn_expect_log_t **out)
{
    if (pattern == NULL || out == NULL)
        return TN_EINVAL;
    tn_expect_log_t *e = tn_calloc(1, sizeof(*e));
    if (e == NULL)
        return TN_ENOMEM;
    int err = tn_regex_compile(pattern, strlen(pattern), &e->re);
    if (err != 0) {
        tn_free(e);
        return err;
    }
    e->level = level;
    e->required = required;
    atomic_init(&e->count, 0);
    tn__log_get_handler(&e->prev, &e->prev_arg);
    e->saved_level = tn__log_get_level();
    if (level > 0 && level < e->saved_level)
        tn_log_set_level(level);
    tn_log_set_handler(on_log, e);
    *out = e;
    return 0;
}

size_t tn_expect_log_count(const tn_expect_log_t *e)
{
    return e != NULL ? atomic_load(&((tn_expect_log_t *)e)->count) : 0;
}

int tn_expect_log_end(tn_expect_log_t *e)
{
    if (e == NULL)
        return TN_EINVAL;
    tn_log_set_handler(e->prev, e->prev_arg);
    tn_log_set_level(e->saved_level);
    int err = e->required && atomic_load(&e->count) == 0 ? TN_ENOTFOUND : 0;
    tn_regex_free(e->re);
    tn_free(e);
    return err;
}
