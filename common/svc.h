/* SPDX-License-Identifier: MIT */
/* The runtime every service shares: command line (-c FILE, -v, -q,
 * --help, --help-config), config loading (exit code 2 on a bad file),
 * logging, the bus, the control (REP) socket that answers StatusRequest
 * for every service, the same status as Prometheus metrics over HTTP
 * (common/metrics.h, when metrics.listen is set), a czmq zloop reactor
 * for the service's own sockets and timers, and a clean exit on
 * SIGINT/SIGTERM (taken through a signalfd, so no handler runs inside
 * library code). */
#ifndef VR_SVC_H
#define VR_SVC_H

#include <czmq.h>
#include <stddef.h>

#include "bus.h"
#include "cfg.h"

/* Exit codes shared by every program. */
enum {
    SVC_EXIT_OK = 0,
    SVC_EXIT_FAIL = 1,          /* could not start or run */
    SVC_EXIT_CONFIG = 2,        /* bad command line or config file */
};

/* Config keys every service has, embedded as 'common' in its config. */
struct svc_common_cfg {
    char *id;                   /* instance id on the bus */
    char *log_level;            /* error, warn, info, debug */
    char *control;              /* endpoint the control REP socket binds */
    struct bus_curve_cfg curve; /* CURVE keys; off when curve.cert unset */
    char *metrics_listen;       /* HOST:PORT of /metrics; NULL/"": off */
};

/* Table rows for struct svc_common_cfg inside config struct T, whose
 * control socket binds 'CONTROL' by default. */
#define SVC_CFG_COMMON_KEYS(T, CONTROL)                                    \
    CFG_KEY_STR("id", T, common.id, NULL,                                  \
                "instance id on the bus (default: the role name)"),        \
    CFG_KEY_STR("log.level", T, common.log_level, "info",                  \
                "error, warn, info or debug (-v/-q on the command line)"), \
    CFG_KEY_STR("bus.control", T, common.control, CONTROL,                 \
                "endpoint the control (REP) socket binds"),                \
    CFG_KEY_STR("curve.cert", T, common.curve.cert, NULL,                  \
                "own certificate; setting it turns CURVE on"),             \
    CFG_KEY_STR("curve.allowed", T, common.curve.allowed, NULL,            \
                "directory of client public certificates, named "           \
                "<role>[-<name>].key"),                                    \
    CFG_KEY_BOOL("curve.allow_any", T, common.curve.allow_any, false,      \
                 "admit any CURVE key, as an anonymous client (warned)"),  \
    CFG_KEY_STR("curve.servers", T, common.curve.servers, NULL,            \
                "directory of server public certificates, <role>[-<name>].key"), \
    CFG_KEY_STR("metrics.listen", T, common.metrics_listen, NULL,          \
                "HOST:PORT serving Prometheus GET /metrics; ~ or '': off")

/* What a service is. */
struct svc_def {
    const char *name;           /* "vreserve-broker": logs, status */
    const char *role;           /* "broker": default id, CURVE key name */
    const char *summary;        /* one line for --help */
    const struct cfg_key *keys; /* whole config table */
    size_t common_offset;       /* offsetof(config struct, common) */
    /* Optional: checks what the key table cannot (one key against
     * another) and derives fields, after loading and before --check
     * answers; false with a sentence in 'err' is a bad config. */
    bool (*finish)(void *cfg, char *err, size_t err_size);
    /* Optional: the control socket is a ROUTER, not a REP, so a handler
     * may answer a request later (svc_defer()) while others are served. */
    bool deferred_replies;
};

typedef struct svc svc_t;

/* Handles one request on the control socket; 'req' is accepted and is not
 * a StatusRequest.  Must send exactly one reply on svc_control() and
 * return 0, or return -1 without replying for a type it does not take
 * (the runtime answers ERR_UNKNOWN_TYPE). */
typedef int svc_request_fn(svc_t *svc, bus_msg_t *req, void *arg);

/* Adds the service's own state, counters and info to a status reply
 * (bus_status_add_counter(), bus_status_add_info()). */
typedef void svc_status_fn(svc_t *svc, Vr__StatusReply *reply, void *arg);

/* Called when 'sock' is readable; returning -1 stops the service. */
typedef int svc_reader_fn(svc_t *svc, zsock_t *sock, void *arg);

/* Called every period; returning -1 stops the service. */
typedef int svc_timer_fn(svc_t *svc, void *arg);

