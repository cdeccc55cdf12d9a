/* SPDX-License-Identifier: MIT */
/* vr-overlay-peer: an admitted but hostile overlay peer, for the agent's
 * integration tests.  It holds an agent key, shakes hands with one agent
 * over UDP as the initiator (Noise XX, agent_sec), then sends what it is
 * told on stdin as sealed (encrypted) datagrams on that session, so the
 * agent's checks behind the seal (MAC claims, flood limits, offload
 * metadata, hello ids) can be tried by a peer the agent must admit.
 *   vr-overlay-peer [--bind IP:PORT] [--peers DIR] KEY IP:PORT
 * KEY is an agent certificate (its secret in KEY_secret, as `vnetctl
 * keygen` writes them); with --peers, the responder's key must be one of
 * DIR's agent-<id>.key certificates, else any key is taken.  Commands, one
 * or more a line separated by ';':
 *   hello ID [MAC...]      an encap HELLO; ID takes \n, \e, \\, \xHH
 *   frame HEX [vnet FLAGS GSO_TYPE GSO_SIZE CSUM_START CSUM_OFFSET]
 *                          an encap DATA datagram carrying that frame
 *   sleep MS               waits, reading what comes in meanwhile
 *   repeat N CMD...        the rest of the line, N times
 * What comes back is opened and counted, never answered.  At the end it
 * prints one line: datagrams sent, received authentic, received other.
 * Exit status: 0, 1 (no session), 2 (bad usage or command). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_encap.h"
#include "agent_peer.h"
#include "agent_sec.h"
#include "vtime.h"

enum {
    S_MAX_FRAME = 9216,         /* a jumbo frame: one datagram */
    S_MAX_DGRAM = 65536,
    S_HS_MS = 2000,             /* each handshake step waits this long */
};

struct s_peer {
    int fd;
    struct sockaddr_in to;
    struct sec_session sess;
    uint32_t frame_id;          /* DATA frames sent */
    uint64_t n_sent;            /* sealed datagrams sent */
    uint64_t n_rx_ok;           /* authentic datagrams received */
    uint64_t n_rx_other;        /* anything else received */
};

static bool
s_parse_addr(const char *s, struct sockaddr_in *a)
{
    char ip[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t) (colon - s) >= sizeof ip) {
        return false;
    }
    memcpy(ip, s, (size_t) (colon - s));
    ip[colon - s] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t) port);
    return !errno && *end == '\0' && port > 0 && port < 65536
           && inet_pton(AF_INET, ip, &a->sin_addr) == 1;
}

static bool
s_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s) {
        return false;
    }
    errno = 0;
    *out = strtoul(s, &end, 0);
    return !errno && end != s && *end == '\0' && *out <= max;
}

static int
s_hex(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static bool
s_parse_mac(const char *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        int hi = s_hex(s[0]), lo = hi < 0 ? -1 : s_hex(s[1]);
        if (lo < 0 || (i < 5 ? s[2] != ':' : s[2] != '\0')) {
            return false;
        }
        mac[i] = (uint8_t) (hi << 4 | lo);
        s += 3;
    }
    return true;
}

/* Unescapes 's' into 'out' (room for 'size' bytes, NUL-terminated);
 * returns its length, or -1. */
static int
s_unescape(const char *s, char *out, size_t size)
{
    size_t n = 0;
    while (*s) {
        int c = (unsigned char) *s++;
        if (c == '\\') {
            switch (*s++) {
            case 'n': c = '\n'; break;
            case 'e': c = 0x1b; break;
            case '\\': c = '\\'; break;
            case 'x': {
                int hi = s_hex(s[0]), lo = hi < 0 ? -1 : s_hex(s[1]);
                if (lo < 0 || (hi == 0 && lo == 0)) {
                    return -1;
                }
                c = hi << 4 | lo;
                s += 2;
                break;
            }
            default:
                return -1;
            }
        }
        if (n + 1 >= size) {
            return -1;
        }
        out[n++] = (char) c;
    }
    out[n] = '\0';
    return (int) n;
}

