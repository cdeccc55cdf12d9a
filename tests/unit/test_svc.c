/* SPDX-License-Identifier: MIT */
/* common/svc: command line and config errors give exit code 2; a running
 * service answers status with its own counters, survives garbage, refuses
 * unknown types, runs its timers and handlers, and stops on SIGTERM. */
#undef NDEBUG
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "svc.h"
#include "vtime.h"

struct tcfg {
    struct svc_common_cfg common;
    unsigned widgets;
};

static const struct cfg_key tkeys[] = {
    SVC_CFG_COMMON_KEYS(struct tcfg, "tcp://127.0.0.1:*"),
    CFG_KEY_U32("widgets", struct tcfg, widgets, 0, 100, 3, "how many"),
    CFG_KEYS_END,
};

static const struct svc_def tdef = {
    .name = "test-svc",
    .role = "tester",
    .summary = "A service for the unit test.",
    .keys = tkeys,
    .common_offset = offsetof(struct tcfg, common),
};

/* The same service with a ROUTER control socket: answers later. */
static const struct svc_def tdef_later = {
    .name = "test-svc-later",
    .role = "tester",
    .summary = "A service that answers later.",
    .keys = tkeys,
    .common_offset = offsetof(struct tcfg, common),
    .deferred_replies = true,
};

static int s_ticks;
static int s_run_rc = -1;

static int
s_on_request(svc_t *svc, bus_msg_t *req, void *arg)
{
    if (req->type != VR__MSG_TYPE__MSG_LINK_LIST_REQUEST) {
        return -1;
    }
    struct svc_later later;
    assert(svc_defer(svc, &later) == -1);       /* a REP answers now */
    Vr__LinkList list = VR__LINK_LIST__INIT;
    bus_send(svc_bus(svc), svc_control(svc), VR__MSG_TYPE__MSG_LINK_LIST,
             &list.base);
    return 0;
}

static void
s_on_status(svc_t *svc, Vr__StatusReply *reply, void *arg)
{
    struct tcfg *cfg = arg;
    bus_status_add_counter(reply, "widgets", cfg->widgets, true);
}

static int
s_on_tick(svc_t *svc, void *arg)
{
    s_ticks++;
    return 0;
}

/* A 10 ms timer whose first tick blocks 400 ms: the ticks in the 100 ms
 * after it are counted (zloop made up for the missed ones at once). */
static atomic_int s_slow_after = 0, s_slow_done = 0;
static uint64_t s_slow_end_us;

static int
s_on_slow_tick(svc_t *svc, void *arg)
{
    if (!s_slow_end_us) {
        usleep(400000);
        s_slow_end_us = vtime_mono_us();
    } else if (vtime_mono_us() - s_slow_end_us < 100000) {
        atomic_fetch_add(&s_slow_after, 1);
    } else {
        atomic_store(&s_slow_done, 1);
    }
    return 0;
}

/* LinkProbe is kept for later; LinkListRequest is answered, and then
 * the kept probe. */
static struct svc_later s_later;
static _Atomic bool s_waiting;

static int
s_on_request_later(svc_t *svc, bus_msg_t *req, void *arg)
{
    if (req->type == VR__MSG_TYPE__MSG_LINK_PROBE) {
        assert(!s_waiting && svc_defer(svc, &s_later) == 0);
        s_waiting = true;
        return 0;
    }
    if (req->type != VR__MSG_TYPE__MSG_LINK_LIST_REQUEST) {
        return -1;
    }
    Vr__LinkList list = VR__LINK_LIST__INIT;
    assert(bus_send(svc_bus(svc), svc_control(svc),
                    VR__MSG_TYPE__MSG_LINK_LIST, &list.base) == 0);
    if (s_waiting) {
        Vr__LinkProbeReply pr = VR__LINK_PROBE_REPLY__INIT;
        pr.rtt_us = 42;
        svc_resume(svc, &s_later);
        assert(bus_send(svc_bus(svc), svc_control(svc),
                        VR__MSG_TYPE__MSG_LINK_PROBE_REPLY, &pr.base) == 0);
        s_waiting = false;
    }
    return 0;
}

