/* SPDX-License-Identifier: MIT */
/* Writes the seed corpora of the fuzz harnesses, so that no binary input
 * is kept in git: 'make_fuzz_seeds DIR NAME...' makes DIR/<NAME>/ for
 * every harness and fills them with valid inputs that reach past the
 * first check of each harness, most of all a valid envelope for every
 * message type, with an empty body and with bodies whose every field is
 * set, so that libFuzzer starts inside the body decoders.  The build runs it (tests/fuzz/CMakeLists.txt); ctest's
 * replay and tests/fuzz/run.sh read what it wrote. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_encap.h"
#include "agent_sec.h"
#include "bus.h"
#include "fuzz_check.h"
#include "nl_build.h"

enum { S_MAX_DEPTH = 4, S_MAX_ALLOCS = 1 << 16 };

static const char *s_dir;
static size_t s_n_files;

/* Every block the filler allocates, freed at once by s_free_all(). */
static void *s_allocs[S_MAX_ALLOCS];
static size_t s_n_allocs;

static void *
s_alloc(size_t size)
{
    FUZZ_CHECK(s_n_allocs < S_MAX_ALLOCS);
    void *p = calloc(1, size ? size : 1);
    FUZZ_CHECK(p);
    s_allocs[s_n_allocs++] = p;
    return p;
}

static char *
s_strdup(const char *s)
{
    char *p = s_alloc(strlen(s) + 1);
    strcpy(p, s);
    return p;
}

static void
s_free_all(void)
{
    while (s_n_allocs) {
        free(s_allocs[--s_n_allocs]);
    }
}

/* Makes DIR/'sub' and writes 'size' bytes at 'data' to DIR/'sub'/'name'. */
static void
s_write(const char *sub, const char *name, const void *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", s_dir, sub);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", s_dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    s_n_files++;
}

/* A string value for field 'name' in variant 'k' that the services'
 * checks are likely to take: an address where the name says so, else an
 * id. */
static const char *
s_string_for(const char *name, int k)
{
    size_t n = strlen(name);
    if ((n >= 2 && strcmp(name + n - 2, "ip") == 0)) {
        return k == 1 ? "10.0.0.1" : "10.0.0.2";
    }
    if (strstr(name, "addr") || strcmp(name, "peer") == 0
        || strcmp(name, "local") == 0) {
        return k == 1 ? "127.0.0.1:7100" : "127.0.0.2:7101";
    }
    if (strstr(name, "state")) {
        return "ACTIVE";
    }
    if (n >= 2 && strcmp(name + n - 2, "_b") == 0) {
        return k == 1 ? "h2" : "h1";
    }
    return k == 1 ? "h1" : "vm-2";
}

static void s_fill(ProtobufCMessage *m, int k, int depth);

/* Sets one value of field 'f' at 'p' (the field itself, or one element
 * of a repeated field). */
static void
s_fill_value(const ProtobufCFieldDescriptor *f, void *p, int k, int i,
             int depth)
{
    bool mac = strstr(f->name, "mac") != NULL;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        *(int32_t *) p = k == 1 ? 1 + i : 1000 + i;
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *(uint32_t *) p = k == 1 ? 1 + i : 1000 + i;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *(int64_t *) p = k == 1 ? 1 + i : 1000000 + i;
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *(uint64_t *) p = mac ? 0x525400000001ull + (uint64_t) (k + i)
                              : (k == 1 ? 1u + (unsigned) i
                                        : 1000000u + (unsigned) i);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        *(float *) p = k == 1 ? 1.5f : 100.0f;
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *) p = k == 1 ? 1.5 : 100.0 + i;
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *) p = k == 1;
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        unsigned j = e->n_values > 1 ? 1 + (unsigned) (k + i) % (e->n_values - 1)
                                     : 0;
        *(int *) p = e->values[j].value;
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        char s[64];
        snprintf(s, sizeof s, "%s", s_string_for(f->name, k));
        if (i > 0 && !strchr(s, '.')) {
            snprintf(s, sizeof s, "%s%d", s_string_for(f->name, k), i);
        }
        *(char **) p = s_strdup(s);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        b->len = 8;
        b->data = s_alloc(8);
        memcpy(b->data, "seedseed", 8);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *d = f->descriptor;
        ProtobufCMessage *sub = s_alloc(d->sizeof_message);
        protobuf_c_message_init(d, sub);
        s_fill(sub, k, depth + 1);
        *(ProtobufCMessage **) p = sub;
        break;
    }
    }
}

