/* SPDX-License-Identifier: MIT */
/* The odin-adapter's 'oclient' backend: builds ODIN command lines
 * ("oclient -c <src> <dst> <lambda#> <flags>", "oclient -t <pathID>"),
 * runs them as child processes without a shell, under a time limit and
 * with bounded output, and parses what they print into a path id or an
 * error.  Three separate layers, so each can be tested alone: command
 * building, the process runner (also usable step by step from a poll
 * loop), and the parser, which takes plain buffers.  No bus, no logging:
 * messages come back in the result for the adapter to log and publish.
 * tests/tools/oclient is a stand-in for ODIN's client with the output
 * format parsed here. */
#ifndef ADAPTER_OCLIENT_H
#define ADAPTER_OCLIENT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

#define ADAPTER_OCLIENT_DEFAULT_PATH "/usr/local/bin/oclient"
#define ADAPTER_OCLIENT_DEFAULT_LAMBDA 1
/* ODIN answers when the path is set up: ~2.5 s of switch configuration
 * plus ~15 s to stabilize on OMNInet, more with more switches; a teardown
 * took ~12 s. */
#define ADAPTER_OCLIENT_DEFAULT_CREATE_TIMEOUT_MS 60000
#define ADAPTER_OCLIENT_DEFAULT_TEARDOWN_TIMEOUT_MS 30000
#define ADAPTER_OCLIENT_DEFAULT_MAX_OUTPUT_KB 64

#define ADAPTER_OCLIENT_MAX_FLAGS 16    /* extra words after the lambda */
#define ADAPTER_OCLIENT_ID_MAX 64       /* characters in a path id */
#define ADAPTER_OCLIENT_ERROR_SIZE 320  /* bytes of a result's message */

/* The backend's configuration, as cfg_load() fills it. */
struct adapter_oclient_config {
    char *path;                 /* the oclient executable */
    struct cfg_strlist flags;   /* words passed after <lambda#> on -c */
    uint32_t lambda;            /* <lambda#> when the caller gives none */
    uint32_t create_timeout_ms; /* limit on 'oclient -c' */
    uint32_t teardown_timeout_ms;   /* limit on 'oclient -t' */
    uint32_t max_output_kb;     /* kept of each of stdout and stderr */
};

/* Key table entries with names starting 'P' ("oclient.") for a struct
 * adapter_oclient_config at offset 'BASE' of the config struct. */
#define ADAPTER_OCLIENT_CFG_KEY_(P, BASE, TYPE, NAME, FIELD, ...)          \
    { .name = P NAME, .type = TYPE,                                        \
      .offset = (BASE) + offsetof(struct adapter_oclient_config, FIELD),   \
      __VA_ARGS__ }
#define ADAPTER_OCLIENT_CFG_KEYS(P, BASE)                                  \
    ADAPTER_OCLIENT_CFG_KEY_(P, BASE, CFG_STR, "path", path,               \
        .def_str = ADAPTER_OCLIENT_DEFAULT_PATH,                           \
        .help = "ODIN's command-line client (run directly, no shell)"),    \
    ADAPTER_OCLIENT_CFG_KEY_(P, BASE, CFG_STRLIST, "flags", flags,         \
        .help = "<flags> words after <lambda#> in 'oclient -c'"),          \
    ADAPTER_OCLIENT_CFG_KEY_(P, BASE, CFG_U32, "lambda", lambda,           \
        .min = 1, .max = 1000000, .def_int = ADAPTER_OCLIENT_DEFAULT_LAMBDA,\
        .help = "<lambda#> to ask for when the request names none"),       \
    ADAPTER_OCLIENT_CFG_KEY_(P, BASE, CFG_U32, "create_timeout_ms",        \
        create_timeout_ms, .min = 100, .max = 3600000,                     \
        .def_int = ADAPTER_OCLIENT_DEFAULT_CREATE_TIMEOUT_MS,              \
        .help = "kill 'oclient -c' after this long"),                      \
    ADAPTER_OCLIENT_CFG_KEY_(P, BASE, CFG_U32, "teardown_timeout_ms",      \
        teardown_timeout_ms, .min = 100, .max = 3600000,                   \
        .def_int = ADAPTER_OCLIENT_DEFAULT_TEARDOWN_TIMEOUT_MS,            \
        .help = "kill 'oclient -t' after this long"),                      \
    ADAPTER_OCLIENT_CFG_KEY_(P, BASE, CFG_U32, "max_output_kb",            \
        max_output_kb, .min = 1, .max = 16384,                             \
        .def_int = ADAPTER_OCLIENT_DEFAULT_MAX_OUTPUT_KB,                  \
        .help = "output kept of each of stdout and stderr; the rest is "   \
                "read and dropped")

