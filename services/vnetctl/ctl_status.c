/* SPDX-License-Identifier: MIT */
/* `vnetctl status`: sends StatusRequest to every configured service at
 * once and waits up to the timeout for all replies, so a dead service
 * costs one timeout, not one per service. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnetctl.h"
#include "vtime.h"

struct target {
    const char *role;           /* "broker", ... */
    const char *endpoint;       /* borrowed from the config */
    zsock_t *sock;              /* REQ */
    bus_msg_t reply;            /* filled when it answered */
    bool answered;              /* a well-formed StatusReply came */
    bool replied;               /* something came back, even garbage */
    char error[256];            /* why not */
};

static void
s_add(struct target *t, size_t *n, const char *role, const char *endpoint)
{
    if (endpoint && *endpoint) {
        t[*n] = (struct target) { .role = role, .endpoint = endpoint };
        snprintf(t[*n].error, sizeof t[*n].error, "no reply in time");
        (*n)++;
    }
}

static void
s_collect(struct ctl *ctl, struct target *t, size_t n)
{
    Vr__StatusRequest req = VR__STATUS_REQUEST__INIT;
    zpoller_t *poller = zpoller_new(NULL);
    size_t pending = 0;

    for (size_t i = 0; i < n; i++) {
        t[i].sock = bus_connect(ctl->bus, ZMQ_REQ, t[i].endpoint, t[i].role);
        if (!t[i].sock) {
            snprintf(t[i].error, sizeof t[i].error, "cannot connect");
            continue;
        }
        if (bus_send(ctl->bus, t[i].sock, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                     &req.base) != 0) {
            snprintf(t[i].error, sizeof t[i].error, "cannot send");
            continue;
        }
        zpoller_add(poller, t[i].sock);
        pending++;
    }
    uint64_t deadline = vtime_mono_ms() + ctl->cfg.timeout_ms;
    while (pending > 0) {
        uint64_t now = vtime_mono_ms();
        if (now >= deadline) {
            break;
        }
        zsock_t *which = zpoller_wait(poller, (int) (deadline - now));
        if (!which) {
            if (zpoller_terminated(poller)) {
                break;
            }
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (t[i].sock != which) {
                continue;
            }
            zpoller_remove(poller, which);
            pending--;
            t[i].replied = true;
            if (bus_recv(ctl->bus, which, &t[i].reply) != 0) {
                snprintf(t[i].error, sizeof t[i].error, "bad reply: %s",
                         t[i].reply.error_text);
            } else if (t[i].reply.type != VR__MSG_TYPE__MSG_STATUS_REPLY) {
                snprintf(t[i].error, sizeof t[i].error,
                         "answered with %s", msgtype_name(t[i].reply.type));
            } else {
                t[i].answered = true;
            }
        }
    }
    zpoller_destroy(&poller);
}

static json_object *
s_to_json(const struct target *t)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "role", json_object_new_string(t->role));
    json_object_object_add(o, "endpoint",
                           json_object_new_string(t->endpoint));
    json_object_object_add(o, "up", json_object_new_boolean(t->answered));
    if (!t->answered) {
        json_object_object_add(o, "error", json_object_new_string(t->error));
        return o;
    }
    const Vr__StatusReply *r = (const Vr__StatusReply *) t->reply.body;
    json_object_object_add(o, "service", json_object_new_string(r->service));
    json_object_object_add(o, "id", json_object_new_string(r->id));
    json_object_object_add(o, "version", json_object_new_string(r->version));
    json_object_object_add(o, "state", json_object_new_string(r->state));
    json_object_object_add(o, "uptime_ms",
                           json_object_new_int64((int64_t) r->uptime_ms));
    json_object *counters = json_object_new_object();
    for (size_t i = 0; i < r->n_counters; i++) {
        json_object_object_add(counters, r->counters[i]->name,
                               json_object_new_uint64(r->counters[i]->value));
    }
    json_object_object_add(o, "counters", counters);
    json_object *info = json_object_new_object();
    for (size_t i = 0; i < r->n_info; i++) {
        json_object_object_add(info, r->info[i]->key,
                               json_object_new_string(r->info[i]->value));
    }
    json_object_object_add(o, "info", info);
    return o;
}

