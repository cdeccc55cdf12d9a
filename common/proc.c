/* SPDX-License-Identifier: MIT */
/* The child-process runner: posix_spawn() with stdin from /dev/null, its
 * own process group and our descriptors closed; stdout and stderr read
 * through non-blocking pipes into bounded buffers; the exit noticed
 * through a pidfd where the kernel has one (else by polling waitpid()),
 * and the whole group killed with SIGKILL at the deadline.  Uses vtime
 * for the clock of the blocking proc_run(). */
#include "proc.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "vtime.h"

#define PROC_TAG 0x0c11e47u
#define PROC_DEAD 0xdeadbeefu

/* Reads per step and per stream: a child that prints without pause cannot
 * keep a step from returning (and the deadline from being checked). */
#define S_READS_PER_STEP 64
#define S_READ_CHUNK 16384

/* Without a pidfd the child's exit is noticed by polling this often. */
#define S_EXIT_POLL_MS 10

extern char **environ;

/* One captured stream. */
struct s_buf {
    char *data;                 /* 'len' bytes kept, NUL after them */
    size_t len;                 /* bytes kept */
    size_t cap;                 /* allocated, not counting the NUL */
    size_t max;                 /* most bytes to keep */
    bool truncated;             /* bytes were dropped */
};

struct proc {
    uint32_t tag;               /* PROC_TAG while alive */
    pid_t pid;                  /* the child, also its process group */
    bool reaped;                /* waitpid() has collected it */
    int fd_out;                 /* its stdout, -1 when closed */
    int fd_err;                 /* its stderr, -1 when closed */
    int pidfd;                  /* readable once it exits; -1: none */
    struct s_buf out;           /* captured stdout */
    struct s_buf err;           /* captured stderr */
    uint64_t start_ms;          /* when it started */
    uint64_t deadline_ms;       /* when it is killed */
    uint64_t end_ms;            /* when the run ended */
    uint32_t timeout_ms;        /* the limit */
    bool done;                  /* the run is over */
    enum proc_end end;          /* how */
    int status;                 /* exit code or signal */
};

static void
s_close(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Keeps up to 'max' bytes in all; false when out of memory. */
static bool
s_buf_add(struct s_buf *b, const char *data, size_t n)
{
    size_t room = b->max - b->len;

    if (n > room) {
        b->truncated = true;
        n = room;
    }
    if (!n) {
        return true;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *nd;

        while (cap < b->len + n) {
            cap *= 2;
        }
        if (cap > b->max) {
            cap = b->max;
        }
        nd = realloc(b->data, cap + 1);
        if (!nd) {
            b->truncated = true;
            return false;
        }
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

/* Reads what '*fd' has now (at most S_READS_PER_STEP chunks), closing it
 * at end of file or on an error. */
static void
s_drain(int *fd, struct s_buf *b)
{
    char chunk[S_READ_CHUNK];

    for (int i = 0; *fd >= 0 && i < S_READS_PER_STEP; i++) {
        ssize_t n = read(*fd, chunk, sizeof chunk);

        if (n > 0) {
            s_buf_add(b, chunk, (size_t) n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            return;
        } else {
            s_close(fd);        /* EOF, or an error: nothing more */
        }
    }
}

static void
s_record_status(proc_t *proc, int st)
{
    if (WIFSIGNALED(st)) {
        proc->end = PROC_SIGNALED;
        proc->status = WTERMSIG(st);
    } else {
        proc->end = PROC_EXITED;
        proc->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
}

/* Kills the child's process group, and the child in case it left the
 * group, then reaps it.  Only while it is not yet reaped: until then its
 * PID, and so the group id, cannot be anybody else's. */
static void
s_kill_and_reap(proc_t *proc)
{
    int st;

    if (proc->reaped) {
        return;
    }
    kill(-proc->pid, SIGKILL);
    kill(proc->pid, SIGKILL);
    while (waitpid(proc->pid, &st, 0) < 0 && errno == EINTR) {
        continue;
    }
    proc->reaped = true;
}

static void
s_finish_run(proc_t *proc, uint64_t now_ms)
{
    s_close(&proc->fd_out);
    s_close(&proc->fd_err);
    s_close(&proc->pidfd);
    proc->end_ms = now_ms;
    proc->done = true;
}

static int
s_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
    int fd = (int) syscall(SYS_pidfd_open, pid, 0);

    if (fd >= 0) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    return fd;
#else
    (void) pid;
    return -1;
#endif
}

proc_t *
proc_start(const char *const *argv, uint32_t timeout_ms, size_t max_output,
           uint64_t now_ms, int *errno_p)
{
    proc_t *proc;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
    bool fa_ok = false, attr_ok = false;
    sigset_t none, all;
    int rc;

    assert(argv && argv[0] && errno_p);
    proc = calloc(1, sizeof *proc);
    if (!proc) {
        *errno_p = ENOMEM;
        return NULL;
    }
    proc->tag = PROC_TAG;
    proc->fd_out = proc->fd_err = proc->pidfd = -1;
    proc->out.max = proc->err.max = max_output;
    proc->timeout_ms = timeout_ms;
    proc->start_ms = now_ms;
    proc->deadline_ms = now_ms + timeout_ms;

    /* posix_spawn() reports a failed exec only where it is built on
     * vfork semantics (glibc >= 2.24, not under valgrind); elsewhere the
     * child exits 127 silently.  Checking first gives a clear ENOENT or
     * EACCES everywhere. */
    if (strchr(argv[0], '/') && access(argv[0], X_OK)) {
        rc = errno;
        goto fail;
    }
    if (pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
        rc = errno;
        goto fail;
    }
    if ((rc = posix_spawn_file_actions_init(&fa))) {
        goto fail;
    }
    fa_ok = true;
    if ((rc = posix_spawnattr_init(&attr))) {
        goto fail;
    }
    attr_ok = true;
    /* stdin from /dev/null, so the child can never wait for a terminal;
     * stdout and stderr to the pipes; nothing else of ours inherited. */
    if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
                                               O_RDONLY, 0))
        || (rc = posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1))
        || (rc = posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2))) {
        goto fail;
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 \
                           || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    if ((rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3))) {
        goto fail;
    }
