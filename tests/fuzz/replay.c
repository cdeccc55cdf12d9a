/* SPDX-License-Identifier: MIT */
/* Runs a libFuzzer harness without libFuzzer: on every file named on the
 * command line (a directory: every file in it) and a few hundred
 * mutations of each ('--mutations N' first: N of them), then on
 * pseudo-random inputs, so that the harnesses build and run in every
 * ordinary test run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { R_N_RANDOM = 3000, R_MAX_INPUT = 1 << 16 };

static int s_n_mutations = 300;

static uint32_t s_seed = 12345;

static uint32_t
s_rand(void)
{
    s_seed = s_seed * 1103515245u + 12345u;
    return s_seed >> 8;
}

static uint8_t s_buf[R_MAX_INPUT];
static uint8_t s_mut[R_MAX_INPUT];

/* Runs the harness on file 'path' and on a few hundred cuts and flips of
 * it; returns -1 if it cannot be read. */
static int
s_run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t size = fread(s_buf, 1, sizeof s_buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(s_buf, size);
    for (int k = 0; k < s_n_mutations; k++) {
        size_t len = size ? s_rand() % (size + 1) : 0;
        memcpy(s_mut, s_buf, len);
        for (int flips = s_rand() % 4; flips > 0 && len; flips--) {
            s_mut[s_rand() % len] = (uint8_t) s_rand();
        }
        LLVMFuzzerTestOneInput(s_mut, len);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    uint8_t *mut = s_mut;
    size_t n_files = 0;
    int first = 1;

    if (argc > 2 && strcmp(argv[1], "--mutations") == 0) {
        s_n_mutations = atoi(argv[2]);
        first = 3;
    }
    for (int i = first; i < argc; i++) {
        /* Sorted, so that the mutations are the same on every run. */
        struct dirent **names;
        int n = scandir(argv[i], &names, NULL, alphasort);
        if (n < 0) {
            if (s_run_file(argv[i]) != 0) {
                return 1;
            }
            n_files++;
            continue;
        }
        int rc = 0;
        for (int k = 0; k < n; k++) {
            char path[4096];
            if (rc == 0 && names[k]->d_name[0] != '.') {
                snprintf(path, sizeof path, "%s/%s", argv[i],
                         names[k]->d_name);
                rc = s_run_file(path);
                n_files++;
            }
            free(names[k]);
        }
        free(names);
        if (rc != 0) {
            return 1;
        }
    }
    for (int i = 0; i < R_N_RANDOM; i++) {
        size_t len = s_rand() % 512;
        for (size_t k = 0; k < len; k++) {
            mut[k] = (uint8_t) s_rand();
        }
        LLVMFuzzerTestOneInput(mut, len);
    }
    printf("replay: %zu files and %d random inputs, no crash\n", n_files,
           R_N_RANDOM);
    return 0;
}
