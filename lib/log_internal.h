/* Internal: what the testing module's log capture (testing_log.c) needs from
 * log.c to chain to the handler it replaces. */
#ifndef TN_LIB_LOG_INTERNAL_H
#define TN_LIB_LOG_INTERNAL_H

#include "tornuv/common.h"

/* The installed handler (NULL = the default) and its arg. */
void tn__log_get_handler(tn_log_cb *cb, void **arg);
/* The current threshold (resolving TORNUV_LOG_LEVEL on first use). */
int tn__log_get_level(void);
/* What the default handler does with a line: print it to stderr. */
void tn__log_default(int level, const char *message);

#endif
