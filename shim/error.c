/* Error names and messages: tornuv's own range from the X-macro table, the
 * rest (system and libuv codes) from libuv, which knows every platform's. */
#include <uv.h>

#include "tornuv/common.h"

#define TN__ERR_NAME(name, msg)                                                                    \
    case TN_##name:                                                                                \
        return "TN_" #name;
#define TN__ERR_MSG(name, msg)                                                                     \
    case TN_##name:                                                                                \
        return msg;

const char *tn_err_name(int err)
{
    switch (err) {
        TN_ERRNO_MAP(TN__ERR_NAME)
    default:
        break;
    }
    if (err == 0)
        return "OK";
    /* uv_err_name() allocates (and leaks) a string for codes it does not
     * know; the _r variants write into a per-thread buffer instead. */
    if (err < 0 && err > TN__ERR_BASE) {
        static _Thread_local char name[64];
        return uv_err_name_r(err, name, sizeof(name));
    }
    return "UNKNOWN";
}

const char *tn_strerror(int err)
{
    switch (err) {
        TN_ERRNO_MAP(TN__ERR_MSG)
    default:
        break;
    }
    if (err == 0)
        return "success";
    if (err < 0 && err > TN__ERR_BASE) {
        static _Thread_local char message[128];
        return uv_strerror_r(err, message, sizeof(message));
    }
    return "unknown error";
}

const char *tn_version_string(void)
{
    return TN_VERSION_STRING;
}