/* Sets every field of 'm' (one member of each oneof), repeated fields to
 * 'k' elements, down to S_MAX_DEPTH levels of nested messages. */
static void
s_fill(ProtobufCMessage *m, int k, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (depth >= S_MAX_DEPTH) {
        return;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        uint8_t *base = (uint8_t *) m;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t *which = (uint32_t *) (base + f->quantifier_offset);
            if (*which != 0) {
                continue;
            }
            *which = f->id;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL
                   && f->quantifier_offset
                   && f->type != PROTOBUF_C_TYPE_MESSAGE
                   && f->type != PROTOBUF_C_TYPE_STRING) {
            *(protobuf_c_boolean *) (base + f->quantifier_offset) = 1;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = (size_t) k;
            size_t elem = 0;
            switch (f->type) {
            case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
            case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_UINT32:
            case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_ENUM:
                elem = 4; break;
            case PROTOBUF_C_TYPE_FLOAT: elem = sizeof(float); break;
            case PROTOBUF_C_TYPE_BOOL: elem = sizeof(protobuf_c_boolean);
                break;
            case PROTOBUF_C_TYPE_BYTES: elem = sizeof(ProtobufCBinaryData);
                break;
            case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
                elem = sizeof(void *); break;
            default: elem = 8; break;
            }
            uint8_t *arr = s_alloc(n * elem);
            for (size_t j = 0; j < n; j++) {
                s_fill_value(f, arr + j * elem, k, (int) j, depth);
            }
            *(size_t *) (base + f->quantifier_offset) = n;
            *(void **) (base + f->offset) = arr;
        } else {
            s_fill_value(f, base + f->offset, k, 0, depth);
        }
    }
}

/* Packs 'm' into a new buffer (freed with the others); '*size_p' gets
 * its size. */
static uint8_t *
s_pack(const ProtobufCMessage *m, size_t *size_p)
{
    size_t size = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = s_alloc(size + 1);
    protobuf_c_message_pack(m, buf);
    *size_p = size;
    return buf;
}

/* Writes, for every registered message type and for three bodies (empty,
 * one of each, two of each), the envelope to bus/ and the type byte and
 * body (fuzz_bus's second reading) to bus/ too.  Also returns nothing:
 * the service harnesses take the same "type, body" records. */
static void
s_bus(bus_t *bus)
{
    for (int type = 0; type < 256; type++) {
        const ProtobufCMessageDescriptor *d = msgtype_descriptor(type);
        if (!d) {
            continue;
        }
        for (int k = 0; k <= 2; k++) {
            ProtobufCMessage *m = s_alloc(d->sizeof_message);
            protobuf_c_message_init(d, m);
            s_fill(m, k, 0);
            uint8_t *env;
            size_t env_size;
            FUZZ_CHECK(bus_encode(bus, type, m, &env, &env_size) == 0);
            bus_msg_t back = { 0 };
            FUZZ_CHECK(bus_decode(bus, env, env_size, &back) == 0);
            bus_msg_clear(&back);
            char name[96];
            snprintf(name, sizeof name, "env-%s-%d", msgtype_name(type), k);
            s_write("bus", name, env, env_size);
            free(env);

            size_t size;
            uint8_t *body = s_pack(m, &size);
            uint8_t *rec = s_alloc(size + 1);
            rec[0] = (uint8_t) type;
            memcpy(rec + 1, body, size);
            snprintf(name, sizeof name, "body-%s-%d", msgtype_name(type), k);
            s_write("bus", name, rec, size + 1);
            s_free_all();
        }
    }
}

/* The harnesses of a service's handler (svc_harness.h) take records:
 * type, body length (2 bytes), a control byte, the body.  For each: one
 * record of every message type, a body with every field set, and all of
 * them in one input. */