/* Reads what came in, for up to 'ms' (0: what is there now). */
static void
s_drain(struct s_peer *p, int ms)
{
    static uint8_t buf[S_MAX_DGRAM];
    uint64_t end = vtime_mono_ms() + (uint64_t) ms;
    for (;;) {
        uint64_t now = vtime_mono_ms();
        struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
        if (poll(&pfd, 1, now < end ? (int) (end - now) : 0) <= 0) {
            if (vtime_mono_ms() >= end) {
                return;
            }
            continue;
        }
        ssize_t n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) {
            continue;
        }
        const uint8_t *inner;
        size_t inner_len;
        bool enc;
        if ((buf[0] == SEC_T_DATA || buf[0] == SEC_T_AUTH)
            && sec_open(&p->sess, buf, (size_t) n, &inner, &inner_len, &enc)
                   == SEC_OK) {
            p->n_rx_ok++;
        } else {
            p->n_rx_other++;    /* a rekey's message 1, or junk */
        }
    }
}

static int
s_send(struct s_peer *p, const struct encap_hdr *h, const uint8_t *payload,
       size_t n)
{
    static uint8_t out[S_MAX_DGRAM];
    uint8_t hbuf[ENCAP_HDR_LEN];
    encap_encode(h, hbuf);
    size_t len = sec_seal(&p->sess, true, hbuf, sizeof hbuf, payload, n,
                          out);
    if (!len || sendto(p->fd, out, len, 0, (struct sockaddr *) &p->to,
                       sizeof p->to) < 0) {
        fprintf(stderr, "vr-overlay-peer: send: %s\n",
                len ? strerror(errno) : "session spent");
        return -1;
    }
    p->n_sent++;
    return 0;
}

/* hello ID [MAC...] */
static int
s_cmd_hello(struct s_peer *p, char **argv, int argc)
{
    uint8_t payload[64 + 64 * 6];
    if (argc < 2) {
        return -1;
    }
    int id_len = s_unescape(argv[1], (char *) payload, 64);
    if (id_len <= 0 || argc - 2 > 64) {
        return -1;
    }
    size_t n = (size_t) id_len + 1;
    for (int i = 2; i < argc; i++, n += 6) {
        if (!s_parse_mac(argv[i], payload + n)) {
            return -1;
        }
    }
    struct encap_hdr h = { .version = ENCAP_VERSION, .type = ENCAP_HELLO,
                           .hdr_len = ENCAP_HDR_LEN,
                           .frame_len = (uint32_t) n };
    return s_send(p, &h, payload, n) == 0 ? 0 : 1;
}

