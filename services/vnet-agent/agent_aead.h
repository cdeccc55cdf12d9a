/* SPDX-License-Identifier: MIT */
/* AES-256-GCM encryption for the overlay's transport, through OpenSSL's
 * libcrypto.  libsodium 1.0.18 (Debian 12) computes AES-GCM in two passes,
 * AES-CTR then GHASH; OpenSSL stitches the two into one pass with
 * aggregated reduction and encrypts twice as fast on 1,440-byte chunks and
 * larger (measured: tests/bench/aead.sh).  Authentication alone stays on
 * libsodium's GHASH, which is the faster of the two for a tag over
 * associated data only, and ChaCha20-Poly1305 stays on libsodium too.
 *
 * OpenSSL keeps a key's schedule in a cipher context that one thread at a
 * time may use, while a session's sealing runs on every packet thread.  So
 * each thread keeps a few contexts of its own, each for one key (known by
 * the generation number of the key, never reused); a context is keyed
 * again when a key it has not seen comes.  Contexts are freed, their keys
 * wiped, when their thread ends. */
#ifndef AGENT_AEAD_H
#define AGENT_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    AEAD_KEY_LEN = 32,
    AEAD_NONCE_LEN = 12,
    AEAD_TAG_LEN = 16,
    AEAD_THREAD_KEYS = 8,       /* contexts each thread keeps */
};

/* A key and its generation, which names it in the threads' caches. */
struct aead_key {
    uint8_t key[AEAD_KEY_LEN];
    uint64_t gen;
};

/* Sets 'k' to 'key' under a generation no other key had in this process.
 * Thread-safe. */
void aead_key_set(struct aead_key *k, const uint8_t key[AEAD_KEY_LEN]);

/* Encrypts 'm' ('m_len' bytes) in place and writes its tag; 'ad' is
 * authenticated too.  Returns 0, or -1 if OpenSSL failed (no memory). */
int aead_gcm_seal(const struct aead_key *k,
                  const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *ad,
                  size_t ad_len, uint8_t *m, size_t m_len,
                  uint8_t tag[AEAD_TAG_LEN]);

/* Checks 'tag' over 'ad' and the ciphertext 'c' and decrypts 'c' in place.
 * Returns 0, or -1 if the tag is wrong (then 'c' holds garbage) or OpenSSL
 * failed. */
int aead_gcm_open(const struct aead_key *k,
                  const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *ad,
                  size_t ad_len, uint8_t *c, size_t c_len,
                  const uint8_t tag[AEAD_TAG_LEN]);

#endif