static void
s_svc(void)
{
    static const char *const dirs[] = {
        "broker_svc", "adapter_svc", "planner_svc", "vttif_svc",
        "agent_ctl",
    };
    static uint8_t all[1 << 16];
    size_t all_size = 0;
    for (int type = 0; type < 256; type++) {
        const ProtobufCMessageDescriptor *d = msgtype_descriptor(type);
        if (!d) {
            continue;
        }
        for (int k = 1; k <= 2; k++) {
            ProtobufCMessage *m = s_alloc(d->sizeof_message);
            protobuf_c_message_init(d, m);
            s_fill(m, k, 0);
            size_t size;
            uint8_t *body = s_pack(m, &size);
            uint8_t *rec = s_alloc(size + 4);
            rec[0] = (uint8_t) type;
            rec[1] = (uint8_t) (size >> 8);
            rec[2] = (uint8_t) size;
            rec[3] = k == 1 ? 0x81 : 0x01;  /* 1 s; calls answered or not */
            memcpy(rec + 4, body, size);
            char name[96];
            snprintf(name, sizeof name, "rec-%s-%d", msgtype_name(type), k);
            for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
                s_write(dirs[i], name, rec, size + 4);
            }
            if (k == 1 && all_size + size + 4 <= sizeof all) {
                memcpy(all + all_size, rec, size + 4);
                all_size += size + 4;
            }
            s_free_all();
        }
    }
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        s_write(dirs[i], "rec-all", all, all_size);
    }
}

/* YAML for fuzz_cfg's table: every key type, nested names, sequences. */
static void
s_cfg(void)
{
    static const char *const docs[] = {
        "name: a\nbus:\n  control: tcp://127.0.0.1:1\nverbose: true\n"
        "agent:\n  period_ms: -5\nport: 7\nratio: 0.25\n"
        "peers: [a, b, c]\n"
        "tunnels:\n  - name: t1\n    port: 4789\n    ports:\n"
        "      - name: p1\n        meta:\n          tags: [x, y]\n"
        "  - name: t2\n",
        "bus.control: tcp://x\nagent.period_ms: 10\npeers:\n  - a\n",
        "# only a comment\n",
        "name: &a x\nport: *a\n",
        "tunnels: []\npeers: ~\nratio: 1e300\n",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "seed-%zu.yaml", i);
        s_write("cfg", name, docs[i], strlen(docs[i]));
    }
}

/* fuzz_vttif_check: a kind byte (0 LocalMatrix, 1 VmLocations, 2
 * AgentAnnounce) and the body. */
static void
s_vttif(void)
{
    static const ProtobufCMessageDescriptor *const desc[] = {
        &vr__local_matrix__descriptor,
        &vr__vm_locations__descriptor,
        &vr__agent_announce__descriptor,
    };
    for (int kind = 0; kind < 3; kind++) {
        for (int k = 1; k <= 2; k++) {
            ProtobufCMessage *m = s_alloc(desc[kind]->sizeof_message);
            protobuf_c_message_init(desc[kind], m);
            s_fill(m, k, 0);
            size_t size;
            uint8_t *body = s_pack(m, &size);
            uint8_t *rec = s_alloc(size + 1);
            rec[0] = (uint8_t) kind;
            memcpy(rec + 1, body, size);
            char name[32];
            snprintf(name, sizeof name, "seed-%d-%d", kind, k);
            s_write("vttif_check", name, rec, size + 1);
            s_free_all();
        }
    }
}

/* fuzz_agent_encap: one datagram of each type, a whole frame and the
 * first chunk of a longer one. */
