/* SPDX-License-Identifier: MIT */
/* common/bus: the envelope round trip and every rejection path, req/rep
 * and pub/sub over tcp://127.0.0.1, a request against a dead server, and
 * CURVE (an allowed client is answered, an unknown key is not, and the
 * server logs the denial). */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "lmatrix.h"
#include "garbage.h"
#include "log.h"
#include "vtime.h"

/* ------------------------------------------------------------------ */
/* A REP server in its own thread, with its own bus. */

struct server_args {
    struct bus_curve_cfg curve; /* CURVE settings, or all NULL */
    const struct authz_rule *rules; /* authorization table, or NULL */
    size_t n_rules;
    char endpoint[128];         /* out: where it is bound */
};

static void
s_server(zsock_t *pipe, void *varg)
{
    struct server_args *args = varg;
    bus_t *bus = bus_new("test-server", &args->curve);
    assert(bus);
    bus_set_authz(bus, args->rules, args->n_rules);
    zsock_t *rep = bus_bind(bus, ZMQ_REP, "tcp://127.0.0.1:*");
    assert(rep);
    snprintf(args->endpoint, sizeof args->endpoint, "%s",
             zsock_endpoint(rep));
    zsock_signal(pipe, 0);

    zpoller_t *poller = zpoller_new(pipe, rep, NULL);
    for (;;) {
        zsock_t *which = zpoller_wait(poller, -1);
        if (which == pipe || !which) {
            break;              /* $TERM from zactor_destroy */
        }
        bus_msg_t req;
        if (bus_recv(bus, rep, &req) != 0) {
            bus_send_error(bus, rep, req.error, req.type, "%s",
                           req.error_text);
            continue;
        }
        if (req.type == VR__MSG_TYPE__MSG_STATUS_REQUEST) {
            Vr__StatusReply reply = VR__STATUS_REPLY__INIT;
            reply.service = "test";
            reply.id = "srv";
            reply.state = "fine";
            /* Tells the client who it was taken for. */
            bus_status_add_info(&reply, "from", req.from.label);
            bus_status_add_info(&reply, "role", req.from.role);
            bus_status_add_counter(&reply, "answers", 1, false);
            bus_send(bus, rep, VR__MSG_TYPE__MSG_STATUS_REPLY, &reply.base);
            bus_status_reply_free(&reply);
        } else {
            bus_send_error(bus, rep, VR__ERROR_CODE__ERR_NOT_FOUND, req.type,
                           "no such thing");
        }
        bus_msg_clear(&req);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&rep);
    bus_destroy(&bus);
}

/* ------------------------------------------------------------------ */

static void
test_envelope_roundtrip(void)
{
    bus_t *bus = bus_new("agent/h1", NULL);
    assert(bus);
    assert(!bus_curve_on(bus));

    Vr__LocalMatrix m = VR__LOCAL_MATRIX__INIT;
    assert(lmatrix_alloc(&m, 2) == 0);
    lmatrix_set(&m, 0, 0x020000000001, 0x020000000002, 123456789, 1000);
    lmatrix_set(&m, 1, 0x020000000002, 0x020000000001, 42, 0);
    lmatrix_len_set(&m, 2);
    m.agent_id = "h1";
    m.boot_id = 77;
    m.period_us = 100000;

    uint64_t before = vtime_now_us();
    uint8_t *data;
    size_t size;
    assert(bus_encode(bus, VR__MSG_TYPE__MSG_LOCAL_MATRIX, &m.base, &data,
                      &size) == 0);
    bus_msg_t msg = { 0 };
    assert(bus_decode(bus, data, size, &msg) == 0);
    assert(msg.type == VR__MSG_TYPE__MSG_LOCAL_MATRIX);
    assert(!strcmp(msg.sender, "agent/h1"));
    assert(msg.seq == 1);
    assert(msg.time_us >= before && msg.time_us <= vtime_now_us());
    Vr__LocalMatrix *got = (Vr__LocalMatrix *) msg.body;
    assert(got->base.descriptor == &vr__local_matrix__descriptor);
    assert(!strcmp(got->agent_id, "h1") && got->boot_id == 77);
    assert(lmatrix_len(got) == 2);
    assert(got->src_mac[0] == 0x020000000001);
    assert(got->dst_mac[1] == 0x020000000001);
    assert(got->bytes[0] == 123456789 && got->frames[0] == 1000);
    assert(got->bytes[1] == 42 && got->frames[1] == 0);
    bus_msg_clear(&msg);

    /* A body taken out lives on after the message (it is in no arena):
     * freed by protobuf-c, the message left without one. */
    assert(bus_decode(bus, data, size, &msg) == 0);
    Vr__LocalMatrix *kept = (Vr__LocalMatrix *) bus_msg_take_body(&msg);
    assert(kept && !msg.body && !msg.arena);
    bus_msg_clear(&msg);
    assert(!strcmp(kept->agent_id, "h1") && lmatrix_len(kept) == 2
           && kept->bytes[1] == 42);
    protobuf_c_message_free_unpacked(&kept->base, NULL);
    assert(!bus_msg_take_body(&msg));
    free(data);

    /* Sequence numbers count up per bus. */
    Vr__StatusRequest sreq = VR__STATUS_REQUEST__INIT;
    assert(bus_encode(bus, VR__MSG_TYPE__MSG_STATUS_REQUEST, &sreq.base,
                      &data, &size) == 0);
    assert(bus_decode(bus, data, size, &msg) == 0);
    assert(msg.seq == 2);
    bus_msg_clear(&msg);
    free(data);

    /* A body that is not the type's message is refused at encode. */
    assert(bus_encode(bus, VR__MSG_TYPE__MSG_TOPOLOGY, &sreq.base, &data,
                      &size) == -1);
    assert(bus_counters(bus)->rx == 0);     /* decode alone does not count */
    lmatrix_free(&m);
    bus_destroy(&bus);
    assert(bus == NULL);
}

