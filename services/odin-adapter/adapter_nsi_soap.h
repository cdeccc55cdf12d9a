/* SPDX-License-Identifier: MIT */
/* An NSI CS 2.0 requester over SOAP 1.1: the 'nsi:' configuration (the
 * provider's endpoint, NSA ids, TLS, host → STP and VLAN map, hold and
 * time limits), builders of the requests (reserve, reserveCommit,
 * reserveAbort, provision, release, terminate, querySummarySync; no
 * replyTo, so the provider sends no callbacks and state is polled), a
 * parser of the provider's replies and faults into bounded, checked
 * fields (libxml2, no DTD, no entities, no network, size-capped), and a
 * non-blocking client on libcurl's multi interface driven by
 * adapter_nsi_soap_tick() from the owner's loop.  No bus: results reach
 * a callback; adapter_nsi_state.h interprets the states. */
#ifndef ADAPTER_NSI_SOAP_H
#define ADAPTER_NSI_SOAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter_nsi_state.h"
#include "cfg.h"

#define ADAPTER_NSI_DEFAULT_REQUESTER_NSA "urn:ogf:network:vreserve.invalid:2026:nsa"
#define ADAPTER_NSI_DEFAULT_REPLY_TO "http://127.0.0.1:9/not-contacted"
/* NSI's recommended hold timeout; OpenNSA's default. */
#define ADAPTER_NSI_DEFAULT_HOLD_TIMEOUT_MS 120000
/* Commit no later than this after the reserve went out: well within the
 * hold, with room for a slow provider and a busy loop. */
#define ADAPTER_NSI_DEFAULT_COMMIT_DEADLINE_MS 30000
#define ADAPTER_NSI_DEFAULT_CONNECT_TIMEOUT_MS 3000
/* One SOAP call took 2-25 ms on loopback against OpenNSA. */
#define ADAPTER_NSI_DEFAULT_REQUEST_TIMEOUT_MS 10000
#define ADAPTER_NSI_DEFAULT_POLL_MS 20
#define ADAPTER_NSI_DEFAULT_RETRY_FIRST_MS 500
#define ADAPTER_NSI_DEFAULT_RETRY_MAX_MS 8000
#define ADAPTER_NSI_DEFAULT_RETRY_GIVE_UP_MS 60000
#define ADAPTER_NSI_DEFAULT_MAX_REPLY_KB 256
#define ADAPTER_NSI_DEFAULT_MAX_IN_FLIGHT 32
#define ADAPTER_NSI_DEFAULT_LINK_POOL "10.213.0.0/16"

#define ADAPTER_NSI_MAX_HOSTS 4096      /* entries in nsi.hosts */
#define ADAPTER_NSI_ID_MAX 128          /* connectionId characters */
#define ADAPTER_NSI_URI_MAX 256         /* STP, NSA id, globalReservationId */
#define ADAPTER_NSI_DESC_MAX 256        /* description characters */
#define ADAPTER_NSI_TIME_MAX 40         /* xsd:dateTime characters */
#define ADAPTER_NSI_ERRID_MAX 16        /* errorId characters */
#define ADAPTER_NSI_ERROR_SIZE 400      /* bytes of a result's message */
#define ADAPTER_NSI_MAX_RESERVATIONS 1024   /* in one querySummarySync */
#define ADAPTER_NSI_MAX_CAPACITY 100000000u /* Mbit/s: 100 Tbit/s */

/* One host's end of a circuit: its port at the provider. */
struct adapter_nsi_host_cfg {
    char *ip;                   /* the host's endpoint address */
    char *stp;                  /* its STP, without a label: a full
                                 * "urn:ogf:network:…" or a port id that
                                 * 'network' prefixes */
    char *vlans;                /* VLAN label: "1780" or "1780-1789" */
};

