/* SPDX-License-Identifier: MIT */
/* Runs a libFuzzer harness without libFuzzer: on every file named on the
 * command line, then on pseudo-random inputs and their mutations of those
 * files, so that the harnesses build and run in every ordinary test run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { N_RANDOM = 3000, MAX_INPUT = 1 << 16 };

static uint32_t s_seed = 12345;

static uint32_t
s_rand(void)
{
    s_seed = s_seed * 1103515245u + 12345u;
    return s_seed >> 8;
}

int
main(int argc, char **argv)
{
    static uint8_t buf[MAX_INPUT];
    static uint8_t mut[MAX_INPUT];
    size_t n_files = 0;

    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        size_t size = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, size);
        /* Flip, cut and splice the file a few hundred times. */
        for (int k = 0; k < 300; k++) {
            size_t len = size ? s_rand() % (size + 1) : 0;
            memcpy(mut, buf, len);
            for (int flips = s_rand() % 4; flips > 0 && len; flips--) {
                mut[s_rand() % len] = (uint8_t) s_rand();
            }
            LLVMFuzzerTestOneInput(mut, len);
        }
        n_files++;
    }
    for (int i = 0; i < N_RANDOM; i++) {
        size_t len = s_rand() % 512;
        for (size_t k = 0; k < len; k++) {
            mut[k] = (uint8_t) s_rand();
        }
        LLVMFuzzerTestOneInput(mut, len);
    }
    printf("replay: %zu files and %d random inputs, no crash\n", n_files,
           N_RANDOM);
    return 0;
}
