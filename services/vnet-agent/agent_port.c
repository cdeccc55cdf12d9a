/* SPDX-License-Identifier: MIT */
/* The two port back ends, behind struct port_class (one function table per
 * back end, as OVS does with its netdev and dpif classes).  Buffers are
 * allocated once at open: nothing on the per-frame path allocates. */
#include "agent_port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_fast.h"
#include "log.h"

LOG_MODULE("port");

/* Room for a 64 KiB super-frame with its virtio header in front. */
enum { S_SLOT = ENCAP_MAX_FRAME + sizeof(struct virtio_net_hdr) };

/* Newer kernels' USO type; Debian 12's headers predate it. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

struct port_class {
    const char *name;
    int (*open)(agent_port_t *self, size_t buf_size);
    void (*close)(agent_port_t *self);
    size_t (*recv)(agent_port_t *self, struct port_frame *frames,
                   size_t max);
    int (*send)(agent_port_t *self, const uint8_t *frame, size_t size,
                const struct encap_vnet *vnet);
    bool has_vnet;
};

struct agent_port {
    const struct port_class *class;
    char name[IF_NAMESIZE];     /* interface */
    int ifindex;
    int fd;                     /* socket (afpacket) or selectable fd */
    pcap_t *pcap;               /* pcap back end only */
    uint8_t *slots;             /* PORT_BURST receive slots of S_SLOT */
    struct mmsghdr msgs[PORT_BURST];
    struct iovec iovs[PORT_BURST];
    union {                     /* PACKET_AUXDATA of each received frame */
        char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
        struct cmsghdr align;
    } aux[PORT_BURST];
    bool has_aux;               /* PACKET_AUXDATA on: set with the first cut */
    _Atomic bool bypass;        /* PACKET_QDISC_BYPASS on (either packet
                                 * thread may turn it off) */
};

/* ------------------------------------------------------------------ */
/* afpacket */

static int
s_afp_open(agent_port_t *self, size_t buf_size)
{
    int one = 1;
    /* Protocol 0: the socket hears nothing until bind names the
     * interface with ETH_P_ALL.  Opened with ETH_P_ALL it would hear
     * every interface until then, and a frame of another (a circuit's,
     * from a remote VM) would be read as this VM's: its MAC learned
     * here, and that VM cut off (packet(7)). */
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        VLOG_ERR_RL("port %s: socket: %s", self->name, strerror(errno));
        return -1;
    }
    self->fd = fd;
    /* The vnet header must be on before bind, so no frame is ever read
     * without one. */
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) {
        VLOG_ERR_RL("port %s: PACKET_VNET_HDR: %s", self->name,
                 strerror(errno));
        return -1;
    }
    /* Our own injections leave through this interface: never see them. */
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
                   sizeof one) != 0) {
        VLOG_ERR_RL("port %s: PACKET_IGNORE_OUTGOING: %s", self->name,
                 strerror(errno));
        return -1;
    }
    /* Injected frames skip the qdisc on a veth: the agent does its own
     * queueing (+25% pps, perf-anchors.md B.5).  Not on a tap: the bypass
     * drops a super-frame the device cannot take (its reader asked for no
     * offloads) where the qdisc path segments it. */
    if (atomic_load(&self->bypass)
        && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
                      sizeof one) != 0) {
        atomic_store(&self->bypass, false);
        VLOG_WARN_RL("port %s: PACKET_QDISC_BYPASS: %s", self->name,
                  strerror(errno));
    }
    int size = (int) buf_size;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0
        && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0) {
        VLOG_WARN_RL("port %s: receive buffer: %s", self->name,
                  strerror(errno));
    }
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0
        && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) != 0) {
        VLOG_WARN_RL("port %s: send buffer: %s", self->name, strerror(errno));
    }
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(ETH_P_ALL),
        .sll_ifindex = self->ifindex,
    };
    if (bind(fd, (struct sockaddr *) &sll, sizeof sll) != 0) {
        VLOG_ERR_RL("port %s: bind: %s", self->name, strerror(errno));
        return -1;
    }
    /* Promiscuous: the VM may send with any destination MAC. */
    struct packet_mreq mr = { .mr_ifindex = self->ifindex,
                              .mr_type = PACKET_MR_PROMISC };
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr,
                   sizeof mr) != 0) {
        VLOG_WARN_RL("port %s: promiscuous: %s", self->name, strerror(errno));
    }
    return 0;
}