/* The backend's configuration, as cfg_load() fills it. */
struct adapter_nsi_config {
    char *provider_url;         /* the CS2 SOAP endpoint */
    char *requester_nsa;        /* our NSA id */
    char *provider_nsa;         /* the provider's NSA id */
    char *network;              /* network id short STPs are in */
    char *reply_to;             /* replyTo querySummarySync demands */
    struct cfg_seq hosts;       /* struct adapter_nsi_host_cfg */
    uint32_t capacity_mbps;     /* asked for when the path names none */
    uint32_t hold_timeout_ms;   /* the provider's hold timeout */
    uint32_t commit_deadline_ms;    /* commit by this long after reserve */
    uint32_t connect_timeout_ms;    /* TCP + TLS handshake limit */
    uint32_t request_timeout_ms;    /* limit on one SOAP call */
    uint32_t poll_ms;           /* querySummarySync interval */
    uint32_t retry_first_ms;    /* provider unreachable: first wait, */
    uint32_t retry_max_ms;      /* doubling up to this, */
    uint32_t retry_give_up_ms;  /* failed after this long unreachable */
    uint32_t max_reply_kb;      /* larger replies are refused */
    uint32_t max_in_flight;     /* calls at once */
    char *tls_cert;             /* client certificate (PEM) */
    char *tls_key;              /* its private key (PEM) */
    char *tls_ca;               /* CA bundle to verify the provider */
    bool allow_plain_http;      /* http:// to a non-loopback host */
    char *link_pool;            /* the /30s of the circuits' ends */
};

extern const struct cfg_key adapter_nsi_host_keys[];

/* Key table entries with names starting 'P' ("nsi.") for a struct
 * adapter_nsi_config at offset 'BASE' of the config struct. */
#define ADAPTER_NSI_CFG_KEY_(P, BASE, TYPE, NAME, FIELD, ...)              \
    { .name = P NAME, .type = TYPE,                                        \
      .offset = (BASE) + offsetof(struct adapter_nsi_config, FIELD),       \
      __VA_ARGS__ }
#define ADAPTER_NSI_CFG_MS_(P, BASE, NAME, FIELD, MIN, MAX, DEF, HELP)     \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_U32, NAME, FIELD, .min = MIN,        \
                         .max = MAX, .def_int = DEF, .help = HELP)
