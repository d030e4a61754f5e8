/* tn_fork_processes: Tornado's process.fork_processes for C programs.
 *
 * The parent forks n children and then only supervises: wait() for a child
 * to end; one killed by a signal or exiting non-zero is restarted with the
 * same task id, one exiting 0 is left ended; after max_restarts restarts in
 * all the parent gives up. Each child returns from the call with its task
 * id, as Tornado's children do. */
#include <uv.h>
#ifndef _WIN32
#include <errno.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "tornuv/workers.h"

static int task_id = -1;

int tn_task_id(void)
{
    return task_id;
}

#ifdef _WIN32
int tn_fork_processes(unsigned n, int max_restarts, int *task_id_out)
{
    (void)n;
    (void)max_restarts;
    if (task_id_out)
        *task_id_out = -1;
    return TN_ENOTSUP;
}
#else

#define MAX_CHILDREN 1024

static int forked;

/* Forks child i: returns 1 in the child, 0 in the parent, or an error. */
static int start_child(unsigned i, pid_t *pids)
{
    pid_t pid = fork();
    if (pid < 0)
        return uv_translate_sys_error(errno);
    if (pid == 0) {
        task_id = (int)i;
        return 1;
    }
    pids[i] = pid;
    return 0;
}

int tn_fork_processes(unsigned n, int max_restarts, int *task_id_out)
{
    static pid_t pids[MAX_CHILDREN];
    if (!task_id_out)
        return TN_EINVAL;
    *task_id_out = -1;
    if (forked)
        return TN_EALREADY;
    forked = 1;
    if (n == 0)
        n = uv_available_parallelism();
    if (n == 0 || n > MAX_CHILDREN)
        return TN_EINVAL;
    if (max_restarts < 0)
        max_restarts = 100;
    tn_log(TN_LOG_INFO, "Starting %u processes", n);
    unsigned alive = 0;
    for (unsigned i = 0; i < n; i++) {
        int rc = start_child(i, pids);
        if (rc == 1) {
            *task_id_out = (int)i;
            return 0;
        }
        if (rc < 0)
            return rc; /* the children already started keep running */
        alive++;
    }
    int restarts = 0;
    while (alive > 0) {
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            return uv_translate_sys_error(errno);
        }
        unsigned id = n;
        for (unsigned i = 0; i < n && id == n; i++)
            if (pids[i] == pid)
                id = i;
        if (id == n)
            continue; /* not one of ours */
        pids[id] = 0;
        alive--;
        if (WIFSIGNALED(status)) {
            tn_log(TN_LOG_WARN, "child %u (pid %d) killed by signal %d, restarting", id, (int)pid,
                   WTERMSIG(status));
        } else if (WEXITSTATUS(status) != 0) {
            tn_log(TN_LOG_WARN, "child %u (pid %d) exited with status %d, restarting", id, (int)pid,
                   WEXITSTATUS(status));
        } else {
            tn_log(TN_LOG_INFO, "child %u (pid %d) exited normally", id, (int)pid);
            continue;
        }
        if (++restarts > max_restarts) {
            tn_log(TN_LOG_ERROR, "Too many child restarts, giving up");
            return TN_ECALLBACK;
        }
        int rc = start_child(id, pids);
        if (rc == 1) {
            *task_id_out = (int)id;
            return 0;
        }
        if (rc < 0)
            return rc;
        alive++;
    }
    return 0;
}
#endif
