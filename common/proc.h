/* SPDX-License-Identifier: MIT */
/* Child processes run without a shell, under a time limit and with bounded
 * output: proc_run() blocks until the child is done, proc_start() and
 * proc_step() drive it from a poll() loop.  No bus, no logging: how the
 * run ended and what it printed come back to the caller.  The odin-adapter
 * runs oclient and iproute2 through it (adapter_oclient, adapter_netns);
 * it lives here so that other services can run their tools the same way. */
#ifndef VR_PROC_H
#define VR_PROC_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a run ended. */
enum proc_end {
    PROC_EXITED = 1,            /* 'status' is the exit code */
    PROC_SIGNALED = 2,          /* 'status' is the signal */
    PROC_TIMED_OUT = 3,         /* killed (process group, SIGKILL) */
    PROC_SPAWN_FAILED = 4,      /* 'status' is an errno */
};

/* What a run produced.  'out' and 'err' are NUL-terminated (the NUL is not
 * counted in the lengths; the output itself may hold NULs). */
struct proc_output {
    enum proc_end end;          /* how it ended */
    int status;                 /* exit code, signal or errno */
    char *out;                  /* stdout, owned, or NULL when empty */
    size_t out_len;             /* bytes kept in 'out' */
    bool out_truncated;         /* more was printed and dropped */
    char *err;                  /* stderr, same rules */
    size_t err_len;             /* bytes kept in 'err' */
    bool err_truncated;         /* more was printed and dropped */
    uint32_t elapsed_ms;        /* from start to end */
    uint32_t timeout_ms;        /* the limit that applied */
};

/* Frees the buffers of '*out' and zeroes it. */
void proc_output_uninit(struct proc_output *out);

/* Runs 'argv' (argv[0] is the program: a path, or a name looked up in
 * PATH) with stdin from /dev/null, in its own process group, reading its
 * stdout and stderr (the first 'max_output' bytes of each kept, the rest
 * drained) until it exits or 'timeout_ms' passes, when its process group
 * is killed with SIGKILL and it is reaped.  Blocks until then.  Fills
 * '*out' in every case (the caller frees it with proc_output_uninit())
 * and returns 0 if the program ran, -1 if it could not be started
 * ('out->end' is PROC_SPAWN_FAILED).  The caller's SIGCHLD must not be
 * ignored (children would not be reapable). */
int proc_run(const char *const *argv, uint32_t timeout_ms, size_t max_output,
             struct proc_output *out);

/* Runs 'argv' as proc_run() does (output up to 4 KiB each) and returns 0
 * if it exited 0; otherwise -1 with what happened in 'err' (may be NULL):
 * "'ip link add ...' exited 2: <its first stderr line>", "... timed out",
 * "... could not run (<errno>)".  For tools run for their effect (ip,
 * tc). */
int proc_run_ok(const char *const *argv, uint32_t timeout_ms, char *err,
                size_t errsize);

/* The same, step by step, for a poll() loop.  Start the child at monotonic
 * time 'now_ms'; then, until proc_step() returns true, poll the
 * descriptors proc_pollfds() gives for at most proc_timeout_ms() and call
 * step again.  Take the output with proc_finish(). */
typedef struct proc proc_t;

/* Starts 'argv'.  Returns the child's handle (the caller owns it), or NULL
 * with the errno in '*errno_p' if it could not be started. */
proc_t *proc_start(const char *const *argv, uint32_t timeout_ms,
                   size_t max_output, uint64_t now_ms, int *errno_p);

/* Fills 'fds' (room for 3) with the descriptors to wait on, POLLIN; an
 * entry whose fd is -1 is to be ignored.  Returns 3. */
size_t proc_pollfds(const proc_t *proc, struct pollfd fds[3]);

/* The poll() timeout to use at 'now_ms', in ms (never more than the time
 * left, and short when the child's exit cannot be polled for). */
int proc_timeout_ms(const proc_t *proc, uint64_t now_ms);

/* Reads what is available, notices the child's exit, or kills it if its
 * time is up at 'now_ms'.  Never blocks for long (a killed child is
 * reaped at once).  Returns true once the run is over. */
bool proc_step(proc_t *proc, uint64_t now_ms);

/* Moves the finished run's output into '*out' and frees '*proc_p',
 * setting it to NULL. */
void proc_finish(proc_t **proc_p, struct proc_output *out);

/* Frees '*proc_p' if not NULL, first killing (process group, SIGKILL) and
 * reaping a child still running; sets '*proc_p' to NULL. */
void proc_destroy(proc_t **proc_p);

#endif /* VR_PROC_H */
