/* SPDX-License-Identifier: MIT */
/* Unit test for common/cfg: loads the defaults, a file that sets every key
 * type, and one bad input per kind of error, checking each message down to
 * its line and column and that a failed load leaves the target untouched.
 * Fixtures are read-only, in tests/data/cfg/. */
#undef NDEBUG

#include "cfg.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VR_TEST_DATA
#error "VR_TEST_DATA must name the tests/data directory"
#endif
#define DATA(FILE) VR_TEST_DATA "/cfg/" FILE

struct tun {
    char *name;             /* required */
    uint32_t port;          /* UDP port */
    bool enabled;           /* open at start-up */
};

struct conf {
    char *name;             /* service name */
    char *bus_control;      /* "bus.control" */
    char *bus_events;       /* "bus.events", no default */
    bool verbose;           /* extra logging */
    int64_t period_ms;      /* "agent.period_ms" */
    uint32_t port;          /* listening port */
    double ratio;           /* a fraction */
    struct cfg_strlist peers;   /* peer names */
    struct cfg_seq tunnels;     /* struct tun elements */
};

static const struct cfg_key tun_keys[] = {
    { .name = "name", .type = CFG_STR,
      .offset = offsetof(struct tun, name), .required = true,
      .help = "Tunnel name." },
    CFG_KEY_U32("port", struct tun, port, 1, 65535, 4789, "UDP port."),
    CFG_KEY_BOOL("enabled", struct tun, enabled, true, "Open at start."),
    CFG_KEYS_END
};

static const struct cfg_key conf_keys[] = {
    CFG_KEY_STR("name", struct conf, name, "agent", "Service name."),
    CFG_KEY_STR("bus.control", struct conf, bus_control,
                "tcp://127.0.0.1:5555", "Control endpoint."),
    CFG_KEY_STR("bus.events", struct conf, bus_events, NULL,
                "Event endpoint; unset means none."),
    CFG_KEY_BOOL("verbose", struct conf, verbose, false, "Log more."),
    CFG_KEY_INT("agent.period_ms", struct conf, period_ms, 1, 60000, 1000,
                "Report period."),
    CFG_KEY_U32("port", struct conf, port, 1, 65535, 5555, "Port."),
    CFG_KEY_DOUBLE("ratio", struct conf, ratio, 0.0, 1.0, 0.5,
                   "A fraction \"with quotes\"."),
    CFG_KEY_STRLIST("peers", struct conf, peers, "Peer names."),
    CFG_KEY_SEQ("tunnels", struct conf, tunnels, tun_keys, struct tun,
                "Tunnels to open."),
    CFG_KEYS_END
};

/* Loads 'text', which must fail with exactly 'expect', and checks that
 * '*c' is byte-for-byte what it was. */
static void
s_expect_error(struct conf *c, const char *text, const char *expect)
{
    struct conf before;
    char err[256];
    int rc;

    memcpy(&before, c, sizeof before);
    rc = cfg_load_string(conf_keys, c, "x.yaml", text, strlen(text),
                         err, sizeof err);
    if (rc != -1 || strcmp(err, expect)) {
        fprintf(stderr, "input:\n%s\nexpected: %s\ngot (%d): %s\n",
                text, expect, rc, err);
    }
    assert(rc == -1);
    assert(!strcmp(err, expect));
    assert(!memcmp(&before, c, sizeof before));
}

static void
s_check_defaults(const struct conf *c)
{
    assert(!strcmp(c->name, "agent"));
    assert(!strcmp(c->bus_control, "tcp://127.0.0.1:5555"));
    assert(c->bus_events == NULL);
    assert(c->verbose == false);
    assert(c->period_ms == 1000);
    assert(c->port == 5555);
    assert(c->ratio == 0.5);
    assert(c->peers.n == 0 && c->peers.v == NULL);
    assert(c->tunnels.n == 0 && c->tunnels.v == NULL);
}

static void
s_check_freed(const struct conf *c)
{
    assert(c->name == NULL);
    assert(c->bus_control == NULL);
    assert(c->bus_events == NULL);
    assert(c->peers.v == NULL && c->peers.n == 0);
    assert(c->tunnels.v == NULL && c->tunnels.n == 0);
}

/* cfg_locate(): items as messages name them, found back in the text; a
 * missing one placed at its deepest enclosing node. */