static void
test_rejections(void)
{
    bus_t *bus = bus_new("test", NULL);
    const struct bus_counters *c = bus_counters(bus);
    bus_msg_t msg = { 0 };
    size_t size;

    /* Wrong schema version: an older build's (1) or a newer one's. */
    uint8_t *buf = garbage_envelope(3, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                                  NULL, 0, &size);
    assert(bus_decode(bus, buf, size, &msg) == -1);
    assert(msg.error == VR__ERROR_CODE__ERR_BAD_VERSION);
    assert(strstr(msg.error_text, "schema version 3, this build speaks 2"));
    assert(c->rx_bad_version == 1);
    /* The sender is kept printable for the log line. */
    assert(!strchr(msg.sender, '\n') && !strchr(msg.sender, '\x1b'));
    bus_msg_clear(&msg);
    free(buf);

    /* An empty buffer is an envelope of version 0. */
    assert(bus_decode(bus, (const uint8_t *) "", 0, &msg) == -1);
    assert(msg.error == VR__ERROR_CODE__ERR_BAD_VERSION);
    bus_msg_clear(&msg);

    /* Unknown type. */
    buf = garbage_envelope(GARBAGE_V, 9999, NULL, 0, &size);
    assert(bus_decode(bus, buf, size, &msg) == -1);
    assert(msg.error == VR__ERROR_CODE__ERR_UNKNOWN_TYPE);
    assert(strstr(msg.error_text, "9999"));
    assert(c->rx_unknown_type == 1);
    bus_msg_clear(&msg);
    free(buf);

    /* A body that does not decode as its type. */
    static const uint8_t junk[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f };
    buf = garbage_envelope(GARBAGE_V, VR__MSG_TYPE__MSG_LOCAL_MATRIX, junk,
                           sizeof junk, &size);
    assert(bus_decode(bus, buf, size, &msg) == -1);
    assert(msg.error == VR__ERROR_CODE__ERR_BAD_REQUEST);
    assert(strstr(msg.error_text, "LOCAL_MATRIX"));
    assert(c->rx_bad_body == 1);
    bus_msg_clear(&msg);
    free(buf);

    /* Truncated: every strict prefix of a real message that cuts into a
     * field is refused; none crashes. */
    Vr__AgentAnnounce ann = VR__AGENT_ANNOUNCE__INIT;
    ann.agent_id = "host-with-a-long-name";
    ann.control_endpoint = "tcp://127.0.0.1:7110";
    ann.overlay_addr = "10.0.0.1:4789";
    uint8_t *whole;
    assert(bus_encode(bus, VR__MSG_TYPE__MSG_AGENT_ANNOUNCE, &ann.base,
                      &whole, &size) == 0);
    size_t n_refused = 0;
    for (size_t cut = 1; cut < size; cut++) {
        if (bus_decode(bus, whole, cut, &msg) != 0) {
            n_refused++;
        }
        bus_msg_clear(&msg);
    }
    /* The body check is packed last, so every cut is caught. */
    assert(n_refused == size - 1);
    assert(bus_decode(bus, whole, size, &msg) == 0);
    bus_msg_clear(&msg);
    free(whole);

    /* Random bytes: never accepted, never a crash. */
    srand(42);
    uint64_t before = c->rx_garbage + c->rx_bad_version
                      + c->rx_unknown_type + c->rx_bad_body;
    for (int i = 0; i < 2000; i++) {
        uint8_t rnd[256];
        size_t len = (size_t) (rand() % (int) sizeof rnd);
        for (size_t k = 0; k < len; k++) {
            rnd[k] = (uint8_t) rand();
        }
        assert(bus_decode(bus, rnd, len, &msg) == -1);
        bus_msg_clear(&msg);
    }
    assert(c->rx_garbage + c->rx_bad_version + c->rx_unknown_type
           + c->rx_bad_body - before == 2000);
    assert(c->rx_garbage > 0);
    bus_destroy(&bus);
}

