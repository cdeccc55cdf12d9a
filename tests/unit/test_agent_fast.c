/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_fast: the capture cut's BPF program (run here by a
 * small interpreter of the instructions it uses) cuts exactly the listed
 * MACs, for 0, 1 and 700 of them; the tc words for adding and deleting a
 * filter; no circuit device towards loopback; and, with a fake tc that
 * logs its calls, the order of a change (receiving filters, sending
 * filters, the cut, removals), a refused filter retried later (and still
 * due for a retry after another change in its pause), and a failed cut
 * that keeps the old filters and drops the new ones; a change never
 * waits for tc, and a hung tc is killed at its deadline, the change
 * going on without its filter, shown pending then failed at the device;
 * only a root-owned absolute tc is taken. */
#undef NDEBUG
#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_fast.h"
#include "agent_jobs.h"
#include "agent_port.h"
#include "vtime.h"

/* Runs 'prog' on 'pkt' (at least 6 bytes) as the kernel would. */
static uint32_t
s_run(const struct sock_filter *prog, size_t n, const uint8_t *pkt)
{
    uint32_t a = 0;
    for (size_t pc = 0; pc < n; pc++) {
        const struct sock_filter *i = &prog[pc];
        switch (i->code) {
        case BPF_LD | BPF_W | BPF_ABS:
            a = (uint32_t) pkt[i->k] << 24 | (uint32_t) pkt[i->k + 1] << 16
                | (uint32_t) pkt[i->k + 2] << 8 | pkt[i->k + 3];
            break;
        case BPF_LD | BPF_H | BPF_ABS:
            a = (uint32_t) pkt[i->k] << 8 | pkt[i->k + 1];
            break;
        case BPF_JMP | BPF_JEQ | BPF_K:
            pc += a == i->k ? i->jt : i->jf;
            break;
        case BPF_RET | BPF_K:
            return i->k;
        default:
            assert(!"unexpected instruction");
        }
    }
    assert(!"fell off the end");
    return 0;
}

static void
s_mac(uint64_t mac, uint8_t *pkt)
{
    for (int i = 0; i < 6; i++) {
        pkt[i] = (uint8_t) (mac >> (8 * (5 - i)));
    }
}

static void
test_bpf(size_t n)
{
    uint64_t *macs = calloc(n + 1, sizeof *macs);
    for (size_t i = 0; i < n; i++) {
        macs[i] = UINT64_C(0x020000000000) | (i * 0x10001);
    }
    size_t need = agent_port_cut_bpf(macs, n, NULL, 0);
    assert(need == 5 * n + 1);
    struct sock_filter *prog = calloc(need, sizeof *prog);
    assert(agent_port_cut_bpf(macs, n, prog, need) == need);
    assert(need <= BPF_MAXINSNS);
    uint8_t pkt[64] = { 0 };
    for (size_t i = 0; i < n; i++) {
        s_mac(macs[i], pkt);
        assert(s_run(prog, need, pkt) == AGENT_FAST_SNAP);
        /* Same first four bytes, other last two; and the reverse. */
        s_mac(macs[i] ^ 0x1000, pkt);
        assert(s_run(prog, need, pkt) > 0xffff);
        s_mac(macs[i] ^ UINT64_C(0x010000000000), pkt);
        assert(s_run(prog, need, pkt) > 0xffff);
    }
    s_mac(UINT64_C(0xffffffffffff), pkt);
    assert(s_run(prog, need, pkt) > 0xffff);
    s_mac(UINT64_C(0x02000000ffff), pkt);
    assert(s_run(prog, need, pkt) > 0xffff);
    free(prog);
    free(macs);
}

