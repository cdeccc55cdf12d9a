/* SPDX-License-Identifier: MIT */
/* The overlay's cryptography: the Noise XX handshake
 * (Noise_XX_25519_ChaChaPoly_SHA256, libsodium's primitives) that proves
 * both agents hold the secret half of an admitted key and agrees fresh
 * session keys, and the transport: every datagram sealed with an AEAD
 * (AES-256-GCM where the CPU has it, else ChaCha20-Poly1305), either
 * encrypted or authenticated only, under a 64-bit counter that is its
 * nonce and that a sliding window checks against replay.  Keys come from
 * ephemeral Diffie-Hellman in every handshake, so a restart never reuses a
 * nonce under a key.  Pure: no sockets, no threads; agent_peer drives it. */
#ifndef AGENT_SEC_H
#define AGENT_SEC_H

#include "agent_aead.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    SEC_KEY_LEN = 32,
    SEC_TAG_LEN = 16,
    SEC_HDR_LEN = 16,           /* type, 3 reserved, receiver, counter */
    SEC_OVERHEAD = SEC_HDR_LEN + SEC_TAG_LEN,
    SEC_HS1_LEN = 4 + 4 + 32 + 1 + 4,                   /* 45 */
    SEC_HS2_LEN = 4 + 4 + 4 + 32 + 48 + 1 + 16,         /* 109 */
    SEC_HS3_LEN = 4 + 4 + 4 + 48 + 1 + 16,              /* 77 */
    SEC_REPLAY_BITS = 2048,     /* the window, as WireGuard keeps */
    SEC_REPLAY_WORDS = SEC_REPLAY_BITS / 64,
};

/* The first byte of a secure datagram.  Plain (insecure) datagrams start
 * with the encap version, 1, so the two never mix. */
enum sec_type {
    SEC_T_HS1 = 0x81,           /* -> e */
    SEC_T_HS2 = 0x82,           /* <- e, ee, s, es */
    SEC_T_HS3 = 0x83,           /* -> s, se */
    SEC_T_DATA = 0x84,          /* encrypted transport */
    SEC_T_AUTH = 0x85,          /* authenticated, not encrypted */
};

/* What a side offers in its handshake payload. */
enum {
    SEC_F_AES = 0x01,           /* this CPU does AES-256-GCM in hardware */
};

/* An agent's long-term identity: an X25519 key pair (the same curve and
 * layout as its CURVE certificate). */
struct sec_identity {
    uint8_t pub[SEC_KEY_LEN];
    uint8_t secret[SEC_KEY_LEN];
};

/* One side of a handshake in progress.  Owned by one thread. */
struct sec_hs {
    uint8_t ck[32];             /* chaining key */
    uint8_t h[32];              /* handshake hash */
    uint8_t k[32];              /* current cipher key, once has_k */
    uint64_t n;                 /* its nonce */
    bool has_k;
    bool initiator;
    uint8_t step;               /* messages done */
    uint8_t e_pub[32], e_sec[32];   /* our ephemeral */
    uint8_t re[32];             /* theirs */
    uint8_t rs[32];             /* their static, once known */
    uint32_t local_idx;         /* where they address us */
    uint32_t remote_idx;        /* where we address them */
    uint8_t flags;              /* ours */
    uint8_t remote_flags;       /* theirs */
};

/* The receive side's replay window (RFC 6479, as WireGuard): written by
 * the receiving thread only. */
struct sec_replay {
    uint64_t top;               /* highest counter accepted, +1; 0: none */
    uint64_t bits[SEC_REPLAY_WORDS];
};

/* A transport session: keys for both directions.  Sending threads only
 * read it and draw counters; the receiving thread owns 'replay'. */
struct sec_session {
    crypto_aead_aes256gcm_state aes_tx; /* expanded keys, when 'aes' */
    crypto_aead_aes256gcm_state aes_rx;
    struct aead_key gcm_tx;     /* the same keys for OpenSSL's encryption */
    struct aead_key gcm_rx;
    uint8_t tx_key[SEC_KEY_LEN];
    uint8_t rx_key[SEC_KEY_LEN];
    uint32_t local_idx;         /* receiver index of datagrams to us */
    uint32_t remote_idx;        /* receiver index we put on ours */
    bool aes;                   /* AES-256-GCM, else ChaCha20-Poly1305 */
    bool initiator;             /* we started the handshake */
    uint8_t remote_pub[SEC_KEY_LEN];
    uint64_t created_ms;        /* monotonic */
    _Atomic uint64_t tx_counter;    /* next nonce */
    _Atomic uint64_t tx_bytes;      /* sealed so far, for rekeying */
    struct sec_replay replay;
};

/* Sets up libsodium once; returns 0 or -1.  Thread-safe. */
int sec_init(void);

