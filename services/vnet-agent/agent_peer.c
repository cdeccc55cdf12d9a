/* SPDX-License-Identifier: MIT */
/* Admitted keys, link sessions and the handshake driver.  Who starts:
 * every link without a session starts a handshake (both ends may at once:
 * each gets two sessions, and either works); the side that started the
 * live session rekeys it after rekey_ms or rekey_bytes, the other side
 * 15 s later if that never happened.  A new session sends at once on the
 * responder (message 3 proved the initiator); on the initiator, which
 * cannot know message 3 arrived, it sends once the peer has used it (the
 * responder answers message 3 with an empty keepalive), unless there is
 * no older session to keep using. */
#include "agent_peer.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

LOG_MODULE("peer");

enum {
    S_RETRY_MS = 1000,          /* an unanswered handshake is sent again */
    S_CONFIRM_MS = 2000,        /* an unconfirmed session is given up */
    S_RESP_MS = 5000,           /* a responder waits this for message 3 */
    S_RESPONDER_REKEY_MS = 15000,   /* the responder's fallback */
    S_RATE = 200,               /* handshake answers per second */
    S_BURST = 100,
};

/* ------------------------------------------------------------------ */
/* Admitted keys */

static bool
s_id_ok(const char *id, size_t len)
{
    if (len == 0 || len >= sizeof ((struct agent_peer_key *) 0)->id) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_'
              || c == '.' || c == ':')) {
            return false;
        }
    }
    return true;
}

static int
s_add(agent_peers_t *peers, const char *id, size_t id_len,
      const uint8_t pub[SEC_KEY_LEN], char *err, size_t err_size)
{
    if (!s_id_ok(id, id_len)) {
        log_format(err, err_size, "bad agent id '%s': want 1 to 63 of "
                   "[A-Za-z0-9._:-]", log_escape((char[LOG_ESC_MAX]) { 0 },
                                                 LOG_ESC_MAX, id, id_len));
        return -1;
    }
    for (size_t i = 0; i < peers->n; i++) {
        bool same_id = strlen(peers->v[i].id) == id_len
                       && !memcmp(peers->v[i].id, id, id_len);
        bool same_key = !memcmp(peers->v[i].pub, pub, SEC_KEY_LEN);
        if (same_id && same_key) {
            return 0;
        }
        if (same_id || same_key) {
            log_format(err, err_size, "agent '%s': %s given twice with "
                       "different partners", peers->v[i].id,
                       same_id ? "id" : "key");
            return -1;
        }
    }
    if (peers->n == AGENT_PEERS_MAX) {
        log_format(err, err_size, "more than %d admitted keys",
                   AGENT_PEERS_MAX);
        return -1;
    }
    if (peers->n % 64 == 0) {
        struct agent_peer_key *v = realloc(
            peers->v, (peers->n + 64) * sizeof *v);
        if (!v) {
            log_format(err, err_size, "out of memory");
            return -1;
        }
        peers->v = v;
    }
    struct agent_peer_key *k = &peers->v[peers->n++];
    memcpy(k->id, id, id_len);
    k->id[id_len] = '\0';
    memcpy(k->pub, pub, SEC_KEY_LEN);
    return 0;
}

