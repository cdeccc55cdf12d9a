/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for vnet-agent/agent_sec: each input is offered as
 * every handshake message (to a responder, to an initiator waiting for
 * message 2, to a responder waiting for message 3) and as a transport
 * datagram to a live session, as it is and with a real datagram's header
 * in front.  Properties: nothing crashes; no input completes a handshake
 * or opens as authentic without the keys (a forgery would need the
 * 128-bit tag); a refused handshake message leaves the handshake as it
 * was, byte for byte (a state the genuine message completes; a whole
 * genuine handshake is rerun every 1024 inputs).  Build with -DVR_FUZZ=ON and
 * clang; tests/fuzz/replay.c runs it on fixed inputs in the ordinary
 * build. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "agent_sec.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One genuine handshake, made once: A's state waiting for message 2,
 * B's waiting for message 3, the genuine messages 2 and 3 and the
 * sessions both sides split from it.  Each input starts from copies of
 * these (plain data), so the public-key work of a handshake (several
 * X25519 operations, most of the harness's time) is done once, not per
 * input. */
struct s_genuine {
    struct sec_identity a, b;
    struct sec_hs ha, hb;       /* waiting for message 2 / 3 */
    uint8_t m2[SEC_HS2_LEN], m3[SEC_HS3_LEN];
    struct sec_session sa, sb;
};

/* Runs a whole handshake between 'g->a' and 'g->b'; with 'keep', keeps
 * the states, messages and sessions in 'g'. */
static void
s_handshake(struct s_genuine *g, bool keep)
{
    struct sec_hs ha, hb;
    uint8_t m1[SEC_HS1_LEN], m2[SEC_HS2_LEN], m3[SEC_HS3_LEN];
    sec_hs_initiate(&ha, &g->a, 7, 0, 0, m1);
    FUZZ_CHECK(sec_hs_respond(&hb, &g->b, 8, 0, m1, sizeof m1, m2));
    if (keep) {
        g->ha = ha;
        g->hb = hb;
        memcpy(g->m2, m2, sizeof m2);
    }
    FUZZ_CHECK(sec_hs_finish(&ha, &g->a, m2, sizeof m2, m3));
    FUZZ_CHECK(sec_hs_confirm(&hb, m3, sizeof m3));
    if (keep) {
        memcpy(g->m3, m3, sizeof m3);
        sec_hs_split(&ha, &g->sa, 1);
        sec_hs_split(&hb, &g->sb, 1);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    static struct s_genuine g;
    static unsigned long n_inputs;
    if (!ready) {
        FUZZ_CHECK(sec_init() == 0);
        crypto_box_keypair(g.a.pub, g.a.secret);
        crypto_box_keypair(g.b.pub, g.b.secret);
        s_handshake(&g, true);
        ready = true;
    }
    uint8_t buf[2048];
    size_t n = size < sizeof buf ? size : sizeof buf;

    /* As message 1 to a responder: it may answer (message 1 carries no
     * proof), but the handshake cannot finish without A's secret. */
    struct sec_hs hr;
    uint8_t out[SEC_HS2_LEN];
    memcpy(buf, data, n);
    (void) sec_hs_respond(&hr, &g.b, 1, 0, buf, n, out);

    /* As message 2 and 3 to a handshake under way.  Refused, it must
     * leave the handshake as it was, byte for byte: the state the genuine
     * message was shown to complete at the start. */
    struct sec_hs ha = g.ha, hb = g.hb;
    uint8_t m3[SEC_HS3_LEN];
    memcpy(buf, data, n);
    if (sec_hs_finish(&ha, &g.a, buf, n, m3)) {
        FUZZ_CHECK(n == sizeof g.m2 && !memcmp(buf, g.m2, n));
    } else {
        FUZZ_CHECK(!memcmp(&ha, &g.ha, sizeof ha));
    }
    memcpy(buf, data, n);
    if (sec_hs_confirm(&hb, buf, n)) {
        FUZZ_CHECK(n == sizeof g.m3 && !memcmp(buf, g.m3, n));
    } else {
        FUZZ_CHECK(!memcmp(&hb, &g.hb, sizeof hb));
    }
    /* Now and then a whole fresh handshake, to prove it still works. */
    if (n_inputs++ % 1024 == 0) {
        s_handshake(&g, false);
    }

    /* As a transport datagram, bare and behind a real header, to fresh
     * copies of the sessions. */
    static struct sec_session sa, sb;
    memcpy(&sa, &g.sa, sizeof sa);
    memcpy(&sb, &g.sb, sizeof sb);
    /* The keys are the same for every input, so the fuzzer may learn the
     * genuine datagram (from the comparisons below) and send it: that
     * one, and only that one, opens. */
    uint8_t real[64];
    size_t r = sec_seal(&sa, true, (const uint8_t *) "hdr", 3, NULL, 0,
                        real);
    bool genuine = n == r && !memcmp(data, real, r);
    const uint8_t *inner;
    size_t inner_len;
    bool enc;
    memcpy(buf, data, n);
    FUZZ_CHECK(genuine
               || sec_open(&sb, buf, n, &inner, &inner_len, &enc) != SEC_OK);
    memcpy(&sb, &g.sb, sizeof sb);
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
