/* SPDX-License-Identifier: MIT */
/* What sealing costs per chunk size: the overlay's AES-256-GCM through
 * OpenSSL (agent_aead) against libsodium's, and the tag alone (the
 * authenticate-only mode, libsodium's GHASH), in GB/s, the best of
 * several rounds (the machine is shared).  Prints one line per size. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "agent_aead.h"

static double
s_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 20;
    if (sodium_init() < 0 || !crypto_aead_aes256gcm_is_available()) {
        fprintf(stderr, "aead_cost: no AES-GCM in hardware here\n");
        return 1;
    }
    static uint8_t buf[65536], raw[32], nonce[12], tag[16], none[1];
    randombytes_buf(buf, sizeof buf);
    randombytes_buf(raw, sizeof raw);
    struct aead_key k;
    aead_key_set(&k, raw);
    static crypto_aead_aes256gcm_state st;
    crypto_aead_aes256gcm_beforenm(&st, raw);
    const size_t sizes[] = { 1440, 8900, 65536 };
    printf("%8s %14s %14s %14s\n", "bytes", "openssl-gcm", "sodium-gcm",
           "sodium-tag");
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        size_t n = sizes[z];
        int iters = (int) (5e7 / (double) n) + 100;
        double best[3] = { 1e9, 1e9, 1e9 };
        for (int r = 0; r < rounds; r++) {
            for (int w = 0; w < 3; w++) {
                double t = s_now();
                for (int i = 0; i < iters; i++) {
                    nonce[0] = (uint8_t) i;
                    if (w == 0) {
                        aead_gcm_seal(&k, nonce, NULL, 0, buf, n, tag);
                    } else if (w == 1) {
                        crypto_aead_aes256gcm_encrypt_detached_afternm(
                            buf, tag, NULL, buf, n, NULL, 0, NULL, nonce,
                            &st);
                    } else {
                        crypto_aead_aes256gcm_encrypt_detached_afternm(
                            none, tag, NULL, none, 0, buf, n, NULL, nonce,
                            &st);
                    }
                }
                double d = (s_now() - t) / iters;
                if (d < best[w]) {
                    best[w] = d;
                }
            }
        }
        printf("%8zu %14.2f %14.2f %14.2f\n", n, (double) n / best[0] / 1e9,
               (double) n / best[1] / 1e9, (double) n / best[2] / 1e9);
    }
    return 0;
}
