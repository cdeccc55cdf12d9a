/* SPDX-License-Identifier: MIT */
/* The shared service runtime: argv and config, then a zloop with the
 * control socket, the signalfd and whatever the service adds.  StatusRequest
 * is answered here for every service, so `vnetctl status` sees the same
 * fields everywhere. */
#include "svc.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "vtime.h"

LOG_MODULE("svc");

#ifndef VR_VERSION
#define VR_VERSION "0.1.0"
#endif

/* A handler registered with zloop, remembered so it can be freed. */
struct svc_hook {
    svc_t *svc;                 /* back pointer */
    svc_reader_fn *reader;      /* set for readers */
    svc_timer_fn *timer;        /* set for timers */
    svc_fd_fn *fd_fn;           /* set for file descriptors */
    void *arg;                  /* the service's argument */
    uint64_t period_us;         /* timers: the period */
    uint64_t last_us;           /* timers: when it last ran (monotonic) */
};

struct svc {
    const struct svc_def *def;  /* static description */
    void *cfg;                  /* caller's config struct, loaded */
    struct svc_common_cfg *common; /* inside 'cfg' */
    char *config_path;          /* -c FILE, or NULL */
    char *id;                   /* instance id */
    char *state;                /* shown by status */
    uint64_t started_us;        /* wall clock */
    uint64_t started_mono_us;   /* for uptime */
    bus_t *bus;
    zsock_t *control;           /* REP, or ROUTER (deferred_replies) */
    struct bus_route route;     /* ROUTER: who sent the current request */
    zloop_t *loop;
    metrics_t *metrics;         /* /metrics server, NULL when off */
    int metrics_timer;          /* zloop timer id for it, or -1 */
    int sigfd;                  /* SIGINT/SIGTERM, or -1 */
    zlist_t *hooks;             /* struct svc_hook *, owned */
    svc_request_fn *on_request;
    svc_status_fn *on_status;
    void *handler_arg;
    uint64_t n_requests;        /* requests answered */
    uint64_t n_rejected;        /* requests that were malformed or
                                 * forbidden */
    bool authz_set;             /* svc_set_authz() was called */
    bool signalled;             /* stopped by SIGINT/SIGTERM */
};

static void
s_usage(const struct svc_def *def, FILE *out)
{
    fprintf(out,
            "usage: %s [-c FILE] [-v|-q]... [--help-config]\n"
            "%s\n\n"
            "  -c, --config FILE  YAML config (default: built-in defaults)\n"
            "  -v, --verbose      more log output (repeat for debug)\n"
            "  -q, --quiet        less log output\n"
            "      --help-config  print every config key with its default\n"
            "      --check        load and check the config, then exit\n"
            "      --version      print the version\n"
            "  -h, --help         this text\n",
            def->name, def->summary);
}

/* Parses argv; returns -1 to go on, or an exit code to stop with. */
static int
s_parse_args(svc_t *self, int argc, char **argv, int *verbosity,
             bool *check)
{
    enum { OPT_HELP_CONFIG = 256, OPT_VERSION, OPT_CHECK };
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "help-config", no_argument, NULL, OPT_HELP_CONFIG },
        { "version", no_argument, NULL, OPT_VERSION },
        { "check", no_argument, NULL, OPT_CHECK },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:vqh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            free(self->config_path);
            self->config_path = strdup(optarg);
            break;
        case 'v':
            (*verbosity)++;
            break;
        case 'q':
            (*verbosity)--;
            break;
        case 'h':
            s_usage(self->def, stdout);
            return SVC_EXIT_OK;
        case OPT_HELP_CONFIG:
            cfg_print_defaults(self->def->keys, stdout);
            return SVC_EXIT_OK;
        case OPT_VERSION:
            printf("%s %s\n", self->def->name, VR_VERSION);
            return SVC_EXIT_OK;
        case OPT_CHECK:
            *check = true;
            break;
        default:
            s_usage(self->def, stderr);
            return SVC_EXIT_CONFIG;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", self->def->name,
                argv[optind]);
        return SVC_EXIT_CONFIG;
    }
    return -1;
}

/* Blocks SIGINT and SIGTERM in this thread and every thread started after
 * (libzmq's I/O threads among them) and returns a signalfd for them. */
