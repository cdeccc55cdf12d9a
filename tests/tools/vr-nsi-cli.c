/* SPDX-License-Identifier: MIT */
/* vr-nsi-cli: drives an NSI CS 2.0 provider through the odin-adapter's
 * requester (adapter_nsi_soap, adapter_nsi_state) from the command line,
 * one flow at a time, printing each call, each state change and the
 * time each took.  tests/integration/test_nsi_soap.sh runs it against
 * OpenNSA and against a stand-in server.
 *
 *   vr-nsi-cli --help-config                      the nsi: keys, defaults
 *   vr-nsi-cli -c CFG [options] check
 *   vr-nsi-cli -c CFG [options] lifecycle SRC DST   up, then released, terminated
 *   vr-nsi-cli -c CFG [options] up SRC DST          up, left so
 *   vr-nsi-cli -c CFG [options] end CID             released (if need be), terminated
 *   vr-nsi-cli -c CFG [options] query [CID]         every connection (of ours)
 *   vr-nsi-cli -c CFG [options] call OP [CID]       one raw call
 *
 * SRC and DST are a host address from nsi.hosts or a labelled STP
 * (urn:ogf:network:…?vlan=1780).  Options: --commit-delay-ms N (wait
 * after the hold before committing), --ignore-deadline (commit even past
 * nsi.commit_deadline_ms, to meet the provider's hold timeout),
 * --timeout-ms N (limit on a flow, default 30000), --start-in-ms N and
 * --end-in-s N (a schedule; default: now, no end).
 * Output lines: "call OP STATUS MS ms …", "state CID STATES", "phase NAME
 * MS ms", and last "result ok …" or "result fail kind=KIND …" (kinds:
 * fault, hold-timeout, failed, timeout, usage).  Exit 0 on ok, 1 on
 * fail, 2 on bad usage. */
#undef NDEBUG
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter_nsi_soap.h"
#include "adapter_nsi_state.h"
#include "cfg.h"
#include "log.h"
#include "vtime.h"

struct cli {
    struct adapter_nsi_config cfg;
    adapter_nsi_soap_t *soap;
    int64_t commit_delay_ms;
    bool ignore_deadline;
    int64_t timeout_ms;
    int64_t end_in_s;
    int64_t start_in_ms;
    /* The last finished call. */
    bool done;
    struct adapter_nsi_result res;
    struct adapter_nsi_reservation resv;    /* its first reservation */
    bool have_resv;
    bool print_all;             /* query: print every reservation */
    uint64_t n_queries;         /* querySummarySync calls made */
    uint64_t query_ms_total;    /* their time */
    uint32_t query_ms_max;      /* the longest */
};

static int64_t
s_now_ms(void)
{
    return (int64_t) vtime_mono_ms();
}

static int64_t
s_wall_ms(void)
{
    return (int64_t) (vtime_now_us() / 1000);
}

