/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the adapter's netns sweep parser
 * (adapter_netns_parse_link()): each line of the input is read as a line
 * of 'ip -o link show'.  Checked: a number is found exactly when the
 * first ": vrp" is followed by a name the adapter makes ("vrp%" PRIu64)
 * and then '@' or ':', and that name prints back from the number, so the
 * sweep deletes the device it read and no other.  Build with -DVR_FUZZ=ON
 * and clang; tests/fuzz/replay.c runs it on fixed inputs in the ordinary
 * build. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_netns.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The same decision, made differently: the digits after the first
 * ": vrp" must be what PRIu64 prints for some value. */
static bool
s_expect(const char *line, uint64_t *n)
{
    const char *name = strstr(line, ": vrp");
    if (!name) {
        return false;
    }
    const char *d = name + 5;
    size_t len = strspn(d, "0123456789");
    if (len == 0 || len > 20 || (d[len] != '@' && d[len] != ':')) {
        return false;
    }
    char digits[24];
    memcpy(digits, d, len);
    digits[len] = '\0';
    uint64_t v = strtoull(digits, NULL, 10);
    char back[24];
    snprintf(back, sizeof back, "%" PRIu64, v);
    if (strcmp(back, digits) != 0) {
        return false;           /* a leading zero, or out of range */
    }
    *n = v;
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text);
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        uint64_t got = 0, want = 0;
        bool ok = adapter_netns_parse_link(line, &got);
        FUZZ_CHECK(ok == s_expect(line, &want));
        FUZZ_CHECK(!ok || got == want);
        line = next;
    }
    free(text);
    return 0;
}