/* frame HEX [vnet FLAGS GSO_TYPE GSO_SIZE CSUM_START CSUM_OFFSET] */
static int
s_cmd_frame(struct s_peer *p, char **argv, int argc)
{
    static uint8_t frame[S_MAX_FRAME];
    if (argc != 2 && argc != 8) {
        return -1;
    }
    size_t hex_len = strlen(argv[1]);
    if (hex_len == 0 || hex_len % 2 || hex_len / 2 > sizeof frame) {
        return -1;
    }
    size_t size = hex_len / 2;
    for (size_t i = 0; i < size; i++) {
        int hi = s_hex(argv[1][2 * i]), lo = s_hex(argv[1][2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        frame[i] = (uint8_t) (hi << 4 | lo);
    }
    struct encap_hdr h = { .version = ENCAP_VERSION, .type = ENCAP_DATA,
                           .hdr_len = ENCAP_HDR_LEN,
                           .frame_id = p->frame_id++,
                           .frame_len = (uint32_t) size };
    if (argc == 8) {
        unsigned long v[5];
        static const unsigned long max[5] = { 255, 255, 65535, 65535,
                                              65535 };
        if (strcmp(argv[2], "vnet") != 0) {
            return -1;
        }
        for (int i = 0; i < 5; i++) {
            if (!s_parse_uint(argv[3 + i], max[i], &v[i])) {
                return -1;
            }
        }
        h.flags = ENCAP_F_VNET;
        h.vnet = (struct encap_vnet) {
            .flags = (uint8_t) v[0], .gso_type = (uint8_t) v[1],
            .gso_size = (uint16_t) v[2], .csum_start = (uint16_t) v[3],
            .csum_offset = (uint16_t) v[4],
        };
    }
    return s_send(p, &h, frame, size) == 0 ? 0 : 1;
}

/* Runs the commands in 'line' (modified).  Returns 0, or 1 (a send
 * failed) or -1 (a bad command, reported). */
static int
s_run(struct s_peer *p, char *line)
{
    while (line && *line) {
        char *rest = NULL;
        char *argv[80];
        int argc = 0;
        char *save, *tok;
        /* 'repeat' takes the rest of the line as it is. */
        line += strspn(line, " \t");
        if (!strncmp(line, "repeat ", 7)) {
            char *body = line + 7;
            unsigned long n;
            char *sp = strchr(body + strspn(body, " "), ' ');
            if (!sp) {
                goto bad;
            }
            *sp = '\0';
            if (!s_parse_uint(body + strspn(body, " "), 1000000, &n)) {
                goto bad;
            }
            size_t len = strlen(sp + 1);
            char *copy = malloc(len + 1);
            if (!copy) {
                return 1;
            }
            for (unsigned long i = 0; i < n; i++) {
                memcpy(copy, sp + 1, len + 1);
                int rc = s_run(p, copy);
                if (rc != 0) {
                    free(copy);
                    return rc;
                }
            }
            free(copy);
            return 0;
        }
        char *semi = strchr(line, ';');
        if (semi) {
            *semi = '\0';
            rest = semi + 1;
        }
        for (tok = strtok_r(line, " \t\r\n", &save); tok && argc < 80;
             tok = strtok_r(NULL, " \t\r\n", &save)) {
            argv[argc++] = tok;
        }
        int rc = 0;
        if (argc == 0) {
            rc = 0;
        } else if (!strcmp(argv[0], "hello")) {
            rc = s_cmd_hello(p, argv, argc);
        } else if (!strcmp(argv[0], "frame")) {
            rc = s_cmd_frame(p, argv, argc);
        } else if (!strcmp(argv[0], "sleep")) {
            unsigned long ms;
            if (argc != 2 || !s_parse_uint(argv[1], 600000, &ms)) {
                goto bad;
            }
            s_drain(p, (int) ms);
        } else {
            rc = -1;
        }
        if (rc < 0) {
            goto bad;
        }
        if (rc > 0) {
            return 1;
        }
        s_drain(p, 0);
        line = rest;
    }
    return 0;
bad:
    fprintf(stderr, "vr-overlay-peer: bad command near '%.60s'\n", line);
    return -1;
}

/* Waits up to S_HS_MS for a datagram whose first byte is 'type' and whose
 * receiver index is 'idx', into 'buf'.  Returns its length, or 0. */
static size_t
s_wait_for(struct s_peer *p, uint8_t type, uint32_t idx, uint8_t *buf,
           size_t size)
{
    uint64_t end = vtime_mono_ms() + S_HS_MS;
    for (uint64_t now; (now = vtime_mono_ms()) < end;) {
        struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
        if (poll(&pfd, 1, (int) (end - now)) <= 0) {
            continue;
        }
        ssize_t n = recv(p->fd, buf, size, MSG_DONTWAIT);
        if (n > 0 && buf[0] == type && sec_receiver(buf, (size_t) n) == idx) {
            return (size_t) n;
        }
    }
    return 0;
}

/* The handshake, as initiator; then the first authentic datagram from
 * the responder (its hello or keepalive: its link is up).  Returns 0. */
static int
s_handshake(struct s_peer *p, const struct sec_identity *me,
            const agent_peers_t *peers, bool check)
{
    static uint8_t buf[S_MAX_DGRAM];
    struct sec_hs hs;
    uint8_t hs1[SEC_HS1_LEN], hs3[SEC_HS3_LEN];
    uint32_t idx = randombytes_uniform(0x7fffffff) + 1;
    sec_hs_initiate(&hs, me, idx, sec_aes_available() ? SEC_F_AES : 0, 0,
                    hs1);
    if (sendto(p->fd, hs1, sizeof hs1, 0, (struct sockaddr *) &p->to,
               sizeof p->to) < 0) {
        fprintf(stderr, "vr-overlay-peer: send: %s\n", strerror(errno));
        return -1;
    }
    size_t n = s_wait_for(p, SEC_T_HS2, idx, buf, sizeof buf);
    if (!n || !sec_hs_finish(&hs, me, buf, n, hs3)) {
        fprintf(stderr, "vr-overlay-peer: %s\n",
                n ? "message 2 not authentic" : "no message 2 in 2 s");
        return -1;
    }
    int who = agent_peers_find(peers, hs.rs);
    if (check && who < 0) {
        fprintf(stderr, "vr-overlay-peer: the responder's key is not "
                "admitted\n");
        return -1;
    }
    if (sendto(p->fd, hs3, sizeof hs3, 0, (struct sockaddr *) &p->to,
               sizeof p->to) < 0) {
        fprintf(stderr, "vr-overlay-peer: send: %s\n", strerror(errno));
        return -1;
    }
    sec_hs_split(&hs, &p->sess, vtime_mono_ms());
    uint64_t end = vtime_mono_ms() + S_HS_MS;
    while (p->n_rx_ok == 0 && vtime_mono_ms() < end) {
        s_drain(p, 50);
    }
    printf("session with '%s' %s\n", who >= 0 ? peers->v[who].id : "?",
           p->n_rx_ok ? "up" : "made (nothing heard on it yet)");
    fflush(stdout);
    return 0;
}

static void
s_usage(void)
{
    fprintf(stderr, "usage: vr-overlay-peer [--bind IP:PORT] [--peers DIR] "
            "KEY IP:PORT < commands\n");
}

int
main(int argc, char **argv)
{
    const char *bind_to = NULL, *peers_dir = NULL;
    int i = 1;
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        if (!strcmp(argv[i], "--bind")) {
            bind_to = argv[i + 1];
        } else if (!strcmp(argv[i], "--peers")) {
            peers_dir = argv[i + 1];
        } else {
            s_usage();
            return 2;
        }
    }
    struct s_peer p = { .fd = -1 };
    struct sockaddr_in local;
    if (argc - i != 2 || !s_parse_addr(argv[i + 1], &p.to)
        || (bind_to && !s_parse_addr(bind_to, &local))) {
        s_usage();
        return 2;
    }
    char err[256];
    struct sec_identity me;
    agent_peers_t peers = { 0 };
    if (sec_init() != 0 || sec_identity_load(&me, argv[i], err, sizeof err)
        || (peers_dir
            && agent_peers_load(&peers, peers_dir, NULL, err, sizeof err))) {
        fprintf(stderr, "vr-overlay-peer: %s\n", err);
        return 2;
    }
    int rc = 1;
    p.fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (p.fd < 0 || (bind_to && bind(p.fd, (struct sockaddr *) &local,
                                     sizeof local) < 0)) {
        fprintf(stderr, "vr-overlay-peer: socket: %s\n", strerror(errno));
        goto out;
    }
    if (s_handshake(&p, &me, &peers, peers_dir != NULL) != 0) {
        goto out;
    }
    char line[65536];
    rc = 0;
    while (rc == 0 && fgets(line, sizeof line, stdin)) {
        int r = s_run(&p, line);
        rc = r < 0 ? 2 : r;
    }
    s_drain(&p, 0);
    printf("sent %llu, received %llu authentic, %llu other\n",
           (unsigned long long) p.n_sent, (unsigned long long) p.n_rx_ok,
           (unsigned long long) p.n_rx_other);
out:
    if (p.fd >= 0) {
        close(p.fd);
    }
    agent_peers_free(&peers);
    sodium_memzero(&me, sizeof me);
    sodium_memzero(&p.sess, sizeof p.sess);
    return rc;
}
