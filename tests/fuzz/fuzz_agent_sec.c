/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for vnet-agent/agent_sec: each input is offered as
 * every handshake message (to a responder, to an initiator waiting for
 * message 2, to a responder waiting for message 3) and as a transport
 * datagram to a live session, as it is and with a real datagram's header
 * in front.  Properties: nothing crashes; no input completes a handshake
 * or opens as authentic without the keys (a forgery would need the
 * 128-bit tag); a refused handshake message leaves the handshake usable,
 * which the genuine messages then prove.  Build with -DVR_FUZZ=ON and
 * clang; tests/fuzz/replay.c runs it on fixed inputs in the ordinary
 * build. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "agent_sec.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    static struct sec_identity a, b;
    if (!ready) {
        FUZZ_CHECK(sec_init() == 0);
        crypto_box_keypair(a.pub, a.secret);
        crypto_box_keypair(b.pub, b.secret);
        ready = true;
    }
    uint8_t buf[2048];
    size_t n = size < sizeof buf ? size : sizeof buf;

    /* As message 1 to a responder: it may answer (message 1 carries no
     * proof), but the handshake cannot finish without A's secret. */
    struct sec_hs ha, hb, hr;
    uint8_t m1[SEC_HS1_LEN], m2[SEC_HS2_LEN], m3[SEC_HS3_LEN];
    uint8_t out[SEC_HS2_LEN];
    memcpy(buf, data, n);
    (void) sec_hs_respond(&hr, &b, 1, 0, buf, n, out);

    /* As message 2 and 3 to a handshake under way, then the real ones. */
    sec_hs_initiate(&ha, &a, 7, 0, 0, m1);
    FUZZ_CHECK(sec_hs_respond(&hb, &b, 8, 0, m1, sizeof m1, m2));
    memcpy(buf, data, n);
    FUZZ_CHECK(!sec_hs_finish(&ha, &a, buf, n, m3)
           || (n == sizeof m2 && !memcmp(buf, m2, n)));
    FUZZ_CHECK(sec_hs_finish(&ha, &a, m2, sizeof m2, m3));
    memcpy(buf, data, n);
    FUZZ_CHECK(!sec_hs_confirm(&hb, buf, n)
           || (n == sizeof m3 && !memcmp(buf, m3, n)));
    FUZZ_CHECK(sec_hs_confirm(&hb, m3, sizeof m3));
    static struct sec_session sa, sb;
    sec_hs_split(&ha, &sa, 1);
    sec_hs_split(&hb, &sb, 1);

    /* As a transport datagram, bare and behind a real header. */
    const uint8_t *inner;
    size_t inner_len;
    bool enc;
    memcpy(buf, data, n);
    FUZZ_CHECK(sec_open(&sb, buf, n, &inner, &inner_len, &enc) != SEC_OK);
    uint8_t real[64];
    size_t r = sec_seal(&sa, true, (const uint8_t *) "hdr", 3, NULL, 0,
                        real);
    if (n > SEC_HDR_LEN) {
        memcpy(buf, real, SEC_HDR_LEN);
        memcpy(buf + SEC_HDR_LEN, data + SEC_HDR_LEN, n - SEC_HDR_LEN);
        bool same = n == r && !memcmp(buf, real, r);
        FUZZ_CHECK(same
               || sec_open(&sb, buf, n, &inner, &inner_len, &enc) != SEC_OK);
    }
    FUZZ_CHECK(sec_receiver(data, size) == sec_receiver(data, size));
    return 0;
}
