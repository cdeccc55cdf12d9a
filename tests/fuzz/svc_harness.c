/* SPDX-License-Identifier: MIT */
/* See svc_harness.h. */
#include "svc_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authz.h"
#include "bus.h"
#include "fuzz_check.h"
#include "vtime.h"

enum {
    S_MAX_RECORDS = 64,         /* keeps one input fast */
    S_MAX_REPLIES = 16,         /* snapshot replies kept */
    /* Every this many records the state before a request is asked for
     * again rather than taken from the snapshot after the last one, and
     * the two must be the same bytes. */
    S_RECHECK_EVERY = 64,
};

/* What the fake bus saw during one dispatch. */
struct s_tap {
    svc_t *svc;
    int n_replies;              /* sent on the control socket */
    int reply_type;             /* the last of them */
    ProtobufCMessage *reply;    /* its body, packed and unpacked (owned) */
    uint8_t *packed;            /* its body packed (reused buffer) */
    size_t packed_size;
    size_t packed_cap;
    int n_published;            /* sent on any other socket */
    bool call_ok;               /* calls get empty replies, not errors */
};

static int
s_send(void *arg, zsock_t *sock, int type, const ProtobufCMessage *body)
{
    struct s_tap *t = arg;
    if (sock != svc_control(t->svc)) {
        t->n_published++;
        return 0;
    }
    t->n_replies++;
    t->reply_type = type;
    if (t->reply) {
        protobuf_c_message_free_unpacked(t->reply, NULL);
    }
    /* A copy: 'body' is the handler's and goes when it returns. */
    size_t size = protobuf_c_message_get_packed_size(body);
    if (size > t->packed_cap || !t->packed) {
        free(t->packed);
        t->packed_cap = size;
        t->packed = malloc(size ? size : 1);
        FUZZ_CHECK(t->packed);
    }
    FUZZ_CHECK(protobuf_c_message_pack(body, t->packed) == size);
    t->packed_size = size;
    t->reply = protobuf_c_message_unpack(body->descriptor, NULL, size,
                                         t->packed);
    FUZZ_CHECK(t->reply);
    return 0;
}

static int
s_call(void *arg, const char *endpoint, int type,
       const ProtobufCMessage *req, int expect, bus_msg_t *reply)
{
    struct s_tap *t = arg;
    const ProtobufCMessageDescriptor *d = msgtype_descriptor(expect);
    if (t->call_ok && d) {
        reply->type = expect;
        reply->body = protobuf_c_message_unpack(d, NULL, 0,
                                                (const uint8_t *) "");
        FUZZ_CHECK(reply->body);
        return 0;
    }
    reply->error = VR__ERROR_CODE__ERR_UNAVAILABLE;
    snprintf(reply->error_text, sizeof reply->error_text,
             "fuzz: '%s' does not answer", endpoint);
    return -1;
}

/* Dispatches a request of 'type' with body 'body' (taken) and returns
 * what the tap saw. */
static void
s_dispatch(svc_t *svc, struct s_tap *t, int type, ProtobufCMessage *body)
{
    bus_msg_t req = { .type = type, .body = body };
    snprintf(req.sender, sizeof req.sender, "fuzz");
    req.route.id[0] = 'F';          /* a made-up peer, for svc_defer() */
    req.route.len = 1;
    authz_ident_local(&req.from);   /* as bus_recv() with CURVE off */
    t->n_replies = 0;
    t->reply_type = 0;
    t->n_published = 0;
    svc_dispatch(svc, &req);
    bus_msg_clear(&req);
}

/* The replies to the snapshot requests, packed one after another into
 * '*buf_p' (malloc'd); the bodies into 'replies' when not NULL. */
static size_t
s_snapshot(const struct svch_def *d, svc_t *svc, struct s_tap *t,
           uint8_t **buf_p, ProtobufCMessage **replies)
{
    size_t size = 0;
    uint8_t *buf = NULL;
    for (size_t i = 0; i < d->n_snapshot; i++) {
        int type = d->snapshot[i];
        ProtobufCMessage *body = protobuf_c_message_unpack(
            msgtype_descriptor(type), NULL, 0, (const uint8_t *) "");
        FUZZ_CHECK(body);
        s_dispatch(svc, t, type, body);
        FUZZ_CHECK(t->n_replies == 1 && t->reply);
        FUZZ_CHECK(t->reply_type != VR__MSG_TYPE__MSG_ERROR);
        /* The reply's bytes as the service packed them (s_send). */
        size_t n = t->packed_size;
        buf = realloc(buf, size + n + 1);
        FUZZ_CHECK(buf);
        if (n) {
            memcpy(buf + size, t->packed, n);
        }
        size += n;
        if (replies) {
            replies[i] = t->reply;
            t->reply = NULL;
        }
    }
    *buf_p = buf;
    return size;
}

/* Whether a request of 'type' may be answered later. */
static bool
s_may_defer(const struct svch_def *d, int type)
{
    if (!d->deferred_types) {
        return true;
    }
    for (size_t i = 0; i < d->n_deferred_types; i++) {
        if (d->deferred_types[i] == type) {
            return true;
        }
    }
    return false;
}

/* The service of a harness process, started at its first input. */
struct s_service {
    svc_t *svc;
    void *cfg;                  /* the loaded config */
    void *service;              /* what d->start returned */
    struct s_tap tap;
    struct bus_fake fake;
    /* The snapshot after the last request (s_snapshot()), which is the
     * state before the next one unless time passed in between. */
    uint8_t *last;
    size_t last_size;
    unsigned long n_records;    /* requests handled, for S_RECHECK_EVERY */
};

