/* SPDX-License-Identifier: MIT */
/* Who may join the overlay, and each link's sessions.  The admitted keys
 * (a directory of certificates and/or a list in the config) each name one
 * agent id, so an id can only be spoken for by its key.  Every link has a
 * struct link_sec: up to LINK_SEC_SLOTS sessions (the newest sends, all
 * live ones receive, so a rekey loses nothing), and the handshakes in
 * flight.  The overlay thread runs every handshake (agent_peer_*), so the
 * handshake state has one writer; the sending threads only load the
 * session to send with (link_sec_tx).  Used by agent_ovl.c and
 * agent_link.c; the cryptography is agent_sec's. */
#ifndef AGENT_PEER_H
#define AGENT_PEER_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent_sec.h"
#include "cfg.h"

enum {
    AGENT_PEERS_MAX = 4096,     /* admitted keys at most */
    LINK_SEC_SLOTS = 4,         /* sessions a link keeps */
    AGENT_PENDING = 64,         /* proxy: handshakes from unknown peers */
    SEC_IDX_PENDING = 0x80000000u,  /* receiver index of a session made
                                     * before its link existed */
};

/* One admitted key and the agent id it speaks for. */
struct agent_peer_key {
    char id[64];
    uint8_t pub[SEC_KEY_LEN];
};

typedef struct agent_peers {
    struct agent_peer_key *v;   /* owned */
    size_t n;
} agent_peers_t;

/* Loads the admitted keys: every "agent-<id>.key" certificate in 'dir'
 * (NULL: none; the bus's name for an agent host's certificate, so one
 * certificate is a host's identity on both) and every "<id>=<Z85 key>"
 * in 'list'.  An id or a key given twice
 * with different partners is an error.  Returns 0, or -1 with the reason
 * in 'err'. */
int agent_peers_load(agent_peers_t *peers, const char *dir,
                     const struct cfg_strlist *list, char *err,
                     size_t err_size);
void agent_peers_free(agent_peers_t *peers);

/* The index of key 'pub', or of id 'id', or -1. */
int agent_peers_find(const agent_peers_t *peers,
                     const uint8_t pub[SEC_KEY_LEN]);
int agent_peers_find_id(const agent_peers_t *peers, const char *id);

/* A link's security state.  Allocated with the link. */
struct link_sec {
    struct sec_session sess[LINK_SEC_SLOTS];
    _Atomic int tx;             /* slot to send with, or -1 */
    int unconfirmed;            /* initiator: slot that sends once the
                                 * peer has used it, or -1 */
    int last_slot;              /* slot filled last */
    _Atomic int bound;          /* admitted key this link speaks with,
                                 * or -1 before the first handshake */
    bool encrypt;               /* seal with encryption, not only a tag;
                                 * set by the control thread */
    uint16_t gen;               /* for receiver indices */
    struct sec_hs init;         /* our handshake in flight */
    uint64_t init_ms;           /* when it started; 0: none */
    uint64_t last_init_ms;      /* when we last started one, answered or
                                 * not: at most one a second */
    struct sec_hs resp;         /* theirs, awaiting message 3 */
    uint64_t resp_ms;
    _Atomic bool kick;          /* a session came up: say hello now */
    uint32_t tag;               /* which of the peer's links to our
                                 * address this one pairs with (in our
                                 * handshake message 1): 0 for the star,
                                 * else link_sec_tag(name); set by the
                                 * control thread before publishing */
};

struct link_sec *link_sec_new(void);

/* The tag of a link named 'name': a hash of the name, never 0 (0 is the
 * star's).  The planner names a link the same on both ends, so both ends'
 * links carry the same tag, and two links between the same two addresses
 * pair up each with its namesake. */
uint32_t link_sec_tag(const char *name);
void link_sec_destroy(struct link_sec **self_p);

/* The session to send with, or NULL (no handshake has finished). */
static inline struct sec_session *
link_sec_tx(struct link_sec *ls)
{
    int t = atomic_load_explicit(&ls->tx, memory_order_acquire);
    return t >= 0 ? &ls->sess[t] : NULL;
}

