/* SPDX-License-Identifier: MIT */
/* vnetctl: the operator's command-line client on the bus.  main.c parses
 * the global options and dispatches to one file per command. */
#ifndef VNETCTL_H
#define VNETCTL_H

#include <stdbool.h>

#include "bus.h"
#include "cfg.h"

/* Exit codes: 0 success, 1 a service failed or did not answer, 2 usage or
 * config error. */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAIL = 1,
    CTL_EXIT_USAGE = 2,
};

struct ctl_cfg {
    char *agent;                /* control endpoints, by role */
    char *aggregator;
    char *planner;
    char *broker;
    char *adapter;
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

/* A command: returns a CTL_EXIT_* code. */
typedef int ctl_cmd_fn(struct ctl *ctl, int argc, char **argv);

ctl_cmd_fn ctl_status;
ctl_cmd_fn ctl_keygen;
ctl_cmd_fn ctl_link;
ctl_cmd_fn ctl_rule;
ctl_cmd_fn ctl_reserve;

#endif /* VNETCTL_H */
