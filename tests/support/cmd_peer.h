/* Runs a shell command (curl, openssl, python3) on its own thread while the
 * loop under test keeps running on the main thread, capturing its standard
 * output (redirect stderr in the command to capture it too). Unix only. */
#ifndef TN_TEST_CMD_PEER_H
#define TN_TEST_CMD_PEER_H

#include <pthread.h>
#include <stddef.h>

#include "tornuv.h"

typedef struct {
    char cmd[2048];
    char *out; /* NUL-terminated output (malloc'd) */
    size_t len;
    int status; /* the exit status as pclose reports it; 0 = success */
    volatile int done;
    pthread_t thread;
} tn_cmd_t;

/* Starts the command. */
void tn_cmd_start(tn_cmd_t *c);
/* Runs loop until the command finished (at most timeout_ms, asserting it
 * did) and joins it. */
void tn_cmd_wait(tn_ioloop_t *loop, tn_cmd_t *c, unsigned timeout_ms);
/* Both, for the usual case. */
void tn_cmd_run(tn_ioloop_t *loop, tn_cmd_t *c, unsigned timeout_ms);
/* Occurrences of needle in the output. */
int tn_cmd_count(const tn_cmd_t *c, const char *needle);
/* Frees the output and resets c for another command. */
void tn_cmd_free(tn_cmd_t *c);

#endif