static void
s_encap(void)
{
    static uint8_t d[ENCAP_HDR_LEN + 256];
    static const struct {
        const char *name;
        uint8_t type;
        uint32_t frame_len;     /* 0: the payload's length */
        size_t n;               /* payload bytes */
    } dg[] = {
        { "data-whole", ENCAP_DATA, 0, 60 },
        { "data-first", ENCAP_DATA, 3000, 200 },
        { "probe", ENCAP_PROBE, 0, 16 },
        { "probe-reply", ENCAP_PROBE_REPLY, 0, 16 },
        { "hello", ENCAP_HELLO, 0, 15 },
    };
    for (size_t i = 0; i < sizeof dg / sizeof dg[0]; i++) {
        struct encap_hdr h = {
            .version = ENCAP_VERSION, .type = dg[i].type,
            .hdr_len = ENCAP_HDR_LEN, .frame_id = 7,
            .frame_len = dg[i].frame_len ? dg[i].frame_len
                                         : (uint32_t) dg[i].n,
        };
        encap_encode(&h, d);
        for (size_t k = 0; k < dg[i].n; k++) {
            d[ENCAP_HDR_LEN + k] = (uint8_t) (k * 7);
        }
        if (dg[i].type == ENCAP_HELLO) {
            /* "h1", then one MAC. */
            memcpy(d + ENCAP_HDR_LEN, "h1\0\x52\x54\x00\x00\x00\x01"
                   "\x52\x54\x00\x00\x00\x02", 15);
        }
        s_write("agent_encap", dg[i].name, d, ENCAP_HDR_LEN + dg[i].n);
    }
    /* With offload metadata: a TCPv4 GSO frame. */
    struct encap_hdr h = {
        .version = ENCAP_VERSION, .type = ENCAP_DATA, .flags = ENCAP_F_VNET,
        .hdr_len = ENCAP_HDR_LEN, .frame_id = 9, .frame_len = 200,
        .vnet = { .flags = 1, .gso_type = 1, .gso_size = 100,
                  .csum_start = 34, .csum_offset = 16 },
    };
    encap_encode(&h, d);
    s_write("agent_encap", "data-gso", d, ENCAP_HDR_LEN + 200);
}

/* fuzz_agent_sec: the three handshake messages and a sealed datagram,
 * between keys of their own (the harness has others, so these reach the
 * checks of lengths and types, and fail at the tags). */
static void
s_sec(void)
{
    FUZZ_CHECK(sec_init() == 0);
    struct sec_identity a, b;
    crypto_box_keypair(a.pub, a.secret);
    crypto_box_keypair(b.pub, b.secret);
    struct sec_hs ha, hb;
    uint8_t m1[SEC_HS1_LEN], m2[SEC_HS2_LEN], m3[SEC_HS3_LEN];
    sec_hs_initiate(&ha, &a, 7, 0, 0, m1);
    FUZZ_CHECK(sec_hs_respond(&hb, &b, 8, 0, m1, sizeof m1, m2));
    FUZZ_CHECK(sec_hs_finish(&ha, &a, m2, sizeof m2, m3));
    FUZZ_CHECK(sec_hs_confirm(&hb, m3, sizeof m3));
    s_write("agent_sec", "hs1", m1, sizeof m1);
    s_write("agent_sec", "hs2", m2, sizeof m2);
    s_write("agent_sec", "hs3", m3, sizeof m3);
    static struct sec_session sa;
    sec_hs_split(&ha, &sa, 1);
    uint8_t out[SEC_OVERHEAD + 64];
    size_t n = sec_seal(&sa, true, (const uint8_t *) "hdr", 3,
                        (const uint8_t *) "payload", 7, out);
    s_write("agent_sec", "sealed", out, n);
    n = sec_seal(&sa, false, (const uint8_t *) "hdr", 3,
                 (const uint8_t *) "payload", 7, out);
    s_write("agent_sec", "authenticated", out, n);
}

/* fuzz_adapter_oclient: how oclient ended, stdout's length, stdout and
 * stderr, as the adapter's tests/tools/oclient prints them. */
static void
s_oclient(void)
{
    static const struct {
        const char *name;
        uint8_t end;            /* byte 0 */
        const char *out, *err;
    } runs[] = {
        { "created", 0, "connecting\nPath created: pathID=p-17\n", "" },
        { "deleted", 0, "Path deleted: pathID=p-1\n", "" },
        { "not-found", 0x80, "", "ERROR: no such path pathID: p-1\n" },
        { "error", 0x80, "ERROR: no lambda free\n", "trace\n" },
        { "two-ids", 0, "pathID=a\npathID=b\n", "" },
        { "killed", 2, "Path created: pathID=p-3\n", "" },
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        uint8_t buf[256];
        size_t n_out = strlen(runs[i].out), n_err = strlen(runs[i].err);
        buf[0] = runs[i].end;
        buf[1] = runs[i].end ? 1 : 0;
        buf[2] = (uint8_t) (n_out >> 8);
        buf[3] = (uint8_t) n_out;
        memcpy(buf + 4, runs[i].out, n_out);
        memcpy(buf + 4 + n_out, runs[i].err, n_err);
        s_write("adapter_oclient", runs[i].name, buf, 4 + n_out + n_err);
    }
}

