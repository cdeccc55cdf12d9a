/* SPDX-License-Identifier: MIT */
/* agent_sec: the Noise XX handshake, sealed and authenticated datagrams,
 * tampering and replay refused, the replay window's edges. */
#undef NDEBUG
#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_peer.h"
#include "agent_sec.h"

static void
s_identity(struct sec_identity *id)
{
    crypto_box_keypair(id->pub, id->secret);
}

/* Runs a whole handshake; returns the two sessions. */
static void
s_handshake(const struct sec_identity *a, const struct sec_identity *b,
            uint8_t fa, uint8_t fb, struct sec_session *sa,
            struct sec_session *sb)
{
    struct sec_hs ha, hb;
    uint8_t m1[SEC_HS1_LEN], m2[SEC_HS2_LEN], m3[SEC_HS3_LEN];
    sec_hs_initiate(&ha, a, 0x1001, fa, 0, m1);
    assert(sec_hs_respond(&hb, b, 0x2002, fb, m1, sizeof m1, m2));
    assert(sec_receiver(m2, sizeof m2) == 0x1001);
    assert(sec_hs_finish(&ha, a, m2, sizeof m2, m3));
    assert(!memcmp(ha.rs, b->pub, 32));     /* A knows B now */
    assert(sec_receiver(m3, sizeof m3) == 0x2002);
    assert(sec_hs_confirm(&hb, m3, sizeof m3));
    assert(!memcmp(hb.rs, a->pub, 32));     /* and B knows A */
    sec_hs_split(&ha, sa, 1);
    sec_hs_split(&hb, sb, 1);
    assert(!memcmp(sa->tx_key, sb->rx_key, 32));
    assert(!memcmp(sa->rx_key, sb->tx_key, 32));
    assert(memcmp(sa->tx_key, sa->rx_key, 32));
    assert(sa->remote_idx == 0x2002 && sb->remote_idx == 0x1001);
    assert(sa->local_idx == 0x1001 && sb->local_idx == 0x2002);
}

static void
s_transport(struct sec_session *sa, struct sec_session *sb)
{
    uint8_t hdr[24], payload[1400], dg[2048];
    const uint8_t *inner;
    size_t inner_len;
    bool enc;
    for (size_t i = 0; i < sizeof hdr; i++) {
        hdr[i] = (uint8_t) i;
    }
    for (size_t i = 0; i < sizeof payload; i++) {
        payload[i] = (uint8_t) (i * 7);
    }
    for (int mode = 0; mode < 2; mode++) {
        bool encrypt = mode == 0;
        size_t n = sec_seal(sa, encrypt, hdr, sizeof hdr, payload,
                            sizeof payload, dg);
        assert(n == SEC_OVERHEAD + sizeof hdr + sizeof payload);
        assert(sec_receiver(dg, n) == sb->local_idx);
        if (encrypt) {      /* the frame does not show on the wire */
            assert(!memmem(dg, n, payload + 100, 64));
        } else {
            assert(!memcmp(dg + SEC_HDR_LEN + sizeof hdr, payload, 64));
        }
        /* Every single bit flipped is refused. */
        uint8_t copy[2048];
        for (size_t bit = 0; bit < n * 8; bit += 61) {
            memcpy(copy, dg, n);
            copy[bit / 8] ^= (uint8_t) (1u << (bit % 8));
            assert(sec_open(sb, copy, n, &inner, &inner_len, &enc)
                   != SEC_OK);
        }
        /* Truncated is refused. */
        memcpy(copy, dg, n);
        assert(sec_open(sb, copy, n - 1, &inner, &inner_len, &enc)
               == SEC_FORGED);
        assert(sec_open(sb, copy, 10, &inner, &inner_len, &enc)
               == SEC_MALFORMED);
        memcpy(copy, dg, n);
        assert(sec_open(sb, dg, n, &inner, &inner_len, &enc) == SEC_OK);
        assert(enc == encrypt);
        assert(inner_len == sizeof hdr + sizeof payload);
        assert(!memcmp(inner, hdr, sizeof hdr));
        assert(!memcmp(inner + sizeof hdr, payload, sizeof payload));
        /* Replayed: refused. */
        assert(sec_open(sb, copy, n, &inner, &inner_len, &enc)
               == SEC_REPLAYED);
        /* The other direction, with another key. */
        n = sec_seal(sb, encrypt, hdr, sizeof hdr, NULL, 0, dg);
        assert(n == SEC_OVERHEAD + sizeof hdr);
        memcpy(copy, dg, n);
        assert(sec_open(sb, copy, n, &inner, &inner_len, &enc) != SEC_OK);
        assert(sec_open(sa, dg, n, &inner, &inner_len, &enc) == SEC_OK);
    }
}