static void
s_sleep_ms(int64_t ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* "1780" or "1780-1789" in 'buf'. */
static const char *
s_vlans(const struct adapter_nsi_end *e, char *buf, size_t size)
{
    if (e->vlan_lo == e->vlan_hi) {
        snprintf(buf, size, "%u", e->vlan_lo);
    } else {
        snprintf(buf, size, "%u-%u", e->vlan_lo, e->vlan_hi);
    }
    return buf;
}

static void
s_print_resv(const struct adapter_nsi_reservation *r)
{
    char st[96], v1[16], v2[16];
    printf("connection %s global=%s src=%s?vlan=%s dst=%s?vlan=%s "
           "capacity=%" PRIu64 " start=%s end=%s states=%s\n",
           r->connection_id, r->global_id[0] ? r->global_id : "-",
           r->src.stp, s_vlans(&r->src, v1, sizeof v1), r->dst.stp,
           s_vlans(&r->dst, v2, sizeof v2), r->capacity_mbps,
           r->start_time[0] ? r->start_time : "-",
           r->end_time[0] ? r->end_time : "-",
           adapter_nsi_states_format(&r->states, st, sizeof st));
}

static void
s_on_done(void *arg, uint64_t id, const struct adapter_nsi_result *res)
{
    struct cli *cli = arg;
    cli->done = true;
    cli->res = *res;
    cli->res.resv = NULL;
    cli->res.n_resv = 0;
    cli->have_resv = res->n_resv > 0;
    if (res->n_resv) {
        cli->resv = res->resv[0];
    }
    if (cli->print_all && res->status == ADAPTER_NSI_OK) {
        for (size_t i = 0; i < res->n_resv; i++) {
            s_print_resv(&res->resv[i]);
        }
        printf("connections %zu\n", res->n_resv);
    }
}

static const char *
s_status(enum adapter_nsi_status s)
{
    return s == ADAPTER_NSI_OK ? "ok" : s == ADAPTER_NSI_FAULT ? "fault"
                                                               : "failed";
}

/* Runs one call to its end; the outcome is in cli->res.  Returns its
 * status. */
static enum adapter_nsi_status
s_call(struct cli *cli, const struct adapter_nsi_call *call)
{
    char err[256];

    cli->done = false;
    cli->have_resv = false;
    memset(&cli->res, 0, sizeof cli->res);
    if (!adapter_nsi_soap_start(cli->soap, call, s_on_done, cli, err,
                                sizeof err)) {
        cli->res.status = ADAPTER_NSI_FAILED;
        snprintf(cli->res.error, sizeof cli->res.error, "%s", err);
        printf("call %s failed 0 ms not sent: %s\n",
               adapter_nsi_op_name(call->op), err);
        return ADAPTER_NSI_FAILED;
    }
    while (!cli->done) {
        adapter_nsi_soap_tick(cli->soap, 100);
    }
    if (call->op != ADAPTER_NSI_OP_QUERY || cli->res.status != ADAPTER_NSI_OK) {
        printf("call %s %s %" PRIu32 " ms http=%ld conn=%s%s%s%s%s\n",
               adapter_nsi_op_name(call->op), s_status(cli->res.status),
               cli->res.elapsed_ms, cli->res.http_code,
               cli->res.connection_id[0] ? cli->res.connection_id : "-",
               cli->res.error_id[0] ? " errorId=" : "", cli->res.error_id,
               cli->res.error[0] ? " error=" : "", cli->res.error);
    }
    if (call->op == ADAPTER_NSI_OP_QUERY) {
        cli->n_queries++;
        cli->query_ms_total += cli->res.elapsed_ms;
        if (cli->res.elapsed_ms > cli->query_ms_max) {
            cli->query_ms_max = cli->res.elapsed_ms;
        }
    } else {
        printf("timing %s %" PRIu32 "\n", adapter_nsi_op_name(call->op),
               cli->res.elapsed_ms);
    }
    fflush(stdout);
    return cli->res.status;
}

static int
s_fail(const char *kind, const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_fail(const char *kind, const struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    printf("result fail kind=%s", kind);
    if (cli && cli->res.error_id[0]) {
        printf(" errorId=%s", cli->res.error_id);
    }
    printf(" ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    return 1;
}

static bool
s_end_of(const struct cli *cli, const char *arg, struct adapter_nsi_end *e)
{
    char err[256];
    if (!strncmp(arg, "urn:", 4)) {
        if (adapter_nsi_parse_stp(arg, e)) {
            return true;
        }
        printf("bad STP '%s'\n", arg);
        return false;
    }
    if (!adapter_nsi_host_end(&cli->cfg, arg, e, err, sizeof err)) {
        printf("%s\n", err);
        return false;
    }
    return true;
}

/* Queries 'cid' once; true with cli->resv set when the provider knows
 * it. */
static bool
s_query(struct cli *cli, const char *cid)
{
    struct adapter_nsi_call q = { .op = ADAPTER_NSI_OP_QUERY,
                                  .connection_id = cid };
    return s_call(cli, &q) == ADAPTER_NSI_OK && cli->have_resv
           && !strcmp(cli->resv.connection_id, cid);
}

static bool
s_same_states(const struct adapter_nsi_states *a,
              const struct adapter_nsi_states *b)
{
    return a->rsm == b->rsm && a->psm == b->psm && a->lsm == b->lsm
           && a->active == b->active;
}

/* Drives 'cid' to 'up' (or down): polls, sends what
 * adapter_nsi_state_next() says.  'reserved_at' (monotonic ms) is when
 * the reserve went out, for the commit deadline.  Returns 0 when there,
 * else prints the failure and returns 1. */
static int
s_drive(struct cli *cli, const char *cid, bool up, int64_t reserved_at,
        int64_t t0)
{
    struct adapter_nsi_states last = { 0 }, sent_at = { 0 };
    enum adapter_nsi_next last_sent = ADAPTER_NSI_NEXT_WAIT;
    bool committed = false, seen = false, delayed = false;
    int64_t held_at = 0, deadline = s_now_ms() + cli->timeout_ms;
    char st[96];

    for (;;) {
        enum adapter_nsi_next next;
        struct adapter_nsi_call c = { .connection_id = cid };

        if (s_now_ms() > deadline) {
            return s_fail("timeout", NULL, "conn=%s %s not reached in %" PRId64
                          " ms (last %s)", cid, up ? "up" : "terminated",
                          cli->timeout_ms,
                          adapter_nsi_states_format(&last, st, sizeof st));
        }
        if (!s_query(cli, cid)) {
            if (cli->res.status == ADAPTER_NSI_OK) {
                return s_fail("failed", NULL, "conn=%s unknown to the "
                              "provider", cid);
            }
            return s_fail(cli->res.status == ADAPTER_NSI_FAULT ? "fault"
                          : "failed", cli, "conn=%s query: %s", cid,
                          cli->res.error);
        }
        if (!seen || !s_same_states(&last, &cli->resv.states)) {
            last = cli->resv.states;
            seen = true;
            char v1[16], v2[16];
            printf("state %s %s vlan=%s/%s at %" PRId64 " ms\n", cid,
                   adapter_nsi_states_format(&last, st, sizeof st),
                   s_vlans(&cli->resv.src, v1, sizeof v1),
                   s_vlans(&cli->resv.dst, v2, sizeof v2), s_now_ms() - t0);
            if (last.rsm == ADAPTER_NSI_RSM_HELD && !held_at) {
                held_at = s_now_ms();
                printf("phase reserve-held %" PRId64 " ms\n", held_at - t0);
            }
        }
        next = adapter_nsi_state_next(&last, up, committed);
        /* The provider may not show an acknowledged step yet: do not
         * send it again until the states move. */
        if (next == last_sent && s_same_states(&last, &sent_at)) {
            next = ADAPTER_NSI_NEXT_WAIT;
        }
        switch (next) {
        case ADAPTER_NSI_NEXT_WAIT:
            s_sleep_ms(cli->cfg.poll_ms);
            continue;
        case ADAPTER_NSI_NEXT_DONE:
            if (up) {
                printf("reached up conn=%s vlan=%u/%u states=%s "
                       "start=%s end=%s total=%" PRId64 " ms\n", cid,
                       cli->resv.src.vlan_lo, cli->resv.dst.vlan_lo,
                       adapter_nsi_states_format(&last, st, sizeof st),
                       cli->resv.start_time[0] ? cli->resv.start_time : "-",
                       cli->resv.end_time[0] ? cli->resv.end_time : "-",
                       s_now_ms() - t0);
            }
            return 0;
        case ADAPTER_NSI_NEXT_FAIL:
            return s_fail(last.rsm == ADAPTER_NSI_RSM_TIMEOUT ? "hold-timeout"
                          : "failed", NULL, "conn=%s states=%s", cid,
                          adapter_nsi_states_format(&last, st, sizeof st));
        case ADAPTER_NSI_NEXT_COMMIT:
            if (cli->commit_delay_ms && !delayed) {
                delayed = true;
                s_sleep_ms(cli->commit_delay_ms);
            }
            if (s_now_ms() - reserved_at > cli->cfg.commit_deadline_ms
                && !cli->ignore_deadline) {
                int64_t late = s_now_ms() - reserved_at;
                c.op = ADAPTER_NSI_OP_RESERVE_ABORT;
                s_call(cli, &c);
                return s_fail("hold-timeout", NULL, "conn=%s not committed "
                              "within nsi.commit_deadline_ms (%" PRIu32 " ms; "
                              "%" PRId64 " ms since the reserve): hold "
                              "aborted", cid, cli->cfg.commit_deadline_ms,
                              late);
            }
            c.op = ADAPTER_NSI_OP_RESERVE_COMMIT;
            break;
        case ADAPTER_NSI_NEXT_PROVISION:
            c.op = ADAPTER_NSI_OP_PROVISION;
            break;
        case ADAPTER_NSI_NEXT_RELEASE:
            c.op = ADAPTER_NSI_OP_RELEASE;
            break;
        case ADAPTER_NSI_NEXT_TERMINATE:
            c.op = ADAPTER_NSI_OP_TERMINATE;
            break;
        }
        if (s_call(cli, &c) != ADAPTER_NSI_OK) {
            if (c.op == ADAPTER_NSI_OP_RESERVE_COMMIT && held_at
                && adapter_nsi_hold_expired(held_at, s_now_ms(),
                                            cli->cfg.hold_timeout_ms)) {
                return s_fail("hold-timeout", cli, "conn=%s hold timed out "
                              "at the provider (held %" PRId64 " ms, its "
                              "timeout %" PRIu32 " ms); commit refused: %s",
                              cid, s_now_ms() - held_at,
                              cli->cfg.hold_timeout_ms, cli->res.error);
            }
            return s_fail(cli->res.status == ADAPTER_NSI_FAULT ? "fault"
                          : "failed", cli, "conn=%s %s: %s", cid,
                          adapter_nsi_op_name(c.op), cli->res.error);
        }
        if (c.op == ADAPTER_NSI_OP_RESERVE_COMMIT) {
            committed = true;
        }
        last_sent = next;
        sent_at = last;
    }
}

/* Reserves SRC → DST; sets 'cid'.  0 or 1 as s_drive(). */
static int
s_reserve(struct cli *cli, const char *src, const char *dst, char *cid,
          size_t size, int64_t *reserved_at)
{
    struct adapter_nsi_call c = { .op = ADAPTER_NSI_OP_RESERVE };
    char gid[64];

    if (!s_end_of(cli, src, &c.src) || !s_end_of(cli, dst, &c.dst)) {
        return s_fail("usage", NULL, "bad end");
    }
    adapter_nsi_new_uuid(gid, sizeof gid);
    c.global_id = gid;
    c.description = "vr-nsi-cli";
    if (cli->start_in_ms) {
        c.start_ms = s_wall_ms() + cli->start_in_ms;
    }
    if (cli->end_in_s) {
        c.end_ms = s_wall_ms() + cli->end_in_s * 1000;
    }
    *reserved_at = s_now_ms();
    if (s_call(cli, &c) != ADAPTER_NSI_OK) {
        return s_fail(cli->res.status == ADAPTER_NSI_FAULT ? "fault"
                      : "failed", cli, "reserve: %s", cli->res.error);
    }
    snprintf(cid, size, "%s", cli->res.connection_id);
    printf("reserved %s global=%s\n", cid, gid);
    return 0;
}

/* After a failure past the reserve: end the connection so nothing stays
 * live at the provider. */
static void
s_cleanup(struct cli *cli, const char *cid)
{
    int64_t t0 = s_now_ms();
    printf("cleanup %s\n", cid);
    if (s_drive(cli, cid, false, 0, t0) == 0) {
        printf("cleanup %s terminated\n", cid);
    }
}

static int
s_flow(struct cli *cli, const char *src, const char *dst, bool lifecycle)
{
    char cid[ADAPTER_NSI_ID_MAX + 1];
    int64_t t0 = s_now_ms(), reserved_at = t0, t_up, t_end;

    if (s_reserve(cli, src, dst, cid, sizeof cid, &reserved_at)) {
        return 1;
    }
    if (s_drive(cli, cid, true, reserved_at, t0)) {
        s_cleanup(cli, cid);
        return 1;
    }
    t_up = s_now_ms();
    printf("phase reserve-active %" PRId64 " ms\n", t_up - t0);
    if (!lifecycle) {
        printf("result ok conn=%s up vlan=%u/%u total=%" PRId64 " ms\n", cid,
               cli->resv.src.vlan_lo, cli->resv.dst.vlan_lo, t_up - t0);
        return 0;
    }
    if (s_drive(cli, cid, false, 0, t0)) {
        return 1;
    }
    t_end = s_now_ms();
    printf("phase active-terminated %" PRId64 " ms\n", t_end - t_up);
    printf("phase reserve-terminated %" PRId64 " ms\n", t_end - t0);
    printf("result ok conn=%s lifecycle terminated total=%" PRId64 " ms\n",
           cid, t_end - t0);
    return 0;
}

static int
s_end(struct cli *cli, const char *cid)
{
    int64_t t0 = s_now_ms();
    if (s_drive(cli, cid, false, 0, t0)) {
        return 1;
    }
    printf("result ok conn=%s terminated total=%" PRId64 " ms\n", cid,
           s_now_ms() - t0);
    return 0;
}

static int
s_raw(struct cli *cli, const char *op, const char *cid)
{
    struct adapter_nsi_call c = { .connection_id = cid };
    int i;
    for (i = 0; i < ADAPTER_NSI_N_OPS; i++) {
        if (!strcmp(op, adapter_nsi_op_name((enum adapter_nsi_op) i))) {
            break;
        }
    }
    if (i == ADAPTER_NSI_N_OPS || i == ADAPTER_NSI_OP_RESERVE) {
        return s_fail("usage", NULL, "unknown operation '%s'", op);
    }
    c.op = (enum adapter_nsi_op) i;
    cli->print_all = c.op == ADAPTER_NSI_OP_QUERY;
    if (s_call(cli, &c) != ADAPTER_NSI_OK) {
        return s_fail(cli->res.status == ADAPTER_NSI_FAULT ? "fault"
                      : cli->res.timed_out ? "timeout" : "failed", cli,
                      "%s: http=%ld %s", op, cli->res.http_code,
                      cli->res.error);
    }
    printf("result ok %s\n", op);
    return 0;
}

static void
s_usage(void)
{
    fprintf(stderr, "usage: vr-nsi-cli -c CFG [--commit-delay-ms N] "
            "[--ignore-deadline] [--timeout-ms N] [--start-in-ms N] "
            "[--end-in-s N]\n"
            "       check | lifecycle SRC DST | up SRC DST | end CID | "
            "query [CID] | call OP [CID]\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "commit-delay-ms", required_argument, NULL, 'd' },
        { "ignore-deadline", no_argument, NULL, 'i' },
        { "timeout-ms", required_argument, NULL, 't' },
        { "end-in-s", required_argument, NULL, 'e' },
        { "start-in-ms", required_argument, NULL, 's' },
        { "help-config", no_argument, NULL, 'H' },
        { NULL, 0, NULL, 0 },
    };
    struct cli cli = { .timeout_ms = 30000 };
    const char *path = NULL, *cmd;
    char err[512];
    int opt, rc;

    log_init("vr-nsi-cli");
    while ((opt = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'd': cli.commit_delay_ms = strtoll(optarg, NULL, 10); break;
        case 'i': cli.ignore_deadline = true; break;
        case 't': cli.timeout_ms = strtoll(optarg, NULL, 10); break;
        case 'e': cli.end_in_s = strtoll(optarg, NULL, 10); break;
        case 's': cli.start_in_ms = strtoll(optarg, NULL, 10); break;
        case 'H':
            cfg_print_defaults(adapter_nsi_keys, stdout);
            return 0;
        default: s_usage(); return 2;
        }
    }
    if (!path || optind >= argc || cli.commit_delay_ms < 0
        || cli.commit_delay_ms > 600000 || cli.timeout_ms < 1
        || cli.timeout_ms > 3600000 || cli.end_in_s < 0
        || cli.end_in_s > 100L * 365 * 86400 || cli.start_in_ms < 0
        || cli.start_in_ms > 86400000) {
        s_usage();
        return 2;
    }
    cmd = argv[optind++];
    if (cfg_load(adapter_nsi_keys, &cli.cfg, path, err, sizeof err)) {
        printf("result fail kind=config %s\n", err);
        return 1;
    }
    cli.soap = adapter_nsi_soap_new(&cli.cfg, err, sizeof err);
    if (!cli.soap) {
        printf("result fail kind=config %s\n", err);
        cfg_free(adapter_nsi_keys, &cli.cfg);
        return 1;
    }
    if (!strcmp(cmd, "check") && optind == argc) {
        printf("result ok config\n");
        rc = 0;
    } else if ((!strcmp(cmd, "lifecycle") || !strcmp(cmd, "up"))
               && argc - optind == 2) {
        rc = s_flow(&cli, argv[optind], argv[optind + 1],
                    !strcmp(cmd, "lifecycle"));
    } else if (!strcmp(cmd, "end") && argc - optind == 1) {
        rc = s_end(&cli, argv[optind]);
    } else if (!strcmp(cmd, "query") && argc - optind <= 1) {
        rc = s_raw(&cli, "querySummarySync",
                   optind < argc ? argv[optind] : NULL);
    } else if (!strcmp(cmd, "call") && argc - optind >= 1
               && argc - optind <= 2) {
        rc = s_raw(&cli, argv[optind], optind + 1 < argc ? argv[optind + 1]
                                                         : NULL);
    } else {
        s_usage();
        rc = 2;
    }
    if (cli.n_queries) {
        printf("queries %" PRIu64 " mean %" PRIu64 " ms max %" PRIu32 " ms\n",
               cli.n_queries, cli.query_ms_total / cli.n_queries,
               cli.query_ms_max);
    }
    fflush(stdout);
    adapter_nsi_soap_destroy(&cli.soap);
    cfg_free(adapter_nsi_keys, &cli.cfg);
    return rc;
}