/* fuzz_adapter_netns: 'ip -o link show' as it lists our pairs. */
static void
s_netns(void)
{
    static const char text[] =
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state "
        "UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback "
        "00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
        "7: vrp12@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9000 qdisc "
        "tbf state UP mode DEFAULT group default qlen 1000\\    "
        "link/ether 52:54:00:00:00:01 brd ff:ff:ff:ff:ff:ff link-netns h2\n"
        "9: vrp3: <BROADCAST,MULTICAST> mtu 1500\n";
    s_write("adapter_netns", "ip-link", text, strlen(text));
}

/* fuzz_agent_link: flags (bit 0: sealed), chunking, then the stream. */
static void
s_link(void)
{
    uint8_t buf[3 + 3 * (ENCAP_HDR_LEN + 100)];
    size_t n = 3;
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = 7;
    for (int i = 0; i < 3; i++) {
        struct encap_hdr h = {
            .version = ENCAP_VERSION, .type = ENCAP_DATA,
            .hdr_len = ENCAP_HDR_LEN, .frame_id = (uint32_t) i,
            .frame_len = 100,
        };
        encap_encode(&h, buf + n);
        memset(buf + n + ENCAP_HDR_LEN, i, 100);
        n += ENCAP_HDR_LEN + 100;
    }
    s_write("agent_link", "bare", buf, n);

    /* Sealed: a length, then a datagram of that length. */
    n = 3;
    buf[0] = 1;
    for (int i = 0; i < 3; i++) {
        uint32_t len = SEC_OVERHEAD + 20;
        buf[n] = 0;
        buf[n + 1] = 0;
        buf[n + 2] = (uint8_t) (len >> 8);
        buf[n + 3] = (uint8_t) len;
        memset(buf + n + 4, 0x40 + i, len);
        n += 4 + len;
    }
    s_write("agent_link", "sealed", buf, n);
}

/* Appends one service-harness record (type, body of 'm', control byte
 * 'ctl') to 'buf' ('*n' bytes so far, room for 'cap'). */
static void
s_rec(uint8_t *buf, size_t *n, size_t cap, int type, uint8_t ctl,
      const ProtobufCMessage *m)
{
    size_t size = protobuf_c_message_get_packed_size(m);
    FUZZ_CHECK(*n + 4 + size <= cap && size < 65536);
    buf[*n] = (uint8_t) type;
    buf[*n + 1] = (uint8_t) (size >> 8);
    buf[*n + 2] = (uint8_t) size;
    buf[*n + 3] = ctl;
    protobuf_c_message_pack(m, buf + *n + 4);
    *n += 4 + size;
}

static void
s_agent_link(uint8_t *buf, size_t *n, size_t cap, const char *name,
             const char *peer, bool tcp, bool circuit)
{
    Vr__Link l = VR__LINK__INIT;
    l.name = (char *) name;
    l.peer = (char *) peer;
    l.peer_agent = "h2";
    l.proto = tcp ? VR__LINK_PROTO__LINK_PROTO_TCP
                  : VR__LINK_PROTO__LINK_PROTO_UDP;
    l.circuit = circuit;
    Vr__LinkCreate req = VR__LINK_CREATE__INIT;
    req.link = &l;
    s_rec(buf, n, cap, VR__MSG_TYPE__MSG_LINK_CREATE, 0, &req.base);
}

static void
s_agent_probe(uint8_t *buf, size_t *n, size_t cap, const char *name,
              uint8_t ctl)
{
    Vr__LinkProbe req = VR__LINK_PROBE__INIT;
    req.name = (char *) name;
    req.timeout_ms = 300;
    s_rec(buf, n, cap, VR__MSG_TYPE__MSG_LINK_PROBE, ctl, &req.base);
}

