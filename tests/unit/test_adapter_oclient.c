/* SPDX-License-Identifier: MIT */
/* Unit test for the odin-adapter's ODIN client driver
 * (services/odin-adapter/adapter_oclient): command lines, the parser on
 * good, failed, garbage, partial, empty and huge output given as strings,
 * then real runs of the stand-in tests/tools/oclient: success, refusal,
 * a hang killed after 300 ms (child and grandchild gone, child reaped),
 * garbage, a crash, a missing program.  The stand-in keeps its state in
 * this test's own scratch directory. */
#undef NDEBUG

#include "adapter_oclient.h"
#include "proc.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef VR_TEST_DATA
#error "VR_TEST_DATA must name the tests/data directory"
#endif
#define TOOL VR_TEST_DATA "/../tools/oclient"

static char *flag_words[] = { "--vlan", "auto" };

/* Environment entries for the stand-in (putenv() keeps pointers). */
static char env_state[192], env_log[192], env_control[192];
static char env_mode[64], env_delay[] = "OCLIENT_DELAY=0.2";

/* Sets OCLIENT_MODE for the next runs. */
static void
s_mode(const char *mode)
{
    snprintf(env_mode, sizeof env_mode, "OCLIENT_MODE=%s", mode);
    putenv(env_mode);
}

static struct adapter_oclient_config
s_config(const char *path)
{
    struct adapter_oclient_config cfg = {
        .path = (char *) path,
        .flags = { .v = flag_words, .n = 2 },
        .lambda = 1,
        .create_timeout_ms = 5000,
        .teardown_timeout_ms = 5000,
        .max_output_kb = 64,
    };
    return cfg;
}

/* An output as a run would give it; the strings are the test's. */
static struct proc_output
s_output(enum proc_end end, int status, const char *out, size_t out_len,
         const char *err)
{
    struct proc_output o = {
        .end = end,
        .status = status,
        .out = (char *) out,
        .out_len = out_len,
        .err = (char *) err,
        .err_len = err ? strlen(err) : 0,
        .timeout_ms = 300,
    };
    return o;
}

static struct adapter_oclient_result
s_parse_create(enum proc_end end, int status, const char *out,
               const char *err)
{
    struct proc_output o = s_output(end, status, out,
                                    out ? strlen(out) : 0, err);
    struct adapter_oclient_result res;
    bool ok = adapter_oclient_parse_create(&o, &res);

    assert(ok == res.ok);
    assert(ok == (res.path_id[0] != '\0'));
    assert(ok == (res.error[0] == '\0'));
    return res;
}

static struct adapter_oclient_result
s_parse_teardown(int status, const char *out, const char *err,
                 const char *id)
{
    struct proc_output o = s_output(PROC_EXITED, status, out,
                                    out ? strlen(out) : 0, err);
    struct adapter_oclient_result res;
    bool ok = adapter_oclient_parse_teardown(&o, id, &res);

    assert(ok == res.ok);
    return res;
}

static void
s_expect(const char *got, const char *want)
{
    if (strcmp(got, want)) {
        fprintf(stderr, "expected: %s\ngot:      %s\n", want, got);
        abort();
    }
}

