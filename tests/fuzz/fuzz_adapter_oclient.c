/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the adapter's oclient output parsers.  The
 * input is: how the command ended (byte 0: exited, signalled, timed out
 * or not started, and the status in byte 1), the length of stdout (bytes
 * 2-3), stdout, then stderr, each NUL-terminated as proc_run() leaves
 * them (they may hold NULs).  Both parsers read it; a teardown asks for
 * an id taken from the input.  Checked: an accepted create gives a valid
 * path id; every result's error is terminated and printable, so that it
 * can be logged and sent back; a teardown is not both done and not
 * found; a command that did not exit with status 0 is never accepted.
 * Build with -DVR_FUZZ=ON and clang; tests/fuzz/replay.c runs it on
 * fixed inputs in the ordinary build. */
#include <stdlib.h>
#include <string.h>

#include "adapter_oclient.h"
#include "fuzz_check.h"
#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
s_text(const uint8_t *p, size_t n)
{
    if (n == 0) {
        return NULL;            /* proc_run(): NULL when empty */
    }
    char *t = malloc(n + 1);
    FUZZ_CHECK(t);
    memcpy(t, p, n);
    t[n] = '\0';
    return t;
}

static void
s_check_result(const struct adapter_oclient_result *r)
{
    const char *end = memchr(r->error, '\0', sizeof r->error);
    FUZZ_CHECK(end);
    for (const char *c = r->error; c < end; c++) {
        FUZZ_CHECK(*c >= 0x20 && *c < 0x7f);
    }
    FUZZ_CHECK(memchr(r->path_id, '\0', sizeof r->path_id));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) {
        return 0;
    }
    static const enum proc_end ends[] = {
        PROC_EXITED, PROC_SIGNALED, PROC_TIMED_OUT, PROC_SPAWN_FAILED,
    };
    struct proc_output out = { 0 };
    out.end = ends[data[0] % 4];
    out.status = data[0] & 0x80 ? data[1] : 0;
    size_t n_out = (size_t) data[2] << 8 | data[3];
    data += 4;
    size -= 4;
    if (n_out > size) {
        n_out = size;
    }
    out.out = s_text(data, n_out);
    out.out_len = n_out;
    out.out_truncated = n_out & 1;
    out.err = s_text(data + n_out, size - n_out);
    out.err_len = size - n_out;
    bool clean = out.end == PROC_EXITED && out.status == 0;

    struct adapter_oclient_result r;
    memset(&r, 0x5a, sizeof r);
    bool ok = adapter_oclient_parse_create(&out, &r);
    FUZZ_CHECK(ok == r.ok);
    FUZZ_CHECK(!ok || clean);
    FUZZ_CHECK(!ok || adapter_oclient_valid_id(r.path_id));
    s_check_result(&r);

    /* A teardown of the id the create found, or of a fixed one. */
    char id[ADAPTER_OCLIENT_ID_MAX + 1];
    strcpy(id, ok ? r.path_id : "p-1");
    memset(&r, 0x5a, sizeof r);
    ok = adapter_oclient_parse_teardown(&out, id, &r);
    FUZZ_CHECK(ok == r.ok);
    FUZZ_CHECK(!ok || clean);
    FUZZ_CHECK(!(ok && r.not_found));
    s_check_result(&r);

    free(out.out);
    free(out.err);
    return 0;
}
