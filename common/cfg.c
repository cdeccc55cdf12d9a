/* SPDX-License-Identifier: MIT */
/* Table-driven YAML configuration.  libyaml's event parser builds a small
 * private tree of scalars, mappings and sequences, each with its 1-based
 * line and column; the tree is then bound, key table in hand, into a
 * scratch copy of the target, which is copied over the target only when the
 * whole file is valid.  Services call it from main.c; tests/fuzz/fuzz_cfg.c
 * feeds it arbitrary bytes. */

#include "cfg.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* Deeper nesting than this is rejected, which bounds the recursion of both
 * the tree builder and the binder whatever the input. */
#define CFG_MAX_DEPTH 32

/* Config files are small; this only stops a mistyped path (a disk image, a
 * log) from being read into memory whole. */
#define CFG_MAX_FILE_SIZE ((size_t) 16 << 20)

/* Name used in messages when cfg_load() is given no file. */
#define CFG_DEFAULTS_NAME "(defaults)"

enum cfg_node_kind {
    CFG_NODE_SCALAR,
    CFG_NODE_MAP,
    CFG_NODE_SEQ,
};

/* One node of the parsed document. */
struct cfg_node {
    enum cfg_node_kind kind;    /* scalar, mapping or sequence */
    size_t line, col;           /* 1-based position where the node starts */
    char *str;                  /* scalar: the value, NUL-terminated */
    bool null;                  /* scalar: plain '~', 'null' or empty */
    struct cfg_node **kids;     /* map: key, value, key, ...; seq: items */
    size_t n_kids;              /* entries used in 'kids' */
    size_t cap;                 /* entries allocated in 'kids' */
};

/* Where errors go.  Only the first error is kept: later ones are usually
 * consequences of it. */
struct cfg_ctx {
    const char *name;           /* file name, or stand-in, for messages */
    char *err;                  /* caller's buffer, may be NULL */
    size_t errsize;             /* bytes in 'err' */
    bool failed;                /* an error has been recorded */
};

/* Where a key of one table scope was set; line 0 means not yet. */
struct cfg_seen {
    size_t line, col;           /* 1-based position of the key */
};

static bool s_bind_scope(struct cfg_ctx *, const struct cfg_key *, char *,
                         const struct cfg_node *, const char *,
                         size_t, size_t);
static void s_free_fields(const struct cfg_key *, char *);

