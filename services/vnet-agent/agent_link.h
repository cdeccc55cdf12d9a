/* SPDX-License-Identifier: MIT */
/* An overlay link: the path to one peer agent over UDP.  Frames go out
 * behind the encap header, in chunks when they exceed what one datagram
 * may carry on the link's MTU (never IP-fragmented: DF is set on the
 * socket).  Counters are kept per sending or receiving thread, each written
 * by one thread only, and summed by the control thread.  Used by agent.c;
 * links are made and destroyed by the control thread only. */
#ifndef AGENT_LINK_H
#define AGENT_LINK_H

#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent_encap.h"
#include "agent_peer.h"

/* Which thread touches a counter set or a frame-id sequence. */
enum agent_thread {
    AGENT_T_VM = 0,             /* frames from local VMs */
    AGENT_T_OVL = 1,            /* frames from the overlay */
    AGENT_T_CTL = 2,            /* control: hello, probes */
    AGENT_N_THREADS = 3,
};

/* Chunks of frames relayed by the overlay thread carry this flag, so the
 * receiver reassembles them apart from the VM thread's chunks on the same
 * link (the two threads send concurrently). */
enum { ENCAP_F_RELAY = 0x02 };

struct link_stats {
    _Atomic uint64_t tx_frames;
    _Atomic uint64_t tx_bytes;
    _Atomic uint64_t tx_drops;
    _Atomic uint64_t rx_frames;
    _Atomic uint64_t rx_bytes;
    _Atomic uint64_t rx_drops;      /* reassembly losses */
    _Atomic uint64_t rx_bad;        /* bad headers from this peer */
    _Atomic uint64_t tx_nokey;      /* not sent: no session yet */
    _Atomic uint64_t rx_forged;     /* failed authentication */
    _Atomic uint64_t rx_replayed;   /* seen before, or too old */
    _Atomic uint64_t roamed;        /* endpoint moves (overlay thread) */
} __attribute__((aligned(64)));

/* A TCP byte stream being cut back into [header | payload] records: one
 * per connection, read by the overlay thread only.  'kind' tells the
 * overlay thread's epoll entries apart. */
enum agent_rx_kind {
    AGENT_RX_UDP = 0,               /* the overlay UDP socket */
    AGENT_RX_LISTEN = 1,            /* the TCP listening socket */
    AGENT_RX_ACCEPTED = 2,          /* a connection a peer opened */
    AGENT_RX_OUTGOING = 3,          /* the connection a TCP link opened */
};

struct agent_tcp_rx {
    enum agent_rx_kind kind;
    int fd;                         /* not owned for OUTGOING */
    struct sockaddr_in from;        /* peer address, port 0 */
    uint64_t last_us;               /* ACCEPTED: monotonic time it was
                                     * made or last gave a record */
    size_t have;                    /* bytes in 'buf' */
    uint8_t *buf;                   /* AGENT_TCP_REC_MAX */
    bool sealed;                    /* records are sealed datagrams behind
                                     * a 4-byte length, not bare encap */
};

/* The largest record on a TCP link: a sealed whole frame and its length
 * prefix. */
enum { AGENT_TCP_REC_MAX = 4 + SEC_OVERHEAD + ENCAP_HDR_LEN
                           + ENCAP_MAX_FRAME };

/* Called for each complete record ('len' bytes at 'rec', header first). */
typedef void agent_tcp_rec_fn(const uint8_t *rec, size_t len, void *arg);

/* Allocates the receive buffer; returns 0 or -1. */
int agent_tcp_rx_init(struct agent_tcp_rx *rx, enum agent_rx_kind kind,
                      int fd);
void agent_tcp_rx_uninit(struct agent_tcp_rx *rx);

/* Reads what 'rx->fd' has and calls 'fn' for every complete record.
 * Returns 0 while the connection is usable, -1 when it closed, failed or
 * sent a record that cannot be (bad header): the caller drops it. */
int agent_tcp_rx_feed(struct agent_tcp_rx *rx, agent_tcp_rec_fn *fn,
                      void *arg);

typedef struct agent_link {
    char name[64];                  /* unique in the agent */
    char peer_str[64];              /* "ip:port" as given */
    char peer_agent[64];            /* peer's agent id, from its hello */
    struct sockaddr_in peer;        /* the address it was made with */
    _Atomic uint64_t endpoint;      /* where datagrams go now: 'peer',
                                     * until the peer sends an
                                     * authenticated datagram from
                                     * elsewhere (it roamed); see
                                     * agent_link_addr_key() */
    uint32_t mtu;                   /* underlay MTU of the path */
    size_t max_payload;             /* frame bytes per datagram */
    int fd;                         /* UDP socket, not owned */
    bool tcp;                       /* a TCP link, not UDP */
    int tcp_fd;                     /* its connection, or -1 (owned) */
    int tcp_connecting;             /* a connect under way, or -1 (owned;
                                     * control thread) */
    uint64_t tcp_connect_by_us;     /* ...given up at this time */
    pthread_mutex_t tcp_lock;       /* writers of the stream and queue */
    uint8_t *tcp_q;                 /* bytes the socket did not take yet:
                                     * whole records but the first (NULL
                                     * until first needed) */
    size_t tcp_q_off, tcp_q_len;    /* at tcp_q + tcp_q_off */
    int tcp_epoll;                  /* the overlay thread's epoll: told to
                                     * wait for room while 'tcp_q' holds
                                     * bytes, or -1 */
    _Atomic uint64_t tcp_q_full;    /* records dropped: queue full */
    _Atomic bool tcp_broken;        /* a write failed: writers stop */
    _Atomic bool tcp_rx_dead;       /* the overlay thread let go of it */
    struct agent_tcp_rx tcp_rx;     /* replies that come back on it */
    uint16_t index;                 /* slot in the agent's link table */
    bool learned;                   /* made by the proxy from a hello */
    bool circuit;                   /* over a dedicated, attached path */
    char fast_dev[IF_NAMESIZE];     /* the circuit's device when the fast
                                     * path may use it, else "" */
    uint32_t vlan;                  /* a VLAN circuit's id, 0: none */
    char vlan_cidr[20];             /* its address here, "a.b.c.d/nn" */
    _Atomic bool no_gso;            /* UDP_SEGMENT refused: send chunks
                                     * one datagram per call */
    _Atomic uint64_t last_rx_us;    /* monotonic time of last datagram */
    _Atomic uint32_t frame_id[AGENT_N_THREADS]; /* per sending thread */
    struct encap_reasm reasm[2];    /* overlay thread: [0] VM, [1] relay */
    struct link_sec *sec;           /* sessions; NULL: overlay.insecure */
    _Atomic bool lingering;         /* removed, still taking what is on
                                     * its way (agent_linger.c) */
    uint64_t linger_until_us;       /* ...until then (control thread) */
    uint64_t linger_rx0;            /* rx_frames when it was removed */
    struct link_stats stats[AGENT_N_THREADS];
} agent_link_t;

