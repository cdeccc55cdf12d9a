/* SPDX-License-Identifier: MIT */
/* Noise XX (https://noiseprotocol.org/noise.html, section 7.5) with
 * X25519, ChaCha20-Poly1305 and SHA-256, written against the spec on
 * libsodium's primitives; then the transport datagrams.  Wire layouts:
 *
 *   HS1  0x81 0 0 0 | sender u32 | e (32) | flags (1, in the clear)
 *   HS2  0x82 0 0 0 | sender u32 | receiver u32 | e (32) | s (32+16)
 *        | flags (1+16)
 *   HS3  0x83 0 0 0 | sender u32 | receiver u32 | s (32+16) | flags (1+16)
 *   DATA 0x84 0 0 0 | receiver u32 | counter u64 | sealed inner | tag (16)
 *   AUTH 0x85 ...  the same, the inner message in the clear
 *
 * Numbers are big-endian.  The 16-byte header is the AEAD's associated
 * data; its counter is the nonce. */
#include "agent_sec.h"

#include <czmq.h>
#include <string.h>

#include "log.h"

static const char s_protocol[] = "Noise_XX_25519_ChaChaPoly_SHA256";
static const char s_prologue[] = "vreserve overlay 1";

/* Counters stop well before the nonce space ends (WireGuard's
 * REJECT_AFTER_MESSAGES); a session that reaches it must be replaced. */
static const uint64_t s_max_counter = UINT64_MAX - (1ull << 13);

int
sec_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

bool
sec_aes_available(void)
{
    return crypto_aead_aes256gcm_is_available() == 1;
}

static void
s_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

static uint32_t
s_get32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}

static void
s_put64(uint8_t *p, uint64_t v)
{
    s_put32(p, (uint32_t) (v >> 32));
    s_put32(p + 4, (uint32_t) v);
}

static uint64_t
s_get64(const uint8_t *p)
{
    return (uint64_t) s_get32(p) << 32 | s_get32(p + 4);
}

/* The 96-bit AEAD nonce of counter 'n': four zero bytes, then 'n'
 * little-endian (Noise's ChaChaPoly; the same layout serves GCM). */
static void
s_nonce(uint8_t nonce[12], uint64_t n)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++) {
        nonce[4 + i] = (uint8_t) (n >> (8 * i));
    }
}

/* ------------------------------------------------------------------ */
/* Keys */

bool
sec_key_from_z85(uint8_t key[SEC_KEY_LEN], const char *z85)
{
    return z85 && strlen(z85) == 40 && zmq_z85_decode(key, z85) != NULL;
}

void
sec_key_to_z85(const uint8_t key[SEC_KEY_LEN], char out[41])
{
    if (!zmq_z85_encode(out, key, SEC_KEY_LEN)) {
        out[0] = '\0';
    }
}

static bool
s_is_zero(const uint8_t *p, size_t n)
{
    return sodium_is_zero(p, n) == 1;
}

int
sec_identity_load(struct sec_identity *id, const char *path, char *err,
                  size_t err_size)
{
    zcert_t *cert = path ? zcert_load(path) : NULL;
    if (!cert) {
        log_format(err, err_size, "cannot load certificate '%s'",
                   LOG_ESC(path));
        return -1;
    }
    memcpy(id->pub, zcert_public_key(cert), SEC_KEY_LEN);
    memcpy(id->secret, zcert_secret_key(cert), SEC_KEY_LEN);
    zcert_destroy(&cert);
    uint8_t check[SEC_KEY_LEN];
    if (s_is_zero(id->secret, SEC_KEY_LEN)
        || crypto_scalarmult_base(check, id->secret) != 0
        || sodium_memcmp(check, id->pub, SEC_KEY_LEN) != 0) {
        log_format(err, err_size, "certificate '%s': no secret key in "
                   "'%s_secret', or it does not match the public key",
                   LOG_ESC(path), LOG_ESC(path));
        sodium_memzero(id, sizeof *id);
        return -1;
    }
    return 0;
}