static void s_fail(struct cfg_ctx *, size_t, size_t, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_fail(struct cfg_ctx *ctx, size_t line, size_t col, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (ctx->failed) {
        return;
    }
    ctx->failed = true;
    if (!ctx->err || !ctx->errsize) {
        return;
    }
    if (line) {
        n = snprintf(ctx->err, ctx->errsize, "%s:%zu:%zu: ",
                     ctx->name, line, col);
    } else {
        n = snprintf(ctx->err, ctx->errsize, "%s: ", ctx->name);
    }
    if (n < 0 || (size_t) n >= ctx->errsize) {
        return;                 /* truncated; snprintf NUL-terminated it */
    }
    va_start(ap, fmt);
    vsnprintf(ctx->err + n, ctx->errsize - (size_t) n, fmt, ap);
    va_end(ap);
}

static void
s_fail_unsupported(struct cfg_ctx *ctx, const yaml_mark_t *mark,
                   const char *what, const char *value)
{
    s_fail(ctx, mark->line + 1, mark->column + 1, "%s ('%s') are not "
           "supported", what, value);
}

static const char *
s_kind_name(enum cfg_node_kind kind)
{
    switch (kind) {
    case CFG_NODE_SCALAR:
        return "scalar";
    case CFG_NODE_MAP:
        return "mapping";
    case CFG_NODE_SEQ:
        return "sequence";
    }
    return "node";
}

/* Returns "a.b" for 'a' = "a" and 'b' = "b", or a copy of 'b' when 'a' is
 * empty.  The caller frees the result; NULL means out of memory. */
static char *
s_join(const char *a, const char *b)
{
    size_t alen = strlen(a);
    size_t blen = strlen(b);
    char *s = malloc(alen + 1 + blen + 1);

    if (!s) {
        return NULL;
    }
    if (alen) {
        memcpy(s, a, alen);
        s[alen++] = '.';
    }
    memcpy(s + alen, b, blen + 1);
    return s;
}

/* Returns "name[i]", to be freed by the caller, or NULL. */
static char *
s_index_name(const char *name, size_t i)
{
    size_t size = strlen(name) + 2 + 20 + 1;   /* 20 digits fit SIZE_MAX */
    char *s = malloc(size);

    if (s) {
        snprintf(s, size, "%s[%zu]", name, i);
    }
    return s;
}

/* The tree. */

static void
s_node_free(struct cfg_node *node)
{
    if (!node) {
        return;
    }
    for (size_t i = 0; i < node->n_kids; i++) {
        s_node_free(node->kids[i]);
    }
    free(node->kids);
    free(node->str);
    free(node);
}

static bool
s_node_add(struct cfg_node *parent, struct cfg_node *kid)
{
    if (parent->n_kids == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        struct cfg_node **kids;

        if (cap < parent->cap || cap > SIZE_MAX / sizeof *kids) {
            return false;
        }
        kids = realloc(parent->kids, cap * sizeof *kids);
        if (!kids) {
            return false;
        }
        parent->kids = kids;
        parent->cap = cap;
    }
    parent->kids[parent->n_kids++] = kid;
    return true;
}

/* YAML 1.2 core schema nulls.  Only plain scalars count: a quoted '~' is
 * the one-character string. */
static bool
s_is_null(const char *s)
{
    return (!*s || !strcmp(s, "~") || !strcmp(s, "null")
            || !strcmp(s, "Null") || !strcmp(s, "NULL"));
}

static void
s_yaml_error(struct cfg_ctx *ctx, const yaml_parser_t *yp)
{
    const char *problem = yp->problem ? yp->problem : "unknown error";
    const yaml_mark_t *pm = &yp->problem_mark;
    const yaml_mark_t *cm = &yp->context_mark;

    switch (yp->error) {
    case YAML_MEMORY_ERROR:
        s_fail(ctx, 0, 0, "out of memory while parsing");
        break;
    case YAML_READER_ERROR:
        /* The reader decodes ahead of the scanner, so it knows only a byte
         * offset, not a line. */
        if (yp->problem_value != -1) {
            s_fail(ctx, 0, 0, "byte %zu: %s (0x%02X)", yp->problem_offset,
                   problem, (unsigned) yp->problem_value);
        } else {
            s_fail(ctx, 0, 0, "byte %zu: %s", yp->problem_offset, problem);
        }
        break;
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
        if (yp->context) {
            s_fail(ctx, pm->line + 1, pm->column + 1,
                   "syntax error: %s (%s at %zu:%zu)", problem,
                   yp->context, cm->line + 1, cm->column + 1);
        } else {
            s_fail(ctx, pm->line + 1, pm->column + 1, "syntax error: %s",
                   problem);
        }
        break;
    case YAML_NO_ERROR:
    case YAML_COMPOSER_ERROR:
    case YAML_WRITER_ERROR:
    case YAML_EMITTER_ERROR:
    default:
        s_fail(ctx, 0, 0, "cannot parse YAML: %s", problem);
        break;
    }
}

static bool
s_next_event(struct cfg_ctx *ctx, yaml_parser_t *yp, yaml_event_t *ev)
{
    if (yaml_parser_parse(yp, ev)) {
        return true;
    }
    s_yaml_error(ctx, yp);
    return false;
}

/* Builds the node that starts with '*ev' (a scalar or a collection start)
 * and, for a collection, everything up to its end event.  Always deletes
 * '*ev'.  Returns the node, or NULL after recording an error. */
static struct cfg_node *
s_parse_node(struct cfg_ctx *ctx, yaml_parser_t *yp, yaml_event_t *ev,
             int depth)
{
    const yaml_mark_t *mark = &ev->start_mark;
    struct cfg_node *node = NULL;
    enum cfg_node_kind kind;
    yaml_event_type_t end_type = YAML_NO_EVENT;
    yaml_char_t *anchor, *tag;

    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        kind = CFG_NODE_SCALAR;
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        kind = CFG_NODE_SEQ;
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        end_type = YAML_SEQUENCE_END_EVENT;
        break;
    case YAML_MAPPING_START_EVENT:
        kind = CFG_NODE_MAP;
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        end_type = YAML_MAPPING_END_EVENT;
        break;
    case YAML_ALIAS_EVENT:
        /* Rejecting aliases also rules out "billion laughs" expansion. */
        s_fail_unsupported(ctx, mark, "aliases",
                           (const char *) ev->data.alias.anchor);
        goto out;
    default:
        s_fail(ctx, mark->line + 1, mark->column + 1,
               "unexpected YAML event %d", (int) ev->type);
        goto out;
    }
    if (anchor) {
        s_fail_unsupported(ctx, mark, "anchors", (const char *) anchor);
        goto out;
    }
    if (tag) {
        s_fail_unsupported(ctx, mark, "tags", (const char *) tag);
        goto out;
    }
    if (kind != CFG_NODE_SCALAR && depth >= CFG_MAX_DEPTH) {
        s_fail(ctx, mark->line + 1, mark->column + 1,
               "nesting deeper than %d levels", CFG_MAX_DEPTH);
        goto out;
    }

    node = calloc(1, sizeof *node);
    if (!node) {
        s_fail(ctx, 0, 0, "out of memory");
        goto out;
    }
    node->kind = kind;
    node->line = mark->line + 1;
    node->col = mark->column + 1;

    if (kind == CFG_NODE_SCALAR) {
        const char *value = (const char *) ev->data.scalar.value;
        size_t len = ev->data.scalar.length;

        /* A "\0" escape would let a key or value differ from what C string
         * functions see. */
        if (memchr(value, '\0', len)) {
            s_fail(ctx, node->line, node->col,
                   "NUL character in a scalar");
            goto fail;
        }
        node->str = malloc(len + 1);
        if (!node->str) {
            s_fail(ctx, 0, 0, "out of memory");
            goto fail;
        }
        memcpy(node->str, value, len);
        node->str[len] = '\0';
        node->null = (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
                      && s_is_null(node->str));
        goto out;
    }

    for (;;) {
        yaml_event_t kid_ev;
        struct cfg_node *kid;

        if (!s_next_event(ctx, yp, &kid_ev)) {
            goto fail;
        }
        if (kid_ev.type == end_type) {
            yaml_event_delete(&kid_ev);
            break;
        }
        kid = s_parse_node(ctx, yp, &kid_ev, depth + 1);
        if (!kid) {
            goto fail;
        }
        if (!s_node_add(node, kid)) {
            s_node_free(kid);
            s_fail(ctx, 0, 0, "out of memory");
            goto fail;
        }
    }
    goto out;

fail:
    s_node_free(node);
    node = NULL;
out:
    yaml_event_delete(ev);
    return node;
}