static int
s_signals_open(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static int
s_on_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    svc_t *self = arg;
    struct signalfd_siginfo si;
    self->signalled = true;
    if (read(item->fd, &si, sizeof si) == (ssize_t) sizeof si) {
        VLOG_INFO("%s received, stopping", strsignal((int) si.ssi_signo));
    }
    return -1;
}

/* Fills 'reply' (initialised) with everything status shows.  Both the
 * control socket and the /metrics endpoint use it, so their figures are
 * the same by construction.  The string fields are borrowed from 'self';
 * free the rest with bus_status_reply_free(). */
static void
s_status_build(svc_t *self, Vr__StatusReply *reply)
{
    reply->service = (char *) self->def->name;
    reply->id = self->id;
    reply->version = VR_VERSION;
    reply->started_us = self->started_us;
    reply->uptime_ms = (vtime_mono_us() - self->started_mono_us) / 1000;
    reply->state = self->state;
    bus_status_add_info(reply, "role", self->def->role);
    bus_status_add_info(reply, "control", self->common->control);
    bus_status_add_info(reply, "config",
                        self->config_path ? self->config_path : "(defaults)");
    bus_status_add_info(reply, "curve",
                        bus_curve_on(self->bus) ? "on" : "off");
    bus_status_add_info(reply, "authz",
                        !bus_curve_on(self->bus) ? "off: one local identity"
                        : self->authz_set        ? "table"
                                                 : "status only");
    bus_status_add_info(reply, "metrics",
                        self->metrics ? metrics_address(self->metrics)
                                      : "off");
    bus_status_add_counter(reply, "control_requests", self->n_requests,
                           false);
    bus_status_add_counter(reply, "control_rejected", self->n_rejected,
                           false);
    if (self->metrics) {
        metrics_to_status(self->metrics, reply);
    }
    if (self->on_status) {
        self->on_status(self, reply, self->handler_arg);
    }
    bus_counters_to_status(self->bus, reply);
}

static void
s_status_reply(svc_t *self, const bus_msg_t *req)
{
    Vr__StatusReply reply = VR__STATUS_REPLY__INIT;
    s_status_build(self, &reply);
    bus_send(self->bus, self->control, VR__MSG_TYPE__MSG_STATUS_REPLY,
             &reply.base);
    bus_status_reply_free(&reply);
}

static void
s_metrics_status(Vr__StatusReply *reply, void *arg)
{
    s_status_build(arg, reply);
}

static int s_on_metrics_timer(zloop_t *loop, int timer_id, void *arg);

/* libmicrohttpd must run again within the time it asks for even if its
 * fd stays quiet (a connection timing out, data it could not send yet):
 * one one-shot timer, replaced after every run. */
static void
s_metrics_rearm(svc_t *self)
{
    if (self->metrics_timer >= 0) {
        zloop_timer_end(self->loop, self->metrics_timer);
        self->metrics_timer = -1;
    }
    long ms = metrics_timeout_ms(self->metrics);
    if (ms >= 0) {
        /* At least 1 ms, so that a library that keeps asking for 0 costs
         * a wake-up per millisecond rather than a spinning loop. */
        self->metrics_timer = zloop_timer(self->loop, ms > 0 ? (size_t) ms
                                                             : 1,
                                          1, s_on_metrics_timer, self);
    }
}

static int
s_on_metrics_timer(zloop_t *loop, int timer_id, void *arg)
{
    svc_t *self = arg;
    self->metrics_timer = -1;   /* one-shot: zloop has dropped it */
    metrics_run(self->metrics);
    s_metrics_rearm(self);
    return 0;
}

static int
s_on_metrics(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    svc_t *self = arg;
    metrics_run(self->metrics);
    s_metrics_rearm(self);
    return 0;
}

static int
s_on_control(zloop_t *loop, zsock_t *sock, void *arg)
{
    svc_t *self = arg;
    bus_msg_t req;
    int rc = bus_recv(self->bus, sock, &req);
    self->route = req.route;
    bus_set_route(self->bus, &self->route);
    if (rc != 0) {
        if (req.error == VR__ERROR_CODE__ERR_INTERNAL) {
            return 0;           /* interrupted: nothing was received */
        }
        /* A REP socket must answer every request, even garbage, or it
         * would take no further one. */
        self->n_rejected++;
        bus_send_error(self->bus, sock, req.error, req.type, "%s",
                       req.error_text);
        return 0;
    }
    svc_dispatch(self, &req);
    bus_msg_clear(&req);
    return 0;
}