#endif
    /* Its own process group, so a timeout can kill whatever it started;
     * no blocked signals and default handlers, whatever ours are (ZeroMQ
     * threads block some, SIGPIPE may be ignored). */
    sigemptyset(&none);
    sigfillset(&all);
    if ((rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP
                                       | POSIX_SPAWN_SETSIGMASK
                                       | POSIX_SPAWN_SETSIGDEF))
        || (rc = posix_spawnattr_setpgroup(&attr, 0))
        || (rc = posix_spawnattr_setsigmask(&attr, &none))
        || (rc = posix_spawnattr_setsigdefault(&attr, &all))) {
        goto fail;
    }
    if (strchr(argv[0], '/')) {
        rc = posix_spawn(&proc->pid, argv[0], &fa, &attr,
                         (char *const *) argv, environ);
    } else {
        rc = posix_spawnp(&proc->pid, argv[0], &fa, &attr,
                          (char *const *) argv, environ);
    }
    if (rc) {
        goto fail;
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(out_pipe[1]);
    close(err_pipe[1]);
    proc->fd_out = out_pipe[0];
    proc->fd_err = err_pipe[0];
    fcntl(proc->fd_out, F_SETFL, O_NONBLOCK);
    fcntl(proc->fd_err, F_SETFL, O_NONBLOCK);
    proc->pidfd = s_pidfd_open(proc->pid);
    return proc;

fail:
    if (fa_ok) {
        posix_spawn_file_actions_destroy(&fa);
    }
    if (attr_ok) {
        posix_spawnattr_destroy(&attr);
    }
    for (int i = 0; i < 2; i++) {
        s_close(&out_pipe[i]);
        s_close(&err_pipe[i]);
    }
    proc->tag = PROC_DEAD;
    free(proc);
    *errno_p = rc;
    return NULL;
}

size_t
proc_pollfds(const proc_t *proc, struct pollfd fds[3])
{
    assert(proc && proc->tag == PROC_TAG);
    fds[0] = (struct pollfd) { .fd = proc->fd_out, .events = POLLIN };
    fds[1] = (struct pollfd) { .fd = proc->fd_err, .events = POLLIN };
    fds[2] = (struct pollfd) { .fd = proc->pidfd, .events = POLLIN };
    return 3;
}

int
proc_timeout_ms(const proc_t *proc, uint64_t now_ms)
{
    uint64_t left;

    assert(proc && proc->tag == PROC_TAG);
    if (proc->done) {
        return 0;
    }
    left = proc->deadline_ms > now_ms ? proc->deadline_ms - now_ms : 0;
    if (proc->pidfd < 0 && left > S_EXIT_POLL_MS) {
        left = S_EXIT_POLL_MS;
    }
    return left > INT_MAX ? INT_MAX : (int) left;
}

