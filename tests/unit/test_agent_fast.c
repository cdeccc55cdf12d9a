/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_fast: the capture cut's BPF program (run here by a
 * small interpreter of the instructions it uses) cuts exactly the listed
 * MACs, for 0, 1 and 700 of them; the tc words for adding and deleting a
 * filter; no circuit device towards loopback. */
#undef NDEBUG
#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_fast.h"

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
    size_t need = agent_fast_bpf(macs, n, NULL, 0);
    assert(need == 5 * n + 1);
    struct sock_filter *prog = calloc(need, sizeof *prog);
    assert(agent_fast_bpf(macs, n, prog, need) == need);
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

int
main(void)
{
    test_bpf(0);
    test_bpf(1);
    test_bpf(3);
    test_bpf(700);
    test_argv();
    test_no_circuit_to_self();
    puts("test_agent_fast: ok");
    return 0;
}