static const char *s_later_ep;
static _Atomic int s_probe_rc = -1;
static uint64_t s_probe_rtt;

static void *
s_prober(void *arg)
{
    bus_t *bus = bus_new("prober", NULL);
    bus_client_t *c = bus_client_new(bus, s_later_ep, "tester", 5000, 1);
    Vr__LinkProbe probe = VR__LINK_PROBE__INIT;
    probe.name = "x";
    bus_msg_t reply;
    s_probe_rc = bus_client_call(c, VR__MSG_TYPE__MSG_LINK_PROBE,
                                 &probe.base,
                                 VR__MSG_TYPE__MSG_LINK_PROBE_REPLY, &reply);
    if (s_probe_rc == 0) {
        s_probe_rtt = ((Vr__LinkProbeReply *) reply.body)->rtt_us;
        bus_msg_clear(&reply);
    }
    bus_client_destroy(&c);
    bus_destroy(&bus);
    return NULL;
}

/* The fake bus: what was sent, and calls answered at once. */
static int s_fake_sent[8];
static int s_fake_n;

static int
s_fake_send(void *arg, zsock_t *sock, int type, const ProtobufCMessage *body)
{
    assert(sock == svc_control(arg) && s_fake_n < 8);
    s_fake_sent[s_fake_n++] = type;
    return 0;
}

static int
s_fake_call(void *arg, const char *endpoint, int type,
            const ProtobufCMessage *req, int expect, bus_msg_t *reply)
{
    assert(!strcmp(endpoint, "inproc://nobody"));
    reply->error = VR__ERROR_CODE__ERR_UNAVAILABLE;
    return -1;
}

/* A handler driven without a peer: svc_dispatch() on a fake bus, timers
 * fired by hand on a fake clock. */
static void
test_dispatch(char **argv)
{
    struct tcfg cfg;
    int rc;
    s_ticks = 0;
    svc_t *svc = svc_new(&tdef, 4, argv, &cfg, &rc);
    assert(svc);
    svc_on_request(svc, s_on_request, s_on_status, &cfg);
    assert(svc_add_timer(svc, 3600 * 1000, s_on_tick, NULL) == 0);
    const struct bus_fake fake = { .send = s_fake_send,
                                   .call = s_fake_call, .arg = svc };
    bus_set_fake(svc_bus(svc), &fake);

    Vr__StatusRequest sreq = VR__STATUS_REQUEST__INIT;
    bus_msg_t req = { .type = VR__MSG_TYPE__MSG_STATUS_REQUEST,
                      .body = &sreq.base };
    svc_dispatch(svc, &req);
    Vr__LinkListRequest lreq = VR__LINK_LIST_REQUEST__INIT;
    req = (bus_msg_t) { .type = VR__MSG_TYPE__MSG_LINK_LIST_REQUEST,
                        .body = &lreq.base };
    svc_dispatch(svc, &req);
    Vr__PlanQuery pq = VR__PLAN_QUERY__INIT;
    req = (bus_msg_t) { .type = VR__MSG_TYPE__MSG_PLAN_QUERY,
                        .body = &pq.base };
    svc_dispatch(svc, &req);
    assert(s_fake_n == 3);
    assert(s_fake_sent[0] == VR__MSG_TYPE__MSG_STATUS_REPLY);
    assert(s_fake_sent[1] == VR__MSG_TYPE__MSG_LINK_LIST);
    assert(s_fake_sent[2] == VR__MSG_TYPE__MSG_ERROR);    /* unknown */
    assert(bus_counters(svc_bus(svc))->tx == 3);

    /* A call answers at once, from the fake. */
    bus_client_t *c = bus_client_new(svc_bus(svc), "inproc://nobody",
                                     "tester", 60000, 3);
    bus_msg_t reply;
    uint64_t t0 = vtime_mono_us();
    assert(bus_client_call(c, VR__MSG_TYPE__MSG_STATUS_REQUEST, &sreq.base,
                           VR__MSG_TYPE__MSG_STATUS_REPLY, &reply) == -1);
    assert(reply.error == VR__ERROR_CODE__ERR_UNAVAILABLE);
    assert(vtime_mono_us() - t0 < 1000000);
    bus_client_destroy(&c);

    /* The hour-long timer fires when the harness says. */
    assert(s_ticks == 0);
    svc_fire_timers(svc);
    svc_fire_timers(svc);
    assert(s_ticks == 2);
    bus_set_fake(svc_bus(svc), NULL);
    svc_destroy(&svc);
}