/* Parses 'len' bytes at 'text' into '*root', which is NULL for a stream
 * with no document (empty, or only comments).  Returns false after
 * recording an error. */
static bool
s_parse(struct cfg_ctx *ctx, const char *text, size_t len,
        struct cfg_node **root)
{
    yaml_parser_t yp;
    yaml_event_t ev;
    bool ok = false;

    *root = NULL;
    if (!yaml_parser_initialize(&yp)) {
        s_fail(ctx, 0, 0, "out of memory");
        return false;
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *) text, len);

    if (!s_next_event(ctx, &yp, &ev)) {         /* STREAM-START */
        goto out;
    }
    yaml_event_delete(&ev);
    for (;;) {
        if (!s_next_event(ctx, &yp, &ev)) {
            goto out;
        }
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type != YAML_DOCUMENT_START_EVENT || *root) {
            s_fail(ctx, ev.start_mark.line + 1, ev.start_mark.column + 1,
                   "only one YAML document is allowed");
            yaml_event_delete(&ev);
            goto out;
        }
        yaml_event_delete(&ev);

        if (!s_next_event(ctx, &yp, &ev)) {
            goto out;
        }
        *root = s_parse_node(ctx, &yp, &ev, 0);
        if (!*root) {
            goto out;
        }

        if (!s_next_event(ctx, &yp, &ev)) {     /* DOCUMENT-END */
            goto out;
        }
        yaml_event_delete(&ev);
    }
    ok = true;

out:
    yaml_parser_delete(&yp);
    if (!ok) {
        s_node_free(*root);
        *root = NULL;
    }
    return ok;
}

/* The key table. */

static size_t
s_field_size(enum cfg_type type)
{
    switch (type) {
    case CFG_STR:
        return sizeof(char *);
    case CFG_BOOL:
        return sizeof(bool);
    case CFG_INT:
        return sizeof(int64_t);
    case CFG_U32:
        return sizeof(uint32_t);
    case CFG_DOUBLE:
        return sizeof(double);
    case CFG_STRLIST:
        return sizeof(struct cfg_strlist);
    case CFG_SEQ:
        return sizeof(struct cfg_seq);
    case CFG_END:
        break;
    }
    return 0;
}

static size_t
s_n_keys(const struct cfg_key *keys)
{
    size_t n = 0;

    while (keys[n].type != CFG_END) {
        n++;
    }
    return n;
}

/* Bytes of the target that 'keys' describes: the end of the last field. */
static size_t
s_extent(const struct cfg_key *keys)
{
    size_t extent = 0;

    for (const struct cfg_key *k = keys; k->type != CFG_END; k++) {
        size_t end = k->offset + s_field_size(k->type);

        if (end > extent) {
            extent = end;
        }
    }
    return extent;
}

/* Checks the table for programmer errors: these are bugs in a service, not
 * bad input, so they are asserted rather than reported. */
static void
s_check_table(const struct cfg_key *keys)
{
    for (const struct cfg_key *k = keys; k->type != CFG_END; k++) {
        size_t len;

        assert(k->name && k->name[0] && k->name[0] != '.');
        len = strlen(k->name);
        assert(k->name[len - 1] != '.');
        assert(k->type > CFG_END && k->type <= CFG_SEQ);
        assert(k->type != CFG_SEQ
               || (k->sub && k->elem_size >= s_extent(k->sub)));
        for (const struct cfg_key *o = keys; o < k; o++) {
            /* A name may be neither repeated nor used as a prefix, or a
             * mapping could not tell which it spells. */
            assert(strcmp(o->name, k->name));
            assert(strncmp(o->name, k->name, len) || o->name[len] != '.');
            assert(strncmp(o->name, k->name, strlen(o->name))
                   || k->name[strlen(o->name)] != '.');
        }
        (void) len;
    }
}

