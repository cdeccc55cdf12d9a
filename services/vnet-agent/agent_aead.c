/* SPDX-License-Identifier: MIT */
/* AES-256-GCM through OpenSSL, with per-thread cipher contexts.  See
 * agent_aead.h. */
#include "agent_aead.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* One thread's contexts: slot i holds the key of generation gen[i] for
 * encrypting (enc[i]) or decrypting. */
struct s_cache {
    EVP_CIPHER_CTX *ctx[AEAD_THREAD_KEYS];
    uint64_t gen[AEAD_THREAD_KEYS];
    bool enc[AEAD_THREAD_KEYS];
    unsigned next;              /* the slot to take next, round robin */
};

static _Atomic uint64_t s_gen = 1;
static pthread_key_t s_key;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static bool s_key_ok;

static void
s_cache_free(void *arg)
{
    struct s_cache *c = arg;
    for (int i = 0; i < AEAD_THREAD_KEYS; i++) {
        EVP_CIPHER_CTX_free(c->ctx[i]);     /* wipes the key schedule */
    }
    free(c);
}

static void
s_init(void)
{
    s_key_ok = pthread_key_create(&s_key, s_cache_free) == 0;
}

void
aead_key_set(struct aead_key *k, const uint8_t key[AEAD_KEY_LEN])
{
    memcpy(k->key, key, AEAD_KEY_LEN);
    k->gen = atomic_fetch_add_explicit(&s_gen, 1, memory_order_relaxed);
}

/* This thread's context for 'k' in direction 'enc', keyed; NULL if out of
 * memory. */
static EVP_CIPHER_CTX *
s_ctx(const struct aead_key *k, bool enc)
{
    pthread_once(&s_once, s_init);
    if (!s_key_ok) {
        return NULL;
    }
    struct s_cache *c = pthread_getspecific(s_key);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c || pthread_setspecific(s_key, c) != 0) {
            free(c);
            return NULL;
        }
    }
    for (int i = 0; i < AEAD_THREAD_KEYS; i++) {
        if (c->ctx[i] && c->gen[i] == k->gen && c->enc[i] == enc) {
            return c->ctx[i];
        }
    }
    unsigned i = c->next++ % AEAD_THREAD_KEYS;
    if (!c->ctx[i]) {
        c->ctx[i] = EVP_CIPHER_CTX_new();
        if (!c->ctx[i]) {
            return NULL;
        }
    }
    c->gen[i] = 0;
    if (EVP_CipherInit_ex(c->ctx[i], EVP_aes_256_gcm(), NULL, k->key, NULL,
                          enc)
            != 1
        || EVP_CIPHER_CTX_ctrl(c->ctx[i], EVP_CTRL_GCM_SET_IVLEN,
                               AEAD_NONCE_LEN, NULL)
               != 1) {
        return NULL;
    }
    c->gen[i] = k->gen;
    c->enc[i] = enc;
    return c->ctx[i];
}

/* Feeds 'n' bytes of 'in' (to 'out' in place, or as associated data when
 * 'out' is NULL): OpenSSL takes an int at a time. */
static bool
s_update(EVP_CIPHER_CTX *ctx, bool enc, uint8_t *out, const uint8_t *in,
         size_t n)
{
    while (n > 0) {
        int part = n > (1u << 30) ? 1 << 30 : (int) n;
        int ol;
        int rc = enc ? EVP_EncryptUpdate(ctx, out, &ol, in, part)
                     : EVP_DecryptUpdate(ctx, out, &ol, in, part);
        if (rc != 1) {
            return false;
        }
        in += part;
        if (out) {
            out += part;
        }
        n -= (size_t) part;
    }
    return true;
}

int
aead_gcm_seal(const struct aead_key *k, const uint8_t nonce[AEAD_NONCE_LEN],
              const uint8_t *ad, size_t ad_len, uint8_t *m, size_t m_len,
              uint8_t tag[AEAD_TAG_LEN])
{
    EVP_CIPHER_CTX *ctx = s_ctx(k, true);
    int ol;
    if (!ctx || EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1
        || !s_update(ctx, true, NULL, ad, ad_len)
        || !s_update(ctx, true, m, m, m_len)
        || EVP_EncryptFinal_ex(ctx, m + m_len, &ol) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AEAD_TAG_LEN, tag)
               != 1) {
        return -1;
    }
    return 0;
}

int
aead_gcm_open(const struct aead_key *k, const uint8_t nonce[AEAD_NONCE_LEN],
              const uint8_t *ad, size_t ad_len, uint8_t *c, size_t c_len,
              const uint8_t tag[AEAD_TAG_LEN])
{
    EVP_CIPHER_CTX *ctx = s_ctx(k, false);
    uint8_t t[AEAD_TAG_LEN];
    memcpy(t, tag, sizeof t);   /* OpenSSL's ctrl takes it unconst */
    int ol;
    if (!ctx || EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1
        || !s_update(ctx, false, NULL, ad, ad_len)
        || !s_update(ctx, false, c, c, c_len)
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AEAD_TAG_LEN, t)
               != 1
        || EVP_DecryptFinal_ex(ctx, c + c_len, &ol) != 1) {
        return -1;
    }
    return 0;
}