static void *
s_runner(void *arg)
{
    s_run_rc = svc_run(arg);
    return NULL;
}

static char *
s_write(const char *dir, const char *name, const char *text)
{
    char *path = zsys_sprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static uint64_t
s_counter(const Vr__StatusReply *r, const char *name)
{
    for (size_t i = 0; i < r->n_counters; i++) {
        if (!strcmp(r->counters[i]->name, name)) {
            return r->counters[i]->value;
        }
    }
    assert(!"counter missing");
    return 0;
}

static const char *
s_info(const Vr__StatusReply *r, const char *key)
{
    for (size_t i = 0; i < r->n_info; i++) {
        if (!strcmp(r->info[i]->key, key)) {
            return r->info[i]->value;
        }
    }
    assert(!"info missing");
    return NULL;
}

/* GETs 'path' from 127.0.0.1:'port' and returns the whole answer. */
static char *
s_http_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert(fd >= 0);
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t) port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert(connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    assert(send(fd, req, (size_t) n, MSG_NOSIGNAL) == n);
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    ssize_t got;
    while ((got = recv(fd, buf + len, cap - len - 1, 0)) > 0) {
        len += (size_t) got;
    }
    assert(got == 0);
    buf[len] = '\0';
    close(fd);
    return buf;
}

static svc_t *
s_start(int argc, char **argv, struct tcfg *cfg, int *rc)
{
    memset(cfg, 0x5a, sizeof *cfg);     /* must not be read on failure */
    return svc_new(&tdef, argc, argv, cfg, rc);
}