static size_t
s_find(const struct cfg_key *keys, const char *path)
{
    for (size_t i = 0; keys[i].type != CFG_END; i++) {
        if (!strcmp(keys[i].name, path)) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* Is 'path' followed by '.' the start of some key's name? */
static bool
s_is_prefix(const struct cfg_key *keys, const char *path)
{
    size_t len = strlen(path);

    for (const struct cfg_key *k = keys; k->type != CFG_END; k++) {
        if (!strncmp(k->name, path, len) && k->name[len] == '.') {
            return true;
        }
    }
    return false;
}

/* Sets every field of 'keys' in 'base' to its default.  'base' starts out
 * zeroed, so on failure (out of memory) s_free_fields() can clean up. */
static bool
s_set_defaults(const struct cfg_key *keys, char *base)
{
    for (const struct cfg_key *k = keys; k->type != CFG_END; k++) {
        void *f = base + k->offset;

        switch (k->type) {
        case CFG_STR:
            *(char **) f = NULL;
            if (k->def_str && !(*(char **) f = strdup(k->def_str))) {
                return false;
            }
            break;
        case CFG_BOOL:
            *(bool *) f = k->def_int != 0;
            break;
        case CFG_INT:
            *(int64_t *) f = k->def_int;
            break;
        case CFG_U32:
            *(uint32_t *) f = (uint32_t) k->def_int;
            break;
        case CFG_DOUBLE:
            *(double *) f = k->def_dbl;
            break;
        case CFG_STRLIST:
            memset(f, 0, sizeof(struct cfg_strlist));
            break;
        case CFG_SEQ:
            memset(f, 0, sizeof(struct cfg_seq));
            break;
        case CFG_END:
            break;
        }
    }
    return true;
}

static void
s_free_fields(const struct cfg_key *keys, char *base)
{
    for (const struct cfg_key *k = keys; k->type != CFG_END; k++) {
        void *f = base + k->offset;

        if (k->type == CFG_STR) {
            free(*(char **) f);
            *(char **) f = NULL;
        } else if (k->type == CFG_STRLIST) {
            struct cfg_strlist *sl = f;

            for (size_t i = 0; i < sl->n; i++) {
                free(sl->v[i]);
            }
            free(sl->v);
            sl->v = NULL;
            sl->n = 0;
        } else if (k->type == CFG_SEQ) {
            struct cfg_seq *sq = f;

            for (size_t i = 0; i < sq->n; i++) {
                s_free_fields(k->sub, (char *) sq->v + i * k->elem_size);
            }
            free(sq->v);
            sq->v = NULL;
            sq->n = 0;
        }
    }
}

/* Binding the tree to the table. */

static bool
s_need_scalar(struct cfg_ctx *ctx, const struct cfg_node *v,
              const char *name)
{
    if (v->kind == CFG_NODE_SCALAR) {
        return true;
    }
    s_fail(ctx, v->line, v->col, "key '%s': expected a scalar, got a %s",
           name, s_kind_name(v->kind));
    return false;
}

static bool
s_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on" };
    static const char *const no[] = { "false", "no", "off" };

    for (size_t i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = true;
            return true;
        }
        if (!strcasecmp(s, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Parses an integer for CFG_INT or CFG_U32 and checks its bounds; for
 * CFG_U32 the bounds are also clipped to what a uint32_t holds. */
static bool
s_bind_int(struct cfg_ctx *ctx, const struct cfg_key *k,
           const struct cfg_node *v, const char *name, int64_t *out)
{
    int64_t lo = k->min, hi = k->max;
    const char *s = v->str;
    char *end;
    long long x;

    if (k->type == CFG_U32) {
        lo = lo < 0 ? 0 : lo;
        hi = hi > (int64_t) UINT32_MAX ? (int64_t) UINT32_MAX : hi;
    }
    /* strtoll() would skip leading blanks that only a quoted scalar can
     * carry; they are more likely a typo than intended. */
    if (!*s || isspace((unsigned char) *s)) {
        goto bad;
    }
    errno = 0;
    x = strtoll(s, &end, 0);
    if (*end) {
        goto bad;
    }
    if (errno == ERANGE || x < lo || x > hi) {
        s_fail(ctx, v->line, v->col, "key '%s': %s out of range "
               "[%" PRId64 ", %" PRId64 "]", name, s, lo, hi);
        return false;
    }
    *out = x;
    return true;

bad:
    s_fail(ctx, v->line, v->col, "key '%s': '%s' is not an integer",
           name, s);
    return false;
}

static bool
s_bind_double(struct cfg_ctx *ctx, const struct cfg_key *k,
              const struct cfg_node *v, const char *name, double *out)
{
    const char *s = v->str;
    char *end;
    double x;

    if (!*s || isspace((unsigned char) *s)) {
        goto bad;
    }
    errno = 0;
    x = strtod(s, &end);
    if (*end || isnan(x)) {
        goto bad;
    }
    if (errno == ERANGE || !isfinite(x) || x < k->dmin || x > k->dmax) {
        s_fail(ctx, v->line, v->col, "key '%s': %s out of range [%g, %g]",
               name, s, k->dmin, k->dmax);
        return false;
    }
    *out = x;
    return true;

bad:
    s_fail(ctx, v->line, v->col, "key '%s': '%s' is not a number",
           name, s);
    return false;
}

/* A sequence of scalars, or one scalar as a one-element list, or null as
 * the empty list.  The field is empty on entry (defaults, and a key is
 * bound at most once) and holds only what is owned on return, even on
 * error, so the caller's cleanup covers it. */
static bool
s_bind_strlist(struct cfg_ctx *ctx, const struct cfg_node *v,
               const char *name, struct cfg_strlist *sl)
{
    size_t n;

    if (v->kind == CFG_NODE_MAP) {
        s_fail(ctx, v->line, v->col, "key '%s': expected a sequence of "
               "scalars, got a mapping", name);
        return false;
    }
    if (v->kind == CFG_NODE_SCALAR && v->null) {
        return true;
    }
    n = v->kind == CFG_NODE_SCALAR ? 1 : v->n_kids;
    if (!n) {
        return true;
    }
    sl->v = calloc(n, sizeof *sl->v);
    if (!sl->v) {
        s_fail(ctx, 0, 0, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const struct cfg_node *item = (v->kind == CFG_NODE_SCALAR
                                       ? v : v->kids[i]);

        if (item->kind != CFG_NODE_SCALAR || item->null) {
            s_fail(ctx, item->line, item->col,
                   "key '%s[%zu]': expected a string, got a %s", name, i,
                   item->kind == CFG_NODE_SCALAR ? "null"
                   : s_kind_name(item->kind));
            return false;
        }
        sl->v[i] = strdup(item->str);
        if (!sl->v[i]) {
            s_fail(ctx, 0, 0, "out of memory");
            return false;
        }
        sl->n = i + 1;
    }
    return true;
}

/* A sequence of mappings, each bound with 'k->sub'.  Like
 * s_bind_strlist(), '*sq' only ever holds fully owned elements. */
static bool
s_bind_seq(struct cfg_ctx *ctx, const struct cfg_key *k,
           const struct cfg_node *v, const char *name, struct cfg_seq *sq)
{
    size_t n;

    if (v->kind == CFG_NODE_SCALAR && v->null) {
        return true;
    }
    if (v->kind != CFG_NODE_SEQ) {
        s_fail(ctx, v->line, v->col, "key '%s': expected a sequence of "
               "mappings, got a %s", name, s_kind_name(v->kind));
        return false;
    }
    n = v->n_kids;
    if (!n) {
        return true;
    }
    if (n > SIZE_MAX / k->elem_size
        || !(sq->v = calloc(n, k->elem_size))) {
        s_fail(ctx, 0, 0, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const struct cfg_node *item = v->kids[i];
        char *elem = (char *) sq->v + i * k->elem_size;
        char *elem_name;
        bool ok;

        if (item->kind != CFG_NODE_MAP) {
            s_fail(ctx, item->line, item->col, "key '%s[%zu]': expected a "
                   "mapping, got a %s", name, i, s_kind_name(item->kind));
            return false;
        }
        /* Counted before it is filled: the element is zeroed, so freeing
         * a half-built one is safe. */
        sq->n = i + 1;
        elem_name = s_index_name(name, i);
        if (!elem_name || !s_set_defaults(k->sub, elem)) {
            free(elem_name);
            s_fail(ctx, 0, 0, "out of memory");
            return false;
        }
        ok = s_bind_scope(ctx, k->sub, elem, item, elem_name,
                          item->line, item->col);
        free(elem_name);
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool
s_bind_value(struct cfg_ctx *ctx, const struct cfg_key *k, char *base,
             const struct cfg_node *v, const char *name)
{
    void *f = base + k->offset;
    int64_t x;
    double d;
    bool b;

    switch (k->type) {
    case CFG_STR:
        if (!s_need_scalar(ctx, v, name)) {
            return false;
        }
        if (v->null && k->required) {
            s_fail(ctx, v->line, v->col, "key '%s': required, so it cannot "
                   "be null", name);
            return false;
        }
        /* An explicit null unsets the key even when it has a default. */
        free(*(char **) f);
        *(char **) f = NULL;
        if (!v->null && !(*(char **) f = strdup(v->str))) {
            s_fail(ctx, 0, 0, "out of memory");
            return false;
        }
        return true;
    case CFG_BOOL:
        if (!s_need_scalar(ctx, v, name)) {
            return false;
        }
        if (!s_parse_bool(v->str, &b)) {
            s_fail(ctx, v->line, v->col, "key '%s': '%s' is not a boolean "
                   "(true/false, yes/no, on/off)", name, v->str);
            return false;
        }
        *(bool *) f = b;
        return true;
    case CFG_INT:
    case CFG_U32:
        if (!s_need_scalar(ctx, v, name)
            || !s_bind_int(ctx, k, v, name, &x)) {
            return false;
        }
        if (k->type == CFG_INT) {
            *(int64_t *) f = x;
        } else {
            *(uint32_t *) f = (uint32_t) x;
        }
        return true;
    case CFG_DOUBLE:
        if (!s_need_scalar(ctx, v, name)
            || !s_bind_double(ctx, k, v, name, &d)) {
            return false;
        }
        *(double *) f = d;
        return true;
    case CFG_STRLIST:
        return s_bind_strlist(ctx, v, name, f);
    case CFG_SEQ:
        return s_bind_seq(ctx, k, v, name, f);
    case CFG_END:
        break;
    }
    return false;
}

/* Binds the entries of mapping 'map', whose keys continue the dotted
 * 'prefix', to 'keys'.  'disp' prefixes names in messages (e.g.
 * "tunnels[2]"); 'seen' records which keys of the scope are set. */
static bool
s_bind_map(struct cfg_ctx *ctx, const struct cfg_key *keys, char *base,
           const struct cfg_node *map, const char *prefix,
           const char *disp, struct cfg_seen *seen)
{
    for (size_t i = 0; i + 1 < map->n_kids; i += 2) {
        const struct cfg_node *kn = map->kids[i];
        const struct cfg_node *v = map->kids[i + 1];
        char *path = NULL, *name = NULL;
        size_t idx;
        bool ok = false;

        if (kn->kind != CFG_NODE_SCALAR) {
            s_fail(ctx, kn->line, kn->col, "mapping keys must be scalars, "
                   "got a %s", s_kind_name(kn->kind));
            return false;
        }
        path = s_join(prefix, kn->str);
        name = path ? s_join(disp, path) : NULL;
        if (!name) {
            s_fail(ctx, 0, 0, "out of memory");
            goto next;
        }

        idx = s_find(keys, path);
        if (idx == SIZE_MAX && !s_is_prefix(keys, path)) {
            s_fail(ctx, kn->line, kn->col, "unknown key '%s'", name);
            goto next;
        }
        /* Every earlier key of this mapping was valid, so this loop is
         * bounded by the size of the table, not of the input. */
        for (size_t j = 0; j < i; j += 2) {
            const struct cfg_node *prev = map->kids[j];

            if (!strcmp(prev->str, kn->str)) {
                s_fail(ctx, kn->line, kn->col, "duplicate key '%s' (first "
                       "at %zu:%zu)", name, prev->line, prev->col);
                goto next;
            }
        }

        if (idx != SIZE_MAX) {
            /* Also catches "a.b: 1" next to "a: {b: 2}". */
            if (seen[idx].line) {
                s_fail(ctx, kn->line, kn->col, "duplicate key '%s' (first "
                       "at %zu:%zu)", name, seen[idx].line, seen[idx].col);
                goto next;
            }
            seen[idx].line = kn->line;
            seen[idx].col = kn->col;
            ok = s_bind_value(ctx, &keys[idx], base, v, name);
        } else if (v->kind == CFG_NODE_MAP) {
            ok = s_bind_map(ctx, keys, base, v, path, disp, seen);
        } else if (v->kind == CFG_NODE_SCALAR && v->null) {
            ok = true;          /* "bus:" with nothing under it */
        } else {
            s_fail(ctx, v->line, v->col, "key '%s': expected a mapping, "
                   "got a %s", name, s_kind_name(v->kind));
        }

    next:
        free(path);
        free(name);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Binds 'map' (NULL: nothing given) to the whole table 'keys', then checks
 * that the required keys were set, reporting a missing one at 'line':'col'
 * (0: no position). */
static bool
s_bind_scope(struct cfg_ctx *ctx, const struct cfg_key *keys, char *base,
             const struct cfg_node *map, const char *disp,
             size_t line, size_t col)
{
    size_t n = s_n_keys(keys);
    struct cfg_seen *seen = calloc(n ? n : 1, sizeof *seen);
    bool ok;

    if (!seen) {
        s_fail(ctx, 0, 0, "out of memory");
        return false;
    }
    ok = !map || s_bind_map(ctx, keys, base, map, "", disp, seen);
    for (size_t i = 0; ok && i < n; i++) {
        if (keys[i].required && !seen[i].line) {
            s_fail(ctx, line, col, "missing required key '%s%s%s'", disp,
                   *disp ? "." : "", keys[i].name);
            ok = false;
        }
    }
    free(seen);
    return ok;
}

/* Loads 'text' (NULL: defaults only) into '*target'.  Everything is built
 * in a zeroed scratch buffer that spans the table's fields; only on success
 * are those fields copied over the target, so a bad file never leaves it
 * half-updated and bytes outside the fields are never touched. */
static int
s_load(const struct cfg_key *keys, void *target, struct cfg_ctx *ctx,
       const char *text, size_t len)
{
    struct cfg_node *root = NULL;
    char *tmp;
    bool ok = false;

    assert(keys && target);
    s_check_table(keys);

    if (text && !s_parse(ctx, text, len, &root)) {
        return -1;
    }
    tmp = calloc(1, s_extent(keys) + 1);
    if (!tmp) {
        s_fail(ctx, 0, 0, "out of memory");
        goto out;
    }
    if (!s_set_defaults(keys, tmp)) {
        s_fail(ctx, 0, 0, "out of memory");
        goto out;
    }
    if (root && !(root->kind == CFG_NODE_SCALAR && root->null)) {
        if (root->kind != CFG_NODE_MAP) {
            s_fail(ctx, root->line, root->col,
                   "top level must be a mapping, got a %s",
                   s_kind_name(root->kind));
            goto out;
        }
        ok = s_bind_scope(ctx, keys, tmp, root, "", root->line, root->col);
    } else {
        /* Empty file, comments only, or a lone "---": all defaults. */
        ok = s_bind_scope(ctx, keys, tmp, NULL, "", text ? 1 : 0,
                          text ? 1 : 0);
    }
    if (ok) {
        for (const struct cfg_key *k = keys; k->type != CFG_END; k++) {
            memcpy((char *) target + k->offset, tmp + k->offset,
                   s_field_size(k->type));
        }
    }

out:
    if (tmp && !ok) {
        s_free_fields(keys, tmp);
    }
    free(tmp);
    s_node_free(root);
    return ok ? 0 : -1;
}

/* Reads the whole file at 'path' (at most CFG_MAX_FILE_SIZE bytes).
 * Returns it NUL-terminated, '*len' bytes, the caller's to free; or NULL
 * after recording an error in 'ctx'. */
static char *
s_read_file(struct cfg_ctx *ctx, const char *path, size_t *len_p)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    FILE *f;

    f = fopen(path, "rb");
    if (!f) {
        s_fail(ctx, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    /* Read it all first so a read error (EISDIR, EIO) gets its own errno
     * instead of a vague libyaml "input error". */
    for (;;) {
        size_t n, want;

        if (len == cap) {
            char *p;

            if (cap > CFG_MAX_FILE_SIZE) {
                s_fail(ctx, 0, 0, "file larger than %zu bytes",
                       CFG_MAX_FILE_SIZE);
                goto fail;
            }
            cap = cap ? cap * 2 : 4096;
            p = realloc(buf, cap + 1);
            if (!p) {
                s_fail(ctx, 0, 0, "out of memory");
                goto fail;
            }
            buf = p;
        }
        errno = 0;
        want = cap - len;
        n = fread(buf + len, 1, want, f);
        len += n;
        if (n < want) {                 /* short read: EOF or error */
            if (ferror(f)) {
                s_fail(ctx, 0, 0, "cannot read: %s",
                       strerror(errno ? errno : EIO));
                goto fail;
            }
            break;
        }
    }
    if (len > CFG_MAX_FILE_SIZE) {
        s_fail(ctx, 0, 0, "file larger than %zu bytes", CFG_MAX_FILE_SIZE);
        goto fail;
    }
    fclose(f);
    buf[len] = '\0';
    *len_p = len;
    return buf;

fail:
    fclose(f);
    free(buf);
    return NULL;
}

int
cfg_load(const struct cfg_key *keys, void *target, const char *path,
         char *err, size_t errsize)
{
    struct cfg_ctx ctx = { .name = path, .err = err, .errsize = errsize };
    char *buf;
    size_t len = 0;
    int rc;

    if (err && errsize) {
        err[0] = '\0';
    }
    if (!path) {
        ctx.name = CFG_DEFAULTS_NAME;
        return s_load(keys, target, &ctx, NULL, 0);
    }
    buf = s_read_file(&ctx, path, &len);
    if (!buf) {
        return -1;
    }
    rc = s_load(keys, target, &ctx, buf, len);
    free(buf);
    return rc;
}

/* Item paths are short; a longer one is not located. */
#define CFG_ITEM_SIZE 256

/* Looks for 'item' at or under 'node', whose path is 'path': records in
 * '*where' the node itself when its path is 'item' (and returns true) or
 * a prefix of it, the deepest such node winning. */
static bool
s_locate(const struct cfg_node *node, const char *path, const char *item,
         const struct cfg_node **where)
{
    size_t plen = strlen(path);

    if (!strcmp(path, item)) {
        *where = node;
        return true;
    }
    if (plen && (strncmp(path, item, plen)
                 || (item[plen] != '.' && item[plen] != '['))) {
        return false;   /* nothing under it can be the item */
    }
    *where = node;
    for (size_t i = 0; i < node->n_kids; i++) {
        char kid[CFG_ITEM_SIZE];
        const struct cfg_node *value = node->kids[i];
        int n;

        if (node->kind == CFG_NODE_MAP) {
            const struct cfg_node *key = node->kids[i++];

            if (i == node->n_kids || key->kind != CFG_NODE_SCALAR) {
                continue;
            }
            value = node->kids[i];
            n = snprintf(kid, sizeof kid, "%s%s%s", path, plen ? "." : "",
                         key->str);
        } else {
            n = snprintf(kid, sizeof kid, "%s[%zu]", path, i);
        }
        if (n > 0 && (size_t) n < sizeof kid
            && s_locate(value, kid, item, where)) {
            return true;
        }
    }
    return false;
}

bool
cfg_locate(const char *text, size_t len, const char *item, size_t *line,
           size_t *col)
{
    struct cfg_ctx ctx = { .name = "" };
    struct cfg_node *root = NULL;
    const struct cfg_node *where = NULL;

    if (!text || !item || !s_parse(&ctx, text, len, &root) || !root) {
        s_node_free(root);
        return false;
    }
    s_locate(root, "", item, &where);
    if (where) {
        *line = where->line;
        *col = where->col;
    }
    s_node_free(root);
    return where != NULL;
}

bool
cfg_locate_file(const char *path, const char *item, size_t *line,
                size_t *col)
{
    struct cfg_ctx ctx = { .name = path };
    size_t len = 0;
    char *text = path ? s_read_file(&ctx, path, &len) : NULL;
    bool found = text && cfg_locate(text, len, item, line, col);

    free(text);
    return found;
}

int
cfg_load_string(const struct cfg_key *keys, void *target, const char *name,
                const char *text, size_t len, char *err, size_t errsize)
{
    struct cfg_ctx ctx = {
        .name = name ? name : "<string>",
        .err = err,
        .errsize = errsize,
    };

    assert(text || !len);
    if (err && errsize) {
        err[0] = '\0';
    }
    return s_load(keys, target, &ctx, text ? text : "", len);
}

void
cfg_free(const struct cfg_key *keys, void *target)
{
    if (keys && target) {
        s_free_fields(keys, target);
    }
}

/* Printing the defaults. */

/* Writes 's' as a YAML double-quoted scalar, so any default reads back
 * as the same string. */
static void
s_print_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fprintf(out, "\\%c", *p);
        } else if (*p == '\n') {
            fputs("\\n", out);
        } else if (*p == '\t') {
            fputs("\\t", out);
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(out, "\\x%02x", *p);
        } else {
            fputc(*p, out);
        }
    }
    fputc('"', out);
}

/* Writes 'x' with the fewest digits that read back as the same double. */
static void
s_print_double(FILE *out, double x)
{
    char buf[64];

    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) {
            break;
        }
    }
    fputs(buf, out);
}

static void
s_print_type(FILE *out, const struct cfg_key *k)
{
    int64_t lo = k->min, hi = k->max;

    switch (k->type) {
    case CFG_STR:
        fputs("string", out);
        break;
    case CFG_BOOL:
        fputs("boolean", out);
        break;
    case CFG_INT:
    case CFG_U32:
        if (k->type == CFG_U32) {
            lo = lo < 0 ? 0 : lo;
            hi = hi > (int64_t) UINT32_MAX ? (int64_t) UINT32_MAX : hi;
        }
        fprintf(out, "integer in [%" PRId64 ", %" PRId64 "]", lo, hi);
        break;
    case CFG_DOUBLE:
        fprintf(out, "number in [%g, %g]", k->dmin, k->dmax);
        break;
    case CFG_STRLIST:
        fputs("list of strings", out);
        break;
    case CFG_SEQ:
        fputs("list of mappings", out);
        break;
    case CFG_END:
        break;
    }
    if (k->required) {
        fputs(", required", out);
    }
}

static void
s_print_value(FILE *out, const struct cfg_key *k)
{
    switch (k->type) {
    case CFG_STR:
        if (k->def_str) {
            s_print_quoted(out, k->def_str);
        } else {
            fputc('~', out);
        }
        break;
    case CFG_BOOL:
        fputs(k->def_int ? "true" : "false", out);
        break;
    case CFG_INT:
        fprintf(out, "%" PRId64, k->def_int);
        break;
    case CFG_U32:
        fprintf(out, "%" PRIu32, (uint32_t) k->def_int);
        break;
    case CFG_DOUBLE:
        s_print_double(out, k->def_dbl);
        break;
    case CFG_STRLIST:
    case CFG_SEQ:
        fputs("[]", out);
        break;
    case CFG_END:
        break;
    }
}

/* Lists the keys of an element table as comments, one line each. */
static void
s_print_sub(FILE *out, const struct cfg_key *sub, int indent, int depth)
{
    for (const struct cfg_key *k = sub; k->type != CFG_END; k++) {
        fprintf(out, "%*s#   %*s%s (", indent, "", 2 * depth, "", k->name);
        s_print_type(out, k);
        if (k->type != CFG_SEQ && k->type != CFG_STRLIST && !k->required) {
            fputs(", default ", out);
            s_print_value(out, k);
        }
        fprintf(out, ")%s%s\n", k->help ? ": " : "", k->help ? k->help : "");
        if (k->type == CFG_SEQ && depth < CFG_MAX_DEPTH) {
            s_print_sub(out, k->sub, indent, depth + 1);
        }
    }
}

static void
s_print_key(FILE *out, const struct cfg_key *k, const char *leaf,
            int indent)
{
    if (k->help) {
        fprintf(out, "%*s# %s\n", indent, "", k->help);
    }
    fprintf(out, "%*s# ", indent, "");
    s_print_type(out, k);
    fputs(k->type == CFG_SEQ ? "; each element has:\n" : "\n", out);
    if (k->type == CFG_SEQ) {
        s_print_sub(out, k->sub, indent, 0);
    }
    fprintf(out, "%*s%s: ", indent, "", leaf);
    s_print_value(out, k);
    fputc('\n', out);
}

/* Prints the keys whose names start with the first 'plen' bytes of
 * 'prefix' (which end in '.', or are empty), grouping dotted names into
 * nested mappings in the order they first appear in the table. */
static void
s_print_level(FILE *out, const struct cfg_key *keys, const char *prefix,
              size_t plen, int indent)
{
    bool first = true;

    for (const struct cfg_key *k = keys; k->type != CFG_END; k++) {
        const char *rest, *dot;
        size_t clen = 0;
        bool done = false;

        if (strncmp(k->name, prefix, plen)) {
            continue;
        }
        rest = k->name + plen;
        dot = strchr(rest, '.');
        if (dot) {
            clen = (size_t) (dot - rest);
            for (const struct cfg_key *o = keys; o < k && !done; o++) {
                done = !strncmp(o->name, k->name, plen + clen + 1);
            }
            if (done) {
                continue;       /* its mapping is already printed */
            }
        }
        if (indent == 0 && !first) {
            fputc('\n', out);  /* a blank line between top-level items */
        }
        first = false;
        if (dot) {
            fprintf(out, "%*s%.*s:\n", indent, "", (int) clen, rest);
            s_print_level(out, keys, k->name, plen + clen + 1, indent + 2);
        } else {
            s_print_key(out, k, rest, indent);
        }
    }
}

void
cfg_print_defaults(const struct cfg_key *keys, void *out)
{
    assert(keys && out);
    s_print_level(out, keys, "", 0, 0);
}