static void
s_agent_rules(uint8_t *buf, size_t *n, size_t cap, int type,
              const char *link)
{
    Vr__Rule r[2] = { VR__RULE__INIT, VR__RULE__INIT };
    Vr__Rule *rp[2] = { &r[0], &r[1] };
    r[0].dst_mac = 0x020000000301ull;
    r[0].link = (char *) link;
    r[1].dst_mac = 0x020000000302ull;
    r[1].src_mac = 0x020000000201ull;
    r[1].link = (char *) link;
    Vr__RuleAdd req = VR__RULE_ADD__INIT;
    req.rules = rp;
    req.n_rules = 2;
    s_rec(buf, n, cap, type, 0, &req.base);
}

/* fuzz_agent_ctl: the planner's ways with an agent's links and rules
 * (two links to one address among them), the probe table filled past its
 * cap, and, in the last file in order, the link table filled past its
 * cap (the harness keeps the agent from one input to the next). */
static void
s_agent_ctl(void)
{
    static uint8_t buf[1 << 16];
    size_t n = 0;
    Vr__LinkRemove rm = VR__LINK_REMOVE__INIT;
    Vr__LinkListRequest ll = VR__LINK_LIST_REQUEST__INIT;
    Vr__RuleListRequest rl = VR__RULE_LIST_REQUEST__INIT;
    Vr__StatusRequest st = VR__STATUS_REQUEST__INIT;
    s_agent_link(buf, &n, sizeof buf, "vr-1", "10.0.0.2:7000", false, true);
    s_agent_link(buf, &n, sizeof buf, "vr-2", "10.0.0.2:7000", false, true);
    s_agent_link(buf, &n, sizeof buf, "h3", "10.0.0.3:7000", true, false);
    s_agent_link(buf, &n, sizeof buf, "vr-1", "10.0.0.4:7000", false, true);
    s_agent_rules(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_RULE_ADD, "vr-1");
    s_agent_rules(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_RULE_ADD, "vr-2");
    s_agent_rules(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_RULE_ADD, "nope");
    s_agent_probe(buf, &n, sizeof buf, "vr-2", 0);
    s_agent_probe(buf, &n, sizeof buf, "h3", 1);      /* expires */
    s_rec(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_LINK_LIST_REQUEST, 0,
          &ll.base);
    s_rec(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_RULE_LIST_REQUEST, 0,
          &rl.base);
    s_rec(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_STATUS_REQUEST, 0,
          &st.base);
    rm.name = "vr-1";
    s_rec(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_LINK_REMOVE, 0, &rm.base);
    s_agent_rules(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_RULE_REMOVE,
                  "vr-2");
    s_agent_rules(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_RULE_REMOVE,
                  "vr-2");
    rm.name = "proxy";
    s_rec(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_LINK_REMOVE, 0, &rm.base);
    rm.name = "vr-2";
    s_rec(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_LINK_REMOVE, 1, &rm.base);
    s_write("agent_ctl", "links-rules", buf, n);

    /* 20 probes at once: the 17th on are refused, then all expire. */
    n = 0;
    s_agent_link(buf, &n, sizeof buf, "p", "10.0.0.5:7000", false, false);
    for (int i = 0; i < 20; i++) {
        s_agent_probe(buf, &n, sizeof buf, i % 2 ? "p" : "proxy", 0);
    }
    s_rec(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_LINK_LIST_REQUEST, 1,
          &ll.base);
    s_write("agent_ctl", "probes-full", buf, n);

    /* 40 links: past the harness's cap of 24, then 10 go and 10 come. */
    n = 0;
    for (int i = 0; i < 50; i++) {
        char name[32], peer[32];
        if (i >= 40) {
            snprintf(name, sizeof name, "bulk-%02d", i - 40);
            rm.name = name;
            s_rec(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_LINK_REMOVE, 0,
                  &rm.base);
        }
        snprintf(name, sizeof name, "bulk-%02d", i);
        snprintf(peer, sizeof peer, "10.1.0.%d:7000", i + 1);
        s_agent_link(buf, &n, sizeof buf, name, peer, i % 7 == 0, false);
    }
    s_write("agent_ctl", "zz-bulk", buf, n);
}

