/* SPDX-License-Identifier: MIT */
/* vnetctl: the operator's command-line client on the bus.  main.c parses
 * the global options and dispatches to one file per command. */
#ifndef VNETCTL_H
#define VNETCTL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "bus.h"
#include "cfg.h"

/* Exit codes, the same for every command (docs/vnetctl.1). */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAIL = 1,          /* a service answered with an error */
    CTL_EXIT_USAGE = 2,         /* bad command line or config */
    CTL_EXIT_UNREACHABLE = 3,   /* a service did not answer in time */
};

struct ctl_cfg {
    char *agent;                /* control endpoints, by role */
    char *aggregator;
    char *planner;
    char *broker;
    char *adapter;
    char *aggregator_events;    /* events (PUB) endpoints, by role */
    char *planner_events;
    char *broker_events;
    char *adapter_events;
    struct cfg_strlist agents;  /* more agents' control endpoints */
    unsigned timeout_ms;        /* per request */
    struct bus_curve_cfg curve; /* CURVE keys, when the bus uses them */
};

struct ctl {
    struct ctl_cfg cfg;         /* loaded config, with overrides */
    bus_t *bus;                 /* NULL for commands that need none */
    bool json;                  /* --json: machine-readable output */
    bool verbose;               /* -v: more detail */
};

/* A command: returns a CTL_EXIT_* code.  argv[0] is the command name. */
typedef int ctl_cmd_fn(struct ctl *ctl, int argc, char **argv);

/* Sends 'req' of 'type' to the 'role' service at 'endpoint' and waits
 * (the configured timeout, one try) for a reply of type 'expect'.  Returns
 * CTL_EXIT_OK with the reply in '*reply' (free with bus_msg_clear()), or
 * prints 'vnetctl: ROLE ENDPOINT: why' to stderr and returns
 * CTL_EXIT_UNREACHABLE (no reply, cannot connect) or CTL_EXIT_FAIL (an
 * error reply, a malformed one). */
int ctl_call(struct ctl *ctl, const char *role, const char *endpoint,
             int type, const ProtobufCMessage *req, int expect,
             bus_msg_t *reply);

/* Converts any protobuf message to JSON, field by field: enums as their
 * lower-case value name without the enum's common prefix ("active"),
 * fields named mac or *_mac as "00:11:22:33:44:55", repeated fields as
 * arrays.  The caller owns the result (json_object_put()). */
json_object *ctl_json_pb(const ProtobufCMessage *msg);

/* The name of enum 'value' as ctl_json_pb() writes it, or "?" (static). */
const char *ctl_enum_name(const ProtobufCEnumDescriptor *desc, int value);

/* Prints 'o' on one line to stdout and releases it. */
void ctl_json_print(json_object *o);

/* Formats a rate in bits per second with a unit ("12.5 Mbit/s"). */
const char *ctl_rate(double bps, char *buf, size_t size);

/* Formats a wall-clock time in microseconds as local ISO 8601 with
 * milliseconds. */
const char *ctl_time(uint64_t time_us, char *buf, size_t size);

/* A path's reservation-system view (ctl_path.c): its connection id (the
 * first word of backend_ref; "" for none), its VLAN (its vlan, else what
 * its detail names: "1781", "1781/1782" or ""), and " conn ID R/P/L vlan V errorId E"
 * with the parts it has ("" for none).  Each writes into 'buf' and
 * returns it. */
const char *ctl_path_conn(const Vr__Path *p, char *buf, size_t size);
const char *ctl_path_vlan(const Vr__Path *p, char *buf, size_t size);
const char *ctl_path_provider(const Vr__Path *p, char *buf, size_t size);

/* The path as a JSON object (id, state, backend, detail, error,
 * connection_id, reservation/provision/lifecycle_state, error_id, vlan);
 * the caller owns it. */
json_object *ctl_path_json(const Vr__Path *p);

ctl_cmd_fn ctl_status;
ctl_cmd_fn ctl_keygen;
ctl_cmd_fn ctl_link;
ctl_cmd_fn ctl_rule;
ctl_cmd_fn ctl_reserve;
ctl_cmd_fn ctl_links;
ctl_cmd_fn ctl_rules;
ctl_cmd_fn ctl_topology;
ctl_cmd_fn ctl_matrix;
ctl_cmd_fn ctl_watch;

#endif /* VNETCTL_H */
