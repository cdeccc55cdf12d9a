/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_netlink: link messages parsed from crafted datagrams:
 * a new veth, a tap with its vnet header, a removal, several messages in
 * one datagram, a dump's end and error; and hostile ones: truncated
 * headers, message and attribute lengths that lie, names too long or not
 * terminated, nested attributes that overflow their nest, an unaligned
 * buffer, and every cut of a good datagram (each byte flipped too), all
 * read within their bounds (run under ASan).  The real socket: a dump,
 * and a datagram forged by a process, refused. */
#undef NDEBUG
#include <assert.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_netlink.h"

/* A datagram being built. */
struct dg {
    uint8_t b[4096];
    size_t len;
    size_t msg;                 /* where the open message starts */
    size_t nest[4];             /* open nests */
    int n_nest;
};

static void
s_pad(struct dg *d)
{
    while (d->len % 4) {
        d->b[d->len++] = 0;
    }
}

static void
s_msg(struct dg *d, uint16_t type, int ifindex, unsigned flags)
{
    s_pad(d);
    d->msg = d->len;
    struct nlmsghdr h = { .nlmsg_type = type };
    memcpy(d->b + d->len, &h, sizeof h);
    d->len += NLMSG_HDRLEN;
    if (type == RTM_NEWLINK || type == RTM_DELLINK) {
        struct ifinfomsg ifi = { .ifi_index = ifindex, .ifi_flags = flags };
        memcpy(d->b + d->len, &ifi, sizeof ifi);
        d->len += NLMSG_ALIGN(sizeof ifi);
    }
}

static void
s_end(struct dg *d)
{
    uint32_t len = (uint32_t) (d->len - d->msg);
    memcpy(d->b + d->msg, &len, sizeof len);     /* nlmsg_len comes first */
}

static void
s_attr(struct dg *d, uint16_t type, const void *p, size_t n)
{
    s_pad(d);
    struct rtattr a = { .rta_len = (unsigned short) RTA_LENGTH(n),
                        .rta_type = type };
    memcpy(d->b + d->len, &a, sizeof a);
    memcpy(d->b + d->len + RTA_LENGTH(0), p, n);
    d->len += RTA_LENGTH(n);
}

static void
s_str(struct dg *d, uint16_t type, const char *s)
{
    s_attr(d, type, s, strlen(s) + 1);
}

static void
s_nest(struct dg *d, uint16_t type)
{
    s_pad(d);
    d->nest[d->n_nest++] = d->len;
    struct rtattr a = { .rta_type = type | NLA_F_NESTED };
    memcpy(d->b + d->len, &a, sizeof a);
    d->len += RTA_LENGTH(0);
}

static void
s_unnest(struct dg *d)
{
    size_t at = d->nest[--d->n_nest];
    unsigned short len = (unsigned short) (d->len - at);
    memcpy(d->b + at, &len, sizeof len);
}

/* What the callback saw. */
struct seen {
    size_t n;
    struct agent_nl_link l[8];
};

static void
s_cb(const struct agent_nl_link *l, void *arg)
{
    struct seen *s = arg;
    /* Whatever came, its strings are terminated within their arrays. */
    assert(memchr(l->name, 0, sizeof l->name));
    assert(memchr(l->kind, 0, sizeof l->kind));
    assert(l->ifindex > 0);
    if (s->n < 8) {
        s->l[s->n] = *l;
    }
    s->n++;
}

static struct agent_nl_result
s_parse(const struct dg *d, struct seen *s)
{
    memset(s, 0, sizeof *s);
    /* A copy of exactly the datagram's length: ASan sees any overread. */
    uint8_t *copy = malloc(d->len + 1);
    memcpy(copy, d->b, d->len);
    struct agent_nl_result r = agent_nl_parse(copy, d->len, s_cb, s);
    free(copy);
    return r;
}

/* A veth vm9 (ifindex 7, up) and a tap vnet0 with a vnet header. */
static void
s_good(struct dg *d)
{
    memset(d, 0, sizeof *d);
    s_msg(d, RTM_NEWLINK, 7, IFF_UP);
    s_str(d, IFLA_IFNAME, "vm9");
    uint32_t mtu = 1500;
    s_attr(d, IFLA_MTU, &mtu, sizeof mtu);
    s_nest(d, IFLA_LINKINFO);
    s_str(d, IFLA_INFO_KIND, "veth");
    s_unnest(d);
    s_end(d);
    s_msg(d, RTM_NEWLINK, 8, 0);
    s_str(d, IFLA_IFNAME, "vnet0");
    s_nest(d, IFLA_LINKINFO);
    s_str(d, IFLA_INFO_KIND, "tun");
    s_nest(d, IFLA_INFO_DATA);
    uint8_t type = IFF_TAP, one = 1;
    s_attr(d, IFLA_TUN_TYPE, &type, 1);
    s_attr(d, IFLA_TUN_VNET_HDR, &one, 1);
    s_unnest(d);
    s_unnest(d);
    s_end(d);
}