int
agent_peers_load(agent_peers_t *peers, const char *dir,
                 const struct cfg_strlist *list, char *err, size_t err_size)
{
    memset(peers, 0, sizeof *peers);
    if (dir && *dir) {
        DIR *d = opendir(dir);
        if (!d) {
            log_format(err, err_size, "overlay.peers_dir '%s': cannot "
                       "open", LOG_ESC(dir));
            return -1;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            /* Agents' certificates only, named as on the bus: the same
             * directory may hold the services' keys too. */
            size_t len = strlen(e->d_name);
            if (len <= 10 || strncmp(e->d_name, "agent-", 6) != 0
                || strcmp(e->d_name + len - 4, ".key") != 0) {
                continue;       /* secrets (.key_secret) and the rest */
            }
            char path[4096];
            uint8_t pub[SEC_KEY_LEN];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (sec_public_load(pub, path, err, err_size) != 0
                || s_add(peers, e->d_name + 6, len - 10, pub, err,
                         err_size) != 0) {
                closedir(d);
                agent_peers_free(peers);
                return -1;
            }
        }
        closedir(d);
    }
    for (size_t i = 0; list && i < list->n; i++) {
        const char *s = list->v[i];
        const char *eq = strchr(s, '=');
        uint8_t pub[SEC_KEY_LEN];
        if (!eq || !sec_key_from_z85(pub, eq + 1)) {
            log_format(err, err_size, "overlay.peers: bad entry '%s': want "
                       "ID=KEY (the Z85 public key, 40 characters)",
                       LOG_ESC(s));
            agent_peers_free(peers);
            return -1;
        }
        if (s_add(peers, s, (size_t) (eq - s), pub, err, err_size) != 0) {
            agent_peers_free(peers);
            return -1;
        }
    }
    return 0;
}

void
agent_peers_free(agent_peers_t *peers)
{
    free(peers->v);
    peers->v = NULL;
    peers->n = 0;
}

int
agent_peers_find(const agent_peers_t *peers, const uint8_t pub[SEC_KEY_LEN])
{
    for (size_t i = 0; i < peers->n; i++) {
        if (sodium_memcmp(peers->v[i].pub, pub, SEC_KEY_LEN) == 0) {
            return (int) i;
        }
    }
    return -1;
}