static void
test_reqrep(void)
{
    struct server_args args = { 0 };
    zactor_t *server = zactor_new(s_server, &args);
    bus_t *bus = bus_new("client", NULL);

    bus_client_t *client = bus_client_new(bus, args.endpoint, "test", 2000,
                                          1);
    Vr__StatusRequest req = VR__STATUS_REQUEST__INIT;
    bus_msg_t reply;
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &req.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == 0);
    Vr__StatusReply *st = (Vr__StatusReply *) reply.body;
    assert(!strcmp(st->service, "test") && !strcmp(st->state, "fine"));
    assert(st->n_counters == 1 && st->counters[0]->value == 1);
    assert(!strcmp(reply.sender, "test-server"));
    bus_msg_clear(&reply);

    /* An Error reply becomes a failed call with the server's code. */
    Vr__LinkRemove rm = VR__LINK_REMOVE__INIT;
    rm.name = "x";
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_LINK_REMOVE, &rm.base,
                           VR__MSG_TYPE__MSG_ACK, &reply) == -1);
    assert(reply.error == VR__ERROR_CODE__ERR_NOT_FOUND);
    assert(!strcmp(reply.error_text, "no such thing"));
    assert(bus_counters(bus)->req_errors == 1);
    bus_msg_clear(&reply);

    /* Garbage on a raw REQ socket: the server answers with an Error and
     * keeps serving. */
    zsock_t *raw = zsock_new_req(args.endpoint);
    zstr_send(raw, "this is not protobuf");
    assert(bus_recv(bus, raw, &reply) == 0);
    assert(reply.type == VR__MSG_TYPE__MSG_ERROR);
    assert(((Vr__Error *) reply.body)->code
           == VR__ERROR_CODE__ERR_BAD_REQUEST);
    bus_msg_clear(&reply);
    zsock_destroy(&raw);
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &req.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == 0);
    bus_msg_clear(&reply);

    bus_client_destroy(&client);
    assert(client == NULL);
    zactor_destroy(&server);
    bus_destroy(&bus);
}

static void
test_timeout(void)
{
    bus_t *bus = bus_new("client", NULL);
    /* Bind and close a socket to find a port where nobody listens. */
    zsock_t *probe = zsock_new(ZMQ_REP);
    assert(zsock_bind(probe, "tcp://127.0.0.1:*") > 0);
    char *endpoint = strdup(zsock_endpoint(probe));
    zsock_destroy(&probe);

    bus_client_t *client = bus_client_new(bus, endpoint, "dead", 200, 3);
    Vr__StatusRequest req = VR__STATUS_REQUEST__INIT;
    bus_msg_t reply;
    uint64_t t0 = vtime_mono_ms();
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &req.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == -1);
    uint64_t took = vtime_mono_ms() - t0;
    assert(reply.error == VR__ERROR_CODE__ERR_TIMEOUT);
    assert(strstr(reply.error_text, "3 tries of 200 ms"));
    assert(took >= 550 && took < 3000);
    assert(bus_counters(bus)->req_timeouts == 1);
    assert(bus_counters(bus)->req_retries == 2);
    bus_client_destroy(&client);

    /* With a pause, the call after a timeout fails at once, unsent; once
     * the pause is over the client waits for a reply again. */
    client = bus_client_new(bus, endpoint, "dead", 100, 1);
    bus_client_set_pause(client, 400);
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &req.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == -1);
    assert(reply.error == VR__ERROR_CODE__ERR_TIMEOUT);
    t0 = vtime_mono_ms();
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &req.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == -1);
    assert(reply.error == VR__ERROR_CODE__ERR_UNAVAILABLE);
    assert(strstr(reply.error_text, "next try in"));
    assert(vtime_mono_ms() - t0 < 50);
    assert(bus_counters(bus)->req_timeouts == 2);
    usleep(450 * 1000);
    t0 = vtime_mono_ms();
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &req.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == -1);
    assert(reply.error == VR__ERROR_CODE__ERR_TIMEOUT);
    assert(vtime_mono_ms() - t0 >= 90);
    assert(bus_counters(bus)->req_timeouts == 3);
    bus_client_destroy(&client);
    free(endpoint);
    bus_destroy(&bus);
}

