/* SPDX-License-Identifier: MIT */
/* Table-driven YAML configuration: each service declares its keys once
 * (name, type, bounds, default, help) in an array of struct cfg_key and
 * cfg_load() fills a plain struct from a libyaml document, or from the
 * defaults alone.  Errors name the place as 'file:line:col: what is wrong';
 * on any error the target struct is left untouched. */
#ifndef VR_CFG_H
#define VR_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cfg_type {
    CFG_END = 0,    /* terminates a key table */
    CFG_STR,        /* char *: strdup'ed, NULL when unset and no default */
    CFG_BOOL,       /* bool: true/false/yes/no/on/off */
    CFG_INT,        /* int64_t within [min, max] */
    CFG_U32,        /* uint32_t within [min, max] */
    CFG_DOUBLE,     /* double within [dmin, dmax] */
    CFG_STRLIST,    /* struct cfg_strlist: a sequence of scalars */
    CFG_SEQ,        /* a sequence of maps, each bound with 'sub' into an
                     * array of 'elem_size' structs; see struct cfg_seq */
};

/* A sequence of strings.  Owned by the config struct that holds it. */
struct cfg_strlist {
    char **v;       /* 'n' strdup'ed strings */
    size_t n;       /* number of strings */
};

/* A sequence of structs, each described by a sub-table. */
struct cfg_seq {
    void *v;        /* 'n' elements of the key's 'elem_size' bytes */
    size_t n;       /* number of elements */
};

struct cfg_key {
    const char *name;       /* dotted path, e.g. "bus.control" */
    enum cfg_type type;     /* what the value is */
    size_t offset;          /* offsetof the field in the target struct */
    int64_t min, max;       /* bounds for CFG_INT and CFG_U32 */
    double dmin, dmax;      /* bounds for CFG_DOUBLE */
    const char *def_str;    /* default for CFG_STR (may be NULL) */
    int64_t def_int;        /* default for CFG_INT, CFG_U32, CFG_BOOL */
    double def_dbl;         /* default for CFG_DOUBLE */
    const struct cfg_key *sub; /* CFG_SEQ: table for each element */
    size_t elem_size;       /* CFG_SEQ: sizeof one element */
    bool required;          /* an error when absent (useful in CFG_SEQ) */
    const char *help;       /* one line, for docs and --help-config */
};

/* Initializers, so tables read as one line per key. */
#define CFG_KEY_STR(NAME, T, F, DEF, HELP) \
    { .name = NAME, .type = CFG_STR, .offset = offsetof(T, F), \
      .def_str = DEF, .help = HELP }
#define CFG_KEY_BOOL(NAME, T, F, DEF, HELP) \
    { .name = NAME, .type = CFG_BOOL, .offset = offsetof(T, F), \
      .def_int = DEF, .help = HELP }
#define CFG_KEY_INT(NAME, T, F, MIN, MAX, DEF, HELP) \
    { .name = NAME, .type = CFG_INT, .offset = offsetof(T, F), \
      .min = MIN, .max = MAX, .def_int = DEF, .help = HELP }
#define CFG_KEY_U32(NAME, T, F, MIN, MAX, DEF, HELP) \
    { .name = NAME, .type = CFG_U32, .offset = offsetof(T, F), \
      .min = MIN, .max = MAX, .def_int = DEF, .help = HELP }
#define CFG_KEY_DOUBLE(NAME, T, F, MIN, MAX, DEF, HELP) \
    { .name = NAME, .type = CFG_DOUBLE, .offset = offsetof(T, F), \
      .dmin = MIN, .dmax = MAX, .def_dbl = DEF, .help = HELP }
#define CFG_KEY_STRLIST(NAME, T, F, HELP) \
    { .name = NAME, .type = CFG_STRLIST, .offset = offsetof(T, F), \
      .help = HELP }
#define CFG_KEY_SEQ(NAME, T, F, SUB, ELEM, HELP) \
    { .name = NAME, .type = CFG_SEQ, .offset = offsetof(T, F), \
      .sub = SUB, .elem_size = sizeof(ELEM), .help = HELP }
#define CFG_KEYS_END { .name = NULL, .type = CFG_END }

/* Fills '*target' (a struct laid out as 'keys' describes) from the YAML
 * file at 'path', or from the defaults alone when 'path' is NULL.  The file
 * must hold one mapping; nested mappings spell dotted key names.  Unknown
 * keys, wrong types, out-of-range values, duplicate keys and YAML syntax
 * errors are all errors.  Returns 0 on success; on failure returns -1,
 * writes 'file:line:col: message' (at most 'errsize' bytes) into 'err' and
 * leaves '*target' as it was.  On success the caller owns the strings and
 * arrays in '*target' and frees them with cfg_free().  Only the fields named
 * in 'keys' are written, and what they held before is not freed: cfg_free()
 * a loaded struct before loading into it again.  A plain '~', 'null' or
 * empty value sets a CFG_STR to NULL and a CFG_STRLIST or CFG_SEQ to empty;
 * a single scalar is accepted as a one-element CFG_STRLIST. */
int cfg_load(const struct cfg_key *keys, void *target, const char *path,
             char *err, size_t errsize);

/* Same as cfg_load() but parses 'len' bytes of YAML at 'text'; 'name' is
 * used in error messages in place of a file name. */
int cfg_load_string(const struct cfg_key *keys, void *target,
                    const char *name, const char *text, size_t len,
                    char *err, size_t errsize);

/* Finds where item 'item' ("sim.fibres[2].ends[1]", spelt as messages
 * name keys) starts in the 'len' bytes of YAML at 'text': sets '*line' and
 * '*col' (1-based) to it, or, when it is not there (a defaulted key), to
 * the deepest node enclosing it that is, the whole document at least.
 * For checks a key table cannot express, so that their messages too can
 * say 'file:line:col'.  Returns false when the text does not parse or is
 * empty. */
bool cfg_locate(const char *text, size_t len, const char *item,
                size_t *line, size_t *col);

/* cfg_locate() on the file at 'path'; false also when it cannot be read. */
bool cfg_locate_file(const char *path, const char *item, size_t *line,
                     size_t *col);

/* Frees what cfg_load() allocated in 'target' and zeroes those fields. */
void cfg_free(const struct cfg_key *keys, void *target);

/* Writes every key of 'keys' with its default and help as commented YAML
 * to 'out' (a FILE *), for `--help-config` and deploy/<svc>.yaml. */
void cfg_print_defaults(const struct cfg_key *keys, void *out);

#endif /* VR_CFG_H */