int
sec_public_load(uint8_t pub[SEC_KEY_LEN], const char *path, char *err,
                size_t err_size)
{
    zcert_t *cert = path ? zcert_load(path) : NULL;
    if (!cert) {
        log_format(err, err_size, "cannot load certificate '%s'",
                   LOG_ESC(path));
        return -1;
    }
    memcpy(pub, zcert_public_key(cert), SEC_KEY_LEN);
    zcert_destroy(&cert);
    if (s_is_zero(pub, SEC_KEY_LEN)) {
        log_format(err, err_size, "certificate '%s' has no public key",
                   LOG_ESC(path));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Noise's symmetric state */

static void
s_hmac(uint8_t out[32], const uint8_t key[32], const uint8_t *a,
       size_t a_len, const uint8_t *b, size_t b_len)
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, 32);
    crypto_auth_hmacsha256_update(&st, a, a_len);
    if (b_len) {
        crypto_auth_hmacsha256_update(&st, b, b_len);
    }
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

/* HKDF(ck, ikm) with two outputs, as Noise defines it. */
static void
s_hkdf2(const uint8_t ck[32], const uint8_t *ikm, size_t ikm_len,
        uint8_t out1[32], uint8_t out2[32])
{
    uint8_t temp[32];
    uint8_t one = 1, two = 2;
    s_hmac(temp, ck, ikm, ikm_len, NULL, 0);
    s_hmac(out1, temp, &one, 1, NULL, 0);
    s_hmac(out2, temp, out1, 32, &two, 1);
    sodium_memzero(temp, sizeof temp);
}

static void
s_mix_hash(struct sec_hs *hs, const uint8_t *data, size_t n)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, hs->h, 32);
    crypto_hash_sha256_update(&st, data, n);
    crypto_hash_sha256_final(&st, hs->h);
}

static void
s_mix_key(struct sec_hs *hs, const uint8_t *ikm, size_t n)
{
    uint8_t ck[32];
    s_hkdf2(hs->ck, ikm, n, ck, hs->k);
    memcpy(hs->ck, ck, 32);
    sodium_memzero(ck, sizeof ck);
    hs->n = 0;
    hs->has_k = true;
}

/* MixKey(DH(secret, pub)); false when the result is all zero (a
 * low-order point from the peer). */
static bool
s_mix_dh(struct sec_hs *hs, const uint8_t secret[32], const uint8_t pub[32])
{
    uint8_t shared[32];
    if (crypto_scalarmult(shared, secret, pub) != 0) {
        return false;
    }
    s_mix_key(hs, shared, sizeof shared);
    sodium_memzero(shared, sizeof shared);
    return true;
}

/* EncryptAndHash of 'n' bytes into 'out' (n + 16 bytes: every call here
 * comes after a MixKey). */
static void
s_encrypt_hash(struct sec_hs *hs, const uint8_t *p, size_t n, uint8_t *out)
{
    uint8_t nonce[12];
    s_nonce(nonce, hs->n++);
    unsigned long long c_len;
    crypto_aead_chacha20poly1305_ietf_encrypt(out, &c_len, p, n, hs->h, 32,
                                              NULL, nonce, hs->k);
    s_mix_hash(hs, out, (size_t) c_len);
}

static bool
s_decrypt_hash(struct sec_hs *hs, const uint8_t *c, size_t n, uint8_t *out)
{
    uint8_t nonce[12];
    s_nonce(nonce, hs->n++);
    unsigned long long p_len;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &p_len, NULL, c, n,
                                                  hs->h, 32, nonce, hs->k)
        != 0) {
        return false;
    }
    s_mix_hash(hs, c, n);
    return true;
}

static void
s_hs_start(struct sec_hs *hs, bool initiator, uint32_t local_idx,
           uint8_t flags)
{
    memset(hs, 0, sizeof *hs);
    /* The name is exactly 32 bytes: it is h as it is. */
    memcpy(hs->h, s_protocol, 32);
    memcpy(hs->ck, hs->h, 32);
    s_mix_hash(hs, (const uint8_t *) s_prologue, sizeof s_prologue - 1);
    hs->initiator = initiator;
    hs->local_idx = local_idx;
    hs->flags = flags;
    crypto_box_keypair(hs->e_pub, hs->e_sec);
}