int
agent_peers_find_id(const agent_peers_t *peers, const char *id)
{
    for (size_t i = 0; id && i < peers->n; i++) {
        if (!strcmp(peers->v[i].id, id)) {
            return (int) i;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Link sessions */

struct link_sec *
link_sec_new(void)
{
    /* The AES key schedules want 16-byte alignment. */
    size_t size = (sizeof(struct link_sec) + 63) & ~(size_t) 63;
    struct link_sec *ls = aligned_alloc(64, size);
    if (!ls) {
        return NULL;
    }
    memset(ls, 0, sizeof *ls);
    atomic_store(&ls->tx, -1);
    atomic_store(&ls->bound, -1);
    ls->unconfirmed = -1;
    ls->last_slot = -1;
    randombytes_buf(&ls->gen, sizeof ls->gen);
    return ls;
}

uint32_t
link_sec_tag(const char *name)
{
    /* FNV-1a: the tag names a link, it guards nothing (the handshake
     * authenticates it, and a wrong one only pairs the wrong link of the
     * same peer). */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *) name; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h ? h : 1;
}

void
link_sec_destroy(struct link_sec **self_p)
{
    if (self_p && *self_p) {
        sodium_memzero(*self_p, sizeof **self_p);
        free(*self_p);
        *self_p = NULL;
    }
}

struct sec_session *
link_sec_rx(struct link_sec *ls, uint32_t idx)
{
    for (int k = 0; idx && k < LINK_SEC_SLOTS; k++) {
        if (ls->sess[k].local_idx == idx) {
            return &ls->sess[k];
        }
    }
    return NULL;
}

void
link_sec_confirm(struct link_sec *ls, const struct sec_session *s)
{
    int slot = (int) (s - ls->sess);
    if (slot == ls->unconfirmed) {
        atomic_store_explicit(&ls->tx, slot, memory_order_release);
        ls->unconfirmed = -1;
    }
}

/* A slot for a new session: never the one that sends, nor the one about
 * to; the oldest of the rest (slots are filled in turn). */
static int
s_free_slot(const struct link_sec *ls)
{
    int tx = atomic_load(&ls->tx);
    for (int k = 1; k <= LINK_SEC_SLOTS; k++) {
        int c = (ls->last_slot + k + LINK_SEC_SLOTS) % LINK_SEC_SLOTS;
        if (c != tx && c != ls->unconfirmed) {
            return c;
        }
    }
    return 0;                   /* not reached: 4 slots, 2 taken at most */
}

/* Makes the handshake 'hs' a session of 'ls' with admitted key 'bound'. */
static struct sec_session *
s_install(struct agent_hs_ctx *ctx, struct link_sec *ls, struct sec_hs *hs,
          int bound, uint64_t now_ms)
{
    bool initiator = hs->initiator;
    int slot = s_free_slot(ls);
    struct sec_session *s = &ls->sess[slot];
    sec_hs_split(hs, s, now_ms);
    bool had_tx = atomic_load(&ls->tx) >= 0;
    atomic_store(&ls->bound, bound);
    ls->last_slot = slot;
    if (initiator) {
        ls->unconfirmed = slot;
        if (!had_tx) {
            atomic_store_explicit(&ls->tx, slot, memory_order_release);
        }
    } else {
        atomic_store_explicit(&ls->tx, slot, memory_order_release);
        if (ls->unconfirmed == slot) {
            ls->unconfirmed = -1;
        }
    }
    atomic_fetch_add(&ctx->n_handshakes, 1);
    if (had_tx) {
        atomic_fetch_add(&ctx->n_rekeys, 1);
    }
    atomic_store(&ls->kick, true);
    return s;
}

void
link_sec_adopt(struct link_sec *ls, const struct sec_session *s, int bound)
{
    ls->sess[0] = *s;
    ls->last_slot = 0;
    atomic_store(&ls->bound, bound);
    atomic_store(&ls->tx, 0);
    atomic_store(&ls->kick, true);
}

/* ------------------------------------------------------------------ */
/* Handshakes */

static uint32_t
s_new_idx(struct link_sec *ls, int link_index)
{
    if (++ls->gen == 0) {
        ls->gen = 1;
    }
    return (uint32_t) link_index << 16 | ls->gen;
}

/* Token bucket over every handshake answer: each costs three X25519
 * multiplications, so a flood of message 1 is cut to S_RATE a second. */
static bool
s_take_token(struct agent_hs_ctx *ctx, uint64_t now_ms)
{
    double dt = (double) (now_ms - ctx->tokens_ms) / 1000.0;
    ctx->tokens_ms = now_ms;
    ctx->tokens += dt * S_RATE;
    if (ctx->tokens > S_BURST) {
        ctx->tokens = S_BURST;
    }
    if (ctx->tokens < 1.0) {
        return false;
    }
    ctx->tokens -= 1.0;
    return true;
}

/* The admitted key 'rs' may speak on 'ls' (made for 'expect_id'): its
 * index, or -1, counted and logged. */
static int
s_check_peer(struct agent_hs_ctx *ctx, struct link_sec *ls,
             const char *expect_id, const uint8_t rs[SEC_KEY_LEN],
             const struct sockaddr_in *from)
{
    int peer = agent_peers_find(&ctx->peers, rs);
    char z85[41];
    if (peer < 0) {
        atomic_fetch_add(&ctx->n_unknown_key, 1);
        sec_key_to_z85(rs, z85);
        VLOG_WARN_RL("handshake from %s:%u: key %s is not admitted",
                     inet_ntoa(from->sin_addr), ntohs(from->sin_port), z85);
        return -1;
    }
    int bound = ls ? atomic_load(&ls->bound) : -1;
    const char *id = ctx->peers.v[peer].id;
    if ((bound >= 0 && bound != peer)
        || (expect_id && *expect_id && strcmp(expect_id, id) != 0)) {
        atomic_fetch_add(&ctx->n_wrong_key, 1);
        VLOG_WARN_RL("handshake from %s:%u: agent '%s' may not speak for "
                     "'%s' on this link", inet_ntoa(from->sin_addr),
                     ntohs(from->sin_port), id,
                     bound >= 0 ? ctx->peers.v[bound].id
                                : LOG_ESC(expect_id));
        return -1;
    }
    return peer;
}

/* An empty sealed datagram: tells the initiator its new session works. */
static void
s_keepalive(struct link_sec *ls, const struct sockaddr_in *to,
            agent_hs_send_fn *send, void *arg)
{
    uint8_t out[SEC_OVERHEAD];
    struct sec_session *s = link_sec_tx(ls);
    size_t n = s ? sec_seal(s, ls->encrypt, NULL, 0, NULL, 0, out) : 0;
    if (n) {
        send(to, out, n, arg);
    }
}

static int
s_pending_slot(struct agent_hs_ctx *ctx, uint64_t now_ms)
{
    int oldest = 0;
    for (int k = 0; k < AGENT_PENDING; k++) {
        if (!ctx->pending[k].ms || now_ms - ctx->pending[k].ms > S_RESP_MS) {
            return k;
        }
        if (ctx->pending[k].ms < ctx->pending[oldest].ms) {
            oldest = k;
        }
    }
    /* Full: a flood.  Take the oldest if it has had its round trip. */
    return now_ms - ctx->pending[oldest].ms > 500 ? oldest : -1;
}

void
agent_hs_input(struct agent_hs_ctx *ctx, struct link_sec *ls,
               int link_index, const char *expect_id,
               const struct sockaddr_in *from, const uint8_t *buf, size_t n,
               uint64_t now_ms, agent_hs_send_fn *send, void *arg,
               struct agent_hs_result *res)
{
    memset(res, 0, sizeof *res);
    switch (n ? buf[0] : 0) {
    case SEC_T_HS1: {
        uint8_t out[SEC_HS2_LEN];
        if (n != SEC_HS1_LEN) {
            break;
        }
        if (!s_take_token(ctx, now_ms)) {
            atomic_fetch_add(&ctx->n_hs_limited, 1);
            return;
        }
        struct sec_hs *hs;
        uint32_t idx;
        if (ls) {
            hs = &ls->resp;
            idx = s_new_idx(ls, link_index);
            ls->resp_ms = now_ms;
        } else {
            int k = ctx->accept_unknown_addr ? s_pending_slot(ctx, now_ms)
                                             : -1;
            if (k < 0) {
                atomic_fetch_add(&ctx->n_hs_limited, 1);
                return;
            }
            if (++ctx->pending_gen == 0) {
                ctx->pending_gen = 1;
            }
            hs = &ctx->pending[k].hs;
            idx = SEC_IDX_PENDING | (uint32_t) k << 16 | ctx->pending_gen;
            ctx->pending[k].ms = now_ms;
            ctx->pending[k].from = *from;
        }
        if (!sec_hs_respond(hs, &ctx->me, idx, ctx->flags, buf, n, out)) {
            break;
        }
        send(from, out, sizeof out, arg);
        return;
    }
    case SEC_T_HS2: {
        uint8_t out[SEC_HS3_LEN];
        if (!ls || !ls->init_ms
            || !sec_hs_finish(&ls->init, &ctx->me, buf, n, out)) {
            break;
        }
        int peer = s_check_peer(ctx, ls, expect_id, ls->init.rs, from);
        if (peer < 0) {
            sodium_memzero(&ls->init, sizeof ls->init);
            ls->init_ms = 0;
            return;
        }
        send(from, out, sizeof out, arg);
        s_install(ctx, ls, &ls->init, peer, now_ms);
        ls->init_ms = 0;
        res->established = true;
        return;
    }
    case SEC_T_HS3: {
        uint32_t idx = sec_receiver(buf, n);
        if (!(idx & SEC_IDX_PENDING)) {
            if (!ls || !ls->resp_ms
                || !sec_hs_confirm(&ls->resp, buf, n)) {
                break;
            }
            ls->resp_ms = 0;
            int peer = s_check_peer(ctx, ls, expect_id, ls->resp.rs, from);
            if (peer < 0) {
                sodium_memzero(&ls->resp, sizeof ls->resp);
                return;
            }
            s_install(ctx, ls, &ls->resp, peer, now_ms);
            s_keepalive(ls, from, send, arg);
            res->established = true;
            return;
        }
        uint32_t k = (idx & ~SEC_IDX_PENDING) >> 16;
        if (k >= AGENT_PENDING || !ctx->pending[k].ms
            || ctx->pending[k].hs.local_idx != idx
            || !sec_hs_confirm(&ctx->pending[k].hs, buf, n)) {
            break;
        }
        ctx->pending[k].ms = 0;
        int peer = s_check_peer(ctx, ls, ls ? expect_id : NULL,
                                ctx->pending[k].hs.rs, from);
        if (peer < 0) {
            sodium_memzero(&ctx->pending[k].hs, sizeof ctx->pending[k].hs);
            return;
        }
        if (ls) {
            /* Its link was made meanwhile: the session goes there. */
            s_install(ctx, ls, &ctx->pending[k].hs, peer, now_ms);
            s_keepalive(ls, from, send, arg);
            res->established = true;
            return;
        }
        atomic_fetch_add(&ctx->n_handshakes, 1);
        sec_hs_split(&ctx->pending[k].hs, &ctx->joined, now_ms);
        res->joined = true;
        res->session = &ctx->joined;
        res->bound = peer;
        res->from = *from;
        return;
    }
    default:
        break;
    }
    atomic_fetch_add(&ctx->n_hs_bad, 1);
}

void
agent_hs_tick(struct agent_hs_ctx *ctx, struct link_sec *ls, int link_index,
              const struct sockaddr_in *peer, uint64_t now_ms,
              uint64_t last_rx_ms, agent_hs_send_fn *send, void *arg)
{
    uint64_t reject_ms = 3 * ctx->rekey_ms + S_RESPONDER_REKEY_MS;
    for (int k = 0; k < LINK_SEC_SLOTS; k++) {
        struct sec_session *s = &ls->sess[k];
        if (s->local_idx && now_ms - s->created_ms > reject_ms) {
            if (atomic_load(&ls->tx) == k) {
                atomic_store(&ls->tx, -1);
            }
            if (ls->unconfirmed == k) {
                ls->unconfirmed = -1;
            }
            s->local_idx = 0;   /* receives no more */
        }
    }
    if (ls->resp_ms && now_ms - ls->resp_ms > S_RESP_MS) {
        sodium_memzero(&ls->resp, sizeof ls->resp);
        ls->resp_ms = 0;
    }
    bool need = false;
    struct sec_session *s = link_sec_tx(ls);
    if (!s) {
        need = true;
    } else {
        uint64_t age = now_ms - s->created_ms;
        uint64_t quiet = last_rx_ms < now_ms ? now_ms - last_rx_ms : 0;
        need = (s->initiator && age >= ctx->rekey_ms)
               || age >= ctx->rekey_ms + S_RESPONDER_REKEY_MS
               || (quiet > ctx->quiet_ms && age > ctx->quiet_ms
                   && now_ms - ls->last_init_ms > ctx->quiet_ms)
               || atomic_load_explicit(&s->tx_bytes, memory_order_relaxed)
                      >= ctx->rekey_bytes;
    }
    if (ls->unconfirmed >= 0
        && now_ms - ls->sess[ls->unconfirmed].created_ms > S_CONFIRM_MS) {
        ls->unconfirmed = -1;   /* message 3 was lost: start over */
        need = true;
    }
    if (!need || now_ms - ls->last_init_ms < S_RETRY_MS) {
        return;
    }
    uint8_t out[SEC_HS1_LEN];
    sec_hs_initiate(&ls->init, &ctx->me, s_new_idx(ls, link_index),
                    ctx->flags, ls->tag, out);
    ls->init_ms = now_ms ? now_ms : 1;
    ls->last_init_ms = now_ms;
    send(peer, out, sizeof out, arg);
}