static void
test_command_lines(void)
{
    struct adapter_oclient_config cfg = s_config("/opt/odin/bin/oclient");
    struct adapter_oclient_cmd cmd;
    char err[256], line[256];

    assert(adapter_oclient_build_create(&cfg, "10.210.0.1", "10.210.0.2", 3,
                                        &cmd, err, sizeof err));
    assert(cmd.argc == 7 && cmd.argv[7] == NULL);
    assert(!strcmp(cmd.argv[0], "/opt/odin/bin/oclient"));
    assert(!strcmp(cmd.argv[1], "-c"));
    assert(!strcmp(cmd.argv[2], "10.210.0.1"));
    assert(!strcmp(cmd.argv[3], "10.210.0.2"));
    assert(!strcmp(cmd.argv[4], "3"));
    assert(!strcmp(cmd.argv[5], "--vlan") && !strcmp(cmd.argv[6], "auto"));
    s_expect(adapter_oclient_cmd_format(&cmd, line, sizeof line),
             "/opt/odin/bin/oclient -c 10.210.0.1 10.210.0.2 3 --vlan auto");

    /* Lambda 0: the configured one; addresses in canonical form. */
    cfg.flags.n = 0;
    cfg.lambda = 2;
    assert(adapter_oclient_build_create(&cfg, "fd00:0:0::1", "10.0.0.2", 0,
                                        &cmd, err, sizeof err));
    s_expect(adapter_oclient_cmd_format(&cmd, line, sizeof line),
             "/opt/odin/bin/oclient -c fd00::1 10.0.0.2 2");

    /* Nothing from a request becomes an option or a second word. */
    assert(!adapter_oclient_build_create(&cfg, "-t", "10.0.0.2", 0, &cmd,
                                         err, sizeof err));
    s_expect(err, "source '-t' is not an IP address");
    assert(!adapter_oclient_build_create(&cfg, "10.0.0.1",
                                         "10.0.0.2 -t x", 0, &cmd, err,
                                         sizeof err));
    s_expect(err, "destination '10.0.0.2 -t x' is not an IP address");
    assert(!adapter_oclient_build_create(&cfg, NULL, "10.0.0.2", 0, &cmd,
                                         err, sizeof err));

    assert(adapter_oclient_build_teardown(&cfg, "odin-17", &cmd, err,
                                          sizeof err));
    assert(cmd.argc == 3 && !cmd.argv[3]);
    s_expect(adapter_oclient_cmd_format(&cmd, line, sizeof line),
             "/opt/odin/bin/oclient -t odin-17");
    assert(!adapter_oclient_build_teardown(&cfg, "-c", &cmd, err,
                                           sizeof err));
    s_expect(err, "'-c' is not a valid ODIN path id");
    assert(!adapter_oclient_build_teardown(&cfg, "a b", &cmd, err,
                                           sizeof err));
    assert(!adapter_oclient_build_teardown(&cfg, "../x", &cmd, err,
                                           sizeof err));
    assert(!adapter_oclient_build_teardown(&cfg, "", &cmd, err,
                                           sizeof err));
    assert(adapter_oclient_valid_id("P_1.2:3-x"));
    assert(adapter_oclient_valid_id(
        "1234567890123456789012345678901234567890123456789012345678901234"));
    assert(!adapter_oclient_valid_id(
        "12345678901234567890123456789012345678901234567890123456789012345"));
    assert(!adapter_oclient_valid_id(NULL));

    /* The keys, as a service embeds them. */
    {
        static const char yaml[] = "oclient:\n"
                                   "  path: /opt/odin/bin/oclient\n"
                                   "  flags: [-v]\n"
                                   "  create_timeout_ms: 50\n";
        struct adapter_oclient_config c;

        assert(cfg_load_string(adapter_oclient_keys, &c, "a.yaml", yaml,
                               sizeof yaml - 1, err, sizeof err) == -1);
        s_expect(err, "a.yaml:4:22: key 'oclient.create_timeout_ms': 50 out "
                 "of range [100, 3600000]");
        assert(cfg_load_string(adapter_oclient_keys, &c, "a.yaml", yaml,
                               sizeof yaml - 25, err, sizeof err) == 0);
        assert(!strcmp(c.path, "/opt/odin/bin/oclient") && c.flags.n == 1);
        assert(c.lambda == 1 && c.create_timeout_ms == 60000
               && c.teardown_timeout_ms == 30000 && c.max_output_kb == 64);
        assert(adapter_oclient_config_check(&c, err, sizeof err));
        cfg_free(adapter_oclient_keys, &c);
    }

    /* Configuration checks. */
    cfg.path = "";
    assert(!adapter_oclient_config_check(&cfg, err, sizeof err));
    s_expect(err, "oclient.path: the oclient program is not set");
    assert(!adapter_oclient_build_create(&cfg, "10.0.0.1", "10.0.0.2", 0,
                                         &cmd, err, sizeof err));
    cfg.path = "oclient";
    cfg.flags.n = ADAPTER_OCLIENT_MAX_FLAGS + 1;
    assert(!adapter_oclient_config_check(&cfg, err, sizeof err));
    s_expect(err, "oclient.flags: 17 flags, at most 16");
}