bool
proc_step(proc_t *proc, uint64_t now_ms)
{
    pid_t r;
    int st;

    assert(proc && proc->tag == PROC_TAG);
    if (proc->done) {
        return true;
    }
    s_drain(&proc->fd_out, &proc->out);
    s_drain(&proc->fd_err, &proc->err);

    do {
        r = waitpid(proc->pid, &st, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == proc->pid) {
        proc->reaped = true;
        s_record_status(proc, st);
        /* What it wrote before exiting is in the pipes; take it, but do
         * not wait for anything it left running to close them. */
        s_drain(&proc->fd_out, &proc->out);
        s_drain(&proc->fd_err, &proc->err);
        s_finish_run(proc, now_ms);
    } else if (r < 0) {
        /* ECHILD: reaped elsewhere, or SIGCHLD ignored; the status is
         * lost. */
        proc->reaped = true;
        proc->end = PROC_EXITED;
        proc->status = -1;
        s_finish_run(proc, now_ms);
    } else if (now_ms >= proc->deadline_ms) {
        s_kill_and_reap(proc);
        proc->end = PROC_TIMED_OUT;
        proc->status = SIGKILL;
        s_drain(&proc->fd_out, &proc->out);
        s_drain(&proc->fd_err, &proc->err);
        s_finish_run(proc, now_ms);
    }
    return proc->done;
}

static void
s_proc_free(proc_t *proc)
{
    s_close(&proc->fd_out);
    s_close(&proc->fd_err);
    s_close(&proc->pidfd);
    free(proc->out.data);
    free(proc->err.data);
    proc->tag = PROC_DEAD;
    free(proc);
}

void
proc_finish(proc_t **proc_p, struct proc_output *out)
{
    proc_t *proc;

    assert(proc_p && *proc_p && out);
    proc = *proc_p;
    assert(proc->tag == PROC_TAG && proc->done);
    memset(out, 0, sizeof *out);
    out->end = proc->end;
    out->status = proc->status;
    out->out = proc->out.data;
    out->out_len = proc->out.len;
    out->out_truncated = proc->out.truncated;
    out->err = proc->err.data;
    out->err_len = proc->err.len;
    out->err_truncated = proc->err.truncated;
    out->elapsed_ms = (uint32_t) (proc->end_ms - proc->start_ms);
    out->timeout_ms = proc->timeout_ms;
    proc->out.data = proc->err.data = NULL;
    s_proc_free(proc);
    *proc_p = NULL;
}

void
proc_destroy(proc_t **proc_p)
{
    if (!proc_p || !*proc_p) {
        return;
    }
    assert((*proc_p)->tag == PROC_TAG);
    s_kill_and_reap(*proc_p);
    s_proc_free(*proc_p);
    *proc_p = NULL;
}

void
proc_output_uninit(struct proc_output *out)
{
    if (out) {
        free(out->out);
        free(out->err);
        memset(out, 0, sizeof *out);
    }
}

int
proc_run(const char *const *argv, uint32_t timeout_ms, size_t max_output,
         struct proc_output *out)
{
    proc_t *proc;
    int err = 0;

    assert(argv && out);
    memset(out, 0, sizeof *out);
    proc = proc_start(argv, timeout_ms, max_output, vtime_mono_ms(), &err);
    if (!proc) {
        out->end = PROC_SPAWN_FAILED;
        out->status = err;
        out->timeout_ms = timeout_ms;
        return -1;
    }
    while (!proc_step(proc, vtime_mono_ms())) {
        struct pollfd fds[3];
        size_t n = proc_pollfds(proc, fds);

        /* EINTR or not, the next step looks at the clock. */
        poll(fds, n, proc_timeout_ms(proc, vtime_mono_ms()));
    }
    proc_finish(&proc, out);
    return 0;
}

int
proc_run_ok(const char *const *argv, uint32_t timeout_ms, char *err,
            size_t errsize)
{
    struct proc_output out;
    int rc = proc_run(argv, timeout_ms, 4096, &out);
    bool ok = rc == 0 && out.end == PROC_EXITED && out.status == 0;
    if (!ok && err) {
        char cmd[512] = "";
        size_t off = 0;
        for (size_t i = 0; argv[i] && off < sizeof cmd - 1; i++) {
            off += (size_t) snprintf(cmd + off, sizeof cmd - off, "%s%s",
                                     i ? " " : "", argv[i]);
        }
        const char *why = out.err ? out.err : out.out ? out.out : "";
        char line[160];
        snprintf(line, sizeof line, "%s", why);
        line[strcspn(line, "\n")] = '\0';
        if (out.end == PROC_EXITED) {
            log_format(err, errsize, "'%s' exited %d: %s", cmd, out.status,
                       line);
        } else if (out.end == PROC_TIMED_OUT) {
            log_format(err, errsize, "'%s' timed out", cmd);
        } else {
            log_format(err, errsize, "'%s' could not run (%s)", cmd,
                       out.end == PROC_SPAWN_FAILED
                           ? strerror(out.status) : "killed");
        }
    }
    proc_output_uninit(&out);
    return ok ? 0 : -1;
}