void
sec_hs_initiate(struct sec_hs *hs, const struct sec_identity *me,
                uint32_t local_idx, uint8_t flags, uint32_t tag,
                uint8_t *out)
{
    (void) me;      /* XX sends the static key in message 3 */
    s_hs_start(hs, true, local_idx, flags);
    out[0] = SEC_T_HS1;
    out[1] = out[2] = out[3] = 0;
    s_put32(out + 4, local_idx);
    memcpy(out + 8, hs->e_pub, 32);
    s_mix_hash(hs, hs->e_pub, 32);
    out[40] = flags;                    /* payload, no key yet */
    s_put32(out + 41, tag);
    s_mix_hash(hs, out + 40, 5);
    hs->step = 1;
}

uint32_t
sec_hs1_tag(const uint8_t *in, size_t n)
{
    return n == SEC_HS1_LEN && in[0] == SEC_T_HS1 ? s_get32(in + 41) : 0;
}

bool
sec_hs_respond(struct sec_hs *hs, const struct sec_identity *me,
               uint32_t local_idx, uint8_t flags, const uint8_t *in,
               size_t n, uint8_t *out)
{
    if (n != SEC_HS1_LEN || in[0] != SEC_T_HS1) {
        return false;
    }
    s_hs_start(hs, false, local_idx, flags);
    hs->remote_idx = s_get32(in + 4);
    memcpy(hs->re, in + 8, 32);
    s_mix_hash(hs, hs->re, 32);
    hs->remote_flags = in[40];
    s_mix_hash(hs, in + 40, 5);         /* flags and link tag */

    out[0] = SEC_T_HS2;
    out[1] = out[2] = out[3] = 0;
    s_put32(out + 4, local_idx);
    s_put32(out + 8, hs->remote_idx);
    memcpy(out + 12, hs->e_pub, 32);
    s_mix_hash(hs, hs->e_pub, 32);
    if (!s_mix_dh(hs, hs->e_sec, hs->re)) {             /* ee */
        return false;
    }
    s_encrypt_hash(hs, me->pub, 32, out + 44);          /* s */
    if (!s_mix_dh(hs, me->secret, hs->re)) {            /* es */
        return false;
    }
    s_encrypt_hash(hs, &flags, 1, out + 92);
    hs->step = 2;
    return true;
}

bool
sec_hs_finish(struct sec_hs *hs, const struct sec_identity *me,
              const uint8_t *in, size_t n, uint8_t *out)
{
    if (!hs->initiator || hs->step != 1 || n != SEC_HS2_LEN
        || in[0] != SEC_T_HS2 || s_get32(in + 8) != hs->local_idx) {
        return false;
    }
    /* Work on a copy: a forged message 2 must not spoil the handshake
     * that the real one may still complete. */
    struct sec_hs t = *hs;
    uint8_t flags;
    memcpy(t.re, in + 12, 32);
    s_mix_hash(&t, t.re, 32);
    if (!s_mix_dh(&t, t.e_sec, t.re)                    /* ee */
        || !s_decrypt_hash(&t, in + 44, 48, t.rs)       /* s */
        || !s_mix_dh(&t, t.e_sec, t.rs)                 /* es */
        || !s_decrypt_hash(&t, in + 92, 17, &flags)) {
        sodium_memzero(&t, sizeof t);
        return false;
    }
    t.remote_idx = s_get32(in + 4);
    t.remote_flags = flags;

    out[0] = SEC_T_HS3;
    out[1] = out[2] = out[3] = 0;
    s_put32(out + 4, t.local_idx);
    s_put32(out + 8, t.remote_idx);
    s_encrypt_hash(&t, me->pub, 32, out + 12);          /* s */
    if (!s_mix_dh(&t, me->secret, t.re)) {              /* se */
        sodium_memzero(&t, sizeof t);
        return false;
    }
    s_encrypt_hash(&t, &t.flags, 1, out + 60);
    t.step = 3;
    *hs = t;
    sodium_memzero(&t, sizeof t);
    return true;
}

