/* Log sink and level threshold. The default sink writes to stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_internal.h"
#include "tornuv/common.h"

static tn_log_cb log_handler;
static void *log_handler_arg;
/* -1 until first use: the threshold is then read from TORNUV_LOG_LEVEL. */
static int log_level = -1;

static const char *level_name(int level)
{
    if (level >= TN_LOG_ERROR)
        return "E";
    if (level >= TN_LOG_WARN)
        return "W";
    if (level >= TN_LOG_INFO)
        return "I";
    return "D";
}

static int level_from_env(void)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {{"debug", TN_LOG_DEBUG},
                 {"info", TN_LOG_INFO},
                 {"warn", TN_LOG_WARN},
                 {"error", TN_LOG_ERROR},
                 {"none", TN_LOG_NONE}};
    const char *env = getenv("TORNUV_LOG_LEVEL");
    if (env != NULL)
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strcmp(env, names[i].name) == 0)
                return names[i].level;
    return TN_LOG_WARN;
}

void tn_log_set_handler(tn_log_cb cb, void *arg)
{
    log_handler = cb;
    log_handler_arg = arg;
}

void tn_log_set_level(int level)
{
    log_level = level;
}

void tn__log_get_handler(tn_log_cb *cb, void **arg)
{
    *cb = log_handler;
    *arg = log_handler_arg;
}

int tn__log_get_level(void)
{
    if (log_level < 0)
        log_level = level_from_env();
    return log_level;
}

void tn__log_default(int level, const char *message)
{
    fprintf(stderr, "[%s tornuv] %s\n", level_name(level), message);
}

void tn_log(int level, const char *fmt, ...)
{
    char message[1024];
    va_list ap;

    if (log_level < 0)
        log_level = level_from_env();
    if (level < log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (log_handler != NULL)
        log_handler(level, message, log_handler_arg);
    else
        tn__log_default(level, message);
}