void
svc_dispatch(svc_t *self, bus_msg_t *req)
{
    /* Where a deferred reply goes (svc_defer): the control reader set it
     * already; a harness's request brings its own. */
    self->route = req->route;
    bus_set_route(self->bus, &self->route);
    self->n_requests++;
    if (req->type == VR__MSG_TYPE__MSG_STATUS_REQUEST) {
        s_status_reply(self, req);
    } else if (!self->on_request
               || self->on_request(self, req, self->handler_arg) != 0) {
        bus_send_error(self->bus, self->control,
                       VR__ERROR_CODE__ERR_UNKNOWN_TYPE, req->type,
                       "%s does not take %s", self->def->name,
                       msgtype_name(req->type));
    }
}

/* Admits StatusRequest alone: the table of a service that declared
 * none. */
static const struct authz_rule s_status_only[] = {
    { VR__MSG_TYPE__MSG_STATUS_REQUEST, AUTHZ_ANY, { NULL } },
};

/* CURVE fails closed: a service with a certificate must say whom it
 * admits. */
static bool
s_curve_check(const struct svc_common_cfg *c, char *err, size_t err_size)
{
    const struct bus_curve_cfg *k = &c->curve;
    if (!k->cert || !*k->cert) {
        return true;
    }
    if (k->allowed && !strcmp(k->allowed, "*")) {
        snprintf(err, err_size, "curve.allowed: '*' does not admit any key "
                 "any more; set curve.allow_any: true for that");
        return false;
    }
    if ((!k->allowed || !*k->allowed) && !k->allow_any) {
        snprintf(err, err_size, "curve.cert is set but curve.allowed is "
                 "not: no client could be authenticated; set "
                 "curve.allowed to the directory of the clients' public "
                 "certificates (or curve.allow_any: true to admit any key)");
        return false;
    }
    return true;
}