static void
s_afp_close(agent_port_t *self)
{
    if (self->fd >= 0) {
        close(self->fd);
    }
}

static size_t
s_afp_recv(agent_port_t *self, struct port_frame *frames, size_t max)
{
    if (max > PORT_BURST) {
        max = PORT_BURST;
    }
    for (size_t i = 0; i < max; i++) {
        self->iovs[i].iov_base = self->slots + i * S_SLOT;
        self->iovs[i].iov_len = S_SLOT;
        self->msgs[i].msg_hdr = (struct msghdr) {
            .msg_iov = &self->iovs[i],
            .msg_iovlen = 1,
            .msg_control = self->aux[i].buf,
            .msg_controllen = sizeof self->aux[i].buf,
        };
    }
    int n = recvmmsg(self->fd, self->msgs, (unsigned) max, MSG_DONTWAIT,
                     NULL);
    if (n <= 0) {
        return 0;           /* EAGAIN and friends: nothing to do now */
    }
    size_t out = 0;
    for (int i = 0; i < n; i++) {
        size_t len = self->msgs[i].msg_len;
        uint8_t *p = self->iovs[i].iov_base;
        if (len < sizeof(struct virtio_net_hdr) + ETH_HLEN
            || (self->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) {
            continue;       /* runt or truncated: not a frame to carry */
        }
        struct virtio_net_hdr vh;
        memcpy(&vh, p, sizeof vh);
        struct port_frame *f = &frames[out++];
        f->data = p + sizeof vh;
        f->size = f->captured = len - sizeof vh;
        f->cut = false;
        f->has_vnet = true;
        struct msghdr *mh = &self->msgs[i].msg_hdr;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
             cm = CMSG_NXTHDR(mh, cm)) {
            if (cm->cmsg_level == SOL_PACKET
                && cm->cmsg_type == PACKET_AUXDATA) {
                struct tpacket_auxdata aux;
                memcpy(&aux, CMSG_DATA(cm), sizeof aux);
                if (aux.tp_len > f->captured) {
                    f->size = aux.tp_len;       /* cut: the kernel carries
                                                 * it; we count it */
                    f->cut = true;
                }
            }
        }
        f->vnet = (struct encap_vnet) {
            .flags = vh.flags,
            .gso_type = vh.gso_type,
            .gso_size = vh.gso_size,
            .csum_start = vh.csum_start,
            .csum_offset = vh.csum_offset,
        };
    }
    return out;
}

/* The kernel wants hdr_len (the headers before the GSO payload) for a
 * super-frame; the overlay header does not carry it, so it is worked out
 * from the transport header that csum_start points at. */
static uint16_t
s_gso_hdr_len(const uint8_t *frame, size_t size, const struct encap_vnet *v)
{
    uint8_t gso = v->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
    if (gso == VIRTIO_NET_HDR_GSO_NONE) {
        return 0;
    }
    if (gso == VIRTIO_NET_HDR_GSO_UDP_L4) {
        return (uint16_t) (v->csum_start + 8);
    }
    if ((size_t) v->csum_start + 13 > size) {
        return 0;
    }
    /* TCP: data offset, in 32-bit words, in the high nibble of byte 12. */
    return (uint16_t) (v->csum_start + (frame[v->csum_start + 12] >> 4) * 4);
}

static int
s_afp_send(agent_port_t *self, const uint8_t *frame, size_t size,
           const struct encap_vnet *vnet)
{
    struct virtio_net_hdr vh = { 0 };
    if (vnet) {
        vh.flags = vnet->flags;
        vh.gso_type = vnet->gso_type;
        vh.gso_size = vnet->gso_size;
        vh.csum_start = vnet->csum_start;
        vh.csum_offset = vnet->csum_offset;
        vh.hdr_len = s_gso_hdr_len(frame, size, vnet);
    }
    struct iovec iov[2] = {
        { .iov_base = &vh, .iov_len = sizeof vh },
        { .iov_base = (void *) frame, .iov_len = size },
    };
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
    if (sendmsg(self->fd, &mh, MSG_DONTWAIT) >= 0) {
        return 0;
    }
    int err = errno ? errno : EIO;
    /* Past the qdisc, a super-frame the device cannot take (a veth with
     * its offloads off) is dropped, not segmented: from the first one on
     * this port goes through its qdisc, which segments. */
    if (err == ENOBUFS && vh.gso_type != VIRTIO_NET_HDR_GSO_NONE
        && atomic_exchange(&self->bypass, false)) {
        int zero = 0;
        setsockopt(self->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &zero,
                   sizeof zero);
        VLOG_WARN_RL("port %s: drops super-frames sent past its qdisc (its "
                     "offloads are off?): sending through it from now on",
                     self->name);
        if (sendmsg(self->fd, &mh, MSG_DONTWAIT) >= 0) {
            return 0;
        }
        err = errno ? errno : EIO;
    }
    return err;
}

