/* SPDX-License-Identifier: MIT */
/* The odin-adapter's 'oclient' backend: builds ODIN command lines
 * ("oclient -c <src> <dst> <lambda#> <flags>", "oclient -t <pathID>"),
 * runs them as child processes without a shell, under a time limit and
 * with bounded output (common/proc, also usable step by step from a poll
 * loop), and parses what they print into a path id or an error.  Command
 * building and the parser, which takes plain buffers, are separate so
 * each can be tested alone.  No bus, no logging: messages come back in
 * the result for the adapter to log and publish.  tests/tools/oclient is
 * a stand-in for ODIN's client with the output format parsed here. */
#ifndef ADAPTER_OCLIENT_H
#define ADAPTER_OCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "proc.h"

#define ADAPTER_OCLIENT_DEFAULT_PATH "/usr/local/bin/oclient"
#define ADAPTER_OCLIENT_DEFAULT_LAMBDA 1
/* ODIN answers when the path is set up: ~2.5 s of switch configuration
 * plus ~15 s to stabilize on OMNInet, more with more switches; a teardown
 * took ~12 s. */
#define ADAPTER_OCLIENT_DEFAULT_CREATE_TIMEOUT_MS 60000
#define ADAPTER_OCLIENT_DEFAULT_TEARDOWN_TIMEOUT_MS 30000
#define ADAPTER_OCLIENT_DEFAULT_MAX_OUTPUT_KB 64
#define ADAPTER_OCLIENT_DEFAULT_MAX_RUNNING 8

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
    uint32_t max_running;       /* oclient children at once; more wait */
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
                "read and dropped"),                                       \
    ADAPTER_OCLIENT_CFG_KEY_(P, BASE, CFG_U32, "max_running", max_running, \
        .min = 1, .max = 1024,                                             \
        .def_int = ADAPTER_OCLIENT_DEFAULT_MAX_RUNNING,                    \
        .help = "oclient commands run at once, at most; the rest wait "    \
                "their turn, oldest path first")

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
bool adapter_oclient_parse_create(const struct proc_output *out,
                                  struct adapter_oclient_result *res);

/* Parses the output of 'oclient -t <path_id>'.  Returns true if ODIN
 * confirmed the teardown of 'path_id'; false with 'res->error' otherwise,
 * with 'res->not_found' set when ODIN said it has no such path (so the
 * caller can count the path as gone). */
bool adapter_oclient_parse_teardown(const struct proc_output *out,
                                    const char *path_id,
                                    struct adapter_oclient_result *res);

/* Builds, runs (blocking, up to the configured time limit) and parses one
 * create or teardown.  Return as the parse functions; bad arguments give
 * false with the reason in 'res->error'.  The adapter calls these from a
 * worker thread, or drives proc_*() from its loop. */
bool adapter_oclient_create(const struct adapter_oclient_config *cfg,
                            const char *src_ip, const char *dst_ip,
                            uint32_t lambda,
                            struct adapter_oclient_result *res);
bool adapter_oclient_teardown(const struct adapter_oclient_config *cfg,
                              const char *path_id,
                              struct adapter_oclient_result *res);

#endif /* ADAPTER_OCLIENT_H */