bool
sec_hs_confirm(struct sec_hs *hs, const uint8_t *in, size_t n)
{
    if (hs->initiator || hs->step != 2 || n != SEC_HS3_LEN
        || in[0] != SEC_T_HS3 || s_get32(in + 8) != hs->local_idx
        || s_get32(in + 4) != hs->remote_idx) {
        return false;
    }
    struct sec_hs t = *hs;
    uint8_t flags;
    if (!s_decrypt_hash(&t, in + 12, 48, t.rs)          /* s */
        || !s_mix_dh(&t, t.e_sec, t.rs)                 /* se */
        || !s_decrypt_hash(&t, in + 60, 17, &flags)) {
        sodium_memzero(&t, sizeof t);
        return false;
    }
    t.step = 3;
    *hs = t;
    sodium_memzero(&t, sizeof t);
    return true;
}

void
sec_hs_split(struct sec_hs *hs, struct sec_session *s, uint64_t now_ms)
{
    uint8_t k1[32], k2[32];
    s_hkdf2(hs->ck, NULL, 0, k1, k2);
    memset(s, 0, sizeof *s);
    memcpy(s->tx_key, hs->initiator ? k1 : k2, 32);
    memcpy(s->rx_key, hs->initiator ? k2 : k1, 32);
    s->local_idx = hs->local_idx;
    s->remote_idx = hs->remote_idx;
    s->initiator = hs->initiator;
    /* AES-GCM only when both ends have it in hardware: a software AES
     * would be slower than ChaCha20 and leak through its timing. */
    s->aes = (hs->flags & SEC_F_AES) && (hs->remote_flags & SEC_F_AES)
             && sec_aes_available();
    if (s->aes) {
        crypto_aead_aes256gcm_beforenm(&s->aes_tx, s->tx_key);
        crypto_aead_aes256gcm_beforenm(&s->aes_rx, s->rx_key);
        aead_key_set(&s->gcm_tx, s->tx_key);
        aead_key_set(&s->gcm_rx, s->rx_key);
    }
    memcpy(s->remote_pub, hs->rs, 32);
    s->created_ms = now_ms;
    sodium_memzero(k1, sizeof k1);
    sodium_memzero(k2, sizeof k2);
    sodium_memzero(hs, sizeof *hs);
}

uint32_t
sec_receiver(const uint8_t *in, size_t n)
{
    if (n < 12) {
        return 0;
    }
    switch (in[0]) {
    case SEC_T_HS2:
    case SEC_T_HS3:
        return s_get32(in + 8);
    case SEC_T_DATA:
    case SEC_T_AUTH:
        return s_get32(in + 4);
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* Transport */

size_t
sec_seal(struct sec_session *s, bool encrypt, const uint8_t *hdr,
         size_t hdr_len, const uint8_t *payload, size_t n, uint8_t *out)
{
    uint64_t ctr = atomic_fetch_add_explicit(&s->tx_counter, 1,
                                             memory_order_relaxed);
    if (ctr >= s_max_counter) {
        return 0;
    }
    size_t inner = hdr_len + n;
    out[0] = encrypt ? SEC_T_DATA : SEC_T_AUTH;
    out[1] = out[2] = out[3] = 0;
    s_put32(out + 4, s->remote_idx);
    s_put64(out + 8, ctr);
    uint8_t *m = out + SEC_HDR_LEN;
    if (hdr_len) {
        memcpy(m, hdr, hdr_len);
    }
    if (n) {
        memcpy(m + hdr_len, payload, n);
    }
    uint8_t nonce[12];
    s_nonce(nonce, ctr);
    if (encrypt) {
        /* In place: libsodium allows the ciphertext over the message. */
        if (s->aes) {
            if (aead_gcm_seal(&s->gcm_tx, nonce, out, SEC_HDR_LEN, m, inner,
                              m + inner)
                != 0) {
                return 0;
            }
        } else {
            crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                m, m + inner, NULL, m, inner, out, SEC_HDR_LEN, NULL, nonce,
                s->tx_key);
        }
    } else {
        /* Authenticated only: everything is associated data; the empty
         * message needs a pointer all the same. */
        uint8_t none[1] = { 0 };
        if (s->aes) {
            crypto_aead_aes256gcm_encrypt_detached_afternm(
                none, m + inner, NULL, none, 0, out, SEC_HDR_LEN + inner,
                NULL, nonce, &s->aes_tx);
        } else {
            crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                none, m + inner, NULL, none, 0, out, SEC_HDR_LEN + inner,
                NULL, nonce, s->tx_key);
        }
    }
    atomic_store_explicit(&s->tx_bytes,
                          atomic_load_explicit(&s->tx_bytes,
                                               memory_order_relaxed)
                              + inner, memory_order_relaxed);
    return SEC_OVERHEAD + inner;
}