/* A file (or section) holding only "oclient:" keys. */
extern const struct cfg_key adapter_oclient_keys[];

/* Checks what the loader cannot: 'path' set and not empty, at most
 * ADAPTER_OCLIENT_MAX_FLAGS flags.  Returns true if valid; otherwise
 * writes the reason into 'err'. */
bool adapter_oclient_config_check(const struct adapter_oclient_config *cfg,
                                  char *err, size_t errsize);

/* Command lines. */

enum { ADAPTER_OCLIENT_MAX_ARGS = 5 + ADAPTER_OCLIENT_MAX_FLAGS };

/* An argv.  'argv' points into the struct itself, into the config and into
 * nothing else: use it in place while the config lives, do not copy it. */
struct adapter_oclient_cmd {
    const char *argv[ADAPTER_OCLIENT_MAX_ARGS + 1]; /* NULL-terminated */
    size_t argc;                /* words in 'argv' */
    char src[48];               /* canonical source address */
    char dst[48];               /* canonical destination address */
    char lambda[12];            /* <lambda#> in decimal */
    char path_id[ADAPTER_OCLIENT_ID_MAX + 1];   /* -t argument */
};

/* Builds "oclient -c <src> <dst> <lambda#> <flags...>" into '*cmd'.
 * 'src_ip' and 'dst_ip' must be IP literals (they are passed in canonical
 * form, so nothing the caller sends can become an option); 'lambda' 0
 * means the configured one.  Returns false with a message on bad input. */
bool adapter_oclient_build_create(const struct adapter_oclient_config *cfg,
                                  const char *src_ip, const char *dst_ip,
                                  uint32_t lambda,
                                  struct adapter_oclient_cmd *cmd,
                                  char *err, size_t errsize);

/* Builds "oclient -t <pathID>" into '*cmd'.  Returns false with a message
 * unless adapter_oclient_valid_id('path_id'). */
bool adapter_oclient_build_teardown(const struct adapter_oclient_config *cfg,
                                    const char *path_id,
                                    struct adapter_oclient_cmd *cmd,
                                    char *err, size_t errsize);

/* Is 's' a path id we accept from ODIN and pass back to it: 1 to
 * ADAPTER_OCLIENT_ID_MAX of [A-Za-z0-9._:-], not starting with '-'? */
bool adapter_oclient_valid_id(const char *s);

/* Writes 'cmd' as one line for logs ("oclient -c 10.0.0.1 ...") into
 * 'buf' and returns 'buf'.  Truncated to 'size'. */
char *adapter_oclient_cmd_format(const struct adapter_oclient_cmd *cmd,
                                 char *buf, size_t size);

/* Running. */

/* How a run ended. */
enum adapter_oclient_end {
    ADAPTER_OCLIENT_EXITED = 1,     /* 'status' is the exit code */
    ADAPTER_OCLIENT_SIGNALED = 2,   /* 'status' is the signal */
    ADAPTER_OCLIENT_TIMED_OUT = 3,  /* killed (process group, SIGKILL) */
    ADAPTER_OCLIENT_SPAWN_FAILED = 4,   /* 'status' is an errno */
};

/* What a run produced.  'out' and 'err' are NUL-terminated (the NUL is not
 * counted in the lengths; the output itself may hold NULs). */
