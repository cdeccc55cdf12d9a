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
    const char *help;
} s_cmds[] = {
    { "status", ctl_status, true,
      "status [ROLE...]: ask every service (or those) whether it is up" },
    { "link", ctl_link, true,
      "link list|add NAME PEER|del NAME|probe NAME: an agent's links" },
    { "rule", ctl_rule, true,
      "rule list|add DST LINK|del DST [--src MAC]: an agent's rules" },
    { "reserve", ctl_reserve, true,
      "reserve create A B|list|show ID|release ID: reservations" },
    { "keygen", ctl_keygen, false,
      "keygen DIR NAME...: make CURVE certificates DIR/NAME.key{,_secret}" },
};

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: vnetctl [options] COMMAND [args]\n\n"
            "options:\n"
            "  -c, --config FILE       YAML config (endpoints, keys)\n"
            "  -e, --endpoint ROLE=EP  override a service's endpoint "
            "(agent, aggregator,\n"
            "                          planner, broker, adapter)\n"
            "  -t, --timeout MS        reply timeout per request\n"
            "  -j, --json              machine-readable output\n"
            "  -v, --verbose           more detail\n"
            "      --help-config       print every config key\n"
            "  -h, --help              this text\n\ncommands:\n");
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++) {
        fprintf(out, "  %-8s %s\n", s_cmds[i].name, s_cmds[i].help);
    }
    fprintf(out, "\nexit codes: 0 ok, 1 a service failed or did not "
                 "answer, 2 usage or config error\n");
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
                    "adapter\n", arg);
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
    size_t i = 0;
    for (; i < sizeof s_cmds / sizeof s_cmds[0]; i++) {
        if (!strcmp(name, s_cmds[i].name)) {
            break;
        }
    }
    if (i == sizeof s_cmds / sizeof s_cmds[0]) {
        fprintf(stderr, "vnetctl: unknown command '%s' (try --help)\n",
                name);
        return CTL_EXIT_USAGE;
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