/* True when this CPU runs AES-256-GCM in hardware. */
bool sec_aes_available(void);

/* Loads an identity from the czmq certificate 'path' (its secret half in
 * 'path'_secret, as `vnetctl keygen` writes them).  Returns 0, or -1 with
 * the reason in 'err' ('err_size' bytes). */
int sec_identity_load(struct sec_identity *id, const char *path, char *err,
                      size_t err_size);

/* Reads the public key of certificate 'path' into 'pub'. */
int sec_public_load(uint8_t pub[SEC_KEY_LEN], const char *path, char *err,
                    size_t err_size);

/* Parses or formats a key in Z85 (40 characters), as CURVE writes them. */
bool sec_key_from_z85(uint8_t key[SEC_KEY_LEN], const char *z85);
void sec_key_to_z85(const uint8_t key[SEC_KEY_LEN], char out[41]);

/* Initiator: starts a handshake as 'me', addressed at 'local_idx', and
 * writes message 1 (SEC_HS1_LEN bytes) into 'out'.  'tag' says which of
 * the responder's links to this address the session is for (the
 * responder reads it with sec_hs1_tag before it answers); it travels in
 * the clear, and the handshake hash covers it, so a changed tag makes the
 * handshake fail. */
void sec_hs_initiate(struct sec_hs *hs, const struct sec_identity *me,
                     uint32_t local_idx, uint8_t flags, uint32_t tag,
                     uint8_t *out);

/* The link tag of handshake message 1 ('n' bytes at 'in'), or 0 if it is
 * not one. */
uint32_t sec_hs1_tag(const uint8_t *in, size_t n);

/* Responder: reads message 1 ('n' bytes at 'in') into a fresh 'hs' and
 * writes message 2 (SEC_HS2_LEN bytes) into 'out'.  Returns true if
 * message 1 was well formed. */
bool sec_hs_respond(struct sec_hs *hs, const struct sec_identity *me,
                    uint32_t local_idx, uint8_t flags, const uint8_t *in,
                    size_t n, uint8_t *out);

/* Initiator: reads message 2; on success the responder's static key is
 * in hs->rs (the caller checks it is admitted) and message 3
 * (SEC_HS3_LEN bytes) is in 'out'.  Returns true if message 2 was
 * authentic. */
bool sec_hs_finish(struct sec_hs *hs, const struct sec_identity *me,
                   const uint8_t *in, size_t n, uint8_t *out);

/* Responder: reads message 3; on success the initiator's static key is in
 * hs->rs.  Returns true if message 3 was authentic. */
bool sec_hs_confirm(struct sec_hs *hs, const uint8_t *in, size_t n);

/* Both sides, after sec_hs_finish or sec_hs_confirm: derives the session
 * keys into 's' (created at 'now_ms') and wipes 'hs'. */
void sec_hs_split(struct sec_hs *hs, struct sec_session *s, uint64_t now_ms);

/* The receiver index of a handshake message 2 or 3 or a transport
 * datagram ('n' bytes at 'in'), or 0 if it has none. */
uint32_t sec_receiver(const uint8_t *in, size_t n);

/* Seals one datagram: the 'hdr_len' bytes at 'hdr' and the 'n' bytes at
 * 'payload' as the inner message, encrypted when 'encrypt', into 'out'
 * (room for SEC_OVERHEAD + hdr_len + n bytes).  Returns the datagram's
 * length, or 0 when the session may send no more (its counter ran out,
 * or, never seen, OpenSSL found no memory for a context). */
size_t sec_seal(struct sec_session *s, bool encrypt, const uint8_t *hdr,
                size_t hdr_len, const uint8_t *payload, size_t n,
                uint8_t *out);

/* Why sec_open refused a datagram. */
enum sec_verdict {
    SEC_OK = 0,
    SEC_MALFORMED,              /* not a transport datagram for 's' */
    SEC_REPLAYED,               /* its counter was seen, or is too old */
    SEC_FORGED,                 /* its tag is wrong: forged or damaged */
};

/* Opens datagram 'buf' ('n' bytes) in place: checks its tag and its
 * counter against the replay window, decrypts it if it was encrypted, and
 * points '*inner' and '*inner_len' at the inner message.  '*encrypted'
 * tells which it was.  Returns SEC_OK if it is authentic and new; a
 * refused datagram's bytes may have been overwritten. */
enum sec_verdict sec_open(struct sec_session *s, uint8_t *buf, size_t n,
              const uint8_t **inner, size_t *inner_len, bool *encrypted);

/* Replay window: true if 'counter' has not been seen and is not too old;
 * sec_replay_mark records it. */
bool sec_replay_check(const struct sec_replay *r, uint64_t counter);
void sec_replay_mark(struct sec_replay *r, uint64_t counter);

#endif /* AGENT_SEC_H */