#define ADAPTER_NSI_CFG_KEYS(P, BASE)                                      \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_STR, "provider_url", provider_url,   \
        .help = "the provider's NSI CS 2.0 SOAP endpoint "                 \
                "(https://…/NSI/services/CS2)"),                           \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_STR, "requester_nsa", requester_nsa, \
        .def_str = ADAPTER_NSI_DEFAULT_REQUESTER_NSA,                      \
        .help = "our NSA id (urn:ogf:network:…)"),                         \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_STR, "provider_nsa", provider_nsa,   \
        .help = "the provider's NSA id (urn:ogf:network:…)"),              \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_STR, "network", network,             \
        .help = "network id that host STPs not starting urn:ogf:network: " \
                "are in"),                                                 \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_STR, "reply_to", reply_to,           \
        .def_str = ADAPTER_NSI_DEFAULT_REPLY_TO,                           \
        .help = "replyTo sent with querySummarySync only (never "          \
                "contacted; the answer is synchronous)"),                  \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_SEQ, "hosts", hosts,                 \
        .sub = adapter_nsi_host_keys,                                      \
        .elem_size = sizeof(struct adapter_nsi_host_cfg),                  \
        .help = "each host's port: {ip, stp, vlans}"),                     \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_U32, "capacity_mbps", capacity_mbps, \
        .min = 1, .max = ADAPTER_NSI_MAX_CAPACITY, .def_int = 1000,        \
        .help = "capacity asked for when the path gives no bandwidth"),    \
    ADAPTER_NSI_CFG_MS_(P, BASE, "hold_timeout_ms", hold_timeout_ms,       \
        1000, 3600000, ADAPTER_NSI_DEFAULT_HOLD_TIMEOUT_MS,                \
        "the provider's hold timeout: a hold older than this is gone"),    \
    ADAPTER_NSI_CFG_MS_(P, BASE, "commit_deadline_ms", commit_deadline_ms, \
        100, 3600000, ADAPTER_NSI_DEFAULT_COMMIT_DEADLINE_MS,              \
        "commit a hold by this long after the reserve went out, else "     \
        "abort it (less than hold_timeout_ms)"),                           \
    ADAPTER_NSI_CFG_MS_(P, BASE, "connect_timeout_ms", connect_timeout_ms, \
        100, 60000, ADAPTER_NSI_DEFAULT_CONNECT_TIMEOUT_MS,                \
        "limit on connecting to the provider (TCP and TLS)"),              \
    ADAPTER_NSI_CFG_MS_(P, BASE, "request_timeout_ms", request_timeout_ms, \
        100, 300000, ADAPTER_NSI_DEFAULT_REQUEST_TIMEOUT_MS,               \
        "limit on one SOAP call, connecting included"),                    \
    ADAPTER_NSI_CFG_MS_(P, BASE, "poll_ms", poll_ms, 1, 60000,             \
        ADAPTER_NSI_DEFAULT_POLL_MS,                                       \
        "querySummarySync interval while a connection changes"),           \
    ADAPTER_NSI_CFG_MS_(P, BASE, "retry.first_ms", retry_first_ms, 10,     \
        600000, ADAPTER_NSI_DEFAULT_RETRY_FIRST_MS,                        \
        "provider unreachable (refused, timed out): the first wait "       \
        "before a step is tried again; it doubles"),                       \
    ADAPTER_NSI_CFG_MS_(P, BASE, "retry.max_ms", retry_max_ms, 10,         \
        600000, ADAPTER_NSI_DEFAULT_RETRY_MAX_MS,                          \
        "the longest wait between tries (not below retry.first_ms)"),      \
    ADAPTER_NSI_CFG_MS_(P, BASE, "retry.give_up_ms", retry_give_up_ms, 0,  \
        3600000, ADAPTER_NSI_DEFAULT_RETRY_GIVE_UP_MS,                     \
        "a path being set up fails once the provider was unreachable "     \
        "this long (0: no retry)"),                                        \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_U32, "max_reply_kb", max_reply_kb,   \
        .min = 4, .max = 65536, .def_int = ADAPTER_NSI_DEFAULT_MAX_REPLY_KB,\
        .help = "a larger reply is refused unread"),                       \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_U32, "max_in_flight", max_in_flight, \
        .min = 1, .max = 1024, .def_int = ADAPTER_NSI_DEFAULT_MAX_IN_FLIGHT,\
        .help = "SOAP calls at once; more are refused until one ends"),    \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_STR, "tls.cert", tls_cert,           \
        .help = "client certificate (PEM) for mutual TLS"),                \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_STR, "tls.key", tls_key,             \
        .help = "the client certificate's private key (PEM)"),             \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_STR, "tls.ca", tls_ca,               \
        .help = "CA bundle the provider's certificate is checked "         \
                "against (default: the system's)"),                        \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_BOOL, "allow_plain_http",            \
        allow_plain_http, .def_int = 0,                                    \
        .help = "allow http:// to a host that is not loopback "            \
                "(unencrypted, unauthenticated; logged)"),                 \
    ADAPTER_NSI_CFG_KEY_(P, BASE, CFG_STR, "link_pool", link_pool,         \
        .def_str = ADAPTER_NSI_DEFAULT_LINK_POOL,                          \
        .help = "IPv4 prefix each circuit takes a /30 from: the address "  \
                "of each host's VLAN sub-interface")

/* A file (or section) holding only "nsi:" keys. */
extern const struct cfg_key adapter_nsi_keys[];

/* Checks what the loader cannot: the URL (http or https; http only to
 * a loopback address unless 'allow_plain_http'), NSA ids and STPs
 * (urn:ogf:network:, bounded, no spaces or markup), hosts (IP literals,
 * each once, VLANs 1-4094 lo <= hi), commit_deadline_ms below
 * hold_timeout_ms, tls.cert and tls.key both or neither, and readable
 * files.  Returns true if valid; otherwise writes the reason into 'err'. */
bool adapter_nsi_config_check(const struct adapter_nsi_config *cfg,
                              char *err, size_t errsize);

/* A circuit end: an STP without a label and a VLAN or VLAN range. */
struct adapter_nsi_end {
    char stp[ADAPTER_NSI_URI_MAX + 1];  /* urn:ogf:network:… */
    uint16_t vlan_lo, vlan_hi;  /* 1..4094; equal for one VLAN */
};