static void
test_good(void)
{
    struct dg d;
    struct seen s;
    s_good(&d);
    struct agent_nl_result r = s_parse(&d, &s);
    assert(r.links == 2 && r.bad == 0 && !r.broken && !r.done);
    assert(s.n == 2);
    assert(!s.l[0].gone && s.l[0].ifindex == 7 && (s.l[0].flags & IFF_UP));
    assert(!strcmp(s.l[0].name, "vm9") && !strcmp(s.l[0].kind, "veth"));
    assert(!s.l[0].tap && !s.l[0].vnet_hdr);
    assert(s.l[1].ifindex == 8 && !strcmp(s.l[1].name, "vnet0"));
    assert(!strcmp(s.l[1].kind, "tun") && s.l[1].tap && s.l[1].vnet_hdr);

    /* Removal, then the end of a dump, an error and other news. */
    memset(&d, 0, sizeof d);
    s_msg(&d, RTM_DELLINK, 7, 0);
    s_str(&d, IFLA_IFNAME, "vm9");
    s_end(&d);
    s_msg(&d, RTM_NEWADDR, 0, 0);
    uint8_t junk[12] = { 1, 2, 3 };
    memcpy(d.b + d.len, junk, sizeof junk);
    d.len += sizeof junk;
    s_end(&d);
    s_msg(&d, NLMSG_DONE, 0, 0);
    int zero = 0;
    memcpy(d.b + d.len, &zero, sizeof zero);
    d.len += sizeof zero;
    s_end(&d);
    r = s_parse(&d, &s);
    assert(r.links == 1 && r.bad == 0 && r.done && !r.broken);
    assert(s.l[0].gone && s.l[0].ifindex == 7);

    memset(&d, 0, sizeof d);
    s_msg(&d, NLMSG_ERROR, 0, 0);
    int err = -16;      /* EBUSY */
    memcpy(d.b + d.len, &err, sizeof err);
    d.len += sizeof err + sizeof(struct nlmsghdr);
    s_end(&d);
    s_msg(&d, NLMSG_OVERRUN, 0, 0);
    s_end(&d);
    r = s_parse(&d, &s);
    assert(r.error == 16 && r.overrun && r.links == 0);

    /* A link message with no attributes at all: a link without a name. */
    memset(&d, 0, sizeof d);
    s_msg(&d, RTM_NEWLINK, 3, 0);
    s_end(&d);
    r = s_parse(&d, &s);
    assert(r.links == 1 && s.l[0].name[0] == '\0');

    /* Not aligned: the same datagram one byte in. */
    s_good(&d);
    uint8_t *odd = malloc(d.len + 1);
    memcpy(odd + 1, d.b, d.len);
    memset(&s, 0, sizeof s);
    r = agent_nl_parse(odd + 1, d.len, s_cb, &s);
    assert(r.links == 2 && s.l[1].vnet_hdr);
    free(odd);
}

/* One message with a hostile attribute: refused, counted, the message
 * after it still read. */
static void
s_hostile_one(void (*build)(struct dg *d), const char *what)
{
    struct dg d;
    struct seen s;
    memset(&d, 0, sizeof d);
    build(&d);
    s_end(&d);
    s_msg(&d, RTM_NEWLINK, 9, 0);
    s_str(&d, IFLA_IFNAME, "after");
    s_end(&d);
    struct agent_nl_result r = s_parse(&d, &s);
    if (r.bad != 1 || r.links != 1 || strcmp(s.l[0].name, "after") != 0) {
        fprintf(stderr, "%s: bad %zu links %zu\n", what, r.bad, r.links);
        assert(0);
    }
}

static void
b_short_ifinfo(struct dg *d)
{
    struct nlmsghdr h = { .nlmsg_type = RTM_NEWLINK };
    d->msg = 0;
    memcpy(d->b, &h, sizeof h);
    d->len = NLMSG_HDRLEN + 8;      /* half an ifinfomsg */
}

