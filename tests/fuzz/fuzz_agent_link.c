/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the TCP link's stream reassembly
 * (agent_tcp_rx_feed()): the input after its first 3 bytes is a byte
 * stream, bare encap records or sealed ones behind a 4-byte length (bit 0
 * of byte 0), written to a socketpair in chunks whose sizes bytes 1-2
 * choose, with the receiver fed after each.  A model cuts the whole
 * stream at once.  Checked: the records handed over are exactly the
 * model's, in order, however the stream was cut; the feed gives up (-1)
 * exactly when the model meets a record that cannot be, and never before
 * it has handed over the ones in front.  Build with -DVR_FUZZ=ON and
 * clang; tests/fuzz/replay.c runs it on fixed inputs in the ordinary
 * build. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_link.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { S_MAX_RECS = 4096 };

/* The model's cut: records as (offset, length) in the stream. */
struct s_model {
    size_t off[S_MAX_RECS], len[S_MAX_RECS];
    size_t n;
    bool bad;                   /* a record that cannot be was met */
    size_t bad_at;              /* ...its header ends here */
};

static void
s_model_cut(const uint8_t *s, size_t size, bool sealed, struct s_model *m)
{
    const size_t cap = sealed ? AGENT_TCP_REC_MAX
                              : ENCAP_HDR_LEN + ENCAP_MAX_FRAME;
    size_t off = 0;
    m->n = 0;
    m->bad = false;
    for (;;) {
        size_t head = sealed ? 4 : ENCAP_HDR_LEN;
        if (size - off < head) {
            return;
        }
        size_t rec, skip;
        if (sealed) {
            uint32_t len = (uint32_t) s[off] << 24 | (uint32_t) s[off + 1] << 16
                           | (uint32_t) s[off + 2] << 8 | s[off + 3];
            if (len < SEC_HDR_LEN || len > cap - 4) {
                m->bad = true;
                m->bad_at = off + head;
                return;
            }
            rec = len;
            skip = 4;
        } else {
            size_t hdr_len = s[off + 3];
            uint32_t flen = (uint32_t) s[off + 8] << 24
                            | (uint32_t) s[off + 9] << 16
                            | (uint32_t) s[off + 10] << 8 | s[off + 11];
            rec = hdr_len + flen;
            if (hdr_len < ENCAP_HDR_LEN || rec > cap) {
                m->bad = true;
                m->bad_at = off + head;
                return;
            }
            skip = 0;
        }
        if (size - off < skip + rec || m->n == S_MAX_RECS) {
            return;
        }
        m->off[m->n] = off + skip;
        m->len[m->n] = rec;
        m->n++;
        off += skip + rec;
    }
}

struct s_check {
    const uint8_t *stream;
    const struct s_model *m;
    size_t next;                /* records handed over so far */
};

static void
s_on_record(const uint8_t *rec, size_t len, void *arg)
{
    struct s_check *c = arg;
    FUZZ_CHECK(c->next < c->m->n);
    FUZZ_CHECK(len == c->m->len[c->next]);
    FUZZ_CHECK(memcmp(rec, c->stream + c->m->off[c->next], len) == 0);
    c->next++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct s_model m;
    if (size < 3) {
        return 0;
    }
    bool sealed = data[0] & 1;
    unsigned seed = (unsigned) data[1] << 8 | data[2];
    const uint8_t *stream = data + 3;
    size_t n = size - 3;
    s_model_cut(stream, n, sealed, &m);

    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int big = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    struct agent_tcp_rx rx;
    FUZZ_CHECK(agent_tcp_rx_init(&rx, AGENT_RX_ACCEPTED, sv[1]) == 0);
    rx.sealed = sealed;
    struct s_check c = { .stream = stream, .m = &m };

    size_t sent = 0;
    int rc = 0;
    for (unsigned k = 1; sent < n && rc == 0; k++) {
        size_t chunk = 1 + (seed * k + k * k) % 4096;
        if (chunk > n - sent) {
            chunk = n - sent;
        }
        ssize_t w = send(sv[0], stream + sent, chunk, MSG_DONTWAIT);
        FUZZ_CHECK(w > 0);
        sent += (size_t) w;
        rc = agent_tcp_rx_feed(&rx, s_on_record, &c);
        if (rc != 0) {
            /* Given up: only at a bad record, all before it handed. */
            FUZZ_CHECK(m.bad && sent >= m.bad_at && c.next == m.n);
        }
    }
    if (rc == 0) {
        FUZZ_CHECK(c.next == m.n && !m.bad);
        shutdown(sv[0], SHUT_WR);
        FUZZ_CHECK(agent_tcp_rx_feed(&rx, s_on_record, &c) == -1);
        FUZZ_CHECK(c.next == m.n);
    }
    agent_tcp_rx_uninit(&rx);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