/* Parses "1780" or "1780-1789" (VLANs 1-4094, lo <= hi). */
bool adapter_nsi_parse_vlans(const char *s, uint16_t *lo, uint16_t *hi);

/* Parses "urn:ogf:network:…?vlan=L" or "…?vlan=L-H" (a label is
 * required) into '*end'.  Returns false on anything else. */
bool adapter_nsi_parse_stp(const char *s, struct adapter_nsi_end *end);

/* The end of host 'ip' per the config: its STP (prefixed with
 * "urn:ogf:network:" and 'network' as needed) and VLANs.  Returns false
 * with the reason when 'ip' is not an IP literal or not configured. */
bool adapter_nsi_host_end(const struct adapter_nsi_config *cfg,
                          const char *ip, struct adapter_nsi_end *end,
                          char *err, size_t errsize);

/* Requests. */

enum adapter_nsi_op {
    ADAPTER_NSI_OP_RESERVE = 0,
    ADAPTER_NSI_OP_RESERVE_COMMIT,
    ADAPTER_NSI_OP_RESERVE_ABORT,
    ADAPTER_NSI_OP_PROVISION,
    ADAPTER_NSI_OP_RELEASE,
    ADAPTER_NSI_OP_TERMINATE,
    ADAPTER_NSI_OP_QUERY,       /* querySummarySync */
    ADAPTER_NSI_N_OPS,
};

/* The operation's NSI name ("reserveCommit"); also its SOAPAction's last
 * word.  Static. */
const char *adapter_nsi_op_name(enum adapter_nsi_op op);

/* What to ask.  Strings are borrowed for the call only. */
struct adapter_nsi_call {
    enum adapter_nsi_op op;
    const char *connection_id;  /* all but reserve; NULL in a query:
                                 * every connection of ours */
    /* reserve only: */
    const char *global_id;      /* globalReservationId, or NULL */
    const char *description;    /* or NULL */
    int64_t start_ms;           /* Unix ms; 0: now (no startTime) */
    int64_t end_ms;             /* Unix ms; 0: no end */
    uint32_t capacity_mbps;     /* 0: the configured one */
    struct adapter_nsi_end src, dst;
};

/* Writes the SOAP envelope for 'call' into 'buf' ('size' bytes) with
 * correlationId 'correlation_id' ("urn:uuid:…"); every value XML-escaped
 * and checked first (ids, STPs, VLANs, times after 2000 and before 9999,
 * start before end).  Returns its length, or 0 with the reason in
 * 'err'. */
size_t adapter_nsi_soap_build(const struct adapter_nsi_config *cfg,
                              const struct adapter_nsi_call *call,
                              const char *correlation_id, char *buf,
                              size_t size, char *err, size_t errsize);

/* Writes a fresh "urn:uuid:<v4 uuid>" into 'buf' (at least 46 bytes). */
void adapter_nsi_new_uuid(char *buf, size_t size);

/* Results. */

/* One connection as querySummarySync reports it; every string checked
 * (bounded, printable, no markup) and every number in range. */
struct adapter_nsi_reservation {
    char connection_id[ADAPTER_NSI_ID_MAX + 1];
    char global_id[ADAPTER_NSI_URI_MAX + 1];    /* "" when absent */
    char description[ADAPTER_NSI_DESC_MAX + 1]; /* "" when absent */
    char start_time[ADAPTER_NSI_TIME_MAX + 1];  /* "" when absent */
    char end_time[ADAPTER_NSI_TIME_MAX + 1];    /* "" when absent */
    uint64_t capacity_mbps;     /* 0 when absent */
    struct adapter_nsi_end src, dst;    /* lo == hi once one is chosen;
                                         * stp "" when absent */
    struct adapter_nsi_states states;
};

enum adapter_nsi_status {
    ADAPTER_NSI_OK = 0,         /* acknowledged / answered */
    ADAPTER_NSI_FAULT,          /* a SOAP fault: 'error_id', 'error' */
    ADAPTER_NSI_FAILED,         /* no usable answer: 'error' says why */
};

