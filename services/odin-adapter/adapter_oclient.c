/* SPDX-License-Identifier: MIT */
/* ODIN's command-line client, driven from C: argv building, runs through
 * common/proc (time limit, bounded capture), and a parser for what the
 * client prints.  The adapter's 'oclient' backend (adapter.c) uses it;
 * tests/unit/test_adapter_oclient.c runs it against the stand-in
 * tests/tools/oclient. */
#include "adapter_oclient.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "proc.h"

/* Lines quoted in messages are cut to this many characters. */
#define S_QUOTE_MAX 160

const struct cfg_key adapter_oclient_keys[] = {
    ADAPTER_OCLIENT_CFG_KEYS("oclient.", 0),
    CFG_KEYS_END,
};


bool
adapter_oclient_config_check(const struct adapter_oclient_config *cfg,
                             char *err, size_t errsize)
{
    assert(cfg);
    if (!cfg->path || !cfg->path[0]) {
        log_format(err, errsize, "oclient.path: the oclient program is not set");
        return false;
    }
    if (cfg->flags.n > ADAPTER_OCLIENT_MAX_FLAGS) {
        log_format(err, errsize, "oclient.flags: %zu flags, at most %d",
              cfg->flags.n, ADAPTER_OCLIENT_MAX_FLAGS);
        return false;
    }
    for (size_t i = 0; i < cfg->flags.n; i++) {
        if (!cfg->flags.v[i][0]) {
            log_format(err, errsize, "oclient.flags[%zu]: empty flag", i);
            return false;
        }
    }
    if (!cfg->lambda) {
        log_format(err, errsize, "oclient.lambda: must be at least 1");
        return false;
    }
    return true;
}

/* Command lines. */

bool
adapter_oclient_valid_id(const char *s)
{
    size_t len;

    if (!s) {
        return false;
    }
    len = strlen(s);
    if (!len || len > ADAPTER_OCLIENT_ID_MAX || s[0] == '-') {
        return false;
    }
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._:-") == len;
}

/* Writes the canonical form of IP literal 'ip' into 'out'. */
static bool
s_canonical_ip(const char *ip, char *out, size_t size)
{
    unsigned char addr[16];

    if (!ip) {
        return false;
    }
    if (inet_pton(AF_INET, ip, addr) == 1) {
        return inet_ntop(AF_INET, addr, out, (socklen_t) size) != NULL;
    }
    if (inet_pton(AF_INET6, ip, addr) == 1) {
        return inet_ntop(AF_INET6, addr, out, (socklen_t) size) != NULL;
    }
    return false;
}

bool
adapter_oclient_build_create(const struct adapter_oclient_config *cfg,
                             const char *src_ip, const char *dst_ip,
                             uint32_t lambda, struct adapter_oclient_cmd *cmd,
                             char *err, size_t errsize)
{
    assert(cfg && cmd);
    memset(cmd, 0, sizeof *cmd);
    if (!adapter_oclient_config_check(cfg, err, errsize)) {
        return false;
    }
    if (!s_canonical_ip(src_ip, cmd->src, sizeof cmd->src)) {
        log_format(err, errsize, "source '%s' is not an IP address",
              src_ip ? src_ip : "(null)");
        return false;
    }
    if (!s_canonical_ip(dst_ip, cmd->dst, sizeof cmd->dst)) {
        log_format(err, errsize, "destination '%s' is not an IP address",
              dst_ip ? dst_ip : "(null)");
        return false;
    }
    snprintf(cmd->lambda, sizeof cmd->lambda, "%u",
             lambda ? lambda : cfg->lambda);
    cmd->argv[cmd->argc++] = cfg->path;
    cmd->argv[cmd->argc++] = "-c";
    cmd->argv[cmd->argc++] = cmd->src;
    cmd->argv[cmd->argc++] = cmd->dst;
    cmd->argv[cmd->argc++] = cmd->lambda;
    for (size_t i = 0; i < cfg->flags.n; i++) {
        cmd->argv[cmd->argc++] = cfg->flags.v[i];
    }
    cmd->argv[cmd->argc] = NULL;
    return true;
}