/* Parses 'argv' (-c FILE, -v, -q, --help, --help-config, --check,
 * --version), loads the config into '*cfg' (laid out as def->keys
 * says), starts logging and the bus, and binds the control socket.
 * Returns the service, or NULL with '*exit_code' set: SVC_EXIT_OK after
 * --help or a passed --check, SVC_EXIT_CONFIG for a bad command line or
 * config (the reason printed as 'file:line:col: what'), SVC_EXIT_FAIL
 * otherwise.  The config
 * stays the caller's; svc_destroy() frees what cfg_load() put in it. */
svc_t *svc_new(const struct svc_def *def, int argc, char **argv, void *cfg,
               int *exit_code);

/* Closes every socket the runtime made and frees '*self_p' and the
 * config's contents; sets '*self_p' to NULL.  Sockets added with
 * svc_add_reader() are the caller's. */
void svc_destroy(svc_t **self_p);

/* Sets the request and status handlers for the control socket. */
void svc_on_request(svc_t *self, svc_request_fn *request,
                    svc_status_fn *status, void *arg);

/* Sets the service's authorization table: which roles may send it which
 * message types, on its control socket and any socket it binds (see
 * authz.h; 'rules', 'n_rules' rows, must outlive the service).  A refused
 * request is answered ERR_FORBIDDEN, logged (rate-limited) and counted
 * (bus_rx_forbidden in status and metrics) before any handler sees it.
 * Without a table, a client CURVE admitted may send only StatusRequest. */
void svc_set_authz(svc_t *self, const struct authz_rule *rules,
                   size_t n_rules);

/* Refuses control request 'req' for a reason of the handler's own (e.g.
 * not the owner): answers ERR_FORBIDDEN with 'why' (printf-style), logs it
 * (rate-limited) and counts it as the table's refusals are. */
int svc_deny(svc_t *self, const bus_msg_t *req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Hands 'req', an accepted request (bus_recv() returned 0; still the
 * caller's), to the control socket's handlers as a request received there
 * is: StatusRequest to the runtime, the rest to the service's request
 * handler, an unknown type answered ERR_UNKNOWN_TYPE.  The control loop
 * calls it; so do harnesses that drive a handler without a peer, with a
 * fake bus (bus_set_fake()) taking the reply.  'req->route' is where a
 * deferred reply goes (svc_defer()); a harness may make one up. */
void svc_dispatch(svc_t *self, bus_msg_t *req);

/* Calls every timer of the service once, now, as the loop does when they
 * are due (their results are ignored).  For harnesses with a fake clock
 * (vtime_fake_set()), which move the clock and then fire the timers. */
void svc_fire_timers(svc_t *self);

/* Calls 'fn' whenever 'sock' is readable. */
int svc_add_reader(svc_t *self, zsock_t *sock, svc_reader_fn *fn, void *arg);

/* Called when file descriptor 'fd' is readable; returning -1 stops the
 * service. */
typedef int svc_fd_fn(svc_t *svc, int fd, void *arg);

/* Calls 'fn' whenever 'fd' (a pipe, an eventfd...) is readable. */
int svc_add_fd(svc_t *self, int fd, svc_fd_fn *fn, void *arg);

/* Calls 'fn' every 'period_ms' milliseconds.  Ticks missed while the
 * loop was blocked are not made up for: the next one runs, once. */
int svc_add_timer(svc_t *self, unsigned period_ms, svc_timer_fn *fn,
                  void *arg);

/* A reader that receives one message and drops it: the bus counts and
 * logs what is malformed.  For sockets a service does not act on yet. */
svc_reader_fn svc_reader_discard;

/* Runs until SIGINT or SIGTERM (or a handler returns -1).  Returns
 * SVC_EXIT_OK after a signal, SVC_EXIT_FAIL if a handler stopped it or the
 * reactor broke. */
int svc_run(svc_t *self);

/* Sets the state shown by status ("running", "reconciling"...; copied). */
void svc_set_state(svc_t *self, const char *state);

/* A request to be answered later. */
struct svc_later {
    struct bus_route route;     /* who asked */
};

/* In a request handler of a service with def->deferred_replies: the
 * request is answered later, so the handler returns 0 without replying.
 * Fills '*later'; returns 0, or -1 on a REP control socket (answer now).
 * A client that gave up meanwhile just never sees the answer. */
int svc_defer(svc_t *self, struct svc_later *later);

/* Makes the next reply sent on svc_control() (bus_send(),
 * bus_send_error()) the answer to 'later'. */
void svc_resume(svc_t *self, const struct svc_later *later);

bus_t *svc_bus(svc_t *self);
zsock_t *svc_control(svc_t *self);
const char *svc_id(const svc_t *self);
const struct svc_def *svc_def(const svc_t *self);

/* The config file given with -c, or NULL. */
const char *svc_config_path(const svc_t *self);

#endif /* VR_SVC_H */