static void
test_argv(void)
{
    struct fast_filter f = {
        .dev = "vm1", .to = "vrp3", .mac = UINT64_C(0x0a1b2c3d4e5f),
        .egress = true, .prio = 101,
    };
    const char *argv[AGENT_FAST_ARGV];
    char buf[AGENT_FAST_BUF];
    agent_fast_argv_add("tc", &f, argv, buf);
    char line[512] = "";
    for (size_t i = 0; argv[i]; i++) {
        strcat(line, i ? " " : "");
        strcat(line, argv[i]);
    }
    assert(!strcmp(line, "tc filter add dev vm1 ingress prio 101 protocol "
                         "all u32 match u16 0x0a1b 0xffff at -14 match u32 "
                         "0x2c3d4e5f 0xffffffff at -12 action mirred "
                         "egress mirror dev vrp3"));
    f.egress = false;
    agent_fast_argv_add("tc", &f, argv, buf);
    assert(!strcmp(argv[26], "redirect") && !strcmp(argv[28], "vrp3"));
    agent_fast_argv_del("/sbin/tc", &f, argv, buf);
    line[0] = '\0';
    for (size_t i = 0; argv[i]; i++) {
        strcat(line, i ? " " : "");
        strcat(line, argv[i]);
    }
    assert(!strcmp(line, "/sbin/tc filter del dev vm1 ingress prio 101 "
                         "protocol all u32"));
}

static void
test_no_circuit_to_self(void)
{
    struct sockaddr_in lo = { .sin_family = AF_INET, .sin_port = htons(9) };
    inet_pton(AF_INET, "127.0.0.1", &lo.sin_addr);
    char dev[IF_NAMESIZE];
    assert(!agent_fast_circuit_dev(&lo, dev));
}

static char g_log[256];
static int g_cut_fail;          /* the cut of this port fails: 1 vm1 */

static int
s_cut(const char *dev, const uint64_t *macs, size_t n, void *arg)
{
    (void) macs;
    (void) arg;
    FILE *f = fopen(g_log, "a");
    assert(f);
    fprintf(f, "cut %s %zu\n", dev, n);
    fclose(f);
    return g_cut_fail && !strcmp(dev, "vm1") ? -1 : 0;
}

/* The log so far, one call a line, and empties it. */
static char *
s_take_log(void)
{
    static char buf[8192];
    FILE *f = fopen(g_log, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f) {
        fclose(f);
    }
    unlink(g_log);
    return buf;
}

/* 'a' comes before 'b' in 'log' (both there). */
static bool
s_before(const char *log, const char *a, const char *b)
{
    const char *pa = strstr(log, a), *pb = strstr(log, b);
    return pa && pb && pa < pb;
}

static uint64_t g_gen;

/* Starts a change and drives it to its end as the agent's loop would;
 * returns what it could not do. */
static size_t
s_apply(agent_fast_t *fast, const struct fast_filter *want, size_t n,
        const char *const *ports)
{
    assert(agent_fast_apply(fast, want, n, ports, 2, s_cut, NULL, ++g_gen)
           == 0);
    assert(agent_fast_wait(fast, 20000));
    assert(!agent_fast_busy(fast) && agent_fast_done_gen(fast) == g_gen);
    return agent_fast_failed(fast);
}