/* fuzz_broker_svc: reservations whose paths come up as a hostile adapter
 * might say: a second VLAN without a first, a VLAN past 4094, a prefix
 * length past 32 (each must fail its reservation), and a good two-VLAN
 * circuit; then events for no reservation and for an ended one. */
static void
s_broker_paths(void)
{
    static uint8_t buf[1 << 14];
    size_t n = 0;
    static const struct {
        const char *a, *b;
        uint32_t vlan, vlan_dst, prefix;
    } cases[] = {
        { "h1", "h2", 0, 100, 24 },
        { "h1", "vm-2", 5000, 0, 24 },
        { "h2", "vm-2", 1789, 1788, 33 },
        { "h1", "h2", 1789, 1788, 24 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rid[16], pid[16];
        snprintf(rid, sizeof rid, "r-%zu", i + 1);
        snprintf(pid, sizeof pid, "p-%zu", i + 1);
        Vr__ResvRequest req = VR__RESV_REQUEST__INIT;
        req.host_a = (char *) cases[i].a;
        req.host_b = (char *) cases[i].b;
        req.bandwidth_mbps = 100;
        s_rec(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_RESV_REQUEST, 0x80,
              &req.base);
        Vr__Path p = VR__PATH__INIT;
        p.path_id = pid;
        p.request_id = rid;
        p.state = VR__PATH_STATE__PATH_STATE_UP;
        p.src_link_addr = "10.0.0.1";
        p.dst_link_addr = "10.0.0.2";
        p.vlan = cases[i].vlan;
        p.vlan_dst = cases[i].vlan_dst;
        p.link_prefix_len = cases[i].prefix;
        Vr__PathEvent ev = VR__PATH_EVENT__INIT;
        ev.path = &p;
        s_rec(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_PATH_EVENT, 0x80,
              &ev.base);
        if (i == 0) {
            p.request_id = "r-none";    /* nobody's: torn down */
            p.path_id = "p-none";
            p.vlan = 0;
            p.vlan_dst = 0;
            s_rec(buf, &n, sizeof buf, VR__MSG_TYPE__MSG_PATH_EVENT, 0x80,
                  &ev.base);
        }
    }
    s_write("broker_svc", "paths-hostile", buf, n);
}

/* fuzz_agent_netlink: datagrams as the kernel sends them: a dump (the
 * loopback, a veth, a tap with a vnet header, a tun, NLMSG_DONE), a link
 * gone, an error, an overrun, and messages the parser refuses. */
static void
s_netlink(void)
{
    static uint8_t buf[4096];
    struct nlb b;
    struct agent_nl_link lo = { .ifindex = 1, .flags = 0x49, .name = "lo" };
    struct agent_nl_link veth = { .ifindex = 7, .flags = 0x1043,
                                  .name = "vm1", .kind = "veth" };
    struct agent_nl_link tap = { .ifindex = 9, .flags = 0x1003,
                                 .name = "vm2", .kind = "tun", .tap = true,
                                 .vnet_hdr = true };
    struct agent_nl_link tun = { .ifindex = 12, .name = "tun0",
                                 .kind = "tun" };
    struct agent_nl_link gone = { .gone = true, .ifindex = 9,
                                  .name = "vm2" };

    nlb_init(&b, buf, sizeof buf);
    nlb_link(&b, &lo);
    nlb_link(&b, &veth);
    nlb_link(&b, &tap);
    nlb_link(&b, &tun);
    nlb_end_msg(&b, nlb_msg(&b, NLMSG_DONE));
    FUZZ_CHECK(b.ok);
    s_write("agent_netlink", "dump", buf, b.len);

    nlb_init(&b, buf, sizeof buf);
    nlb_link(&b, &gone);
    FUZZ_CHECK(b.ok);
    s_write("agent_netlink", "dellink", buf, b.len);

    nlb_init(&b, buf, sizeof buf);
    size_t m = nlb_msg(&b, NLMSG_ERROR);
    struct nlmsgerr e = { .error = -105 };
    nlb_put(&b, &e, sizeof e);
    nlb_end_msg(&b, m);
    nlb_end_msg(&b, nlb_msg(&b, NLMSG_OVERRUN));
    FUZZ_CHECK(b.ok);
    s_write("agent_netlink", "error-overrun", buf, b.len);

    /* Refused: an index 0, a name too long for an interface, an
     * unterminated kind; then a good one, and a cut header. */
    nlb_init(&b, buf, sizeof buf);
    struct agent_nl_link zero = veth;
    zero.ifindex = 0;
    nlb_link(&b, &zero);
    m = nlb_msg(&b, RTM_NEWLINK);
    struct ifinfomsg ifi = { .ifi_index = 3 };
    nlb_put(&b, &ifi, sizeof ifi);
    nlb_attr_data(&b, IFLA_IFNAME, "a-name-longer-than-ifnamsiz", 28);
    nlb_end_msg(&b, m);
    m = nlb_msg(&b, RTM_NEWLINK);
    nlb_put(&b, &ifi, sizeof ifi);
    size_t li = nlb_attr(&b, IFLA_LINKINFO);
    nlb_attr_data(&b, IFLA_INFO_KIND, "tun", 3);
    nlb_end_attr(&b, li);
    nlb_end_msg(&b, m);
    nlb_link(&b, &tap);
    nlb_put(&b, "\x10\0\0", 4);
    FUZZ_CHECK(b.ok);
    s_write("agent_netlink", "refused", buf, b.len);
}

/* fuzz_metrics: a StatusReply and a request. */
static void
s_metrics(void)
{
    Vr__StatusReply r = VR__STATUS_REPLY__INIT;
    r.service = "vreserve-broker";
    r.id = "broker";
    r.version = "0.1.0";
    r.state = "running";
    r.uptime_ms = 12345;
    r.started_us = 1800000000000000ull;
    Vr__Counter c1 = VR__COUNTER__INIT, c2 = VR__COUNTER__INIT;
    c1.name = "resv_ACTIVE";
    c1.value = 3;
    c1.gauge = true;
    c2.name = "bus_rx";
    c2.value = 99;
    Vr__Counter *cs[] = { &c1, &c2 };
    r.counters = cs;
    r.n_counters = 2;
    Vr__KeyValue i1 = VR__KEY_VALUE__INIT;
    i1.key = "db";
    i1.value = "/var/lib/vreserve/broker.db";
    Vr__KeyValue *is[] = { &i1 };
    r.info = is;
    r.n_info = 1;
    static const char *const reqs[] = {
        "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD /metrics HTTP/1.0\r\n\r\n",
        "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        "GET /nothing HTTP/1.1\r\n\r\n",
    };
    uint8_t buf[1024];
    size_t n = vr__status_reply__pack(&r, buf + 2);
    buf[0] = (uint8_t) (n >> 8);
    buf[1] = (uint8_t) n;
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        size_t len = strlen(reqs[i]);
        memcpy(buf + 2 + n, reqs[i], len);
        char name[16];
        snprintf(name, sizeof name, "req-%zu", i);
        s_write("metrics", name, buf, 2 + n + len);
    }
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: make_fuzz_seeds DIR [NAME...]\n");
        return 2;
    }
    s_dir = argv[1];
    if (mkdir(s_dir, 0755) != 0 && errno != EEXIST) {
        perror(s_dir);
        return 1;
    }
    /* A directory for every harness named, even one with no seeds here. */
    for (int i = 2; i < argc; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", s_dir, argv[i]);
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            perror(path);
            return 1;
        }
    }
    bus_t *bus = bus_new("seeds", NULL);
    FUZZ_CHECK(bus);
    s_bus(bus);
    bus_destroy(&bus);
    s_svc();
    s_cfg();
    s_vttif();
    s_encap();
    s_sec();
    s_oclient();
    s_netns();
    s_link();
    s_agent_ctl();
    s_broker_paths();
    s_netlink();
    s_metrics();
    printf("fuzz_seeds: %zu files in %s\n", s_n_files, s_dir);
    return 0;
}