static void
test_parse(void)
{
    static const char good[] =
        "oclient: ODIN client\n"
        "oclient: request: create 10.210.0.1 -> 10.210.0.2 lambda 1\n"
        "Path created: pathID=odin-17\n";
    struct adapter_oclient_result r;
    char huge[70000];
    char *big;

    r = s_parse_create(PROC_EXITED, 0, good, NULL);
    s_expect(r.path_id, "odin-17");
    /* Spelling varies: case, ':' or '=', blanks, CRLF, punctuation. */
    r = s_parse_create(PROC_EXITED, 0,
                       "Lightpath established, PATHID : p-4.\r\n", NULL);
    s_expect(r.path_id, "p-4");
    r = s_parse_create(PROC_EXITED, 0, "(pathid=x7) ok", NULL);
    s_expect(r.path_id, "x7");
    /* The same id twice is fine, two ids are not. */
    r = s_parse_create(PROC_EXITED, 0,
                       "pathID=a\nPath created: pathID=a\n", NULL);
    s_expect(r.path_id, "a");
    r = s_parse_create(PROC_EXITED, 0,
                       "Path created: pathID=a\npathID=b\n", NULL);
    s_expect(r.error, "oclient printed several path ids ('a', 'b')");

    /* Refused: ODIN's error line is the explanation. */
    r = s_parse_create(PROC_EXITED, 1, "oclient: ODIN client\n",
                       "ERROR: switch sw2: cross-connect refused\n");
    s_expect(r.error, "oclient failed (exit status 1): 'ERROR: switch sw2: "
             "cross-connect refused'");
    /* Without one, the last line of stderr, else of stdout. */
    r = s_parse_create(PROC_EXITED, 3, "one\ntwo\n",
                       "warning\nconnection reset\n\n");
    s_expect(r.error, "oclient failed (exit status 3): 'connection reset'");
    r = s_parse_create(PROC_EXITED, 3, "one\ntwo\n", NULL);
    s_expect(r.error, "oclient failed (exit status 3): 'two'");
    r = s_parse_create(PROC_EXITED, 3, NULL, NULL);
    s_expect(r.error, "oclient failed (exit status 3): no output");
    /* An error line wins over an exit status of 0, and an id in it does
     * not count. */
    r = s_parse_create(PROC_EXITED, 0,
                       "oclient: error: pathID=odin-3 is stuck\n", NULL);
    s_expect(r.error, "oclient reported an error (exit status 0): "
             "'oclient: error: pathID=odin-3 is stuck'");

    /* Empty, partial, garbage. */
    r = s_parse_create(PROC_EXITED, 0, "", "");
    s_expect(r.error, "oclient printed nothing (exit status 0); expected "
             "'pathID=<id>'");
    r = s_parse_create(PROC_EXITED, 0, " \n\r\n\t\n", NULL);
    s_expect(r.error, "oclient printed nothing (exit status 0); expected "
             "'pathID=<id>'");
    r = s_parse_create(PROC_EXITED, 0,
                       "oclient: ODIN client\nPath created: pathI", NULL);
    s_expect(r.error, "no 'pathID=<id>' in oclient output (40 bytes): "
             "'oclient: ODIN client'");
    r = s_parse_create(PROC_EXITED, 0, "Path created: pathID=",
                       NULL);
    s_expect(r.error, "oclient printed a malformed path id: 'Path created: "
             "pathID='");
    {
        static const char junk[] = "\x01\xff\xfe pathID=\xff\xff <<\0>>\n"
                                   "\x1b[31mPath created\x1b[0m";
        struct proc_output o = s_output(PROC_EXITED, 0, junk,
                                        sizeof junk - 1, NULL);

        assert(!adapter_oclient_parse_create(&o, &r));
        s_expect(r.error, "oclient printed a malformed path id: '??? "
                 "pathID=?? <<?>>'");
    }
    /* An id longer than we accept. */
    r = s_parse_create(PROC_EXITED, 0, "pathID=12345678901234567"
                       "890123456789012345678901234567890123456789012345\n",
                       NULL);
    assert(strstr(r.error, "malformed path id"));

    /* Huge output, cut by the runner: said so, and quoted briefly. */
    memset(huge, 'x', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    {
        struct proc_output o = s_output(PROC_EXITED, 0, huge,
                                        sizeof huge - 1, NULL);

        o.out_truncated = true;
        assert(!adapter_oclient_parse_create(&o, &r));
        assert(!strncmp(r.error, "no 'pathID=<id>' in oclient output "
                        "(69999 bytes, truncated): 'xxxx", 58));
        assert(strlen(r.error) < sizeof r.error - 1);
        assert(!strcmp(r.error + strlen(r.error) - 4, "...'"));
    }

    /* How the run ended. */
    r = s_parse_create(PROC_TIMED_OUT, SIGKILL,
                       "oclient: ODIN client\n", NULL);
    s_expect(r.error, "oclient timed out after 300 ms and was killed (last "
             "output: 'oclient: ODIN client')");
    r = s_parse_create(PROC_SIGNALED, SIGSEGV, NULL, NULL);
    s_expect(r.error, "oclient was killed by signal 11 (Segmentation "
             "fault); no output");
    r = s_parse_create(PROC_SPAWN_FAILED, ENOENT, NULL, NULL);
    s_expect(r.error, "oclient could not be started: No such file or "
             "directory");
    r = s_parse_create(PROC_EXITED, -1, good, NULL);
    assert(strstr(r.error, "exit status was lost"));

    /* Teardown. */
    r = s_parse_teardown(0, "oclient: request: teardown odin-17\n"
                         "Path deleted: pathID=odin-17\n", NULL, "odin-17");
    assert(r.ok && !strcmp(r.path_id, "odin-17"));
    r = s_parse_teardown(0, "lightpath pathID=odin-17 torn down\n", NULL,
                         "odin-17");
    assert(r.ok);
    /* Mentioning the id is not confirming it. */
    r = s_parse_teardown(0, "oclient: request: teardown pathID=odin-17\n",
                         NULL, "odin-17");
    s_expect(r.error, "no confirmation for path 'odin-17' in oclient output "
             "(42 bytes): 'oclient: request: teardown pathID=odin-17'");
    r = s_parse_teardown(0, "Path deleted: pathID=odin-1\n", NULL,
                         "odin-17");
    s_expect(r.error, "oclient confirmed the teardown of path 'odin-1', not "
             "of 'odin-17'");
    r = s_parse_teardown(2, NULL, "ERROR: no such path 'odin-9'\n",
                         "odin-9");
    assert(!r.ok && r.not_found);
    s_expect(r.error, "oclient failed (exit status 2): 'ERROR: no such path "
             "'odin-9''");
    r = s_parse_teardown(1, NULL, "ERROR: switch down\n", "odin-9");
    assert(!r.ok && !r.not_found);
    r = s_parse_teardown(0, "", NULL, "odin-9");
    s_expect(r.error, "oclient printed nothing (exit status 0); expected "
             "confirmation for path 'odin-9'");
    r = s_parse_teardown(0, "Path deleted: pathID=odin-9\n", NULL, "-x");
    s_expect(r.error, "not a valid path id");

    /* Whatever the bytes, no crash and a message (run under ASan). */
    big = malloc(4096);
    assert(big);
    srand(7);
    for (int i = 0; i < 3000; i++) {
        size_t len = (size_t) rand() % 4096;
        struct proc_output o;

        for (size_t k = 0; k < len; k++) {
            /* Bias towards the interesting bytes. */
            static const char alpha[] = "pathIDpathid=: \n\r\t-.ERROR:"
                                        "deleted\0\xff";
            big[k] = (rand() & 1) ? (char) rand()
                                  : alpha[rand() % (sizeof alpha - 1)];
        }
        o = s_output(PROC_EXITED, rand() % 3, big, len, NULL);
        if (adapter_oclient_parse_create(&o, &r)) {
            assert(adapter_oclient_valid_id(r.path_id));
        } else {
            assert(r.error[0]);
        }
        adapter_oclient_parse_teardown(&o, "odin-1", &r);
        for (const char *c = r.error; *c; c++) {
            assert(*c >= 0x20 && *c < 0x7f);
        }
    }
    free(big);
}

static uint64_t
s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Is process 'pid' gone (or a zombie waiting for init)? */
static bool
s_gone(pid_t pid)
{
    char path[64], buf[256];
    FILE *f;
    const char *p;

    if (kill(pid, 0) && errno == ESRCH) {
        return true;
    }
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    f = fopen(path, "r");
    if (!f) {
        return true;
    }
    p = fgets(buf, sizeof buf, f);
    fclose(f);
    p = p ? strrchr(buf, ')') : NULL;
    return p && p[1] == ' ' && p[2] == 'Z';
}

static void
s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert(f);
    fputs(text, f);
    fclose(f);
}