static void
test_pubsub(void)
{
    bus_t *pub_bus = bus_new("publisher", NULL);
    bus_t *sub_bus = bus_new("subscriber", NULL);
    zsock_t *pub = bus_bind(pub_bus, ZMQ_PUB, "tcp://127.0.0.1:*");
    assert(pub);
    zsock_t *sub = bus_connect(sub_bus, ZMQ_SUB, zsock_endpoint(pub),
                               "publisher");
    assert(sub);
    bus_subscribe(sub, TOPIC_TOPOLOGY);
    zsock_set_rcvtimeo(sub, 100);

    Vr__TopologyEdge edge = VR__TOPOLOGY_EDGE__INIT;
    edge.src_mac = 1;
    edge.dst_mac = 2;
    edge.rate_bps = 1e9;
    Vr__TopologyEdge *edges[] = { &edge };
    Vr__Topology topo = VR__TOPOLOGY__INIT;
    topo.version = 5;
    topo.edges = edges;
    topo.n_edges = 1;
    Vr__TopologyEvent ev = VR__TOPOLOGY_EVENT__INIT;
    ev.topology = &topo;
    ev.change = VR__TOPOLOGY_CHANGE__TOPOLOGY_CHANGE_NEW;

    /* A subscription takes a moment to reach the publisher: publish until
     * one arrives (the "slow joiner"). */
    bus_msg_t msg;
    bool got = false;
    for (int i = 0; i < 50 && !got; i++) {
        /* Not subscribed to this topic: filtered at the publisher. */
        Vr__GlobalMatrix gm = VR__GLOBAL_MATRIX__INIT;
        assert(bus_send(pub_bus, pub, VR__MSG_TYPE__MSG_GLOBAL_MATRIX,
                        &gm.base) == 0);
        assert(bus_send(pub_bus, pub, VR__MSG_TYPE__MSG_TOPOLOGY_EVENT,
                        &ev.base) == 0);
        if (bus_recv(sub_bus, sub, &msg) == 0) {
            got = true;
        }
    }
    assert(got);
    assert(msg.type == VR__MSG_TYPE__MSG_TOPOLOGY_EVENT);
    assert(!strcmp(msg.topic, TOPIC_TOPOLOGY));
    Vr__TopologyEvent *rev = (Vr__TopologyEvent *) msg.body;
    assert(rev->topology->version == 5 && rev->topology->n_edges == 1);
    assert(rev->topology->edges[0]->rate_bps == 1e9);
    bus_msg_clear(&msg);
    while (bus_recv(sub_bus, sub, &msg) == 0) {
        assert(msg.type == VR__MSG_TYPE__MSG_TOPOLOGY_EVENT);
        bus_msg_clear(&msg);
    }

    /* A message under the wrong topic, and a one-frame message, are
     * refused on a SUB socket. */
    uint8_t *data;
    size_t size;
    Vr__LocalMatrix lm = VR__LOCAL_MATRIX__INIT;
    assert(bus_encode(pub_bus, VR__MSG_TYPE__MSG_LOCAL_MATRIX, &lm.base,
                      &data, &size) == 0);
    zsock_t *raw = zsock_resolve(pub);
    zmq_send(raw, TOPIC_TOPOLOGY, strlen(TOPIC_TOPOLOGY), ZMQ_SNDMORE);
    zmq_send(raw, data, size, 0);
    zmq_send(raw, TOPIC_TOPOLOGY "-only-one-frame", 23, 0);
    free(data);
    assert(bus_recv(sub_bus, sub, &msg) == -1);
    assert(strstr(msg.error_text, "published under topic 'topology'"));
    assert(bus_recv(sub_bus, sub, &msg) == -1);
    assert(strstr(msg.error_text, "1 frames, expected 2"));
    assert(bus_counters(sub_bus)->rx_bad_frames == 2);

    /* Publishing a type that has no topic is refused. */
    Vr__StatusRequest sreq = VR__STATUS_REQUEST__INIT;
    assert(bus_send(pub_bus, pub, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                    &sreq.base) == -1);

    zsock_destroy(&sub);
    zsock_destroy(&pub);
    bus_destroy(&sub_bus);
    bus_destroy(&pub_bus);
}