static void
test_apply(void)
{
    char dir[] = "/tmp/vr-fast.XXXXXX", tc[300], refuse[300];
    assert(mkdtemp(dir));
    snprintf(g_log, sizeof g_log, "%s/log", dir);
    snprintf(tc, sizeof tc, "%s/tc", dir);
    snprintf(refuse, sizeof refuse, "%s/refuse", dir);
    FILE *f = fopen(tc, "w");
    assert(f);
    fprintf(f, "#!/bin/sh\necho \"$*\" >>'%s'\n"
               "[ -e '%s' ] && grep -q \"$(cat '%s')\" <<EOF && exit 2\n"
               "$*\nEOF\nexit 0\n", g_log, refuse, refuse);
    fclose(f);
    chmod(tc, 0755);
    const char *ports[] = { "vm1", "vm2" };
    agent_fast_t *fast = agent_fast_new(tc, 5000);
    assert(fast);

    /* A circuit's two filters and the two ports': in order. */
    struct fast_filter want[4] = {
        { .dev = "vm1", .to = "vrp1", .mac = 0x020000000301, .egress = true },
        { .dev = "vm2", .to = "vrp1", .mac = 0x020000000301, .egress = true },
        { .dev = "vrp1", .to = "vm1", .mac = 0x020000000201 },
        { .dev = "vrp1", .to = "vm2", .mac = 0x020000000202 },
    };
    assert(s_apply(fast, want, 4, ports) == 0);
    assert(agent_fast_count(fast) == 4);
    char *log = s_take_log();
    assert(s_before(log, "add dev vrp1 ingress prio 100", "add dev vm1"));
    assert(s_before(log, "add dev vrp1 ingress prio 101", "add dev vm1"));
    assert(s_before(log, "add dev vm2", "cut vm1 1"));
    assert(strstr(log, "cut vm2 1") && strstr(log, "egress mirror dev vrp1"));
    assert(strstr(log, "egress redirect dev vm1"));
    assert(!strstr(log, "filter del dev"));
    assert(s_before(log, "qdisc del dev vrp1", "qdisc add dev vrp1"));

    /* Nothing new: no tc at all. */
    assert(s_apply(fast, want, 4, ports) == 0);
    assert(!strstr(s_take_log(), "filter"));

    /* The MAC moves to another circuit: new filter, cut, then the old one
     * goes. */
    want[0].to[3] = '2';
    want[1].to[3] = '2';
    assert(s_apply(fast, want, 4, ports) == 0);
    log = s_take_log();
    assert(s_before(log, "egress mirror dev vrp2", "cut vm1 1"));
    assert(s_before(log, "cut vm2 1", "filter del dev vm1 ingress prio 100"));
    assert(agent_fast_count(fast) == 4);

    /* tc refuses a filter: left out, the rest goes on, and it is not
     * retried at once. */
    f = fopen(refuse, "w");
    fputs("0x00000202", f);
    fclose(f);
    struct fast_filter more[5];
    memcpy(more, want, sizeof want);
    more[4] = (struct fast_filter) { .dev = "vm1", .to = "vm2",
                                     .mac = 0x020000000202, .egress = true };
    assert(s_apply(fast, more, 5, ports) == 1);
    assert(agent_fast_count(fast) == 4);
    assert(agent_fast_dev_state(fast, "vm1") == AGENT_FAST_FAILED);
    assert(agent_fast_dev_state(fast, "vrp2") == AGENT_FAST_UP);
    s_take_log();
    /* Within the pause: not tried, and still due once it is over. */
    assert(s_apply(fast, more, 5, ports) == 1);
    assert(!strstr(s_take_log(), "filter add"));
    assert(!agent_fast_retry_due(fast));
    unlink(refuse);

    /* A failed cut on vm1: its new filter goes again, its old ones stay. */
    agent_fast_destroy(&fast);
    fast = agent_fast_new(tc, 5000);
    assert(s_apply(fast, want, 4, ports) == 0);
    s_take_log();
    g_cut_fail = 1;
    struct fast_filter moved[4];
    memcpy(moved, want, sizeof want);
    moved[0].mac = moved[1].mac = 0x020000000302;
    assert(s_apply(fast, moved, 4, ports) >= 1);
    log = s_take_log();
    assert(s_before(log, "filter add dev vm1", "cut vm1 1"));
    assert(strstr(log, "filter del dev vm1 ingress prio 101"));   /* new */
    assert(!strstr(log, "filter del dev vm1 ingress prio 100"));  /* old */
    assert(strstr(log, "filter del dev vm2 ingress prio 100"));   /* vm2 ok */
    g_cut_fail = 0;

    /* Destroy removes the qdiscs it made (the fake devices do not exist,
     * so it only may try). */
    agent_fast_destroy(&fast);
    unlink(tc);
    unlink(g_log);
    rmdir(dir);
}