bool
adapter_oclient_build_teardown(const struct adapter_oclient_config *cfg,
                               const char *path_id,
                               struct adapter_oclient_cmd *cmd, char *err,
                               size_t errsize)
{
    assert(cfg && cmd);
    memset(cmd, 0, sizeof *cmd);
    if (!adapter_oclient_config_check(cfg, err, errsize)) {
        return false;
    }
    if (!adapter_oclient_valid_id(path_id)) {
        log_format(err, errsize, "'%.*s' is not a valid ODIN path id",
              S_QUOTE_MAX, path_id ? path_id : "(null)");
        return false;
    }
    snprintf(cmd->path_id, sizeof cmd->path_id, "%s", path_id);
    cmd->argv[cmd->argc++] = cfg->path;
    cmd->argv[cmd->argc++] = "-t";
    cmd->argv[cmd->argc++] = cmd->path_id;
    cmd->argv[cmd->argc] = NULL;
    return true;
}

char *
adapter_oclient_cmd_format(const struct adapter_oclient_cmd *cmd, char *buf,
                           size_t size)
{
    size_t n = 0;

    assert(cmd && buf && size);
    buf[0] = '\0';
    for (size_t i = 0; i < cmd->argc && n < size; i++) {
        const char *a = cmd->argv[i];
        bool quote = !a[0] || strpbrk(a, " \t'\"\\") != NULL;
        int w = snprintf(buf + n, size - n, "%s%s%s%s", i ? " " : "",
                         quote ? "'" : "", a, quote ? "'" : "");

        n += w < 0 ? 0 : (size_t) w;
    }
    return buf;
}

/* Parsing.  The output is any bytes: every scan below works on (pointer,
 * length), never past the length, and copies into messages only through
 * s_quote(). */

/* One line: 's' and 'len', without the newline. */
struct s_line {
    const char *s;              /* start */
    size_t len;                 /* bytes */
};

/* Copies 'len' bytes at 's' into 'dst' as printable ASCII (other bytes as
 * '?'), cut at S_QUOTE_MAX characters with "..." added. */
static void
s_quote(char *dst, size_t size, const char *s, size_t len)
{
    size_t n = 0;

    if (!size) {
        return;
    }
    for (size_t i = 0; i < len && n + 1 < size; i++) {
        unsigned char c = (unsigned char) s[i];

        if (i == S_QUOTE_MAX) {
            for (int k = 0; k < 3 && n + 1 < size; k++) {
                dst[n++] = '.';
            }
            break;
        }
        dst[n++] = c == '\t' ? ' ' : (c >= 0x20 && c < 0x7f) ? (char) c
                                                              : '?';
    }
    dst[n] = '\0';
}

/* Trims blanks (and a trailing CR) at both ends of 'l'. */
static struct s_line
s_trim(struct s_line l)
{
    while (l.len && (l.s[0] == ' ' || l.s[0] == '\t')) {
        l.s++;
        l.len--;
    }
    while (l.len && (l.s[l.len - 1] == ' ' || l.s[l.len - 1] == '\t'
                     || l.s[l.len - 1] == '\r')) {
        l.len--;
    }
    return l;
}

/* Iterates over the lines of a buffer: '*pos' starts at 0; returns false
 * at the end. */
static bool
s_next_line(const char *buf, size_t len, size_t *pos, struct s_line *line)
{
    const char *nl;

    if (!buf || *pos >= len) {
        return false;
    }
    line->s = buf + *pos;
    nl = memchr(line->s, '\n', len - *pos);
    line->len = nl ? (size_t) (nl - line->s) : len - *pos;
    *pos += line->len + 1;
    *line = s_trim(*line);
    return true;
}

/* Finds 'word' (lower case) in 'l', ignoring case; returns its offset or
 * SIZE_MAX. */