/* Makes a cert in 'dir' as NAME.key / NAME.key_secret. */
static char *
s_make_cert(const char *dir, const char *name)
{
    char *path = zsys_sprintf("%s/%s.key", dir, name);
    zcert_t *cert = zcert_new();
    assert(zcert_save(cert, path) == 0);
    zcert_destroy(&cert);
    return path;
}

static char *
s_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *
s_info(const Vr__StatusReply *st, const char *key)
{
    for (size_t i = 0; i < st->n_info; i++) {
        if (!strcmp(st->info[i]->key, key)) {
            return st->info[i]->value;
        }
    }
    return "(none)";
}

static void
test_curve(void)
{
    char dir[] = "/tmp/test_bus_curve.XXXXXX";
    assert(mkdtemp(dir));
    char *keys = zsys_sprintf("%s/keys", dir);
    char *allowed = zsys_sprintf("%s/allowed", dir);
    char *servers = zsys_sprintf("%s/servers", dir);
    zsys_dir_create(keys);
    zsys_dir_create(allowed);
    zsys_dir_create(servers);

    char *server_cert = s_make_cert(keys, "server");
    char *good_cert = s_make_cert(keys, "good");
    char *rogue_cert = s_make_cert(keys, "rogue");
    char *ops_cert = s_make_cert(keys, "ops");
    /* Publish the server's public cert under its role name, and allow only
     * the good client's. */
    zcert_t *c = zcert_load(server_cert);
    char *p = zsys_sprintf("%s/test.key", servers);
    zcert_save_public(c, p);
    zstr_free(&p);
    zcert_destroy(&c);
    c = zcert_load(good_cert);
    p = zsys_sprintf("%s/agent-h1.key", allowed);
    zcert_save_public(c, p);
    zstr_free(&p);
    zcert_destroy(&c);
    c = zcert_load(ops_cert);
    p = zsys_sprintf("%s/vnetctl.key", allowed);
    zcert_save_public(c, p);
    zstr_free(&p);
    zcert_destroy(&c);

    /* Catch what the server logs (zauth logs through czmq to stderr). */
    char *logpath = zsys_sprintf("%s/server.log", dir);
    fflush(stderr);
    int saved = dup(2);
    assert(freopen(logpath, "w", stderr));

    static const struct authz_rule rules[] = {
        { VR__MSG_TYPE__MSG_PLAN_QUERY, AUTHZ_OPERATOR, { NULL } },
    };
    struct server_args args = {
        .curve = { .cert = server_cert, .allowed = allowed },
        .rules = rules,
        .n_rules = AUTHZ_N(rules),
    };
    zactor_t *server = zactor_new(s_server, &args);

    /* The server learns who calls from the key: the file name in its
     * allowed directory, whatever the envelope's sender says. */
    Vr__StatusRequest req = VR__STATUS_REQUEST__INIT;
    Vr__PlanQuery plan = VR__PLAN_QUERY__INIT;
    bus_msg_t reply;
    struct bus_curve_cfg good = { .cert = good_cert, .servers = servers };
    bus_t *bus = bus_new("vnetctl", &good);
    assert(bus && bus_curve_on(bus));
    bus_client_t *client = bus_client_new(bus, args.endpoint, "test", 2000,
                                          1);
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &req.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == 0);
    Vr__StatusReply *st = (Vr__StatusReply *) reply.body;
    assert(!strcmp(s_info(st, "from"), "agent-h1"));
    assert(!strcmp(s_info(st, "role"), "agent"));
    bus_msg_clear(&reply);
    /* Its role may not send what the table keeps for operators. */
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_PLAN_QUERY, &plan.base,
                           VR__MSG_TYPE__MSG_PLAN, &reply) == -1);
    assert(reply.error == VR__ERROR_CODE__ERR_FORBIDDEN);
    assert(strstr(reply.error_text, "agent-h1 (role 'agent') may not send "
                                    "PLAN_QUERY"));
    bus_client_destroy(&client);
    bus_destroy(&bus);

    /* An operator's key may; the server's handler then answers. */
    struct bus_curve_cfg ops = { .cert = ops_cert, .servers = servers };
    bus = bus_new("ops", &ops);
    client = bus_client_new(bus, args.endpoint, "test", 2000, 1);
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_PLAN_QUERY, &plan.base,
                           VR__MSG_TYPE__MSG_PLAN, &reply) == -1);
    assert(reply.error == VR__ERROR_CODE__ERR_NOT_FOUND);
    bus_client_destroy(&client);
    /* A server named <role>-<name> with no key of its own: the role's. */
    client = bus_client_new(bus, args.endpoint, "test-x", 2000, 1);
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &req.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == 0);
    st = (Vr__StatusReply *) reply.body;
    assert(!strcmp(s_info(st, "from"), "vnetctl"));
    assert(!strcmp(s_info(st, "role"), "vnetctl"));
    bus_msg_clear(&reply);
    bus_client_destroy(&client);
    /* "NAME=ENDPOINT" names the server's key whatever the role. */
    char *named = zsys_sprintf("test=%s", args.endpoint);
    client = bus_client_new(bus, named, "nope", 2000, 1);
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &req.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == 0);
    bus_msg_clear(&reply);
    bus_client_destroy(&client);
    zstr_free(&named);
    bus_destroy(&bus);

    /* An unknown key gets nothing. */
    struct bus_curve_cfg rogue = { .cert = rogue_cert, .servers = servers };
    bus = bus_new("rogue", &rogue);
    client = bus_client_new(bus, args.endpoint, "test", 500, 1);
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &req.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == -1);
    assert(reply.error == VR__ERROR_CODE__ERR_TIMEOUT);
    bus_client_destroy(&client);
    bus_destroy(&bus);

    /* Nor does a plain client. */
    bus = bus_new("plain", NULL);
    client = bus_client_new(bus, args.endpoint, "test", 300, 1);
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &req.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == -1);
    bus_client_destroy(&client);
    bus_destroy(&bus);

    /* A client with CURVE on but no server keys cannot connect at all. */
    struct bus_curve_cfg nokeys = { .cert = good_cert };
    bus = bus_new("nokeys", &nokeys);
    assert(bus_connect(bus, ZMQ_REQ, args.endpoint, "test") == NULL);
    bus_destroy(&bus);

    /* A cert without its secret half is refused at start. */
    zcert_t *pub_only = zcert_load(good_cert);
    p = zsys_sprintf("%s/public-only.key", keys);
    zcert_save_public(pub_only, p);
    zcert_destroy(&pub_only);
    struct bus_curve_cfg nosecret = { .cert = p };
    assert(bus_new("nosecret", &nosecret) == NULL);
    zstr_free(&p);

    /* Fail closed: "*" admits no one, and a server needs an allowed
     * list or the explicit switch. */
    struct bus_curve_cfg star = { .cert = server_cert, .allowed = "*" };
    assert(bus_new("star", &star) == NULL);
    struct bus_curve_cfg noauth = { .cert = server_cert };
    bus = bus_new("noauth", &noauth);
    assert(bus);
    assert(bus_bind(bus, ZMQ_REP, "tcp://127.0.0.1:*") == NULL);
    bus_destroy(&bus);
    struct bus_curve_cfg nodir = { .cert = server_cert,
                                   .allowed = "/nonexistent/dir" };
    assert(bus_new("nodir", &nodir) == NULL);

    /* zauth binds one ZAP endpoint per process: one server at a time. */
    zactor_destroy(&server);

    /* allow_any: any key is admitted, as an anonymous client that may
     * ask for status and nothing else. */
    struct server_args any_args = {
        .curve = { .cert = server_cert, .allow_any = true },
        .rules = rules,
        .n_rules = AUTHZ_N(rules),
    };
    zactor_t *any_server = zactor_new(s_server, &any_args);
    struct bus_curve_cfg rogue2 = { .cert = rogue_cert, .servers = servers };
    bus = bus_new("rogue", &rogue2);
    client = bus_client_new(bus, any_args.endpoint, "test", 2000, 1);
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &req.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == 0);
    st = (Vr__StatusReply *) reply.body;
    assert(!strcmp(s_info(st, "from"), "?"));
    assert(!strcmp(s_info(st, "role"), ""));
    bus_msg_clear(&reply);
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_PLAN_QUERY, &plan.base,
                           VR__MSG_TYPE__MSG_PLAN, &reply) == -1);
    assert(reply.error == VR__ERROR_CODE__ERR_FORBIDDEN);
    bus_client_destroy(&client);
    bus_destroy(&bus);
    zactor_destroy(&any_server);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    const char *log = s_read_file(logpath);
    assert(strstr(log, "allowed (CURVE)"));
    assert(strstr(log, "denied (CURVE)"));
    assert(strstr(log, "forbidden: PLAN_QUERY"));
    assert(strstr(log, "curve.allow_any is on"));
    assert(strstr(log, "curve.allowed: '*' does not admit any key"));

    char *cmd = zsys_sprintf("rm -rf '%s'", dir);
    assert(system(cmd) == 0);
    zstr_free(&cmd);
    zstr_free(&logpath);
    zstr_free(&server_cert);
    zstr_free(&good_cert);
    zstr_free(&rogue_cert);
    zstr_free(&ops_cert);
    zstr_free(&keys);
    zstr_free(&allowed);
    zstr_free(&servers);
}

