/* SPDX-License-Identifier: MIT */
/* agent_aead: OpenSSL's AES-256-GCM gives exactly libsodium's ciphertext
 * and tag (the same standard AEAD), refuses every tampered byte, and stays
 * right when a thread cycles through more keys than it caches and when
 * several threads seal under one key at once. */
#undef NDEBUG
#include <assert.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "agent_aead.h"

enum { S_MAX = 9000, S_THREADS = 4, S_ROUNDS = 2000 };

/* Seals with OpenSSL and libsodium, compares, opens, tampers. */
static void
s_check(const struct aead_key *k, const crypto_aead_aes256gcm_state *ref,
        size_t ad_len, size_t n)
{
    static uint8_t ad[64], m[S_MAX], c[S_MAX], c2[S_MAX];
    uint8_t nonce[AEAD_NONCE_LEN], tag[AEAD_TAG_LEN], tag2[AEAD_TAG_LEN];
    randombytes_buf(ad, sizeof ad);
    randombytes_buf(m, n);
    randombytes_buf(nonce, sizeof nonce);
    memcpy(c, m, n);
    assert(aead_gcm_seal(k, nonce, ad, ad_len, c, n, tag) == 0);
    unsigned long long tl;
    crypto_aead_aes256gcm_encrypt_detached_afternm(
        n ? c2 : tag2, tag2, &tl, n ? m : ad, n, ad, ad_len, NULL, nonce, ref);
    assert(!memcmp(c, c2, n) && !memcmp(tag, tag2, sizeof tag));

    memcpy(c2, c, n);
    assert(aead_gcm_open(k, nonce, ad, ad_len, c2, n, tag) == 0);
    assert(!memcmp(c2, m, n));

    /* One bit anywhere: tag, ciphertext, associated data, nonce. */
    tag[3] ^= 0x10;
    memcpy(c2, c, n);
    assert(aead_gcm_open(k, nonce, ad, ad_len, c2, n, tag) != 0);
    tag[3] ^= 0x10;
    if (n) {
        memcpy(c2, c, n);
        c2[n / 2] ^= 1;
        assert(aead_gcm_open(k, nonce, ad, ad_len, c2, n, tag) != 0);
    }
    if (ad_len) {
        ad[ad_len - 1] ^= 0x80;
        memcpy(c2, c, n);
        assert(aead_gcm_open(k, nonce, ad, ad_len, c2, n, tag) != 0);
        ad[ad_len - 1] ^= 0x80;
    }
    nonce[11] ^= 1;
    memcpy(c2, c, n);
    assert(aead_gcm_open(k, nonce, ad, ad_len, c2, n, tag) != 0);
}

struct s_job {
    const struct aead_key *k;
    int bad;
};

static void *
s_thread(void *arg)
{
    struct s_job *j = arg;
    uint8_t m[1440], c[1440], nonce[AEAD_NONCE_LEN] = { 0 };
    uint8_t tag[AEAD_TAG_LEN];
    for (int i = 0; i < S_ROUNDS; i++) {
        randombytes_buf(m, sizeof m);
        memcpy(nonce, &i, sizeof i);
        memcpy(c, m, sizeof m);
        if (aead_gcm_seal(j->k, nonce, NULL, 0, c, sizeof c, tag) != 0
            || aead_gcm_open(j->k, nonce, NULL, 0, c, sizeof c, tag) != 0
            || memcmp(c, m, sizeof m)) {
            j->bad++;
        }
    }
    return NULL;
}

int
main(void)
{
    assert(sodium_init() >= 0);
    if (!crypto_aead_aes256gcm_is_available()) {
        printf("no AES-NI: libsodium has no AES-GCM to compare with; "
               "checked nothing\n");
        return 0;
    }
    /* More keys than a thread caches, each used several times in turn,
     * so contexts are evicted and keyed again. */
    enum { S_KEYS = AEAD_THREAD_KEYS + 3 };
    static struct aead_key keys[S_KEYS];
    static crypto_aead_aes256gcm_state refs[S_KEYS];
    for (int i = 0; i < S_KEYS; i++) {
        uint8_t raw[AEAD_KEY_LEN];
        randombytes_buf(raw, sizeof raw);
        aead_key_set(&keys[i], raw);
        crypto_aead_aes256gcm_beforenm(&refs[i], raw);
        assert(i == 0 || keys[i].gen != keys[i - 1].gen);
    }
    const size_t sizes[] = { 0, 1, 15, 16, 17, 1440, 1472, S_MAX };
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < S_KEYS; i++) {
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                s_check(&keys[i], &refs[i], (s * 7 + (size_t) i) % 65,
                        sizes[s]);
            }
        }
    }

    /* Threads sharing a key, each with its own contexts. */
    pthread_t t[S_THREADS];
    struct s_job jobs[S_THREADS];
    for (int i = 0; i < S_THREADS; i++) {
        jobs[i] = (struct s_job) { &keys[i % 2], 0 };
        assert(pthread_create(&t[i], NULL, s_thread, &jobs[i]) == 0);
    }
    for (int i = 0; i < S_THREADS; i++) {
        pthread_join(t[i], NULL);
        assert(jobs[i].bad == 0);
    }
    printf("agent_aead: OK\n");
    return 0;
}