static void
test_run_stand_in(void)
{
    char dir[] = "/tmp/test_adapter_oclient.XXXXXX";
    char state[128], control[128], log[128], pidfile[128], line[256];
    struct adapter_oclient_config cfg = s_config(TOOL);
    struct adapter_oclient_result r;
    struct proc_output out;
    struct adapter_oclient_cmd cmd;
    proc_t *proc;
    uint64_t t0;
    int status, e;
    FILE *f;
    long pid;

    assert(access(TOOL, X_OK) == 0);
    assert(mkdtemp(dir));
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(control, sizeof control, "%s/control", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(pidfile, sizeof pidfile, "%s/state.hang-pid", dir);
    /* putenv() with our own buffers: setenv()'s copies look like leaks to
     * valgrind. */
    snprintf(env_state, sizeof env_state, "OCLIENT_STATE=%s", state);
    snprintf(env_log, sizeof env_log, "OCLIENT_LOG=%s", log);
    snprintf(env_control, sizeof env_control, "OCLIENT_CONTROL=%s",
             control);
    putenv(env_state);
    putenv(env_log);
    unsetenv("OCLIENT_MODE");
    unsetenv("OCLIENT_CONTROL");

    /* Create and tear down; the flags reach the tool as words. */
    assert(adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.2", 3, &r));
    s_expect(r.path_id, "odin-1");
    assert(adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.3", 0, &r));
    s_expect(r.path_id, "odin-2");
    f = fopen(log, "r");
    assert(f && fgets(line, sizeof line, f));
    fclose(f);
    s_expect(line, "oclient -c 10.210.0.1 10.210.0.2 3 --vlan auto\n");
    assert(adapter_oclient_teardown(&cfg, "odin-1", &r));
    /* ODIN no longer knows it. */
    assert(!adapter_oclient_teardown(&cfg, "odin-1", &r));
    assert(r.not_found);
    s_expect(r.error, "oclient failed (exit status 2): 'ERROR: no such "
             "path 'odin-1''");

    /* Refused. */
    s_mode("fail");
    assert(!adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.2", 1, &r));
    s_expect(r.error, "oclient failed (exit status 1): 'ERROR: switch sw2: "
             "cross-connect refused'");
    assert(!adapter_oclient_teardown(&cfg, "odin-2", &r) && !r.not_found);

    /* A hang: killed at 300 ms with what it started, and reaped. */
    s_mode("hang");
    cfg.create_timeout_ms = 300;
    t0 = s_now_ms();
    assert(!adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.2", 1, &r));
    printf("hang: gave up after %llu ms: %s\n",
           (unsigned long long) (s_now_ms() - t0), r.error);
    fflush(stdout);
    assert(s_now_ms() - t0 >= 300 && s_now_ms() - t0 < 3000);
    s_expect(r.error, "oclient timed out after 300 ms and was killed (last "
             "output: 'oclient: ODIN client (VRESERVE stand-in)')");
    assert(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD);
    f = fopen(pidfile, "r");
    assert(f && fscanf(f, "%ld", &pid) == 1);
    fclose(f);
    for (int i = 0; i < 100 && !s_gone((pid_t) pid); i++) {
        usleep(10000);
    }
    assert(s_gone((pid_t) pid));
    cfg.create_timeout_ms = 5000;

    /* The same by steps, abandoned half way: destroy kills and reaps. */
    assert(adapter_oclient_build_create(&cfg, "10.210.0.1", "10.210.0.2", 1,
                                        &cmd, NULL, 0));
    proc = proc_start(cmd.argv, 10000, 1024, s_now_ms(), &e);
    assert(proc);
    assert(!proc_step(proc, s_now_ms()));
    assert(proc_timeout_ms(proc, s_now_ms()) > 0);
    proc_destroy(&proc);
    assert(!proc);
    assert(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD);

    /* Garbage, half a line, nothing, a flood, a crash. */
    s_mode("garbage");
    assert(!adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.2", 1, &r));
    s_expect(r.error, "oclient printed a malformed path id: 'oclient: ???? "
             "pathID=?? <<?>>'");
    s_mode("partial");
    assert(!adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.2", 1, &r));
    assert(strstr(r.error, "no 'pathID=<id>' in oclient output"));
    assert(!adapter_oclient_teardown(&cfg, "odin-2", &r));
    assert(strstr(r.error, "no confirmation for path 'odin-2'"));
    s_mode("empty");
    assert(!adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.2", 1, &r));
    s_expect(r.error, "oclient printed nothing (exit status 0); expected "
             "'pathID=<id>'");
    s_mode("huge");
    assert(!adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.2", 1, &r));
    assert(strstr(r.error, "(65536 bytes, truncated)"));
    {
        const char *argv[] = { TOOL, "-c", "10.0.0.1", "10.0.0.2", "1",
                               NULL };

        assert(proc_run(argv, 5000, 1000, &out) == 0);
        assert(out.end == PROC_EXITED && out.status == 0);
        assert(out.out_len == 1000 && out.out_truncated);
        assert(out.out[1000] == '\0' && !out.err);
        proc_output_uninit(&out);
    }
    s_mode("crash");
    assert(!adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.2", 1, &r));
    s_expect(r.error, "oclient was killed by signal 9 (Killed); 'oclient: "
             "ODIN client (VRESERVE stand-in)'");

    /* Slow but in time. */
    s_mode("slow");
    putenv(env_delay);
    t0 = s_now_ms();
    assert(adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.2", 1, &r));
    assert(s_now_ms() - t0 >= 200);
    s_expect(r.path_id, "odin-3");

    /* A scripted sequence. */
    unsetenv("OCLIENT_MODE");
    putenv(env_control);
    s_write(control, "fail\nok\n");
    assert(!adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.2", 1, &r));
    assert(adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.2", 1, &r));
    s_expect(r.path_id, "odin-4");
    unsetenv("OCLIENT_CONTROL");

    /* No such program. */
    cfg.path = "/nonexistent/oclient";
    assert(!adapter_oclient_create(&cfg, "10.210.0.1", "10.210.0.2", 1, &r));
    s_expect(r.error, "cannot run '/nonexistent/oclient': No such file or "
             "directory");

    assert(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD);
    unsetenv("OCLIENT_STATE");
    unsetenv("OCLIENT_LOG");
    unsetenv("OCLIENT_DELAY");
    unlink(state);
    snprintf(line, sizeof line, "%s.lock", state);
    unlink(line);
    unlink(control);
    unlink(log);
    unlink(pidfile);
    snprintf(line, sizeof line, "%s.hang-pids", state);
    unlink(line);
    assert(rmdir(dir) == 0);
}

int
main(void)
{
    test_command_lines();
    test_parse();
    test_run_stand_in();
    printf("test_adapter_oclient: ok\n");
    return 0;
}