/* Installs session 's' (made for a link not yet created, on the proxy)
 * as the one to send with.  Control thread, before the link is
 * published: once it is, only the overlay thread changes its sessions. */
void link_sec_adopt(struct link_sec *ls, const struct sec_session *s,
                    int bound);

/* The overlay thread's side of the handshakes. */
struct agent_hs_ctx {
    struct sec_identity me;
    agent_peers_t peers;
    uint8_t flags;              /* SEC_F_AES where we have it */
    uint64_t rekey_ms;          /* initiator rekeys after this */
    uint64_t rekey_bytes;       /* or after sealing this much */
    uint64_t quiet_ms;          /* a link silent this long shakes hands
                                 * again: the peer may have lost it */
    bool accept_unknown_addr;   /* the proxy takes in new agents */
    struct {
        struct sec_hs hs;
        struct sockaddr_in from;
        uint64_t ms;            /* 0: free */
    } pending[AGENT_PENDING];
    uint16_t pending_gen;
    struct sec_session joined;  /* handed to the control thread */
    double tokens;              /* responses we may still send now */
    uint64_t tokens_ms;
    /* Counters (overlay thread writes, control reads). */
    _Atomic uint64_t n_handshakes;  /* sessions made */
    _Atomic uint64_t n_rekeys;      /* of which replaced a live one */
    _Atomic uint64_t n_unknown_key; /* handshakes with a key not admitted */
    _Atomic uint64_t n_wrong_key;   /* an admitted key for another's link
                                     * or id */
    _Atomic uint64_t n_hs_bad;      /* handshake messages refused */
    _Atomic uint64_t n_hs_limited;  /* not answered: too many at once */
};

/* What a handshake message led to. */
struct agent_hs_result {
    bool established;           /* a session is up on 'link' */
    bool joined;                /* a session is up with a peer that has
                                 * no link yet: 'session' and 'bound' */
    struct sec_session *session;    /* for 'joined': the pending one */
    int bound;
    struct sockaddr_in from;
};

/* Sends 'n' bytes at 'buf' to 'to' (the overlay thread's socket). */
typedef void agent_hs_send_fn(const struct sockaddr_in *to,
                              const uint8_t *buf, size_t n, void *arg);

/* Handles a handshake message ('n' bytes at 'buf', from 'from') for
 * 'ls' (the link the receiver index names; for message 1 the link at
 * 'from' whose tag it carries, else the first link at 'from'; for a
 * message 3 to a pending index the first link at 'from'; NULL for
 * none).  'link_index' is the link's slot, 'expect_id' the agent id the
 * link was made for ("" for any admitted one).  Replies through 'send'. */
void agent_hs_input(struct agent_hs_ctx *ctx, struct link_sec *ls,
                    int link_index, const char *expect_id,
                    const struct sockaddr_in *from, const uint8_t *buf,
                    size_t n, uint64_t now_ms, agent_hs_send_fn *send,
                    void *arg, struct agent_hs_result *res);

/* Starts a handshake on 'ls' when it has no session, when its session is
 * due for a new key, when nothing came in on it since 'last_rx_ms' for
 * quiet_ms (every link carries a hello a second: the peer may have
 * restarted or dropped us), or when the last attempt went unanswered;
 * expires old sessions.  Called every 100 ms or so for every link. */
void agent_hs_tick(struct agent_hs_ctx *ctx, struct link_sec *ls,
                   int link_index, const struct sockaddr_in *peer,
                   uint64_t now_ms, uint64_t last_rx_ms,
                   agent_hs_send_fn *send, void *arg);

/* Finds the session of receiver index 'idx' in 'ls', or NULL; a session
 * the initiator has not used yet becomes the one to send with once the
 * peer has used it (call link_sec_confirm after it opened). */
struct sec_session *link_sec_rx(struct link_sec *ls, uint32_t idx);
void link_sec_confirm(struct link_sec *ls, const struct sec_session *s);

/* The link slot a receiver index names, or -1 (a pending one). */
static inline int
agent_hs_idx_link(uint32_t idx)
{
    return (idx & SEC_IDX_PENDING) ? -1 : (int) (idx >> 16);
}

#endif /* AGENT_PEER_H */