struct adapter_nsi_result {
    enum adapter_nsi_op op;
    enum adapter_nsi_status status;
    long http_code;             /* 0: no HTTP answer */
    bool timed_out;             /* the call hit request_timeout_ms */
    bool unreached;             /* nothing was sent: the provider could
                                 * not be reached (refused, no route,
                                 * the connect timed out) */
    uint32_t elapsed_ms;        /* from sending to the whole reply */
    char connection_id[ADAPTER_NSI_ID_MAX + 1];    /* reserve: the new
                                 * one; otherwise the one asked about */
    char error_id[ADAPTER_NSI_ERRID_MAX + 1];   /* fault: NSI errorId,
                                 * "" when the fault has none */
    char error[ADAPTER_NSI_ERROR_SIZE]; /* fault text or failure, escaped:
                                 * safe to log and show as it is */
    struct adapter_nsi_reservation *resv;   /* query: 'n_resv' found */
    size_t n_resv;
};

/* Parses the reply to 'op': HTTP status 'http_code', 'len' bytes at
 * 'body' (any bytes), the request's 'correlation_id' (a reply's header,
 * when it has one, must carry the same).  Fills '*res' (which the caller
 * zeroed or cleaned) and returns its status.  Replies over
 * 'max_size' bytes, not XML, with a DTD or entity references, not a SOAP
 * 1.1 envelope, of the wrong operation, or with a field out of bounds are
 * FAILED.  The caller frees 'res->resv' with adapter_nsi_result_clean(). */
enum adapter_nsi_status adapter_nsi_soap_parse(enum adapter_nsi_op op,
                                               long http_code,
                                               const char *body, size_t len,
                                               size_t max_size,
                                               const char *correlation_id,
                                               struct adapter_nsi_result *res);

/* Frees what a result holds and zeroes it. */
void adapter_nsi_result_clean(struct adapter_nsi_result *res);

/* The client. */

typedef struct adapter_nsi_soap adapter_nsi_soap_t;

/* Called once per finished call, from adapter_nsi_soap_tick(); 'res' is
 * borrowed for the call. */
typedef void adapter_nsi_done_fn(void *arg, uint64_t call_id,
                                 const struct adapter_nsi_result *res);

/* A client for the provider in 'cfg' (checked with
 * adapter_nsi_config_check(); the config must outlive the client).
 * Logs a warning when plain HTTP goes to a host that is not loopback.
 * Returns NULL with the reason in 'err'. */
adapter_nsi_soap_t *adapter_nsi_soap_new(const struct adapter_nsi_config *cfg,
                                         char *err, size_t errsize);

/* Ends every call in flight (their callbacks are not called) and frees
 * '*self_p' if it is not NULL, then sets it to NULL. */
void adapter_nsi_soap_destroy(adapter_nsi_soap_t **self_p);

/* Starts 'call'; 'done'('arg', id, result) follows from a later tick.
 * Returns the call's id (never 0), or 0 with the reason in 'err' (a bad
 * call, max_in_flight reached).  Never blocks. */
uint64_t adapter_nsi_soap_start(adapter_nsi_soap_t *self,
                                const struct adapter_nsi_call *call,
                                adapter_nsi_done_fn *done, void *arg,
                                char *err, size_t errsize);

/* Moves on every call that has network activity or a timeout due; waits
 * up to 'wait_ms' (0: not at all; capped at 1000) for one; calls 'done'
 * for each call that finished (answered, failed or timed out).  Returns
 * how many finished. */
size_t adapter_nsi_soap_tick(adapter_nsi_soap_t *self, int wait_ms);

/* A descriptor (epoll: libcurl's sockets and timeout) that is readable
 * while adapter_nsi_soap_tick() has something to do: an owner's loop
 * polls it and ticks at once, so an answer is acted on as it comes. */
int adapter_nsi_soap_fd(const adapter_nsi_soap_t *self);

/* Makes adapter_nsi_soap_fd() readable at monotonic 'at_ms'
 * (vtime_mono_ms(); now or past: at once), for the owner's next step due
 * then (a poll); -1 cancels.  Replaces the time set before. */
void adapter_nsi_soap_wake_at(adapter_nsi_soap_t *self, int64_t at_ms);

/* Calls in flight. */
size_t adapter_nsi_soap_in_flight(const adapter_nsi_soap_t *self);

#endif /* ADAPTER_NSI_SOAP_H */
