/* SPDX-License-Identifier: MIT */
/* agent_port (afpacket): a port opened while other interfaces carry
 * traffic receives none of it.  In a network namespace of its own (root
 * only; skipped otherwise), frames flood veth b1 -> b0 from a thread
 * while port a0 is opened and closed again and again; not one frame of
 * the flood may come out of a0.  A socket that listened on every
 * interface until its bind queued some (found by the 300-kill chaos run:
 * an agent restarted under a live fast path took a remote VM's MAC for
 * one of its own VMs' and black-holed its traffic). */
#undef NDEBUG
#include <arpa/inet.h>
#include <assert.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_port.h"
#include "log.h"
#include "vtime.h"

static const uint8_t s_flood_src[6] = { 0x02, 0xee, 0xee, 0xee, 0xee, 0x01 };
static atomic_bool s_stop;
static atomic_ulong s_sent;

static void *
s_flood(void *arg)
{
    int fd = *(int *) arg;
    uint8_t frame[60] = { 0x02, 0xdd, 0xdd, 0xdd, 0xdd, 0x01 };
    memcpy(frame + 6, s_flood_src, 6);
    frame[12] = 0x88;           /* a local experimental ethertype */
    frame[13] = 0xb5;
    while (!atomic_load(&s_stop)) {
        if (send(fd, frame, sizeof frame, 0) == (ssize_t) sizeof frame) {
            atomic_fetch_add(&s_sent, 1);
        }
    }
    return NULL;
}

static int
s_sh(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "failed (%d): %s\n", rc, cmd);
    }
    return rc;
}

int
main(void)
{
    log_init("test_agent_port");
    if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
        printf("skip: needs root (a network namespace of its own)\n");
        return 77;
    }
    /* No IPv6: nothing of the kernel's own on the links. */
    if (s_sh("sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 "
             "net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true")
        || s_sh("ip link add a0 type veth peer name a1")
        || s_sh("ip link add b0 type veth peer name b1")
        || s_sh("for d in a0 a1 b0 b1; do ip link set $d up || exit 1; "
                "done")) {
        printf("skip: cannot make veth pairs here\n");
        return 77;
    }
    int tx = socket(AF_PACKET, SOCK_RAW, 0);
    assert(tx >= 0);
    struct sockaddr_ll sll = { .sll_family = AF_PACKET,
                               .sll_ifindex = (int) if_nametoindex("b1") };
    assert(sll.sll_ifindex > 0);
    assert(bind(tx, (struct sockaddr *) &sll, sizeof sll) == 0);
    pthread_t th;
    assert(pthread_create(&th, NULL, s_flood, &tx) == 0);

    unsigned opens = 0, leaked = 0;
    uint64_t until = vtime_mono_ms() + 3000;
    while (opens < 2000 && vtime_mono_ms() < until) {
        agent_port_t *p = agent_port_open("a0", "afpacket", 1 << 20, true);
        assert(p);
        opens++;
        struct port_frame f[PORT_BURST];
        size_t n = agent_port_recv(p, f, PORT_BURST);
        for (size_t i = 0; i < n; i++) {
            leaked += f[i].captured >= 12
                      && !memcmp(f[i].data + 6, s_flood_src, 6);
        }
        agent_port_close(&p);
    }
    atomic_store(&s_stop, true);
    pthread_join(th, NULL);
    close(tx);
    printf("%u opens of a0 while b1 -> b0 carried %lu frames: %u of them "
           "came out of a0\n", opens, atomic_load(&s_sent), leaked);
    fflush(stdout);
    assert(atomic_load(&s_sent) > 1000);    /* the flood did run */
    assert(leaked == 0);
    printf("test_agent_port: ok\n");
    return 0;
}
