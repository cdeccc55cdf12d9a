/* SPDX-License-Identifier: MIT */
/* The one check the fuzz harnesses use for their properties.  Unlike
 * assert() it stays on whatever NDEBUG says (the RelWithDebInfo tree
 * defines it), and it abort()s, which libFuzzer and the replay runner
 * both report as a crash, with the failed condition and where. */
#ifndef VR_FUZZ_CHECK_H
#define VR_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(COND)                                                  \
    do {                                                                  \
        if (!(COND)) {                                                    \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__,   \
                    __LINE__, #COND);                                     \
            abort();                                                      \
        }                                                                 \
    } while (0)

#endif /* VR_FUZZ_CHECK_H */