/* ------------------------------------------------------------------ */
/* pcap */

static int
s_pcap_open(agent_port_t *self, size_t buf_size)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    self->pcap = pcap_create(self->name, err);
    if (!self->pcap) {
        VLOG_ERR_RL("port %s: pcap: %s", self->name, err);
        return -1;
    }
    pcap_set_snaplen(self->pcap, ENCAP_MAX_FRAME);
    pcap_set_promisc(self->pcap, 1);
    /* Without immediate mode a ping waits for a ring block to fill. */
    pcap_set_immediate_mode(self->pcap, 1);
    pcap_set_buffer_size(self->pcap, (int) buf_size);
    int rc = pcap_activate(self->pcap);
    if (rc < 0) {
        VLOG_ERR_RL("port %s: pcap_activate: %s", self->name,
                 pcap_geterr(self->pcap));
        return -1;
    }
    if (pcap_setdirection(self->pcap, PCAP_D_IN) != 0
        || pcap_setnonblock(self->pcap, 1, err) != 0) {
        VLOG_ERR_RL("port %s: pcap: %s", self->name, pcap_geterr(self->pcap));
        return -1;
    }
    self->fd = pcap_get_selectable_fd(self->pcap);
    return self->fd < 0 ? -1 : 0;
}

static void
s_pcap_close(agent_port_t *self)
{
    if (self->pcap) {
        pcap_close(self->pcap);
    }
    self->fd = -1;
}

struct s_pcap_ctx {
    agent_port_t *port;
    struct port_frame *frames;
    size_t n;
};

static void
s_pcap_one(u_char *arg, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct s_pcap_ctx *ctx = (struct s_pcap_ctx *) (void *) arg;
    if (h->caplen != h->len || h->caplen < ETH_HLEN
        || h->caplen > ENCAP_MAX_FRAME) {
        return;
    }
    /* pcap's buffer is reused on the next dispatch: copy to our slot. */
    uint8_t *slot = ctx->port->slots + ctx->n * S_SLOT;
    memcpy(slot, bytes, h->caplen);
    ctx->frames[ctx->n++] = (struct port_frame) {
        .data = slot,
        .size = h->caplen,
        .captured = h->caplen,
    };
}

static size_t
s_pcap_recv(agent_port_t *self, struct port_frame *frames, size_t max)
{
    struct s_pcap_ctx ctx = { .port = self, .frames = frames };
    if (max > PORT_BURST) {
        max = PORT_BURST;
    }
    pcap_dispatch(self->pcap, (int) max, s_pcap_one, (u_char *) &ctx);
    return ctx.n;
}

static int
s_pcap_send(agent_port_t *self, const uint8_t *frame, size_t size,
            const struct encap_vnet *vnet)
{
    if (vnet && vnet->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        return EMSGSIZE;    /* a super-frame needs the vnet header */
    }
    return pcap_inject(self->pcap, frame, size) < 0 ? EIO : 0;
}

static const struct port_class s_classes[] = {
    { "afpacket", s_afp_open, s_afp_close, s_afp_recv, s_afp_send, true },
    { "pcap", s_pcap_open, s_pcap_close, s_pcap_recv, s_pcap_send, false },
};

/* ------------------------------------------------------------------ */