static void
s_print_text(const struct ctl *ctl, const struct target *t, size_t n,
             size_t n_up)
{
    printf("%-17s %-10s %-26s %-5s %9s  %s\n", "SERVICE", "ID", "ENDPOINT",
           "UP", "UPTIME", "STATE");
    for (size_t i = 0; i < n; i++) {
        if (!t[i].answered) {
            printf("%-17s %-10s %-26s %-5s %9s  %s\n", t[i].role, "-",
                   t[i].endpoint, "DOWN", "-", t[i].error);
            continue;
        }
        const Vr__StatusReply *r = (const Vr__StatusReply *) t[i].reply.body;
        printf("%-17s %-10s %-26s %-5s %8.1fs  %s\n", r->service, r->id,
               t[i].endpoint, "up", (double) r->uptime_ms / 1000.0,
               r->state);
        for (size_t k = 0; ctl->verbose && k < r->n_counters; k++) {
            printf("    %-30s %llu\n", r->counters[k]->name,
                   (unsigned long long) r->counters[k]->value);
        }
    }
    printf("%zu of %zu up\n", n_up, n);
}

int
ctl_status(struct ctl *ctl, int argc, char **argv)
{
    /* Optional arguments name the roles to ask; default: all. */
    static const char *const roles[] = { "agent", "aggregator", "planner",
                                         "broker", "adapter" };
    bool want[5] = { argc <= 1, argc <= 1, argc <= 1, argc <= 1,
                     argc <= 1 };
    for (int i = 1; i < argc; i++) {
        size_t k = 0;
        while (k < 5 && strcmp(argv[i], roles[k])) {
            k++;
        }
        if (k == 5) {
            fprintf(stderr, "vnetctl status: unknown role '%s' (agent, "
                            "aggregator, planner, broker, adapter)\n",
                    argv[i]);
            return CTL_EXIT_USAGE;
        }
        want[k] = true;
    }
    size_t cap = 5 + ctl->cfg.agents.n;
    struct target *t = calloc(cap, sizeof *t);
    size_t n = 0;
    if (!t) {
        return CTL_EXIT_FAIL;
    }
    if (want[0]) {
        s_add(t, &n, "agent", ctl->cfg.agent);
        for (size_t i = 0; i < ctl->cfg.agents.n; i++) {
            s_add(t, &n, "agent", ctl->cfg.agents.v[i]);
        }
    }
    const char *eps[] = { NULL, ctl->cfg.aggregator, ctl->cfg.planner,
                          ctl->cfg.broker, ctl->cfg.adapter };
    for (int k = 1; k < 5; k++) {
        if (want[k]) {
            s_add(t, &n, roles[k], eps[k]);
        }
    }
    s_collect(ctl, t, n);

    size_t n_up = 0;
    for (size_t i = 0; i < n; i++) {
        n_up += t[i].answered;
    }
    if (ctl->json) {
        json_object *root = json_object_new_object();
        json_object *list = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
            json_object_array_add(list, s_to_json(&t[i]));
        }
        json_object_object_add(root, "services", list);
        json_object_object_add(root, "up", json_object_new_int((int) n_up));
        json_object_object_add(root, "total", json_object_new_int((int) n));
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
        json_object_put(root);
    } else {
        s_print_text(ctl, t, n, n_up);
    }
    /* Silence is the service's absence (3); a reply that is not a status
     * is a failure of a service that is there (1). */
    int rc = CTL_EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        if (!t[i].replied) {
            rc = CTL_EXIT_UNREACHABLE;
        } else if (!t[i].answered && rc == CTL_EXIT_OK) {
            rc = CTL_EXIT_FAIL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        zsock_destroy(&t[i].sock);
        bus_msg_clear(&t[i].reply);
    }
    free(t);
    return rc;
}