/* A tc that hangs on one filter: the change does not wait, the hung run
 * is killed at the deadline and counted, the others go on. */
static void
test_hung_tc(void)
{
    char dir[] = "/tmp/vr-fast.XXXXXX", tc[300];
    assert(mkdtemp(dir));
    snprintf(g_log, sizeof g_log, "%s/log", dir);
    snprintf(tc, sizeof tc, "%s/tc", dir);
    FILE *f = fopen(tc, "w");
    assert(f);
    fprintf(f, "#!/bin/sh\necho \"$*\" >>'%s'\n"
               "case \"$*\" in *0x00000301*) exec sleep 30;; esac\n"
               "exit 0\n", g_log);
    fclose(f);
    chmod(tc, 0755);
    const char *ports[] = { "vm1", "vm2" };
    agent_fast_t *fast = agent_fast_new(tc, 300);
    struct fast_filter want[2] = {
        { .dev = "vrp1", .to = "vm1", .mac = 0x020000000201 },
        { .dev = "vm1", .to = "vrp1", .mac = 0x020000000301, .egress = true },
    };
    uint64_t t0 = vtime_mono_ms();
    assert(agent_fast_apply(fast, want, 2, ports, 2, s_cut, NULL, ++g_gen)
           == 0);
    assert(vtime_mono_ms() - t0 < 200);         /* nothing waited for */
    assert(agent_fast_busy(fast));
    assert(agent_fast_dev_state(fast, "vrp1") == AGENT_FAST_PENDING);
    /* A second change while one is under way is for later. */
    assert(agent_fast_apply(fast, want, 2, ports, 2, s_cut, NULL, g_gen + 1)
           == -1);
    assert(agent_fast_wait(fast, 10000));
    assert(agent_fast_done_gen(fast) == g_gen);
    assert(agent_fast_failed(fast) == 1);
    assert(agent_fast_count(fast) == 1);        /* the receiving one */
    assert(agent_fast_dev_state(fast, "vrp1") == AGENT_FAST_FAILED);
    assert(agent_fast_jobs(fast)->timed_out == 1);
    char *log = s_take_log();
    assert(strstr(log, "cut vm1 0") || !strstr(log, "cut vm1"));
    agent_fast_destroy(&fast);
    unlink(tc);
    unlink(g_log);
    rmdir(dir);
}

static void
test_tc_ok(void)
{
    char why[256];
    assert(agent_fast_tc_ok("/bin/sh", why, sizeof why));
    assert(!agent_fast_tc_ok("tc", why, sizeof why));
    assert(strstr(why, "absolute"));
    assert(!agent_fast_tc_ok("/nonexistent/tc", why, sizeof why));
    assert(!agent_fast_tc_ok("/etc/passwd", why, sizeof why));
    char dir[] = "/tmp/vr-fast.XXXXXX", tc[300];
    assert(mkdtemp(dir));
    snprintf(tc, sizeof tc, "%s/tc", dir);
    FILE *f = fopen(tc, "w");
    fputs("#!/bin/sh\n", f);
    fclose(f);
    chmod(tc, 0757);                            /* anyone may change it */
    assert(!agent_fast_tc_ok(tc, why, sizeof why));
    chmod(tc, 0755);
    if (geteuid() == 0) {
        assert(agent_fast_tc_ok(tc, why, sizeof why));
        chmod(dir, 0777);                       /* anyone may replace it */
        assert(!agent_fast_tc_ok(tc, why, sizeof why));
        assert(chown(tc, 1, 1) == 0);
        chmod(dir, 0700);
        assert(!agent_fast_tc_ok(tc, why, sizeof why));
    }
    unlink(tc);
    rmdir(dir);
}

int
main(void)
{
    test_bpf(0);
    test_bpf(1);
    test_bpf(3);
    test_bpf(700);
    test_argv();
    test_no_circuit_to_self();
    test_apply();
    test_hung_tc();
    test_tc_ok();
    puts("test_agent_fast: ok");
    return 0;
}