int
main(void)
{
    char dir[] = "/tmp/test_svc.XXXXXX";
    assert(mkdtemp(dir));
    struct tcfg cfg;
    int rc;

    char *a_help[] = { "t", "--help", NULL };
    assert(s_start(2, a_help, &cfg, &rc) == NULL && rc == SVC_EXIT_OK);
    char *a_bogus[] = { "t", "--bogus", NULL };
    assert(s_start(2, a_bogus, &cfg, &rc) == NULL && rc == SVC_EXIT_CONFIG);
    char *a_extra[] = { "t", "stray", NULL };
    assert(s_start(2, a_extra, &cfg, &rc) == NULL && rc == SVC_EXIT_CONFIG);
    char *a_missing[] = { "t", "-c", "/nonexistent/x.yaml", NULL };
    assert(s_start(3, a_missing, &cfg, &rc) == NULL
           && rc == SVC_EXIT_CONFIG);
    char *bad = s_write(dir, "bad.yaml", "widgets: 1000\n");
    char *a_bad[] = { "t", "-c", bad, NULL };
    assert(s_start(3, a_bad, &cfg, &rc) == NULL && rc == SVC_EXIT_CONFIG);
    char *badlvl = s_write(dir, "badlvl.yaml", "log:\n  level: loud\n");
    char *a_badlvl[] = { "t", "-c", badlvl, NULL };
    assert(s_start(3, a_badlvl, &cfg, &rc) == NULL
           && rc == SVC_EXIT_CONFIG);
    char *badep = s_write(dir, "badep.yaml",
                          "bus:\n  control: 'nonsense://x'\n");
    char *a_badep[] = { "t", "-c", badep, NULL };
    assert(s_start(3, a_badep, &cfg, &rc) == NULL && rc == SVC_EXIT_FAIL);

    char *badm = s_write(dir, "badm.yaml",
                         "metrics:\n  listen: '127.0.0.1'\n");
    char *a_badm[] = { "t", "-c", badm, NULL };
    assert(s_start(3, a_badm, &cfg, &rc) == NULL && rc == SVC_EXIT_CONFIG);

    /* CURVE fails closed: a certificate with no allowed list, or with the
     * old '*', is a config error, before any key is read. */
    char *nolist = s_write(dir, "nolist.yaml",
                           "curve:\n  cert: /nonexistent/svc.key\n");
    char *a_nolist[] = { "t", "-c", nolist, NULL };
    assert(s_start(3, a_nolist, &cfg, &rc) == NULL
           && rc == SVC_EXIT_CONFIG);
    char *star = s_write(dir, "star.yaml",
                         "curve:\n  cert: /nonexistent/svc.key\n"
                         "  allowed: '*'\n");
    char *a_star[] = { "t", "-c", star, NULL };
    assert(s_start(3, a_star, &cfg, &rc) == NULL && rc == SVC_EXIT_CONFIG);

    char *good = s_write(dir, "good.yaml",
                         "id: unit-1\nwidgets: 7\nlog:\n  level: warn\n"
                         "metrics:\n  listen: 127.0.0.1:0\n");
    char *a_good[] = { "t", "-c", good, "-v", NULL };
    svc_t *svc = s_start(4, a_good, &cfg, &rc);
    assert(svc && rc == SVC_EXIT_OK);
    assert(cfg.widgets == 7);
    assert(!strcmp(svc_id(svc), "unit-1"));
    assert(!strcmp(svc_config_path(svc), good));
    svc_on_request(svc, s_on_request, s_on_status, &cfg);
    assert(svc_add_timer(svc, 10, s_on_tick, NULL) == 0);
    assert(svc_add_timer(svc, 10, s_on_slow_tick, NULL) == 0);
    svc_set_state(svc, "testing");
    char *endpoint = strdup(zsock_endpoint(svc_control(svc)));

    pthread_t th;
    assert(pthread_create(&th, NULL, s_runner, svc) == 0);

    bus_t *bus = bus_new("client", NULL);
    bus_client_t *client = bus_client_new(bus, endpoint, "tester", 2000, 1);
    Vr__StatusRequest sreq = VR__STATUS_REQUEST__INIT;
    bus_msg_t reply;
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &sreq.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == 0);
    Vr__StatusReply *st = (Vr__StatusReply *) reply.body;
    assert(!strcmp(st->service, "test-svc"));
    assert(!strcmp(st->id, "unit-1"));
    assert(!strcmp(st->state, "testing"));
    assert(s_counter(st, "widgets") == 7);
    assert(s_counter(st, "control_requests") == 1);
    assert(s_counter(st, "control_rejected") == 0);
    assert(s_counter(st, "metrics_requests") == 0);
    /* CURVE off: one local identity, which every table admits. */
    assert(!strcmp(s_info(st, "authz"), "off: one local identity"));
    assert(s_counter(st, "bus_rx_forbidden") == 0);

    /* The same figures over HTTP, from the service's own thread. */
    const char *maddr = s_info(st, "metrics");
    assert(!strncmp(maddr, "127.0.0.1:", 10));
    char *text = s_http_get(atoi(maddr + 10), "/metrics");
    assert(strstr(text, " 200 "));
    assert(strstr(text, "# TYPE vreserve_widgets gauge\n"
                        "vreserve_widgets{service=\"test-svc\",id=\"unit-1\"}"
                        " 7\n"));
    assert(strstr(text, "vreserve_control_requests{service=\"test-svc\","
                        "id=\"unit-1\"} 1\n"));
    assert(strstr(text, "state=\"testing\""));
    free(text);
    text = s_http_get(atoi(maddr + 10), "/other");
    assert(strstr(text, " 404 "));
    free(text);
    bus_msg_clear(&reply);

    /* Garbage gets an Error and is counted; the service goes on. */
    zsock_t *raw = zsock_new_req(endpoint);
    zstr_send(raw, "garbage");
    assert(bus_recv(bus, raw, &reply) == 0);
    assert(reply.type == VR__MSG_TYPE__MSG_ERROR);
    bus_msg_clear(&reply);
    zsock_destroy(&raw);

    /* A type the service does not take. */
    Vr__TopologyQuery tq = VR__TOPOLOGY_QUERY__INIT;
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_TOPOLOGY_QUERY,
                           &tq.base, VR__MSG_TYPE__MSG_TOPOLOGY,
                           &reply) == -1);
    assert(reply.error == VR__ERROR_CODE__ERR_UNKNOWN_TYPE);
    assert(strstr(reply.error_text, "test-svc does not take TOPOLOGY_QUERY"));
    bus_msg_clear(&reply);

    /* One it does. */
    Vr__LinkListRequest lr = VR__LINK_LIST_REQUEST__INIT;
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_LINK_LIST_REQUEST,
                           &lr.base, VR__MSG_TYPE__MSG_LINK_LIST,
                           &reply) == 0);
    bus_msg_clear(&reply);

    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &sreq.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == 0);
    st = (Vr__StatusReply *) reply.body;
    assert(s_counter(st, "control_rejected") == 1);
    assert(s_counter(st, "control_requests") == 4);
    assert(s_counter(st, "bus_rx_garbage") == 1);
    bus_msg_clear(&reply);

    usleep(100000);
    /* The blocked timer's missed ticks were dropped, not run at once: 10
     * in 100 ms, not 50. */
    for (int i = 0; i < 300 && !atomic_load(&s_slow_done); i++) {
        usleep(10000);
    }
    assert(atomic_load(&s_slow_done));
    assert(atomic_load(&s_slow_after) <= 14);
    assert(kill(getpid(), SIGTERM) == 0);
    assert(pthread_join(th, NULL) == 0);
    assert(s_run_rc == SVC_EXIT_OK);
    assert(s_ticks >= 3);
    svc_destroy(&svc);
    assert(svc == NULL);

    bus_client_destroy(&client);
    bus_destroy(&bus);
    free(endpoint);

    /* A deferred reply: a probe waits while status and another request
     * are answered, then gets its answer. */
    svc = svc_new(&tdef_later, 4, a_good, &cfg, &rc);
    assert(svc && rc == SVC_EXIT_OK);
    svc_on_request(svc, s_on_request_later, s_on_status, &cfg);
    endpoint = strdup(zsock_endpoint(svc_control(svc)));
    s_later_ep = endpoint;
    assert(pthread_create(&th, NULL, s_runner, svc) == 0);
    pthread_t prober;
    assert(pthread_create(&prober, NULL, s_prober, NULL) == 0);
    bus = bus_new("client", NULL);
    client = bus_client_new(bus, endpoint, "tester", 2000, 1);
    for (int i = 0; i < 100 && !s_waiting; i++) {
        usleep(10000);
    }
    assert(s_waiting);
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                           &sreq.base, VR__MSG_TYPE__MSG_STATUS_REPLY,
                           &reply) == 0);
    bus_msg_clear(&reply);
    assert(s_probe_rc == -1);               /* still waiting */
    Vr__LinkListRequest lreq = VR__LINK_LIST_REQUEST__INIT;
    assert(bus_client_call(client, VR__MSG_TYPE__MSG_LINK_LIST_REQUEST,
                           &lreq.base, VR__MSG_TYPE__MSG_LINK_LIST,
                           &reply) == 0);
    bus_msg_clear(&reply);
    assert(pthread_join(prober, NULL) == 0);
    assert(s_probe_rc == 0 && s_probe_rtt == 42);
    assert(kill(getpid(), SIGTERM) == 0);
    assert(pthread_join(th, NULL) == 0);
    svc_destroy(&svc);
    bus_client_destroy(&client);
    bus_destroy(&bus);
    free(endpoint);

    test_dispatch(a_good);
    char *cmd = zsys_sprintf("rm -rf '%s'", dir);
    assert(system(cmd) == 0);
    zstr_free(&cmd);
    zstr_free(&bad);
    zstr_free(&badlvl);
    zstr_free(&badep);
    zstr_free(&badm);
    zstr_free(&nolist);
    zstr_free(&star);
    zstr_free(&good);
    printf("test_svc: ok\n");
    return 0;
}