svc_t *
svc_new(const struct svc_def *def, int argc, char **argv, void *cfg,
        int *exit_code)
{
    char err[512];
    int verbosity = 0;
    bool check = false;
    svc_t *self = calloc(1, sizeof *self);
    if (!self) {
        *exit_code = SVC_EXIT_FAIL;
        return NULL;
    }
    self->def = def;
    self->cfg = cfg;
    self->common = (struct svc_common_cfg *) ((char *) cfg
                                              + def->common_offset);
    self->started_us = vtime_now_us();
    self->started_mono_us = vtime_mono_us();
    self->metrics_timer = -1;
    /* Before anything starts a thread (czmq's first call starts libzmq's
     * I/O threads), so that no thread takes the signals but the fd. */
    self->sigfd = s_signals_open();
    log_init(def->name);

    int rc = s_parse_args(self, argc, argv, &verbosity, &check);
    if (rc >= 0) {
        *exit_code = rc;
        goto error_nocfg;
    }
    if (cfg_load(def->keys, cfg, self->config_path, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", def->name, err);
        *exit_code = SVC_EXIT_CONFIG;
        goto error_nocfg;
    }
    int level = log_level_from_name(self->common->log_level);
    if (level < 0) {
        fprintf(stderr, "%s: %s: log.level: unknown level '%s'\n",
                def->name, self->config_path ? self->config_path
                                             : "(defaults)",
                self->common->log_level);
        *exit_code = SVC_EXIT_CONFIG;
        goto error;
    }
    log_set_level(level + verbosity);
    const char *mlisten = self->common->metrics_listen;
    if (mlisten && *mlisten
        && !metrics_listen_check(mlisten, err, sizeof err)) {
        fprintf(stderr, "%s: %s: metrics.listen: %s\n", def->name,
                self->config_path ? self->config_path : "(defaults)", err);
        *exit_code = SVC_EXIT_CONFIG;
        goto error;
    }
    if (!s_curve_check(self->common, err, sizeof err)) {
        fprintf(stderr, "%s: %s: %s\n", def->name,
                self->config_path ? self->config_path : "(defaults)", err);
        *exit_code = SVC_EXIT_CONFIG;
        goto error;
    }
    if (def->finish && !def->finish(cfg, err, sizeof err)) {
        fprintf(stderr, "%s: %s: %s\n", def->name,
                self->config_path ? self->config_path : "(defaults)", err);
        *exit_code = SVC_EXIT_CONFIG;
        goto error;
    }
    if (check) {
        printf("%s: config %s is valid\n", def->name,
               self->config_path ? self->config_path : "(defaults)");
        *exit_code = SVC_EXIT_OK;
        goto error;
    }

    *exit_code = SVC_EXIT_FAIL;
    self->id = strdup(self->common->id ? self->common->id : def->role);
    self->state = strdup("running");
    self->hooks = zlist_new();
    if (!self->id || !self->state || !self->hooks || self->sigfd < 0) {
        VLOG_ERR("cannot start: %s", strerror(errno));
        goto error;
    }
    self->bus = bus_new(self->id, &self->common->curve);
    if (!self->bus) {
        goto error;
    }
    /* Until the service declares its table: status only. */
    bus_set_authz(self->bus, s_status_only,
                  sizeof s_status_only / sizeof s_status_only[0]);
    self->control = bus_bind(self->bus,
                             def->deferred_replies ? ZMQ_ROUTER : ZMQ_REP,
                             self->common->control);
    if (!self->control) {
        goto error;
    }
    self->loop = zloop_new();
    if (!self->loop) {
        goto error;
    }
    zmq_pollitem_t sig = { NULL, self->sigfd, ZMQ_POLLIN, 0 };
    if (zloop_poller(self->loop, &sig, s_on_signal, self) != 0
        || zloop_reader(self->loop, self->control, s_on_control, self)
               != 0) {
        goto error;
    }
    if (mlisten && *mlisten) {
        self->metrics = metrics_new(mlisten, s_metrics_status, self);
        if (!self->metrics) {
            goto error;
        }
        zmq_pollitem_t mi = { NULL, metrics_fd(self->metrics), ZMQ_POLLIN,
                              0 };
        if (mi.fd < 0 || zloop_poller(self->loop, &mi, s_on_metrics, self)
                             != 0) {
            goto error;
        }
        s_metrics_rearm(self);
    }
    VLOG_INFO("%s '%s' up: control %s, config %s, curve %s", def->name,
             self->id, self->common->control,
             self->config_path ? self->config_path : "(defaults)",
             bus_curve_on(self->bus) ? "on" : "off");
    *exit_code = SVC_EXIT_OK;
    return self;

error:
    svc_destroy(&self);
    return NULL;

error_nocfg:
    /* Nothing was loaded into 'cfg', so svc_destroy() must not free it. */
    self->cfg = NULL;
    svc_destroy(&self);
    return NULL;
}

void
svc_destroy(svc_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    svc_t *self = *self_p;
    zloop_destroy(&self->loop);
    metrics_destroy(&self->metrics);
    zsock_destroy(&self->control);
    bus_destroy(&self->bus);
    if (self->hooks) {
        struct svc_hook *hook;
        while ((hook = zlist_pop(self->hooks))) {
            free(hook);
        }
        zlist_destroy(&self->hooks);
    }
    if (self->sigfd >= 0) {
        close(self->sigfd);
    }
    if (self->cfg) {
        cfg_free(self->def->keys, self->cfg);
    }
    free(self->config_path);
    free(self->id);
    free(self->state);
    free(self);
    *self_p = NULL;
}

void
svc_on_request(svc_t *self, svc_request_fn *request, svc_status_fn *status,
               void *arg)
{
    self->on_request = request;
    self->on_status = status;
    self->handler_arg = arg;
}

static struct svc_hook *
s_hook_new(svc_t *self, svc_reader_fn *reader, svc_timer_fn *timer,
           void *arg)
{
    struct svc_hook *hook = calloc(1, sizeof *hook);
    if (!hook) {
        return NULL;
    }
    hook->svc = self;
    hook->reader = reader;
    hook->timer = timer;
    hook->arg = arg;
    zlist_append(self->hooks, hook);
    return hook;
}

static int
s_on_reader(zloop_t *loop, zsock_t *sock, void *arg)
{
    struct svc_hook *hook = arg;
    return hook->reader(hook->svc, sock, hook->arg);
}

static int
s_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    struct svc_hook *hook = arg;
    /* zloop makes up for the ticks a blocked handler missed by running
     * them back to back: a service that blocked for seconds would then
     * tick hundreds of times at once, each tick free to block again.  A
     * tick less than half a period after the last is dropped: the late
     * one did the work. */
    uint64_t now = vtime_mono_us();
    if (hook->last_us && now - hook->last_us < hook->period_us / 2) {
        return 0;
    }
    hook->last_us = now;
    return hook->timer(hook->svc, hook->arg);
}