static size_t
s_find_ci(struct s_line l, const char *word)
{
    size_t wlen = strlen(word);

    for (size_t i = 0; i + wlen <= l.len; i++) {
        size_t k;

        /* By hand: the line may hold NULs, which strncasecmp stops at. */
        for (k = 0; k < wlen; k++) {
            char c = l.s[i + k];

            if (c >= 'A' && c <= 'Z') {
                c = (char) (c - 'A' + 'a');
            }
            if (c != word[k]) {
                break;
            }
        }
        if (k == wlen) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* Is 'l' an error line: "ERROR: ...", "error ...", or the same after an
 * "oclient:" prefix? */
static bool
s_is_error_line(struct s_line l)
{
    if (l.len >= 8 && !strncasecmp(l.s, "oclient:", 8)) {
        l.s += 8;
        l.len -= 8;
        l = s_trim(l);
    }
    return (l.len >= 5 && !strncasecmp(l.s, "error", 5)
            && (l.len == 5 || l.s[5] == ':' || l.s[5] == ' '));
}

static bool
s_is_id_char(char c)
{
    return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':'
            || c == '-');
}

/* What a scan of the output found. */
struct s_scan {
    const char *want_id;        /* teardown: the id asked for; else NULL */
    struct s_line error;        /* first error line (len 0: none) */
    bool have_error;            /* an error line was seen */
    bool not_found;             /* an error line says the path is unknown */
    char id[ADAPTER_OCLIENT_ID_MAX + 1];    /* create: first id */
    char other_id[ADAPTER_OCLIENT_ID_MAX + 1]; /* create: a second one */
    bool confirmed;             /* teardown: 'want_id' confirmed */
    char wrong_id[ADAPTER_OCLIENT_ID_MAX + 1]; /* teardown: other id */
    struct s_line malformed;    /* a "pathID=" not followed by an id */
    bool have_malformed;        /* 'malformed' is set */
    struct s_line first;        /* first non-empty line */
    struct s_line last;         /* last non-empty line */
    size_t n_lines;             /* non-empty lines */
};

/* Reads the id after "pathID" at offset 'at' of 'l' into 'id'.  Returns
 * true if a valid id is there. */
static bool
s_read_id(struct s_line l, size_t at, char id[ADAPTER_OCLIENT_ID_MAX + 1])
{
    size_t i = at + 6, start, end;

    while (i < l.len && l.s[i] == ' ') {
        i++;
    }
    if (i >= l.len || (l.s[i] != '=' && l.s[i] != ':')) {
        return false;
    }
    i++;
    while (i < l.len && l.s[i] == ' ') {
        i++;
    }
    start = i;
    while (i < l.len && s_is_id_char(l.s[i])) {
        i++;
    }
    end = i;
    /* The id ends the line, or is followed by a blank or punctuation. */
    if (i < l.len && !strchr(" \t,;)]\"'", l.s[i] ? l.s[i] : 'x')) {
        return false;
    }
    /* "pathID=p-17." ends a sentence, not the id. */
    while (end > start && (l.s[end - 1] == '.' || l.s[end - 1] == ':')) {
        end--;
    }
    if (end == start || end - start > ADAPTER_OCLIENT_ID_MAX
        || l.s[start] == '-') {
        return false;
    }
    memcpy(id, l.s + start, end - start);
    id[end - start] = '\0';
    return true;
}

static void
s_scan_line(struct s_scan *sc, struct s_line l)
{
    size_t at;

    if (!l.len) {
        return;
    }
    if (!sc->n_lines++) {
        sc->first = l;
    }
    sc->last = l;
    if (s_is_error_line(l)) {
        if (!sc->have_error) {
            sc->error = l;
            sc->have_error = true;
        }
        if (s_find_ci(l, "no such path") != SIZE_MAX
            || s_find_ci(l, "unknown path") != SIZE_MAX
            || s_find_ci(l, "not found") != SIZE_MAX) {
            sc->not_found = true;
        }
        return;                 /* an id in an error line confirms nothing */
    }
    at = s_find_ci(l, "pathid");
    while (at != SIZE_MAX) {
        char id[ADAPTER_OCLIENT_ID_MAX + 1];
        struct s_line rest;

        if (!s_read_id(l, at, id)) {
            if (!sc->have_malformed) {
                sc->malformed = l;
                sc->have_malformed = true;
            }
        } else if (!sc->want_id) {
            if (!sc->id[0]) {
                memcpy(sc->id, id, sizeof id);
            } else if (strcmp(sc->id, id) && !sc->other_id[0]) {
                memcpy(sc->other_id, id, sizeof id);
            }
        } else if (s_find_ci(l, "deleted") != SIZE_MAX
                   || s_find_ci(l, "torn down") != SIZE_MAX
                   || s_find_ci(l, "released") != SIZE_MAX
                   || s_find_ci(l, "removed") != SIZE_MAX) {
            if (!strcmp(id, sc->want_id)) {
                sc->confirmed = true;
            } else if (!sc->wrong_id[0]) {
                memcpy(sc->wrong_id, id, sizeof id);
            }
        }
        rest.s = l.s + at + 6;
        rest.len = l.len - at - 6;
        at = s_find_ci(rest, "pathid");
        if (at != SIZE_MAX) {
            at += (size_t) (rest.s - l.s);
        }
    }
}

static void
s_scan(const struct proc_output *out, struct s_scan *sc)
{
    struct s_line l;
    size_t pos = 0;

    /* stderr first: ODIN's error line is the best explanation. */
    while (s_next_line(out->err, out->err_len, &pos, &l)) {
        s_scan_line(sc, l);
    }
    pos = 0;
    while (s_next_line(out->out, out->out_len, &pos, &l)) {
        s_scan_line(sc, l);
    }
}

/* The best line to explain a failure: the error line, else the last line
 * of stderr, else the last of stdout. */
static void
s_explain(const struct proc_output *out, const struct s_scan *sc,
          char *buf, size_t size)
{
    struct s_line l = { .s = NULL, .len = 0 }, cur;
    size_t pos = 0;

    if (sc->have_error) {
        l = sc->error;
    } else {
        while (s_next_line(out->err, out->err_len, &pos, &cur)) {
            if (cur.len) {
                l = cur;
            }
        }
        if (!l.len) {
            l = sc->last;
        }
    }
    if (l.len) {
        char q[S_QUOTE_MAX + 4];

        s_quote(q, sizeof q, l.s, l.len);
        snprintf(buf, size, "'%s'", q);
    } else {
        snprintf(buf, size, "no output");
    }
}

/* Handles the ways a run can fail whatever the command; returns true if
 * it did (with 'res->error' set). */
static bool
s_run_failed(const struct proc_output *out, const struct s_scan *sc,
             struct adapter_oclient_result *res)
{
    char why[S_QUOTE_MAX + 16];

    s_explain(out, sc, why, sizeof why);
    switch (out->end) {
    case PROC_SPAWN_FAILED:
        snprintf(res->error, sizeof res->error, "oclient could not be "
                 "started: %s", strerror(out->status));
        return true;
    case PROC_TIMED_OUT:
        snprintf(res->error, sizeof res->error, "oclient timed out after "
                 "%u ms and was killed (last output: %s)", out->timeout_ms,
                 why);
        return true;
    case PROC_SIGNALED:
        snprintf(res->error, sizeof res->error, "oclient was killed by "
                 "signal %d (%s); %s", out->status, strsignal(out->status),
                 why);
        return true;
    case PROC_EXITED:
        if (out->status == -1) {
            snprintf(res->error, sizeof res->error, "oclient's exit status "
                     "was lost (SIGCHLD ignored?); %s", why);
            return true;
        }
        if (out->status) {
            snprintf(res->error, sizeof res->error, "oclient failed (exit "
                     "status %d): %s", out->status, why);
            return true;
        }
        if (sc->have_error) {
            snprintf(res->error, sizeof res->error, "oclient reported an "
                     "error (exit status 0): %s", why);
            return true;
        }
        return false;
    }
    snprintf(res->error, sizeof res->error, "oclient: unknown end %d",
             (int) out->end);
    return true;
}

/* "no <what> in oclient output (N bytes): '<first line>'" or, for no
 * output at all, "oclient printed nothing". */
static void
s_missing(const struct proc_output *out, const struct s_scan *sc,
          const char *what, struct adapter_oclient_result *res)
{
    char q[S_QUOTE_MAX + 4];

    if (!sc->n_lines) {
        snprintf(res->error, sizeof res->error, "oclient printed nothing "
                 "(exit status 0); expected %s", what);
        return;
    }
    s_quote(q, sizeof q, sc->first.s, sc->first.len);
    snprintf(res->error, sizeof res->error, "no %s in oclient output "
             "(%zu bytes%s): '%s'", what, out->out_len + out->err_len,
             out->out_truncated || out->err_truncated ? ", truncated" : "",
             q);
}

bool
adapter_oclient_parse_create(const struct proc_output *out,
                             struct adapter_oclient_result *res)
{
    struct s_scan sc;

    assert(out && res);
    memset(res, 0, sizeof *res);
    memset(&sc, 0, sizeof sc);
    s_scan(out, &sc);
    if (s_run_failed(out, &sc, res)) {
        return false;
    }
    if (sc.other_id[0]) {
        snprintf(res->error, sizeof res->error, "oclient printed several "
                 "path ids ('%s', '%s')", sc.id, sc.other_id);
        return false;
    }
    if (sc.id[0]) {
        memcpy(res->path_id, sc.id, sizeof sc.id);
        res->ok = true;
        return true;
    }
    if (sc.have_malformed) {
        char q[S_QUOTE_MAX + 4];

        s_quote(q, sizeof q, sc.malformed.s, sc.malformed.len);
        snprintf(res->error, sizeof res->error, "oclient printed a "
                 "malformed path id: '%s'", q);
        return false;
    }
    s_missing(out, &sc, "'pathID=<id>'", res);
    return false;
}

bool
adapter_oclient_parse_teardown(const struct proc_output *out,
                               const char *path_id,
                               struct adapter_oclient_result *res)
{
    struct s_scan sc;
    char what[ADAPTER_OCLIENT_ID_MAX + 48];

    assert(out && res);
    memset(res, 0, sizeof *res);
    memset(&sc, 0, sizeof sc);
    if (!adapter_oclient_valid_id(path_id)) {
        snprintf(res->error, sizeof res->error, "not a valid path id");
        return false;
    }
    sc.want_id = path_id;
    s_scan(out, &sc);
    res->not_found = sc.not_found;
    if (s_run_failed(out, &sc, res)) {
        return false;
    }
    if (sc.confirmed) {
        snprintf(res->path_id, sizeof res->path_id, "%s", path_id);
        res->ok = true;
        return true;
    }
    if (sc.wrong_id[0]) {
        snprintf(res->error, sizeof res->error, "oclient confirmed the "
                 "teardown of path '%s', not of '%s'", sc.wrong_id,
                 path_id);
        return false;
    }
    snprintf(what, sizeof what, "confirmation for path '%s'", path_id);
    s_missing(out, &sc, what, res);
    return false;
}

/* Runs a built command and parses it; 'path_id' NULL for a create. */
static bool
s_run_cmd(const struct adapter_oclient_config *cfg,
          const struct adapter_oclient_cmd *cmd, uint32_t timeout_ms,
          const char *path_id, struct adapter_oclient_result *res)
{
    struct proc_output out;
    bool ok;

    if (proc_run(cmd->argv, timeout_ms, (size_t) cfg->max_output_kb * 1024,
                 &out)) {
        memset(res, 0, sizeof *res);
        snprintf(res->error, sizeof res->error, "cannot run '%.200s': %s",
                 cfg->path, strerror(out.status));
        return false;
    }
    ok = (path_id ? adapter_oclient_parse_teardown(&out, path_id, res)
          : adapter_oclient_parse_create(&out, res));
    proc_output_uninit(&out);
    return ok;
}

bool
adapter_oclient_create(const struct adapter_oclient_config *cfg,
                       const char *src_ip, const char *dst_ip,
                       uint32_t lambda, struct adapter_oclient_result *res)
{
    struct adapter_oclient_cmd cmd;

    assert(cfg && res);
    memset(res, 0, sizeof *res);
    if (!adapter_oclient_build_create(cfg, src_ip, dst_ip, lambda, &cmd,
                                      res->error, sizeof res->error)) {
        return false;
    }
    return s_run_cmd(cfg, &cmd, cfg->create_timeout_ms, NULL, res);
}

bool
adapter_oclient_teardown(const struct adapter_oclient_config *cfg,
                         const char *path_id,
                         struct adapter_oclient_result *res)
{
    struct adapter_oclient_cmd cmd;

    assert(cfg && res);
    memset(res, 0, sizeof *res);
    if (!adapter_oclient_build_teardown(cfg, path_id, &cmd, res->error,
                                        sizeof res->error)) {
        return false;
    }
    return s_run_cmd(cfg, &cmd, cfg->teardown_timeout_ms, path_id, res);
}