enum sec_verdict
sec_open(struct sec_session *s, uint8_t *buf, size_t n,
         const uint8_t **inner, size_t *inner_len, bool *encrypted)
{
    if (n < SEC_OVERHEAD || (buf[0] != SEC_T_DATA && buf[0] != SEC_T_AUTH)
        || buf[1] || buf[2] || buf[3] || s_get32(buf + 4) != s->local_idx) {
        return SEC_MALFORMED;
    }
    uint64_t ctr = s_get64(buf + 8);
    if (ctr >= s_max_counter || !sec_replay_check(&s->replay, ctr)) {
        return SEC_REPLAYED;
    }
    uint8_t nonce[12];
    s_nonce(nonce, ctr);
    uint8_t *m = buf + SEC_HDR_LEN;
    size_t m_len = n - SEC_OVERHEAD;
    const uint8_t *tag = m + m_len;
    int rc;
    bool enc = buf[0] == SEC_T_DATA;
    if (enc) {
        rc = s->aes
                 ? aead_gcm_open(&s->gcm_rx, nonce, buf, SEC_HDR_LEN, m,
                                 m_len, tag)
                 : crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                       m, NULL, m, m_len, tag, buf, SEC_HDR_LEN, nonce,
                       s->rx_key);
    } else {
        uint8_t none[1] = { 0 };
        rc = s->aes
                 ? crypto_aead_aes256gcm_decrypt_detached_afternm(
                       none, NULL, none, 0, tag, buf, SEC_HDR_LEN + m_len,
                       nonce, &s->aes_rx)
                 : crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                       none, NULL, none, 0, tag, buf, SEC_HDR_LEN + m_len,
                       nonce, s->rx_key);
    }
    if (rc != 0) {
        return SEC_FORGED;
    }
    sec_replay_mark(&s->replay, ctr);
    *inner = m;
    *inner_len = m_len;
    *encrypted = enc;
    return SEC_OK;
}

/* ------------------------------------------------------------------ */
/* Replay window: a ring of SEC_REPLAY_BITS bits, the newest counter at
 * 'top' - 1; a counter more than a window behind is refused. */

bool
sec_replay_check(const struct sec_replay *r, uint64_t counter)
{
    if (counter >= r->top) {
        return true;                    /* newer than anything seen */
    }
    if (r->top - counter > SEC_REPLAY_BITS - 64) {
        return false;                   /* too old to tell */
    }
    uint64_t bit = counter % SEC_REPLAY_BITS;
    return !(r->bits[bit / 64] >> (bit % 64) & 1);
}

void
sec_replay_mark(struct sec_replay *r, uint64_t counter)
{
    if (counter >= r->top) {
        /* Clear the words the window slides over. */
        uint64_t to = counter / 64;
        uint64_t from = r->top ? (r->top - 1) / 64 : 0;
        if (r->top == 0 || to - from >= SEC_REPLAY_WORDS) {
            memset(r->bits, 0, sizeof r->bits);
        } else {
            for (uint64_t w = from + 1; w <= to; w++) {
                r->bits[w % SEC_REPLAY_WORDS] = 0;
            }
        }
        r->top = counter + 1;
    }
    uint64_t bit = counter % SEC_REPLAY_BITS;
    r->bits[bit / 64] |= 1ull << (bit % 64);
}