struct adapter_oclient_output {
    enum adapter_oclient_end end;   /* how it ended */
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
void adapter_oclient_output_uninit(struct adapter_oclient_output *out);

/* Runs 'argv' (argv[0] is the program: a path, or a name looked up in
 * PATH) with stdin from /dev/null, in its own process group, reading its
 * stdout and stderr (the first 'max_output' bytes of each kept, the rest
 * drained) until it exits or 'timeout_ms' passes, when its process group
 * is killed with SIGKILL and it is reaped.  Blocks until then.  Fills
 * '*out' in every case (the caller frees it with
 * adapter_oclient_output_uninit()) and returns 0 if the program ran, -1
 * if it could not be started ('out->end' is SPAWN_FAILED).  The caller's
 * SIGCHLD must not be ignored (children would not be reapable). */
int adapter_oclient_run(const char *const *argv, uint32_t timeout_ms,
                        size_t max_output,
                        struct adapter_oclient_output *out);

/* The same, step by step, for a poll() loop.  Start the child at monotonic
 * time 'now_ms'; then, until adapter_oclient_proc_step() returns true,
 * poll the descriptors adapter_oclient_proc_pollfds() gives for at most
 * adapter_oclient_proc_timeout_ms() and call step again.  Take the output
 * with adapter_oclient_proc_finish(). */
typedef struct adapter_oclient_proc adapter_oclient_proc_t;

/* Starts 'argv'.  Returns the child's handle (the caller owns it), or NULL
 * with the errno in '*errno_p' if it could not be started. */
adapter_oclient_proc_t *adapter_oclient_proc_start(const char *const *argv,
                                                   uint32_t timeout_ms,
                                                   size_t max_output,
                                                   uint64_t now_ms,
                                                   int *errno_p);

/* Fills 'fds' (room for 3) with the descriptors to wait on, POLLIN; an
 * entry whose fd is -1 is to be ignored.  Returns 3. */
size_t adapter_oclient_proc_pollfds(const adapter_oclient_proc_t *proc,
                                    struct pollfd fds[3]);

/* The poll() timeout to use at 'now_ms', in ms (never more than the time
 * left, and short when the child's exit cannot be polled for). */
int adapter_oclient_proc_timeout_ms(const adapter_oclient_proc_t *proc,
                                    uint64_t now_ms);

/* Reads what is available, notices the child's exit, or kills it if its
 * time is up at 'now_ms'.  Never blocks for long (a killed child is
 * reaped at once).  Returns true once the run is over. */
bool adapter_oclient_proc_step(adapter_oclient_proc_t *proc,
                               uint64_t now_ms);

/* Moves the finished run's output into '*out' and frees '*proc_p',
 * setting it to NULL. */
void adapter_oclient_proc_finish(adapter_oclient_proc_t **proc_p,
                                 struct adapter_oclient_output *out);

/* Frees '*proc_p' if not NULL, first killing (process group, SIGKILL) and
 * reaping a child still running; sets '*proc_p' to NULL. */
void adapter_oclient_proc_destroy(adapter_oclient_proc_t **proc_p);

/* Parsing.
 *
 * The output format (the paper shows none, so this is ours, and
 * tests/tools/oclient prints it): any number of informational lines, then
 *     Path created: pathID=<id>       after -c, exit status 0
 *     Path deleted: pathID=<id>       after -t, exit status 0
 * and on failure a line "ERROR: <text>" (stdout or stderr) and a non-zero
 * exit status.  The parser looks for "pathID=" or "pathID:" (any case)
 * anywhere in a line, and for a teardown also for "deleted", "torn down",
 * "released" or "removed" on the same line as the id it asked for. */

/* The outcome of one oclient command. */
struct adapter_oclient_result {
    bool ok;                    /* the command did what was asked */
    bool not_found;             /* teardown: ODIN does not know the id */
    char path_id[ADAPTER_OCLIENT_ID_MAX + 1];   /* create: the new id */
    char error[ADAPTER_OCLIENT_ERROR_SIZE];     /* !ok: why, printable */
};

/* Parses the output of 'oclient -c'.  Returns true with 'res->path_id'
 * set, or false with 'res->error' saying why: could not run, timed out,
 * killed, non-zero exit (with ODIN's error line), an error line, no path
 * id, several path ids, a malformed id.  Any bytes are safe. */
bool adapter_oclient_parse_create(const struct adapter_oclient_output *out,
                                  struct adapter_oclient_result *res);

/* Parses the output of 'oclient -t <path_id>'.  Returns true if ODIN
 * confirmed the teardown of 'path_id'; false with 'res->error' otherwise,
 * with 'res->not_found' set when ODIN said it has no such path (so the
 * caller can count the path as gone). */
bool adapter_oclient_parse_teardown(const struct adapter_oclient_output *out,
                                    const char *path_id,
                                    struct adapter_oclient_result *res);

/* Builds, runs (blocking, up to the configured time limit) and parses one
 * create or teardown.  Return as the parse functions; bad arguments give
 * false with the reason in 'res->error'.  The adapter calls these from a
 * worker thread, or drives adapter_oclient_proc_*() from its loop. */
bool adapter_oclient_create(const struct adapter_oclient_config *cfg,
                            const char *src_ip, const char *dst_ip,
                            uint32_t lambda,
                            struct adapter_oclient_result *res);
bool adapter_oclient_teardown(const struct adapter_oclient_config *cfg,
                              const char *path_id,
                              struct adapter_oclient_result *res);

#endif /* ADAPTER_OCLIENT_H */
