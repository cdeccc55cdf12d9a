/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for vnet-agent/agent_netlink's parser: each input is
 * one datagram from NETLINK_ROUTE.  Properties:
 *  - every link handed on has an index > 0, a name and a kind that are
 *    NUL-terminated within their arrays (bounded), and tun flags only
 *    when it is a tun device; as many as the result counts;
 *  - messages are independent: the datagram gives exactly the links, and
 *    the refusals, that its messages give parsed one by one, so a refused
 *    message hands on nothing and changes nothing of what the others
 *    say;
 *  - parse(build(link)) gives the same link back, refusing nothing
 *    (nl_build.h writes the message as the kernel would).
 * Build with -DVR_FUZZ=ON and clang; tests/fuzz/replay.c runs it on fixed
 * inputs in the ordinary build. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "agent_netlink.h"
#include "fuzz_check.h"
#include "nl_build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { S_MAX_LINKS = 8192 };    /* > a 64 KiB datagram's messages */

struct s_got {
    size_t n;
    struct agent_nl_link v[S_MAX_LINKS];
};

static void
s_on_link(const struct agent_nl_link *l, void *arg)
{
    struct s_got *g = arg;
    FUZZ_CHECK(g->n < S_MAX_LINKS);
    g->v[g->n++] = *l;
}

static bool
s_same(const struct agent_nl_link *a, const struct agent_nl_link *b)
{
    return a->gone == b->gone && a->ifindex == b->ifindex
           && a->flags == b->flags && !strcmp(a->name, b->name)
           && !strcmp(a->kind, b->kind) && a->tap == b->tap
           && a->vnet_hdr == b->vnet_hdr;
}

static void
s_check_link(const struct agent_nl_link *l)
{
    FUZZ_CHECK(l->ifindex > 0);
    FUZZ_CHECK(memchr(l->name, 0, sizeof l->name));
    FUZZ_CHECK(memchr(l->kind, 0, sizeof l->kind));
    if (strcmp(l->kind, "tun")) {
        FUZZ_CHECK(!l->tap && !l->vnet_hdr);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct s_got whole, alone;
    static uint8_t msg[AGENT_NL_BUF + 64];
    if (size > AGENT_NL_BUF) {
        return 0;       /* more than a datagram ever holds */
    }
    whole.n = 0;
    struct agent_nl_result res = agent_nl_parse(data, size, s_on_link,
                                                &whole);
    FUZZ_CHECK(res.links == whole.n);
    FUZZ_CHECK(res.error >= 0 && res.error <= 4095);
    for (size_t i = 0; i < whole.n; i++) {
        s_check_link(&whole.v[i]);
    }

    /* The messages one by one, framed as the datagram frames them; each
     * parsed from a copy of its own (unaligned reads are the parser's
     * business, and an exact-length buffer catches a read past it). */
    size_t off = 0, links = 0, bad = 0;
    while (size - off >= NLMSG_HDRLEN) {
        struct nlmsghdr h;
        memcpy(&h, data + off, sizeof h);
        if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > size - off) {
            break;
        }
        memcpy(msg, data + off, h.nlmsg_len);
        alone.n = 0;
        struct agent_nl_result r = agent_nl_parse(msg, h.nlmsg_len,
                                                  s_on_link, &alone);
        FUZZ_CHECK(!r.broken);
        FUZZ_CHECK(r.links + r.bad <= 1);
        if (h.nlmsg_type != RTM_NEWLINK && h.nlmsg_type != RTM_DELLINK) {
            FUZZ_CHECK(r.links == 0);
        } else if (r.bad) {
            FUZZ_CHECK(alone.n == 0);   /* refused: nothing handed on */
        } else {
            FUZZ_CHECK(r.links == 1);
        }
        for (size_t i = 0; i < alone.n; i++) {
            FUZZ_CHECK(links < whole.n && s_same(&alone.v[i], &whole.v[links]));
            links++;
        }
        bad += r.bad;
        size_t step = NLMSG_ALIGN((size_t) h.nlmsg_len);
        off = step > size - off ? size : off + step;
    }
    FUZZ_CHECK(links == whole.n);
    FUZZ_CHECK(bad == res.bad);
    FUZZ_CHECK(res.broken == (off < size));

    /* Round trip: each link, written again, reads back the same. */
    for (size_t i = 0; i < whole.n && i < 64; i++) {
        struct nlb b;
        nlb_init(&b, msg, sizeof msg);
        nlb_link(&b, &whole.v[i]);
        FUZZ_CHECK(b.ok);
        alone.n = 0;
        struct agent_nl_result r = agent_nl_parse(msg, b.len, s_on_link,
                                                  &alone);
        FUZZ_CHECK(r.links == 1 && r.bad == 0 && !r.broken);
        FUZZ_CHECK(s_same(&alone.v[0], &whole.v[i]));
    }
    return 0;
}