static void
test_locate(void)
{
    static const char yaml[] =
        "name: x\n"                            /* 1 */
        "bus:\n"                               /* 2 */
        "  control: tcp://a\n"                 /* 3 */
        "tunnels:\n"                           /* 4 */
        "  - { name: t0 }\n"                   /* 5 */
        "  - name: t1\n"                       /* 6 */
        "    port: 7\n"                        /* 7 */
        "peers: [a, b]\n";                     /* 8 */
    size_t line = 0, col = 0, len = strlen(yaml);

    assert(cfg_locate(yaml, len, "name", &line, &col));
    assert(line == 1 && col == 7);
    assert(cfg_locate(yaml, len, "bus.control", &line, &col));
    assert(line == 3 && col == 12);
    assert(cfg_locate(yaml, len, "tunnels[0].name", &line, &col));
    assert(line == 5 && col == 13);
    assert(cfg_locate(yaml, len, "tunnels[1].port", &line, &col));
    assert(line == 7 && col == 11);
    assert(cfg_locate(yaml, len, "peers[1]", &line, &col));
    assert(line == 8 && col == 12);
    /* Defaulted: its parent; unknown at the top: the document. */
    assert(cfg_locate(yaml, len, "tunnels[1].enabled", &line, &col));
    assert(line == 6 && col == 5);
    assert(cfg_locate(yaml, len, "bus.events", &line, &col));
    assert(line == 3 && col == 3);
    assert(cfg_locate(yaml, len, "nothing", &line, &col));
    assert(line == 1 && col == 1);
    /* A prefix that is not a parent ("bus" of "busy") is not taken. */
    assert(cfg_locate(yaml, len, "busy.x", &line, &col));
    assert(line == 1 && col == 1);
    /* Bad YAML, nothing, a missing file: not located. */
    assert(!cfg_locate("a: [", 4, "a", &line, &col));
    assert(!cfg_locate("", 0, "a", &line, &col));
    assert(!cfg_locate_file("/nonexistent/x.yaml", "a", &line, &col));
    assert(cfg_locate_file(DATA("comments.yaml"), "a", &line, &col)
           == false);
}