void
svc_set_authz(svc_t *self, const struct authz_rule *rules, size_t n_rules)
{
    bus_set_authz(self->bus, rules, n_rules);
    self->authz_set = true;
}

int
svc_deny(svc_t *self, const bus_msg_t *req, const char *fmt, ...)
{
    char why[200];
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, sizeof why, fmt, args);
    va_end(args);
    return bus_deny(self->bus, self->control, req, "%s", why);
}

int
svc_add_reader(svc_t *self, zsock_t *sock, svc_reader_fn *fn, void *arg)
{
    struct svc_hook *hook = s_hook_new(self, fn, NULL, arg);
    if (!hook || zloop_reader(self->loop, sock, s_on_reader, hook) != 0) {
        return -1;
    }
    /* A handler error must not end the service: we log and go on. */
    zloop_reader_set_tolerant(self->loop, sock);
    return 0;
}

static int
s_on_fd(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    struct svc_hook *hook = arg;
    return hook->fd_fn(hook->svc, item->fd, hook->arg);
}

int
svc_add_fd(svc_t *self, int fd, svc_fd_fn *fn, void *arg)
{
    struct svc_hook *hook = s_hook_new(self, NULL, NULL, arg);
    if (!hook) {
        return -1;
    }
    hook->fd_fn = fn;
    zmq_pollitem_t item = { NULL, fd, ZMQ_POLLIN, 0 };
    return zloop_poller(self->loop, &item, s_on_fd, hook);
}

int
svc_add_timer(svc_t *self, unsigned period_ms, svc_timer_fn *fn, void *arg)
{
    struct svc_hook *hook = s_hook_new(self, NULL, fn, arg);
    if (!hook) {
        return -1;
    }
    hook->period_us = (uint64_t) period_ms * 1000;
    if (zloop_timer(self->loop, period_ms, 0, s_on_timer, hook) < 0) {
        return -1;
    }
    return 0;
}

void
svc_fire_timers(svc_t *self)
{
    for (struct svc_hook *hook = zlist_first(self->hooks); hook;
         hook = zlist_next(self->hooks)) {
        if (hook->timer) {
            hook->timer(self, hook->arg);
        }
    }
}

int
svc_reader_discard(svc_t *self, zsock_t *sock, void *arg)
{
    bus_msg_t msg;
    bus_recv(self->bus, sock, &msg);
    bus_msg_clear(&msg);
    return 0;
}

int
svc_run(svc_t *self)
{
    /* zloop_start returns when a handler returns -1, as our signal handler
     * does; any other way out is a failure. */
    zloop_start(self->loop);
    VLOG_INFO("%s '%s' stopped", self->def->name, self->id);
    return self->signalled ? SVC_EXIT_OK : SVC_EXIT_FAIL;
}

void
svc_set_state(svc_t *self, const char *state)
{
    char *copy = strdup(state);
    if (copy) {
        free(self->state);
        self->state = copy;
    }
}

bus_t *
svc_bus(svc_t *self)
{
    return self->bus;
}

int
svc_defer(svc_t *self, struct svc_later *later)
{
    if (!self->def->deferred_replies || self->route.len == 0) {
        return -1;
    }
    later->route = self->route;
    return 0;
}

void
svc_resume(svc_t *self, const struct svc_later *later)
{
    bus_set_route(self->bus, &later->route);
}

zsock_t *
svc_control(svc_t *self)
{
    return self->control;
}

const char *
svc_id(const svc_t *self)
{
    return self->id;
}

const struct svc_def *
svc_def(const svc_t *self)
{
    return self->def;
}

const char *
svc_config_path(const svc_t *self)
{
    return self->config_path;
}