agent_port_t *
agent_port_open(const char *ifname, const char *backend, size_t buf_size,
                bool bypass)
{
    const struct port_class *class = NULL;
    for (size_t i = 0; i < sizeof s_classes / sizeof s_classes[0]; i++) {
        if (!strcmp(backend, s_classes[i].name)) {
            class = &s_classes[i];
        }
    }
    if (!class) {
        VLOG_ERR_RL("port %s: unknown capture back end '%s'", ifname, backend);
        return NULL;
    }
    agent_port_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->class = class;
    self->fd = -1;
    atomic_init(&self->bypass, bypass);
    snprintf(self->name, sizeof self->name, "%s", ifname);
    self->ifindex = (int) if_nametoindex(ifname);
    self->slots = malloc((size_t) PORT_BURST * S_SLOT);
    if (!self->ifindex) {
        VLOG_ERR_RL("port %s: no such interface", ifname);
        goto error;
    }
    if (!self->slots || class->open(self, buf_size) != 0) {
        goto error;
    }
    VLOG_INFO_RL("port %s: open (%s, ifindex %d%s)", self->name,
                 class->name, self->ifindex,
                 bypass ? "" : ", through its qdisc");
    return self;

error:
    agent_port_close(&self);
    return NULL;
}

void
agent_port_close(agent_port_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    agent_port_t *self = *self_p;
    self->class->close(self);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

int
agent_port_fd(const agent_port_t *self)
{
    return self->fd;
}

const char *
agent_port_name(const agent_port_t *self)
{
    return self->name;
}

int
agent_port_ifindex(const agent_port_t *self)
{
    return self->ifindex;
}

size_t
agent_port_recv(agent_port_t *self, struct port_frame *frames, size_t max)
{
    return self->class->recv(self, frames, max);
}

int
agent_port_send(agent_port_t *self, const uint8_t *frame, size_t size,
                const struct encap_vnet *vnet)
{
    return self->class->send(self, frame, size, vnet);
}

size_t
agent_port_cut_bpf(const uint64_t *macs, size_t n, struct sock_filter *out,
               size_t cap)
{
    /* Per MAC: A = the first 4 bytes; if they differ, skip 3; A = the
     * last 2; if they differ, skip 1; accept AGENT_FAST_SNAP bytes.  Then
     * accept the whole frame.  Short jumps only, so no limit on n but
     * the kernel's BPF_MAXINSNS. */
    size_t need = 5 * n + 1;
    if (need > cap) {
        return need;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        out[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);
        out[k++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                                 (uint32_t) (macs[i] >> 16),
                                                 0, 3);
        out[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 4);
        out[k++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                                 (uint32_t) (macs[i]
                                                             & 0xffff),
                                                 0, 1);
        out[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K,
                                                 AGENT_FAST_SNAP);
    }
    out[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, 0x40000);
    return k;
}

int
agent_port_set_cut(agent_port_t *self, const uint64_t *macs, size_t n)
{
    if (self->class != &s_classes[0]) {
        return n ? -1 : 0;      /* pcap: no cut, so no fast path */
    }
    if (n == 0) {
        int zero = 0;       /* ignored, but the kernel wants an int */
        if (setsockopt(self->fd, SOL_SOCKET, SO_DETACH_FILTER, &zero,
                       sizeof zero) != 0
            && errno != ENOENT) {
            VLOG_ERR("port %s: removing the capture cut: %s", self->name,
                     strerror(errno));
            return -1;
        }
        return 0;
    }
    /* The frame's length before the cut comes with PACKET_AUXDATA, on
     * from the first cut (until then it would cost every frame a control
     * message for nothing); on before the filter, so no cut frame comes
     * without it. */
    int one = 1;
    if (!self->has_aux) {
        if (setsockopt(self->fd, SOL_PACKET, PACKET_AUXDATA, &one,
                       sizeof one) != 0) {
            VLOG_ERR("port %s: PACKET_AUXDATA: %s", self->name,
                     strerror(errno));
            return -1;
        }
        self->has_aux = true;
    }
    size_t need = agent_port_cut_bpf(macs, n, NULL, 0);
    if (need > BPF_MAXINSNS) {
        VLOG_ERR("port %s: capture cut for %zu MACs is too long", self->name,
                 n);
        return -1;
    }
    struct sock_filter *code = calloc(need, sizeof *code);
    if (!code) {
        return -1;
    }
    agent_port_cut_bpf(macs, n, code, need);
    struct sock_fprog prog = { .len = (unsigned short) need, .filter = code };
    int rc = setsockopt(self->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
                        sizeof prog);
    if (rc != 0) {
        VLOG_ERR("port %s: capture cut: %s", self->name, strerror(errno));
    }
    free(code);
    return rc == 0 ? 0 : -1;
}

bool
agent_port_has_vnet(const agent_port_t *self)
{
    return self->class->has_vnet;
}
