/* SPDX-License-Identifier: MIT */
/* vnetctl entry point: global options, config, then one command. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vnetctl.h"

static const struct cfg_key ctl_keys[] = {
    CFG_KEY_STR("agent", struct ctl_cfg, agent, "tcp://127.0.0.1:7110",
                "control endpoint of the local vnet-agent"),
    CFG_KEY_STRLIST("agents", struct ctl_cfg, agents,
                    "control endpoints of further agents"),
    CFG_KEY_STR("aggregator", struct ctl_cfg, aggregator,
                "tcp://127.0.0.1:7120", "vttif-aggregator control endpoint"),
    CFG_KEY_STR("planner", struct ctl_cfg, planner, "tcp://127.0.0.1:7130",
                "vadapt-planner control endpoint"),
    CFG_KEY_STR("broker", struct ctl_cfg, broker, "tcp://127.0.0.1:7140",
                "vreserve-broker control endpoint"),
    CFG_KEY_STR("adapter", struct ctl_cfg, adapter, "tcp://127.0.0.1:7150",
                "odin-adapter control endpoint"),
    CFG_KEY_STR("aggregator_events", struct ctl_cfg, aggregator_events,
                "tcp://127.0.0.1:7121",
                "vttif-aggregator events (topology, matrix) for watch"),
    CFG_KEY_STR("planner_events", struct ctl_cfg, planner_events,
                "tcp://127.0.0.1:7131",
                "vadapt-planner events (decisions) for watch"),
    CFG_KEY_STR("broker_events", struct ctl_cfg, broker_events,
                "tcp://127.0.0.1:7141",
                "vreserve-broker events (reservations) for watch"),
    CFG_KEY_STR("adapter_events", struct ctl_cfg, adapter_events,
                "tcp://127.0.0.1:7151",
                "odin-adapter events (paths) for watch"),
    CFG_KEY_U32("timeout_ms", struct ctl_cfg, timeout_ms, 10, 600000, 1000,
                "how long to wait for each reply"),
    CFG_KEY_STR("curve.cert", struct ctl_cfg, curve.cert, NULL,
                "own certificate; setting it turns CURVE on"),
    CFG_KEY_STR("curve.servers", struct ctl_cfg, curve.servers, NULL,
                "directory of server public certificates, <role>.key"),
    CFG_KEYS_END,
};

static const struct {
    const char *name;
    ctl_cmd_fn *fn;
    bool needs_bus;
    const char *help;           /* one line for the list */
    const char *usage;          /* the command's --help */
} s_cmds[] = {
    { "status", ctl_status, true,
      "status [ROLE...]: ask every service (or those) whether it is up",
      "usage: vnetctl [-j] status [agent|aggregator|planner|broker|adapter]"
      "...\n"
      "Asks each service (all of them by default, every configured agent\n"
      "too) for its status at once.  -v lists the counters.\n"
      "Exit 3 if one did not answer within the timeout, 1 if one answered\n"
      "with something else than its status.\n" },
    { "link", ctl_link, true,
      "link list|add NAME PEER|del NAME|probe NAME: an agent's links",
      "usage: vnetctl link list [--agent EP]\n"
      "       vnetctl link add NAME PEER [--mtu N] [--tcp] [--circuit] "
      "[--agent EP]\n"
      "       vnetctl link del NAME [--agent EP]\n"
      "       vnetctl link probe NAME [--timeout MS] [--agent EP]\n"
      "An agent's overlay links (the configured agent, or EP).\n" },
    { "links", ctl_links, true,
      "links [--agent EP]: the same as link list",
      "usage: vnetctl [-j] links [--agent EP]\n"
      "An agent's overlay links with their counters (= link list).\n" },
    { "rule", ctl_rule, true,
      "rule list|add DST LINK|del DST [--src MAC]: an agent's rules",
      "usage: vnetctl rule list [--agent EP]\n"
      "       vnetctl rule add DST_MAC LINK [--src MAC] [--agent EP]\n"
      "       vnetctl rule del DST_MAC [--src MAC] [--agent EP]\n"
      "An agent's forwarding rules; LINK is a link name or "
      "local:<iface>.\n" },
    { "rules", ctl_rules, true,
      "rules [--agent EP]: the same as rule list",
      "usage: vnetctl [-j] rules [--agent EP]\n"
      "An agent's forwarding rules (= rule list).\n" },
    { "reserve", ctl_reserve, true,
      "reserve create A B|list|show ID|release ID: reservations",
      "usage: vnetctl reserve create HOST_A HOST_B [--bw MBPS] [--lat MS] "
      "[--id REQ]\n"
      "                              [--in SECONDS] [--for SECONDS]\n"
      "       vnetctl reserve list [--all]\n"
      "       vnetctl reserve show ID\n"
      "       vnetctl reserve release ID\n"
      "The broker's reservations, by hand.  --in books the path to come up\n"
      "SECONDS from now (an advance reservation, SCHEDULED until then);\n"
      "--for releases it SECONDS after its start.\n" },
    { "topology", ctl_topology, true,
      "topology [--dot]: the aggregator's current application topology",
      "usage: vnetctl [-j] topology [--dot]\n"
      "The topology the aggregator infers now: edges between VMs with\n"
      "their rates, and the host each VM sits behind.  --dot prints it as\n"
      "Graphviz source (`vnetctl topology --dot | dot -Tsvg >t.svg`).\n" },
    { "matrix", ctl_matrix, true,
      "matrix: the aggregator's smoothed traffic matrix",
      "usage: vnetctl [-j] matrix\n"
      "The global traffic matrix the aggregator keeps: one rate per VM\n"
      "pair, smoothed over its window, largest first.\n" },
    { "watch", ctl_watch, true,
      "watch topology|matrix|reservations|paths|decisions: stream events",
      "usage: vnetctl [-j] watch topology|matrix|reservations|paths|"
      "decisions\n"
      "                         [--count N] [--timeout SECS]\n"
      "Prints each event as it is published, one line each (one JSON\n"
      "object per line with -j), until ^C, N events, or SECS seconds.\n"
      "  topology      TopologyEvent   aggregator_events (7121)\n"
      "  matrix        GlobalMatrix    aggregator_events (7121)\n"
      "  reservations  ResvEvent       broker_events (7141)\n"
      "  paths         PathEvent       adapter_events (7151)\n"
      "  decisions     DecisionEvent   planner_events (7131)\n"
      "Exit 0 on ^C, after N events, or at SECS without --count; 3 when\n"
      "SECS pass before N events came.\n" },
    { "keygen", ctl_keygen, false,
      "keygen DIR NAME...: make CURVE certificates DIR/NAME.key{,_secret}",
      "usage: vnetctl keygen DIR NAME...\n"
      "Makes one CURVE certificate per NAME: DIR/NAME.key (public) and\n"
      "DIR/NAME.key_secret.  Refuses to overwrite.  NAME is the identity\n"
      "the services know the key by: ROLE (planner, broker, vnetctl...) or\n"
      "ROLE-NAME (agent-h1: the agent whose id is h1).\n" },
};