/* bus_set_max_decoded(): a body of many empty entries is refused before
 * it is built, and counted; a body within the budget still decodes.
 * bus_bind_limited(): a message over the socket's limit never arrives,
 * the next one does. */
static void
test_limits(void)
{
    bus_t *bus = bus_new("limits", NULL);
    const struct bus_counters *c = bus_counters(bus);
    enum { N = 200000 };
    uint64_t *zeros = calloc(N, sizeof *zeros);
    assert(zeros);
    Vr__LocalMatrix m = VR__LOCAL_MATRIX__INIT;
    m.agent_id = "h1";
    m.bytes = zeros;            /* one column: bus limits, not its sense */
    m.n_bytes = N;
    uint8_t *data;
    size_t size;
    assert(bus_encode(bus, VR__MSG_TYPE__MSG_LOCAL_MATRIX, &m.base, &data,
                      &size) == 0);
    assert(size < 300000);      /* a byte a value on the wire, 8 decoded */
    bus_msg_t msg = { 0 };
    assert(bus_decode(bus, data, size, &msg) == 0);   /* no limit yet */
    bus_msg_clear(&msg);
    bus_set_max_decoded(bus, 1 << 20);
    assert(bus_decode(bus, data, size, &msg) == -1);
    assert(msg.error == VR__ERROR_CODE__ERR_BAD_REQUEST && !msg.body);
    assert(strstr(msg.error_text, "LOCAL_MATRIX"));
    assert(strstr(msg.error_text, "needs more than 1048576 bytes"));
    assert(c->rx_too_big == 1 && c->rx_bad_body == 0);
    free(data);
    m.n_bytes = 100;
    assert(bus_encode(bus, VR__MSG_TYPE__MSG_LOCAL_MATRIX, &m.base, &data,
                      &size) == 0);
    assert(bus_decode(bus, data, size, &msg) == 0);
    assert(((Vr__LocalMatrix *) msg.body)->n_bytes == 100);
    bus_msg_clear(&msg);
    free(data);

    struct bus_rx_limits lim = { .max_msg_size = 64 * 1024, .rcvhwm = 10 };
    zsock_t *sub = bus_bind_limited(bus, ZMQ_SUB, "tcp://127.0.0.1:*",
                                    &lim);
    assert(sub);
    bus_subscribe(sub, "");
    zsock_set_rcvtimeo(sub, 100);
    bus_t *pub_bus = bus_new("publisher", NULL);
    zsock_t *pub = bus_connect(pub_bus, ZMQ_PUB, zsock_endpoint(sub),
                               "limits");
    assert(pub);
    m.n_bytes = 100000;         /* ~100 kB: over the limit */
    Vr__LocalMatrix small = VR__LOCAL_MATRIX__INIT;
    small.agent_id = "small";
    bool got = false;
    for (int i = 0; i < 50 && !got; i++) {
        assert(bus_send(pub_bus, pub, VR__MSG_TYPE__MSG_LOCAL_MATRIX,
                        &m.base) == 0);
        zclock_sleep(20);
        assert(bus_send(pub_bus, pub, VR__MSG_TYPE__MSG_LOCAL_MATRIX,
                        &small.base) == 0);
        while (bus_recv(bus, sub, &msg) == 0) {
            Vr__LocalMatrix *got_m = (Vr__LocalMatrix *) msg.body;
            assert(!strcmp(got_m->agent_id, "small"));
            got = true;
            bus_msg_clear(&msg);
        }
    }
    assert(got);
    zsock_destroy(&pub);
    bus_destroy(&pub_bus);
    zsock_destroy(&sub);
    free(zeros);
    bus_destroy(&bus);
}