int
main(void)
{
    assert(sec_init() == 0);
    struct sec_identity a, b, c;
    s_identity(&a);
    s_identity(&b);
    s_identity(&c);

    /* Both ciphers. */
    static struct sec_session sa, sb;
    s_handshake(&a, &b, 0, SEC_F_AES, &sa, &sb);
    assert(!sa.aes && !sb.aes);     /* one side without AES: ChaCha */
    s_transport(&sa, &sb);
    if (sec_aes_available()) {
        s_handshake(&a, &b, SEC_F_AES, SEC_F_AES, &sa, &sb);
        assert(sa.aes && sb.aes);
        s_transport(&sa, &sb);
    }
    /* Fresh keys every handshake: the same pair never repeats them. */
    static struct sec_session sa2, sb2;
    s_handshake(&a, &b, 0, 0, &sa2, &sb2);
    assert(memcmp(sa.tx_key, sa2.tx_key, 32));

    /* A session from another handshake cannot open ours. */
    {
        uint8_t hdr[24] = { 1 }, dg[128], copy[128];
        const uint8_t *inner;
        size_t inner_len;
        bool enc;
        size_t n = sec_seal(&sa2, true, hdr, sizeof hdr, NULL, 0, dg);
        sb.local_idx = sb2.local_idx;   /* even with the right index */
        memset(&sb.replay, 0, sizeof sb.replay);
        memcpy(copy, dg, n);    /* a refused datagram may be wiped */
        assert(sec_open(&sb, copy, n, &inner, &inner_len, &enc)
               == SEC_FORGED);
        assert(sec_open(&sb2, dg, n, &inner, &inner_len, &enc) == SEC_OK);
    }

    /* Message 2 from someone who is not the responder it claims (C, who
     * saw message 1) completes, but names C's key: the caller refuses
     * it.  A forged or bit-flipped message 2 is refused and leaves the
     * handshake for the real one. */
    {
        struct sec_hs ha, hb, hc;
        uint8_t m1[SEC_HS1_LEN], m2[SEC_HS2_LEN], m2c[SEC_HS2_LEN];
        uint8_t m3[SEC_HS3_LEN];
        sec_hs_initiate(&ha, &a, 7, 0, 0, m1);
        assert(sec_hs_respond(&hb, &b, 8, 0, m1, sizeof m1, m2));
        assert(sec_hs_respond(&hc, &c, 8, 0, m1, sizeof m1, m2c));
        uint8_t bad[SEC_HS2_LEN];
        memcpy(bad, m2, sizeof bad);
        bad[60] ^= 1;
        assert(!sec_hs_finish(&ha, &a, bad, sizeof bad, m3));
        assert(!sec_hs_finish(&ha, &a, m2, sizeof m2 - 1, m3));
        struct sec_hs keep = ha;
        assert(sec_hs_finish(&ha, &a, m2c, sizeof m2c, m3));
        assert(!memcmp(ha.rs, c.pub, 32));
        ha = keep;
        assert(sec_hs_finish(&ha, &a, m2, sizeof m2, m3));
        assert(!memcmp(ha.rs, b.pub, 32));
        /* Message 3 bit-flipped: refused; the real one: accepted. */
        uint8_t bad3[SEC_HS3_LEN];
        memcpy(bad3, m3, sizeof bad3);
        bad3[30] ^= 0x80;
        assert(!sec_hs_confirm(&hb, bad3, sizeof bad3));
        assert(sec_hs_confirm(&hb, m3, sizeof m3));
        /* A replayed message 3 for a finished handshake: refused. */
        assert(!sec_hs_confirm(&hb, m3, sizeof m3));
    }

    /* Message 1 carries its link's tag (which of the responder's links
     * to this address it is for): readable before answering, and bound
     * to the handshake, so a changed tag makes message 2 fail. */
    {
        struct sec_hs ha, hb;
        uint8_t m1[SEC_HS1_LEN], m2[SEC_HS2_LEN], m3[SEC_HS3_LEN];
        sec_hs_initiate(&ha, &a, 7, 0, 0xa1b2c3d4u, m1);
        assert(sec_hs1_tag(m1, sizeof m1) == 0xa1b2c3d4u);
        assert(sec_hs1_tag(m1, sizeof m1 - 1) == 0);
        m1[SEC_HS1_LEN - 1] ^= 1;
        assert(sec_hs1_tag(m1, sizeof m1) == 0xa1b2c3d5u);
        assert(sec_hs_respond(&hb, &b, 8, 0, m1, sizeof m1, m2));
        assert(!sec_hs_finish(&ha, &a, m2, sizeof m2, m3));
        m1[SEC_HS1_LEN - 1] ^= 1;
        assert(sec_hs_respond(&hb, &b, 8, 0, m1, sizeof m1, m2));
        assert(sec_hs_finish(&ha, &a, m2, sizeof m2, m3));
        assert(sec_hs_confirm(&hb, m3, sizeof m3));
        /* Names give tags, never 0 (the star's), alike for alike. */
        assert(link_sec_tag("vr-42") == link_sec_tag("vr-42"));
        assert(link_sec_tag("vr-42") != link_sec_tag("vr-43"));
        assert(link_sec_tag("") != 0);
    }

    /* An ephemeral key of all zeros (a low-order point) is refused. */
    {
        struct sec_hs hb;
        uint8_t m1[SEC_HS1_LEN] = { SEC_T_HS1 }, m2[SEC_HS2_LEN];
        assert(!sec_hs_respond(&hb, &b, 1, 0, m1, sizeof m1, m2));
        m1[0] = SEC_T_HS2;
        assert(!sec_hs_respond(&hb, &b, 1, 0, m1, sizeof m1, m2));
    }

    /* The replay window: in order, out of order, its edge. */
    {
        struct sec_replay r = { 0 };
        assert(sec_replay_check(&r, 0));
        sec_replay_mark(&r, 0);
        assert(!sec_replay_check(&r, 0));
        for (uint64_t i = 2; i < 200; i += 2) {
            assert(sec_replay_check(&r, i));
            sec_replay_mark(&r, i);
        }
        for (uint64_t i = 1; i < 200; i += 2) {     /* late, not lost */
            assert(sec_replay_check(&r, i));
            sec_replay_mark(&r, i);
        }
        for (uint64_t i = 0; i < 200; i++) {
            assert(!sec_replay_check(&r, i));
        }
        sec_replay_mark(&r, 5000);
        assert(!sec_replay_check(&r, 5000 - SEC_REPLAY_BITS));
        assert(sec_replay_check(&r, 4999));
        assert(sec_replay_check(&r, 5000 - SEC_REPLAY_BITS + 65));
        /* Sliding one word at a time clears what it slides over. */
        struct sec_replay w = { 0 };
        for (uint64_t i = 0; i < 3 * SEC_REPLAY_BITS; i++) {
            assert(sec_replay_check(&w, i));
            sec_replay_mark(&w, i);
            assert(!sec_replay_check(&w, i));
        }
        sec_replay_mark(&w, 10 * SEC_REPLAY_BITS);  /* a long jump */
        assert(sec_replay_check(&w, 10 * SEC_REPLAY_BITS - 1));
    }

    /* Keys from certificates, as vnetctl keygen writes them. */
    {
        char dir[] = "/tmp/test_agent_sec.XXXXXX";
        assert(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof path, "%s/h1.key", dir);
        zcert_t *cert = zcert_new();
        assert(zcert_save(cert, path) == 0);
        struct sec_identity id;
        char err[256];
        assert(sec_identity_load(&id, path, err, sizeof err) == 0);
        assert(!memcmp(id.pub, zcert_public_key(cert), 32));
        uint8_t pub[32];
        assert(sec_public_load(pub, path, err, sizeof err) == 0);
        assert(!memcmp(pub, id.pub, 32));
        char z85[41];
        sec_key_to_z85(pub, z85);
        assert(!strcmp(z85, zcert_public_txt(cert)));
        uint8_t back[32];
        assert(sec_key_from_z85(back, z85) && !memcmp(back, pub, 32));
        assert(!sec_key_from_z85(back, "short"));
        /* No secret half: refused with a reason. */
        char secret[300];
        snprintf(secret, sizeof secret, "%s_secret", path);
        assert(unlink(secret) == 0);
        assert(sec_identity_load(&id, path, err, sizeof err) == -1);
        assert(strstr(err, "secret"));
        assert(sec_identity_load(&id, "/nonexistent", err, sizeof err)
               == -1);
        unlink(path);
        rmdir(dir);
        zcert_destroy(&cert);
    }
    return 0;
}