int
main(void)
{
    struct conf c, pattern, good;
    const struct tun *t;
    struct tun tn;
    const char *yaml;
    char err[512], expect[512];
    char *text;
    size_t text_size;
    FILE *mem;
    int rc;

    test_locate();

    /* Defaults only: no file. */
    memset(&c, 0xA5, sizeof c);
    rc = cfg_load(conf_keys, &c, NULL, err, sizeof err);
    assert(rc == 0);
    s_check_defaults(&c);
    cfg_free(conf_keys, &c);
    s_check_freed(&c);

    /* A file of comments only, an empty string and a lone "---" are all
     * the defaults too. */
    rc = cfg_load(conf_keys, &c, DATA("comments.yaml"), err, sizeof err);
    assert(rc == 0);
    s_check_defaults(&c);
    cfg_free(conf_keys, &c);
    rc = cfg_load_string(conf_keys, &c, "empty", "", 0, err, sizeof err);
    assert(rc == 0);
    s_check_defaults(&c);
    cfg_free(conf_keys, &c);
    rc = cfg_load_string(conf_keys, &c, "doc", "---\n", 4, err, sizeof err);
    assert(rc == 0);
    s_check_defaults(&c);
    cfg_free(conf_keys, &c);

    /* A file that sets every type.  'good' is kept to check later that
     * failed loads leave a loaded config alone.  cfg_load() writes only
     * the fields, so set the padding too, for memcmp(). */
    memset(&good, 0xA5, sizeof good);
    rc = cfg_load(conf_keys, &good, DATA("valid.yaml"), err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s\n", err);
    }
    assert(rc == 0);
    assert(!strcmp(good.name, "edge-1"));
    assert(!strcmp(good.bus_control, "tcp://10.0.0.1:7000"));
    assert(good.bus_events == NULL);            /* "~" is null */
    assert(good.verbose == true);               /* "YES" */
    assert(good.period_ms == 16);               /* "0x10" */
    assert(good.port == 65535);
    assert(good.ratio == 0.25);
    assert(good.peers.n == 3);
    assert(!strcmp(good.peers.v[0], "alpha"));
    assert(!strcmp(good.peers.v[1], "beta gamma"));
    assert(!strcmp(good.peers.v[2], ""));       /* quoted: not null */
    assert(good.tunnels.n == 2);
    t = good.tunnels.v;
    assert(!strcmp(t[0].name, "t0"));
    assert(t[0].port == 4790);
    assert(t[0].enabled == false);
    assert(!strcmp(t[1].name, "t1"));
    assert(t[1].port == 4789);                  /* element defaults */
    assert(t[1].enabled == true);

    /* Null unsets a string even when it has a default; a quoted '~' is a
     * string; one scalar is a one-element list; null lists are empty. */
    yaml = "name: ~\nbus: {control: '~'}\npeers: solo\ntunnels:\nbus.events:"
           " \"\"\n";
    rc = cfg_load_string(conf_keys, &c, "n.yaml", yaml, strlen(yaml),
                         err, sizeof err);
    assert(rc == 0);
    assert(c.name == NULL);
    assert(!strcmp(c.bus_control, "~"));
    assert(!strcmp(c.bus_events, ""));
    assert(c.peers.n == 1 && !strcmp(c.peers.v[0], "solo"));
    assert(c.tunnels.n == 0 && c.tunnels.v == NULL);
    cfg_free(conf_keys, &c);
    s_check_freed(&c);

    /* A missing file: the path and strerror, no line. */
    rc = cfg_load(conf_keys, &good, DATA("no-such.yaml"), err, sizeof err);
    assert(rc == -1);
    snprintf(expect, sizeof expect, "%s: cannot open: %s",
             DATA("no-such.yaml"), strerror(ENOENT));
    assert(!strcmp(err, expect));
    assert(strstr(err, "cannot open"));

    /* An error in a file names the file. */
    memcpy(&c, &good, sizeof c);
    rc = cfg_load(conf_keys, &c, DATA("bad_range.yaml"), err, sizeof err);
    assert(rc == -1);
    snprintf(expect, sizeof expect,
             "%s:3:7: key 'port': 65536 out of range [1, 65535]",
             DATA("bad_range.yaml"));
    assert(!strcmp(err, expect));
    assert(!memcmp(&c, &good, sizeof c));

    /* Each kind of error, with its position, over a loaded config. */
    memcpy(&c, &good, sizeof c);
    s_expect_error(&c, "name: x\nport: 1\nbus: [1, 2\n",
                   "x.yaml:4:1: syntax error: did not find expected ',' "
                   "or ']' (while parsing a flow sequence at 3:6)");
    s_expect_error(&c, "a: b: c\n", "x.yaml:1:5: syntax error: mapping "
                   "values are not allowed in this context");
    s_expect_error(&c, "name: x\n\nbus:\n  contrl: x\n",
                   "x.yaml:4:3: unknown key 'bus.contrl'");
    s_expect_error(&c, "agent:\n  period_ms: 12x\n",
                   "x.yaml:2:14: key 'agent.period_ms': '12x' is not an "
                   "integer");
    s_expect_error(&c, "port: 5.5\n",
                   "x.yaml:1:7: key 'port': '5.5' is not an integer");
    s_expect_error(&c, "ratio: half\n",
                   "x.yaml:1:8: key 'ratio': 'half' is not a number");
    s_expect_error(&c, "agent: {period_ms: 0}\n",
                   "x.yaml:1:20: key 'agent.period_ms': 0 out of range "
                   "[1, 60000]");
    s_expect_error(&c, "agent.period_ms: 99999999999999999999\n",
                   "x.yaml:1:18: key 'agent.period_ms': "
                   "99999999999999999999 out of range [1, 60000]");
    s_expect_error(&c, "name: x\nport: 70000\n",
                   "x.yaml:2:7: key 'port': 70000 out of range [1, 65535]");
    s_expect_error(&c, "port: -1\n",
                   "x.yaml:1:7: key 'port': -1 out of range [1, 65535]");
    s_expect_error(&c, "ratio: 1.5\n",
                   "x.yaml:1:8: key 'ratio': 1.5 out of range [0, 1]");
    s_expect_error(&c, "verbose: maybe\n",
                   "x.yaml:1:10: key 'verbose': 'maybe' is not a boolean "
                   "(true/false, yes/no, on/off)");
    s_expect_error(&c, "port: 1\nname: a\nport: 2\n",
                   "x.yaml:3:1: duplicate key 'port' (first at 1:1)");
    s_expect_error(&c, "bus.control: a\nbus:\n  control: b\n",
                   "x.yaml:3:3: duplicate key 'bus.control' (first at 1:1)");
    s_expect_error(&c, "bus: 5\n",
                   "x.yaml:1:6: key 'bus': expected a mapping, got a scalar");
    s_expect_error(&c, "port: {a: 1}\n",
                   "x.yaml:1:7: key 'port': expected a scalar, got a "
                   "mapping");
    s_expect_error(&c, "peers: {a: 1}\n",
                   "x.yaml:1:8: key 'peers': expected a sequence of "
                   "scalars, got a mapping");
    s_expect_error(&c, "peers: [a, [b]]\n",
                   "x.yaml:1:12: key 'peers[1]': expected a string, got a "
                   "sequence");
    s_expect_error(&c, "tunnels: x\n",
                   "x.yaml:1:10: key 'tunnels': expected a sequence of "
                   "mappings, got a scalar");
    s_expect_error(&c, "tunnels:\n  - name: a\n  - port: 1\n",
                   "x.yaml:3:5: missing required key 'tunnels[1].name'");
    s_expect_error(&c, "tunnels:\n  - name: a\n  - name: ~\n",
                   "x.yaml:3:11: key 'tunnels[1].name': required, so it "
                   "cannot be null");
    s_expect_error(&c, "tunnels:\n  - name: a\n    prot: 1\n",
                   "x.yaml:3:5: unknown key 'tunnels[0].prot'");
    s_expect_error(&c, "tunnels:\n  - name: a\n    port: 0\n",
                   "x.yaml:3:11: key 'tunnels[0].port': 0 out of range "
                   "[1, 65535]");
    s_expect_error(&c, "- a\n- b\n", "x.yaml:1:1: top level must be a "
                   "mapping, got a sequence");
    s_expect_error(&c, "hello\n", "x.yaml:1:1: top level must be a "
                   "mapping, got a scalar");
    s_expect_error(&c, "name: &n a\nport: *n\n",
                   "x.yaml:1:7: anchors ('n') are not supported");
    s_expect_error(&c, "name: !!str a\n", "x.yaml:1:7: tags "
                   "('tag:yaml.org,2002:str') are not supported");
    s_expect_error(&c, "name: a\n---\nname: b\n",
                   "x.yaml:2:1: only one YAML document is allowed");
    s_expect_error(&c, "name: \"a\\0b\"\n",
                   "x.yaml:1:7: NUL character in a scalar");
    s_expect_error(&c, "bus: {control: {a: {b: {c: {d: {e: {f: {g: {h: "
                   "[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]"
                   "]]]]}}}}}}}}}\n",
                   "x.yaml:1:70: nesting deeper than 32 levels");
    s_expect_error(&c, "name: \xff\n",
                   "x.yaml: byte 6: invalid leading UTF-8 octet (0xFF)");
    /* The error comes after strings and a tunnel were built: they must be
     * freed (ASan and valgrind check) and nothing copied. */
    s_expect_error(&c, "name: n\npeers: [a, b]\ntunnels:\n  - name: a\n"
                   "  - name: b\nverbose: 2\n",
                   "x.yaml:6:10: key 'verbose': '2' is not a boolean "
                   "(true/false, yes/no, on/off)");

    /* A struct that was never loaded is not touched either. */
    memset(&pattern, 0x5A, sizeof pattern);
    memcpy(&c, &pattern, sizeof c);
    s_expect_error(&c, "port: 0\n",
                   "x.yaml:1:7: key 'port': 0 out of range [1, 65535]");
    assert(!memcmp(&c, &pattern, sizeof c));

    cfg_free(conf_keys, &good);
    s_check_freed(&good);
    assert(good.tunnels.v == NULL);

    /* Defaults only still enforce required keys. */
    memset(&tn, 0, sizeof tn);
    rc = cfg_load(tun_keys, &tn, NULL, err, sizeof err);
    assert(rc == -1);
    assert(!strcmp(err, "(defaults): missing required key 'name'"));

    /* The printed defaults are YAML that loads back as the defaults. */
    mem = open_memstream(&text, &text_size);
    assert(mem);
    cfg_print_defaults(conf_keys, mem);
    assert(fclose(mem) == 0);
    assert(strstr(text, "bus:\n  # Control endpoint.\n"));
    assert(strstr(text, "\n  control: \"tcp://127.0.0.1:5555\"\n"));
    assert(strstr(text, "#   name (string, required): Tunnel name.\n"));
    rc = cfg_load_string(conf_keys, &c, "printed", text, text_size,
                         err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s\n%s\n", text, err);
    }
    assert(rc == 0);
    s_check_defaults(&c);
    cfg_free(conf_keys, &c);
    free(text);
    return 0;
}