static void
b_index0(struct dg *d)
{
    s_msg(d, RTM_NEWLINK, 0, 0);
    s_str(d, IFLA_IFNAME, "vm0");
}

static void
b_index_neg(struct dg *d)
{
    s_msg(d, RTM_NEWLINK, -5, 0);
}

static void
b_name_long(struct dg *d)
{
    s_msg(d, RTM_NEWLINK, 4, 0);
    s_str(d, IFLA_IFNAME, "a-name-far-too-long-for-linux");
}

static void
b_name_unterminated(struct dg *d)
{
    s_msg(d, RTM_NEWLINK, 4, 0);
    s_attr(d, IFLA_IFNAME, "vm12", 4);
}

static void
b_name_empty(struct dg *d)
{
    s_msg(d, RTM_NEWLINK, 4, 0);
    s_attr(d, IFLA_IFNAME, "", 1);
}

static void
b_attr_len_big(struct dg *d)
{
    s_msg(d, RTM_NEWLINK, 4, 0);
    s_str(d, IFLA_IFNAME, "vm1");
    /* Says 200 bytes: the message holds 8. */
    struct rtattr a = { .rta_len = 200, .rta_type = IFLA_MTU };
    memcpy(d->b + d->len, &a, sizeof a);
    d->len += 8;
}

static void
b_attr_len_small(struct dg *d)
{
    s_msg(d, RTM_NEWLINK, 4, 0);
    struct rtattr a = { .rta_len = 2, .rta_type = IFLA_IFNAME };
    memcpy(d->b + d->len, &a, sizeof a);
    d->len += 8;
}

static void
b_nest_overflow(struct dg *d)
{
    s_msg(d, RTM_NEWLINK, 4, 0);
    s_str(d, IFLA_IFNAME, "vnet1");
    s_nest(d, IFLA_LINKINFO);
    s_str(d, IFLA_INFO_KIND, "tun");
    size_t inner = d->len;
    s_nest(d, IFLA_INFO_DATA);
    uint8_t one = 1;
    s_attr(d, IFLA_TUN_VNET_HDR, &one, 1);
    s_unnest(d);
    s_unnest(d);
    /* The inner nest claims more than its parent holds. */
    unsigned short big = 64;
    memcpy(d->b + inner, &big, sizeof big);
}

static void
b_tun_empty_u8(struct dg *d)
{
    s_msg(d, RTM_NEWLINK, 4, 0);
    s_nest(d, IFLA_LINKINFO);
    s_str(d, IFLA_INFO_KIND, "tun");
    s_nest(d, IFLA_INFO_DATA);
    s_attr(d, IFLA_TUN_TYPE, "", 0);
    s_unnest(d);
    s_unnest(d);
}

static void
b_kind_unterminated(struct dg *d)
{
    s_msg(d, RTM_NEWLINK, 4, 0);
    s_nest(d, IFLA_LINKINFO);
    s_attr(d, IFLA_INFO_KIND, "veth", 4);
    s_unnest(d);
}