/* Creates a link named 'name' to 'peer' ("ip:port") sending on 'fd' with a
 * path MTU of 'mtu'.  Returns NULL with the reason logged ('peer' bad, out
 * of memory).  The caller owns the result. */
agent_link_t *agent_link_new(const char *name, const char *peer, int fd,
                             uint32_t mtu);

/* Creates a TCP link named 'name' to 'peer'; it connects with
 * agent_link_tcp_connect().  NULL with the reason logged on failure. */
agent_link_t *agent_link_new_tcp(const char *name, const char *peer);

/* Bytes a TCP link queues when its socket is full; a record that does not
 * fit is dropped and counted (tcp_q_full, tx_drops).  Writers never
 * block: the socket is non-blocking and the overlay thread writes the
 * queue out when the socket has room (agent_link_tcp_flush). */
enum { AGENT_TCP_QUEUE = 2 * 1024 * 1024 };

/* (Re)connects a TCP link without waiting: returns 0 when connected,
 * EINPROGRESS while the connection is being made (call
 * agent_link_tcp_connect_poll() later), or a positive errno (logged,
 * rate-limited).  Control thread only. */
int agent_link_tcp_connect(agent_link_t *self, int timeout_ms);

/* Whether the connect agent_link_tcp_connect() began is done: 0 when
 * connected, EINPROGRESS while under way, or a positive errno (given up
 * after the 'timeout_ms' it was begun with).  Control thread only. */
int agent_link_tcp_connect_poll(agent_link_t *self);

/* Writes out what the queue holds, as far as the socket takes it; when it
 * is empty, stops the overlay thread's wait for room.  Overlay thread
 * (when epoll says the socket has room).  Returns 0, or a positive errno
 * (the connection is then marked broken). */
int agent_link_tcp_flush(agent_link_t *self);

/* Closes a TCP link's connection (it will be reconnected). */
void agent_link_tcp_close(agent_link_t *self);

/* Makes every datagram of the link sealed (agent_sec), encrypted when
 * 'encrypt', else authenticated only; frames per datagram shrink by the
 * seal's overhead.  Control thread, before the link is published.
 * Returns 0 or -1 (out of memory). */
int agent_link_secure(agent_link_t *self, bool encrypt);

/* Sends 'n' bytes at 'buf' as one datagram to 'to' on the link's socket,
 * or as one record on a TCP link's connection ('to' unused): handshakes,
 * which are sealed by themselves.  Returns 0 or an errno. */
int agent_link_send_raw(agent_link_t *self, const struct sockaddr_in *to,
                        const uint8_t *buf, size_t n);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void agent_link_destroy(agent_link_t **self_p);

/* Sends frame 'frame' of 'size' bytes with offload metadata 'vnet' (NULL
 * if none) from thread 't', chunked as needed; 'flags' adds ENCAP_F_*.
 * Returns 0, or a positive errno (counted as a drop). */
int agent_link_send(agent_link_t *self, enum agent_thread t,
                    const uint8_t *frame, size_t size,
                    const struct encap_vnet *vnet, uint8_t flags);

/* Sends a control datagram of 'type' (ENCAP_PROBE, ...) with 'n' bytes of
 * payload.  Returns 0 or a positive errno. */
int agent_link_send_ctl(agent_link_t *self, enum agent_thread t, int type,
                        const void *payload, size_t n);

/* An IPv4 address and port as one number (both in network order), for
 * 'endpoint' and for comparing addresses. */
static inline uint64_t
agent_link_addr_key(const struct sockaddr_in *sin)
{
    return (uint64_t) sin->sin_addr.s_addr << 16 | sin->sin_port;
}

/* Where the link's datagrams go now, into '*out'.  Any thread. */
void agent_link_endpoint(const agent_link_t *self, struct sockaddr_in *out);

/* Moves the link's datagrams to 'to' (a datagram from there was
 * authenticated as the peer's: it roamed).  Returns true if that is a
 * move.  The overlay thread only. */
bool agent_link_roam(agent_link_t *self, const struct sockaddr_in *to);

/* Parses "a.b.c.d:port" (port 0 allowed: "any", for binding) into '*sin';
 * returns true if valid. */
bool agent_link_parse_addr(const char *s, struct sockaddr_in *sin);

/* Sums the per-thread counters into 'out'. */
void agent_link_totals(const agent_link_t *self, struct link_stats *out);

#endif /* AGENT_LINK_H */