/* A ROUTER server answers two REQ clients out of order: the second
 * request first, the first one later (a deferred reply). */
static void
test_router_deferred(void)
{
    bus_t *bus = bus_new("server", NULL);
    assert(bus);
    zsock_t *router = bus_bind(bus, ZMQ_ROUTER, "inproc://test-router");
    assert(router);
    bus_t *cbus = bus_new("client", NULL);
    zsock_t *c1 = bus_connect(cbus, ZMQ_REQ, "inproc://test-router", NULL);
    zsock_t *c2 = bus_connect(cbus, ZMQ_REQ, "inproc://test-router", NULL);
    assert(c1 && c2);
    Vr__LinkProbe probe = VR__LINK_PROBE__INIT;
    probe.name = "slow";
    assert(bus_send(cbus, c1, VR__MSG_TYPE__MSG_LINK_PROBE, &probe.base)
           == 0);
    bus_msg_t r1, r2;
    assert(bus_recv(bus, router, &r1) == 0);
    assert(r1.type == VR__MSG_TYPE__MSG_LINK_PROBE && r1.route.len > 0);
    Vr__StatusRequest sreq = VR__STATUS_REQUEST__INIT;
    assert(bus_send(cbus, c2, VR__MSG_TYPE__MSG_STATUS_REQUEST, &sreq.base)
           == 0);
    assert(bus_recv(bus, router, &r2) == 0);
    assert(r2.type == VR__MSG_TYPE__MSG_STATUS_REQUEST);
    assert(r2.route.len != r1.route.len
           || memcmp(r2.route.id, r1.route.id, r1.route.len) != 0);

    /* The second is answered now, the first after it. */
    bus_set_route(bus, &r2.route);
    assert(bus_send_error(bus, router, VR__ERROR_CODE__ERR_NOT_FOUND,
                          r2.type, "second") == 0);
    bus_set_route(bus, &r1.route);
    Vr__LinkProbeReply pr = VR__LINK_PROBE_REPLY__INIT;
    pr.ok = true;
    pr.rtt_us = 5;
    assert(bus_send(bus, router, VR__MSG_TYPE__MSG_LINK_PROBE_REPLY,
                    &pr.base) == 0);
    bus_msg_t a;
    assert(bus_recv(cbus, c2, &a) == 0 && a.type == VR__MSG_TYPE__MSG_ERROR);
    bus_msg_clear(&a);
    assert(bus_recv(cbus, c1, &a) == 0
           && a.type == VR__MSG_TYPE__MSG_LINK_PROBE_REPLY);
    assert(((Vr__LinkProbeReply *) a.body)->rtt_us == 5);
    bus_msg_clear(&a);

    /* Without a route a ROUTER sends nothing. */
    struct bus_route none = { .len = 0 };
    bus_set_route(bus, &none);
    assert(bus_send(bus, router, VR__MSG_TYPE__MSG_LINK_PROBE_REPLY,
                    &pr.base) == -1);
    bus_msg_clear(&r1);
    bus_msg_clear(&r2);
    zsock_destroy(&c1);
    zsock_destroy(&c2);
    zsock_destroy(&router);
    bus_destroy(&cbus);
    bus_destroy(&bus);
}

int
main(void)
{
    log_init("test_bus");
    test_envelope_roundtrip();
    test_rejections();
    test_reqrep();
    test_router_deferred();
    test_timeout();
    test_pubsub();
    test_limits();
    test_curve();
    printf("test_bus: ok\n");
    return 0;
}
