/* SPDX-License-Identifier: MIT */
/* common/proc: a run that exits 0 with its stdout kept, one that exits 3
 * with its stderr kept, output cut at the limit, a 'sleep 5' killed at
 * 200 ms and reaped, programs that do not exist, and a child driven by
 * steps then abandoned (destroy kills and reaps it).  The odin-adapter's
 * own runs (tests/unit/test_adapter_oclient.c) go through the same code. */
#undef NDEBUG
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "proc.h"
#include "vtime.h"

/* No child of ours is left, running or unreaped. */
static void
s_no_children(void)
{
    int status;

    assert(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD);
}

int
main(void)
{
    struct proc_output out;
    struct pollfd fds[3];
    proc_t *proc;
    uint64_t t0;
    int e = 0;

    /* Exit 0, stdout kept, nothing on stderr. */
    const char *echo[] = { "/bin/echo", "hi", NULL };
    assert(proc_run(echo, 5000, 1024, &out) == 0);
    assert(out.end == PROC_EXITED && out.status == 0);
    assert(out.out_len == 3 && !strcmp(out.out, "hi\n"));
    assert(!out.out_truncated);
    assert(!out.err && out.err_len == 0 && !out.err_truncated);
    assert(out.timeout_ms == 5000 && out.elapsed_ms < 5000);
    proc_output_uninit(&out);
    assert(!out.out && !out.err && out.end == 0);

    /* A non-zero exit code, stderr kept. */
    const char *fail[] = { "/bin/sh", "-c", "echo e >&2; exit 3", NULL };
    assert(proc_run(fail, 5000, 1024, &out) == 0);
    assert(out.end == PROC_EXITED && out.status == 3);
    assert(out.err_len == 2 && !strcmp(out.err, "e\n"));
    assert(!out.out && out.out_len == 0);
    proc_output_uninit(&out);

    /* More than 'max_output': the first bytes kept, the rest dropped. */
    const char *chatty[] = { "/bin/sh", "-c", "printf 0123456789", NULL };
    assert(proc_run(chatty, 5000, 4, &out) == 0);
    assert(out.end == PROC_EXITED && out.status == 0);
    assert(out.out_len == 4 && !strcmp(out.out, "0123"));
    assert(out.out_truncated);
    proc_output_uninit(&out);

    /* Too slow: killed with SIGKILL at the limit, and reaped. */
    const char *slow[] = { "sleep", "5", NULL };
    t0 = vtime_mono_ms();
    assert(proc_run(slow, 200, 1024, &out) == 0);
    assert(out.end == PROC_TIMED_OUT && out.status == SIGKILL);
    assert(out.timeout_ms == 200);
    assert(out.elapsed_ms >= 200 && out.elapsed_ms < 2000);
    assert(vtime_mono_ms() - t0 < 3000);
    proc_output_uninit(&out);
    s_no_children();

    /* A path that does not exist: not started, with the errno. */
    const char *missing[] = { "/nonexistent/vr-no-such-program", NULL };
    assert(proc_run(missing, 5000, 1024, &out) == -1);
    assert(out.end == PROC_SPAWN_FAILED && out.status == ENOENT);
    assert(!out.out && !out.err && out.timeout_ms == 5000);
    proc_output_uninit(&out);
    assert(!proc_start(missing, 5000, 1024, vtime_mono_ms(), &e));
    assert(e == ENOENT);

    /* A name not found in PATH: glibc's posix_spawnp() reports ENOENT;
     * where exec failures cannot be reported (under valgrind) the child
     * exits 127 instead. */
    const char *unknown[] = { "vr-no-such-program", NULL };
    int rc = proc_run(unknown, 5000, 1024, &out);
    assert((rc == -1 && out.end == PROC_SPAWN_FAILED
            && out.status == ENOENT)
           || (rc == 0 && out.end == PROC_EXITED && out.status == 127));
    proc_output_uninit(&out);
    s_no_children();

    /* By steps, abandoned while running: destroy kills and reaps. */
    proc = proc_start(slow, 10000, 1024, vtime_mono_ms(), &e);
    assert(proc);
    assert(!proc_step(proc, vtime_mono_ms()));
    assert(proc_pollfds(proc, fds) == 3);
    assert(fds[0].fd >= 0 && fds[1].fd >= 0 && fds[0].events == POLLIN);
    int wait_ms = proc_timeout_ms(proc, vtime_mono_ms());
    assert(wait_ms > 0 && wait_ms <= 10000);
    proc_destroy(&proc);
    assert(!proc);
    proc_destroy(&proc);        /* NULL is fine */
    s_no_children();

    printf("test_proc: ok\n");
    return 0;
}