enum { S_N_CMDS = sizeof s_cmds / sizeof s_cmds[0] };

static const char s_exit_codes[] =
    "exit codes: 0 ok, 1 a service answered with an error, 2 usage or "
    "config\nerror, 3 a service did not answer in time (or cannot be "
    "reached)\n";

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: vnetctl [options] COMMAND [args]\n\n"
            "options:\n"
            "  -c, --config FILE       YAML config (endpoints, keys)\n"
            "  -e, --endpoint ROLE=EP  override an endpoint (agent, "
            "aggregator, planner,\n"
            "                          broker, adapter, aggregator_events,\n"
            "                          planner_events, broker_events,\n"
            "                          adapter_events)\n"
            "  -t, --timeout MS        reply timeout per request\n"
            "  -j, --json              machine-readable output\n"
            "  -v, --verbose           more detail\n"
            "      --help-config       print every config key\n"
            "  -h, --help              this text\n\ncommands:\n");
    for (size_t i = 0; i < S_N_CMDS; i++) {
        fprintf(out, "  %-9s %s\n", s_cmds[i].name, s_cmds[i].help);
    }
    fprintf(out, "\n'vnetctl COMMAND --help' for one command; man vnetctl."
                 "\n%s", s_exit_codes);
}

static int
s_override(struct ctl_cfg *cfg, const char *arg)
{
    const char *eq = strchr(arg, '=');
    static const struct { const char *role; size_t off; } roles[] = {
        { "agent", offsetof(struct ctl_cfg, agent) },
        { "aggregator", offsetof(struct ctl_cfg, aggregator) },
        { "planner", offsetof(struct ctl_cfg, planner) },
        { "broker", offsetof(struct ctl_cfg, broker) },
        { "adapter", offsetof(struct ctl_cfg, adapter) },
        { "aggregator_events", offsetof(struct ctl_cfg, aggregator_events) },
        { "planner_events", offsetof(struct ctl_cfg, planner_events) },
        { "broker_events", offsetof(struct ctl_cfg, broker_events) },
        { "adapter_events", offsetof(struct ctl_cfg, adapter_events) },
    };
    for (size_t i = 0; eq && i < sizeof roles / sizeof roles[0]; i++) {
        if (strlen(roles[i].role) == (size_t) (eq - arg)
            && !strncmp(arg, roles[i].role, (size_t) (eq - arg))) {
            char **field = (char **) ((char *) cfg + roles[i].off);
            free(*field);
            *field = strdup(eq + 1);
            return 0;
        }
    }
    fprintf(stderr, "vnetctl: --endpoint '%s': expected ROLE=ENDPOINT with "
                    "ROLE one of agent, aggregator, planner, broker, "
                    "adapter, aggregator_events, planner_events, "
                    "broker_events, adapter_events\n", arg);
    return -1;
}