static void
test_hostile(void)
{
    s_hostile_one(b_short_ifinfo, "short ifinfomsg");
    s_hostile_one(b_index0, "ifindex 0");
    s_hostile_one(b_index_neg, "negative ifindex");
    s_hostile_one(b_name_long, "long name");
    s_hostile_one(b_name_unterminated, "unterminated name");
    s_hostile_one(b_name_empty, "empty name");
    s_hostile_one(b_attr_len_big, "attribute longer than its message");
    s_hostile_one(b_attr_len_small, "attribute shorter than its header");
    s_hostile_one(b_nest_overflow, "nest longer than its parent");
    s_hostile_one(b_tun_empty_u8, "empty u8");
    s_hostile_one(b_kind_unterminated, "unterminated kind");

    /* A kind too long for our field is no error: just unknown. */
    struct dg d;
    struct seen s;
    memset(&d, 0, sizeof d);
    s_msg(&d, RTM_NEWLINK, 4, 0);
    s_nest(&d, IFLA_LINKINFO);
    s_str(&d, IFLA_INFO_KIND, "a-kind-of-32-characters-or-so-xx");
    s_unnest(&d);
    s_end(&d);
    struct agent_nl_result r = s_parse(&d, &s);
    assert(r.links == 1 && s.l[0].kind[0] == '\0');

    /* Message lengths that lie break the datagram: nothing after. */
    uint32_t lies[] = { 0, 8, 15, 4000, 0xffffffffu };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        s_good(&d);
        memcpy(d.b, &lies[i], sizeof lies[i]);
        r = s_parse(&d, &s);
        assert(r.broken && r.links == 0);
    }
    /* Lies in the second message: the first is still read. */
    s_good(&d);
    size_t second = 0;
    {
        uint32_t l0;
        memcpy(&l0, d.b, sizeof l0);
        second = NLMSG_ALIGN(l0);
    }
    uint32_t big = 0xfffffff0u;
    memcpy(d.b + second, &big, sizeof big);
    r = s_parse(&d, &s);
    assert(r.broken && r.links == 1 && s.l[0].ifindex == 7);

    /* Fewer bytes than a header. */
    for (size_t n = 1; n < NLMSG_HDRLEN; n++) {
        s_good(&d);
        d.len = n;
        r = s_parse(&d, &s);
        assert(r.broken && r.links == 0);
    }
    d.len = 0;
    r = s_parse(&d, &s);
    assert(!r.broken && r.links == 0);

    /* Every cut of a good datagram, and every byte flipped: read within
     * bounds whatever happens (ASan), and never more links than sent. */
    struct dg good;
    s_good(&good);
    for (size_t n = 0; n <= good.len; n++) {
        d = good;
        d.len = n;
        r = s_parse(&d, &s);
        assert(r.links <= 2);
    }
    for (size_t i = 0; i < good.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            d = good;
            d.b[i] ^= (uint8_t) (1u << bit);
            r = s_parse(&d, &s);
            assert(r.links + r.bad <= 2 || r.broken);
        }
    }
    /* Random bytes. */
    srand(17);
    for (int k = 0; k < 20000; k++) {
        d = good;
        int flips = 1 + rand() % 8;
        for (int f = 0; f < flips; f++) {
            d.b[rand() % good.len] = (uint8_t) rand();
        }
        d.len = (size_t) rand() % (good.len + 1);
        s_parse(&d, &s);
    }
}

/* The real socket: a dump of this namespace's links ends and names the
 * loopback; a datagram another process unicasts to the socket (anyone
 * may) is dropped and counted, never parsed. */
static void
test_socket(void)
{
    int fd = agent_nl_open(1 << 20);
    assert(fd >= 0);
    uint8_t *buf = malloc(AGENT_NL_BUF);
    assert(buf);

    assert(agent_nl_request_dump(fd, 1) == 0);
    struct seen s = { 0 };
    bool done = false, lo = false;
    for (int k = 0; k < 200 && !done; k++) {
        struct agent_nl_result r;
        int rc = agent_nl_recv(fd, buf, s_cb, &s, &r);
        assert(rc >= 0);
        if (rc == 0) {
            usleep(10000);
            continue;
        }
        assert(r.bad == 0 && !r.broken);
        done = r.done;
        for (size_t i = 0; i < s.n && i < 8; i++) {
            lo = lo || !strcmp(s.l[i].name, "lo");
        }
    }
    assert(done && lo);

    /* A forged link message from a process. */
    struct sockaddr_nl me;
    socklen_t len = sizeof me;
    assert(getsockname(fd, (struct sockaddr *) &me, &len) == 0);
    int evil = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    assert(evil >= 0);
    struct dg d;
    s_good(&d);
    struct sockaddr_nl to = { .nl_family = AF_NETLINK,
                              .nl_pid = me.nl_pid };
    if (sendto(evil, d.b, d.len, 0, (struct sockaddr *) &to, sizeof to)
        == (ssize_t) d.len) {
        memset(&s, 0, sizeof s);
        struct agent_nl_result r = { 0 };
        int rc = 0;
        for (int k = 0; k < 100 && rc == 0; k++) {
            rc = agent_nl_recv(fd, buf, s_cb, &s, &r);
            if (rc == 0) {
                usleep(10000);
            }
        }
        /* Link news from the kernel may come first: only the forged
         * datagram is refused, and its links are never seen. */
        while (rc == 1 && r.bad == 0) {
            rc = agent_nl_recv(fd, buf, s_cb, &s, &r);
        }
        assert(rc == 1 && r.bad == 1 && r.links == 0);
        for (size_t i = 0; i < s.n && i < 8; i++) {
            assert(strcmp(s.l[i].name, "vnet0") != 0);
        }
    } else {
        printf("(could not unicast to the socket: forged datagram not "
               "tried)\n");
    }
    close(evil);
    close(fd);
    free(buf);
}

int
main(void)
{
    test_good();
    test_hostile();
    test_socket();
    printf("agent_netlink: ok\n");
    return 0;
}