static void
s_service_start(const struct svch_def *d, struct s_service *s)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/vr-fuzz-%d.yaml", (int) getpid());
    FILE *f = fopen(path, "w");
    FUZZ_CHECK(f);
    for (const char *p = d->yaml; *p; p++) {
        if (strncmp(p, "@N@", 3) == 0) {
            fprintf(f, "%d", (int) getpid());
            p += 2;
        } else {
            fputc(*p, f);
        }
    }
    FUZZ_CHECK(fclose(f) == 0);

    vtime_fake_set(1800000000ull * 1000000ull);
    char *argv[] = { "fuzz", "-c", path, "-q", "-q", NULL };
    s->cfg = calloc(1, d->cfg_size);
    FUZZ_CHECK(s->cfg);
    int rc;
    s->svc = svc_new(d->def, 5, argv, s->cfg, &rc);
    FUZZ_CHECK(s->svc);
    unlink(path);
    s->tap.svc = s->svc;
    s->fake = (struct bus_fake) { .send = s_send, .call = s_call,
                                  .arg = &s->tap };
    bus_set_fake(svc_bus(s->svc), &s->fake);
    s->service = d->start(s->svc, s->cfg);
    FUZZ_CHECK(s->service);
}

int
svch_run(const struct svch_def *d, const uint8_t *data, size_t size)
{
    /* One service for the whole process: starting one per input costs
     * more than the input (sockets, a store), and state built by earlier
     * inputs is where the caps are tested.  A crash may so depend on the
     * inputs before it; libFuzzer's log has them in order. */
    static struct s_service s;
    if (!s.svc) {
        FUZZ_CHECK(d->n_snapshot <= S_MAX_REPLIES);
        s_service_start(d, &s);
    }
    svc_t *svc = s.svc;
    struct s_tap *tap = &s.tap;

    for (int n = 0; n < S_MAX_RECORDS && size >= 4; n++) {
        int type = data[0];
        size_t len = (size_t) data[1] << 8 | data[2];
        uint8_t ctl = data[3];
        data += 4;
        size -= 4;
        if (len > size) {
            len = size;
        }
        const uint8_t *body = data;
        data += len;
        size -= len;

        tap->call_ok = ctl & 0x80;
        if (ctl & 0x7f) {
            /* Time passes: what the timers would have done is done, so
             * that a handler catching up lazily changes nothing. */
            vtime_fake_advance((uint64_t) (ctl & 0x7f) * 1000000u);
            svc_fire_timers(svc);
            free(s.last);
            s.last = NULL;
        }
        const ProtobufCMessageDescriptor *desc = msgtype_descriptor(type);
        ProtobufCMessage *m = desc
            ? protobuf_c_message_unpack(desc, NULL, len, body) : NULL;
        if (!m) {
            continue;           /* the bus would have refused it */
        }
        if (d->prepare) {
            d->prepare(type, m);
        }
        /* The state before: the snapshot after the last request, as no
         * time passed since (the snapshot requests change nothing, which
         * is checked every S_RECHECK_EVERY records); asking again would
         * be a third of the harness's work. */
        uint8_t *before, *after;
        size_t before_size;
        if (s.last && s.n_records % S_RECHECK_EVERY != 0) {
            before = s.last;
            before_size = s.last_size;
        } else {
            before_size = s_snapshot(d, svc, tap, &before, NULL);
            if (s.last) {
                FUZZ_CHECK(s.last_size == before_size
                           && memcmp(s.last, before, before_size) == 0);
                free(s.last);
            }
        }
        s.last = NULL;
        s.n_records++;
        bus_msg_t msg = { .type = type, .body = m };
        snprintf(msg.sender, sizeof msg.sender, "fuzz");
        authz_ident_local(&msg.from);
        tap->n_replies = 0;
        int took = d->take ? d->take(s.service, &msg) : -1;
        bool refused;
        char why[256] = "";
        if (took >= 0) {
            FUZZ_CHECK(tap->n_replies == 0);
            refused = took == 0;
            bus_msg_clear(&msg);
        } else {
            s_dispatch(svc, tap, type, m);
            refused = tap->reply_type == VR__MSG_TYPE__MSG_ERROR;
            if (refused) {
                /* The snapshot below takes the tap's reply. */
                const char *text = ((Vr__Error *) tap->reply)->message;
                snprintf(why, sizeof why, "%s", text ? text : "");
            }
            if (d->deferred && s_may_defer(d, type)) {
                FUZZ_CHECK(tap->n_replies <= 1);
            } else {
                FUZZ_CHECK(tap->n_replies == 1);
            }
        }
        ProtobufCMessage *replies[S_MAX_REPLIES];
        size_t after_size = s_snapshot(d, svc, tap, &after, replies);
        if (refused && (before_size != after_size
                        || memcmp(before, after, before_size) != 0)) {
            fprintf(stderr, "%s refused with state changed: %s\n",
                    msgtype_name(type), why);
            FUZZ_CHECK(!"a refused request changed the state");
        }
        if (d->check_limits) {
            d->check_limits(s.service, s.cfg, replies);
        }
        for (size_t i = 0; i < d->n_snapshot; i++) {
            protobuf_c_message_free_unpacked(replies[i], NULL);
        }
        free(before);
        s.last = after;
        s.last_size = after_size;
    }
    return 0;
}