int
main(int argc, char **argv)
{
    enum { OPT_HELP_CONFIG = 256 };
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "endpoint", required_argument, NULL, 'e' },
        { "timeout", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "help-config", no_argument, NULL, OPT_HELP_CONFIG },
        { NULL, 0, NULL, 0 },
    };
    struct ctl ctl = { .json = false };
    const char *config = NULL;
    char *overrides[16];
    size_t n_overrides = 0;
    long timeout = -1;
    char err[512];
    int c;

    log_init("vnetctl");
    log_set_level(LOG_LVL_WARN);
    /* '+': stop at the command, whose own options follow it. */
    while ((c = getopt_long(argc, argv, "+c:e:t:jvh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'e':
            if (n_overrides == sizeof overrides / sizeof overrides[0]) {
                fprintf(stderr, "vnetctl: too many --endpoint options\n");
                return CTL_EXIT_USAGE;
            }
            overrides[n_overrides++] = optarg;
            break;
        case 't': {
            char *end;
            timeout = strtol(optarg, &end, 10);
            if (*end || timeout < 10 || timeout > 600000) {
                fprintf(stderr, "vnetctl: --timeout '%s': expected 10 to "
                                "600000 ms\n", optarg);
                return CTL_EXIT_USAGE;
            }
            break;
        }
        case 'j':
            ctl.json = true;
            break;
        case 'v':
            ctl.verbose = true;
            break;
        case 'h':
            s_usage(stdout);
            return CTL_EXIT_OK;
        case OPT_HELP_CONFIG:
            cfg_print_defaults(ctl_keys, stdout);
            return CTL_EXIT_OK;
        default:
            s_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        s_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    const char *name = argv[optind];
    bool help = false;
    if (!strcmp(name, "help")) {
        /* 'vnetctl help' and 'vnetctl help COMMAND' */
        if (optind + 1 >= argc) {
            s_usage(stdout);
            return CTL_EXIT_OK;
        }
        name = argv[optind + 1];
        help = true;
    }
    size_t i = 0;
    for (; i < S_N_CMDS; i++) {
        if (!strcmp(name, s_cmds[i].name)) {
            break;
        }
    }
    if (i == S_N_CMDS) {
        fprintf(stderr, "vnetctl: unknown command '%s' (try --help)\n",
                name);
        return CTL_EXIT_USAGE;
    }
    for (int k = optind + 1; k < argc; k++) {
        help = help || !strcmp(argv[k], "--help") || !strcmp(argv[k], "-h");
    }
    if (help) {
        printf("%s\n%s", s_cmds[i].usage, s_exit_codes);
        return CTL_EXIT_OK;
    }
    if (cfg_load(ctl_keys, &ctl.cfg, config, err, sizeof err) != 0) {
        fprintf(stderr, "vnetctl: %s\n", err);
        return CTL_EXIT_USAGE;
    }
    int rc = CTL_EXIT_USAGE;
    for (size_t k = 0; k < n_overrides; k++) {
        if (s_override(&ctl.cfg, overrides[k]) != 0) {
            goto done;
        }
    }
    if (timeout > 0) {
        ctl.cfg.timeout_ms = (unsigned) timeout;
    }
    if (s_cmds[i].needs_bus) {
        ctl.bus = bus_new("vnetctl", &ctl.cfg.curve);
        if (!ctl.bus) {
            rc = CTL_EXIT_FAIL;
            goto done;
        }
    }
    rc = s_cmds[i].fn(&ctl, argc - optind, argv + optind);

done:
    bus_destroy(&ctl.bus);
    cfg_free(ctl_keys, &ctl.cfg);
    return rc;
}
