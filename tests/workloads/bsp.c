/* SPDX-License-Identifier: MIT */
/* vr-bsp: the bulk-synchronous parallel workload that the test bed's VMs
 * run, like the paper's PVM benchmark.  N ranks, one per VM, each given
 * every rank's address, repeat compute, exchange and barrier over plain
 * TCP in one of a few patterns, and report the bytes they sent to whom.
 * It knows nothing of the overlay; the integration tests, the benchmark
 * and the demo compare what the aggregator infers with `--print-edges`.
 * tests/workloads/README.md documents the patterns, wire and report. */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum {
    BSP_MAX_RANKS = 1000,       /* keeps fds and O(N^2) set-up cheap */
    BSP_MAX_PHASES = 16,        /* entries in --phases */
    BSP_MAX_SWITCHES = 4096,    /* phase switches kept for the report */
    BSP_MAX_PENDING = 64,       /* accepted, not yet introduced */
    BSP_HDR_SIZE = 12,          /* frame header */
    BSP_HELLO_SIZE = 40,        /* introduction, once per connection */
    BSP_CHUNK = 64 * 1024,      /* payload moved per system call */
    BSP_POLL_MS = 100,          /* longest sleep: signals are seen so */
};

#define BSP_MAGIC 0x56425350u   /* "VBSP" */
#define BSP_VERSION 1
#define BSP_MAX_MSG_SIZE (1ull << 30)
#define BSP_MAX_COMPUTE_US 10000000ull
#define BSP_RETRY_SEC 0.1       /* between connection attempts */
#define BSP_ATTEMPT_SEC 2.0     /* one unanswered connect() */
#define BSP_GRACE_SEC 2.0       /* to finish the iteration after a signal */

#define BSP_DEFAULT_MSG_SIZE 65536u
#define BSP_DEFAULT_COMPUTE_US 1000u
#define BSP_DEFAULT_DURATION 10.0
#define BSP_DEFAULT_PHASE_SEC 5.0
#define BSP_DEFAULT_PHASES "ring,all-to-all"
#define BSP_DEFAULT_CONNECT_TIMEOUT 30.0
#define BSP_DEFAULT_SOCK_BUF (4u << 20)

/* Frame types, byte 8 of the header. */
enum bsp_frame {
    BSP_BULK = 1,               /* 'msg_size' payload bytes of a pattern */
    BSP_ARRIVE = 2,             /* rank i -> 0: done with the iteration */
    BSP_RELEASE = 3,            /* rank 0 -> i: everyone is; what next */
};

/* Frame flags, byte 9 of the header. */
enum {
    BSP_F_STOP = 1,             /* ARRIVE: signalled; RELEASE: last one */
    BSP_F_SIGNALLED = 2,        /* RELEASE: a signal asked for the stop */
};

/* Status of a hello; a connecting rank sends OK. */
enum bsp_hello_status {
    BSP_HELLO_OK = 0,
    BSP_HELLO_MISMATCH = 1,     /* the configurations differ */
    BSP_HELLO_BAD_RANK = 2,     /* that rank should not connect to us */
};

enum bsp_pattern {
    BSP_ALL_TO_ALL,
    BSP_RING,
    BSP_MESH,
    BSP_TREE,
    BSP_NEIGHBOR,
    BSP_PAIRS,
    BSP_PHASES,
    BSP_N_PATTERNS
};

static const char *const s_pattern_names[BSP_N_PATTERNS] = {
    "all-to-all", "ring", "mesh", "tree", "neighbor", "pairs", "phases",
};

/* Set-up progress of one connection. */
enum bsp_conn {
    BSP_CONN_NONE,              /* not needed */
    BSP_CONN_IDLE,              /* we connect: next attempt at 'due' */
    BSP_CONN_CONNECTING,        /* connect() in flight until 'due' */
    BSP_CONN_HELLO,             /* hello sent, reading the reply */
    BSP_CONN_WAIT,              /* the peer connects to us */
    BSP_CONN_READY,
};

/* Results of the steps of a run. */
enum {
    BSP_OK = 0,
    BSP_FAIL = -1,              /* reason in bsp.error */
    BSP_INTR = -2,              /* a signal cut the run short */
};

struct bsp_opts {
    int rank;                   /* -1 until --rank */
    int n;                      /* ranks: entries of --peers, or --n */
    const char *peers;          /* --peers, borrowed from argv */
    enum bsp_pattern pattern;
    enum bsp_pattern phases[BSP_MAX_PHASES]; /* run in turn; 1 unless
                                              * 'pattern' is phases */
    int n_phases;
    uint32_t msg_size;          /* payload bytes of a BULK frame */
    uint64_t compute_us;        /* busy work per iteration */
    uint64_t iterations;        /* 0: run for 'duration' */
    double duration;            /* seconds */
    double phase_sec;
    double connect_timeout;     /* also the longest stall of a step */
    uint64_t sock_buf;          /* SO_SNDBUF/SO_RCVBUF asked for */
    bool json;
    bool print_edges;
};

/* One frame being sent or received on a connection. */
struct bsp_xfer {
    uint8_t hdr[BSP_HDR_SIZE];  /* as sent, or as received so far */
    uint64_t done;              /* header + payload bytes moved */
    uint32_t size;              /* payload bytes to send or expected */
    uint8_t type;               /* frame type sent or expected */
    bool active;                /* posted and not complete */
};

struct bsp_peer {
    char *host;                 /* as given in --peers */
    char *port;
    struct sockaddr_storage addr; /* 'host':'port' resolved */
    socklen_t addr_len;
    bool needed;                /* a pattern or the barrier links us */
    int fd;                     /* -1 when not connected */
    enum bsp_conn state;
    double due;                 /* see enum bsp_conn */
    int last_err;               /* last connect failure, for messages */
    uint8_t hello[BSP_HELLO_SIZE]; /* BSP_CONN_HELLO: reply so far */
    size_t hello_got;
    struct bsp_xfer tx;         /* frame to send in the current step */
    struct bsp_xfer rx;         /* frame to receive in it */
    bool in_step;               /* listed in bsp.step */
    short revents;              /* from the last poll() */
    uint64_t bulk_sent;         /* payload bytes of BULK frames */
    uint64_t bulk_received;
    uint64_t wire_sent;         /* every byte through the socket */
    uint64_t wire_received;
};

/* A connection accepted but not yet introduced by its hello. */
struct bsp_pending {
    int fd;
    uint8_t hello[BSP_HELLO_SIZE];
    size_t got;
    short revents;              /* from the last poll() */
    char from[80];              /* peer address, for messages */
};

/* What this rank does in one pattern. */
struct bsp_plan {
    int *dests;                 /* ranks it sends a BULK frame to */
    int n_dests;
    int *srcs;                  /* ranks it receives one from */
    int n_srcs;
    uint64_t n_edges;           /* edges of the pattern, all ranks */
};

struct bsp_switch {
    uint64_t iteration;         /* first iteration of the phase */
    int phase;                  /* index in bsp_opts.phases */
};

struct bsp {
    struct bsp_opts o;
    struct bsp_peer *peers;     /* o.n; ours is peers[o.rank] */
    struct bsp_plan plans[BSP_MAX_PHASES]; /* one per o.phases entry */
    int listen_fd;
    struct bsp_pending pending[BSP_MAX_PENDING];
    int n_pending;
    uint8_t *chunk;             /* BSP_CHUNK bytes: payload to send */
    uint8_t *scratch;           /* BSP_CHUNK bytes: payload received */
    struct pollfd *pfds;        /* o.n + BSP_MAX_PENDING + 1 */
    int *pfd_peer;              /* what each pfds entry is */
    int *step;                  /* peers with a frame posted */
    int n_step;
    uint32_t tag;               /* iteration on the wire; ~0: start */
    const char *stage;          /* "exchange" or "barrier" */
    double stall_sec;           /* longest wait without progress */
    int sock_buf;               /* SO_*BUF applied; 0: autotuning */
    double sig_at;              /* when the first signal was seen */
    bool stop_signalled;        /* the last RELEASE said so */
    bool started;               /* past the start barrier */
    double t_start;             /* start barrier released */
    double t_end;               /* last iteration's barrier released */
    uint64_t iterations;        /* completed */
    uint64_t phase_iters[BSP_MAX_PHASES];
    struct bsp_switch *switches; /* BSP_MAX_SWITCHES */
    size_t n_switches;
    uint64_t n_switches_lost;   /* beyond BSP_MAX_SWITCHES */
    char error[768];            /* the first failure */
};

static volatile sig_atomic_t s_signals; /* SIGINT/SIGTERM so far, <= 2 */
static volatile double s_sink;  /* keeps the busy loop's result alive */
static int s_log_rank = -1;     /* prefix of log lines */

static void
s_on_signal(int sig)
{
    (void) sig;
    if (s_signals < 2) {
        s_signals++;
    }
}

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void s_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
s_log(const char *fmt, ...)
{
    va_list ap;
    if (s_log_rank >= 0) {
        fprintf(stderr, "vr-bsp[%d]: ", s_log_rank);
    } else {
        fputs("vr-bsp: ", stderr);
    }
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int s_fail(struct bsp *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records the first failure of the run and returns BSP_FAIL. */
static int
s_fail(struct bsp *self, const char *fmt, ...)
{
    va_list ap;
    if (!self->error[0]) {
        va_start(ap, fmt);
        vsnprintf(self->error, sizeof self->error, fmt, ap);
        va_end(ap);
    }
    return BSP_FAIL;
}

/* Network byte order, whatever the host's. */
static void
s_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static void
s_put32(uint8_t *p, uint32_t v)
{
    s_put16(p, (uint16_t) (v >> 16));
    s_put16(p + 2, (uint16_t) v);
}

static uint16_t
s_get16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t
s_get32(const uint8_t *p)
{
    return (uint32_t) s_get16(p) << 16 | s_get16(p + 2);
}

/* ---- Patterns: the one definition of their edges. */

static bool
s_pattern_parse(const char *name, enum bsp_pattern *out)
{
    for (int p = 0; p < BSP_N_PATTERNS; p++) {
        if (!strcmp(name, s_pattern_names[p])) {
            *out = (enum bsp_pattern) p;
            return true;
        }
    }
    return false;
}

/* Rows of the mesh's torus: the largest divisor of 'n' not above its
 * square root, so that rows x columns = n is as square as can be. */
static int
s_mesh_rows(int n)
{
    int rows = 1;
    for (int r = 1; r * r <= n; r++) {
        if (n % r == 0) {
            rows = r;
        }
    }
    return rows;
}

/* The children of rank 'i' in the binary tree over 'n' ranks rooted at 0
 * (heap order: the parent of i is (i - 1) / 2).  Returns how many. */
static int
s_tree_children(int n, int i, int kids[2])
{
    int n_kids = 0;
    for (int c = 2 * i + 1; c <= 2 * i + 2 && c < n; c++) {
        kids[n_kids++] = c;
    }
    return n_kids;
}

/* Adds 'r' to the short list 'out' unless it is 'me' or already there. */
static void
s_add_rank(int *out, int *n_out, int me, int r)
{
    if (r == me) {
        return;
    }
    for (int k = 0; k < *n_out; k++) {
        if (out[k] == r) {
            return;
        }
    }
    out[(*n_out)++] = r;
}

static int
s_cmp_int(const void *a_, const void *b_)
{
    int a = *(const int *) a_, b = *(const int *) b_;
    return (a > b) - (a < b);
}

/* Writes to 'out' (room for 'n' ranks) the ranks that rank 'i' sends one
 * BULK frame to in each iteration of 'pattern' (not BSP_PHASES) over 'n'
 * ranks, ascending and without duplicates, and returns how many. */
static int
s_pattern_dests(enum bsp_pattern pattern, int n, int i, int *out)
{
    int n_out = 0;
    int kids[2], n_kids;

    switch (pattern) {
    case BSP_ALL_TO_ALL:
        for (int j = 0; j < n; j++) {
            if (j != i) {
                out[n_out++] = j;
            }
        }
        break;
    case BSP_RING:
        s_add_rank(out, &n_out, i, (i + 1) % n);
        break;
    case BSP_MESH: {
        /* A torus: with 1 or 2 rows (or columns) the two neighbours in
         * that dimension are the same rank, or ourselves. */
        int rows = s_mesh_rows(n), cols = n / rows;
        int r = i / cols, c = i % cols;
        s_add_rank(out, &n_out, i, (r + rows - 1) % rows * cols + c);
        s_add_rank(out, &n_out, i, (r + 1) % rows * cols + c);
        s_add_rank(out, &n_out, i, r * cols + (c + cols - 1) % cols);
        s_add_rank(out, &n_out, i, r * cols + (c + 1) % cols);
        break;
    }
    case BSP_TREE:
        if (i > 0) {
            s_add_rank(out, &n_out, i, (i - 1) / 2);
        }
        n_kids = s_tree_children(n, i, kids);
        for (int k = 0; k < n_kids; k++) {
            s_add_rank(out, &n_out, i, kids[k]);
        }
        break;
    case BSP_NEIGHBOR:
        if (i > 0) {
            s_add_rank(out, &n_out, i, i - 1);
        }
        if (i + 1 < n) {
            s_add_rank(out, &n_out, i, i + 1);
        }
        break;
    case BSP_PAIRS: {
        /* The first half with the second, in order; with N odd the last
         * rank exchanges nothing. */
        int h = n / 2;
        if (i < h) {
            s_add_rank(out, &n_out, i, i + h);
        } else if (i < 2 * h) {
            s_add_rank(out, &n_out, i, i - h);
        }
        break;
    }
    case BSP_PHASES:
    case BSP_N_PATTERNS:
        assert(!"phases has no edges of its own");
        break;
    }
    qsort(out, (size_t) n_out, sizeof *out, s_cmp_int);
    return n_out;
}

/* Like s_pattern_dests(), but the ranks that send to 'i'; 'tmp' has room
 * for 'n' ranks. */
static int
s_pattern_srcs(enum bsp_pattern pattern, int n, int i, int *out, int *tmp)
{
    int n_out = 0;
    for (int j = 0; j < n; j++) {
        int n_tmp = j == i ? 0 : s_pattern_dests(pattern, n, j, tmp);
        for (int k = 0; k < n_tmp; k++) {
            if (tmp[k] == i) {
                out[n_out++] = j;
                break;
            }
        }
    }
    return n_out;
}

/* ---- Options. */

static void
s_usage(FILE *f)
{
    fputs(
"usage: vr-bsp --rank I --peers HOST:PORT,HOST:PORT,... [options]\n"
"       vr-bsp --print-edges --n N [--pattern P] [--phases LIST] [--json]\n"
"\n"
"A bulk-synchronous parallel workload.  Rank I of N (N = entries of\n"
"--peers) listens on the port of the I-th entry, connects to the ranks\n"
"it exchanges with, then repeats: compute, exchange, barrier.\n"
"\n"
"  --rank I               this process's rank, 0 <= I < N\n"
"  --peers LIST           every rank's HOST:PORT or [IPV6]:PORT, in order\n"
"  --pattern P            all-to-all (default), ring, mesh, tree,\n"
"                         neighbor, pairs or phases\n"
"  --phases P1,P2,...     what phases cycles through (" BSP_DEFAULT_PHASES
")\n"
"  --phase-sec T          seconds per phase (5)\n"
"  --msg-size BYTES       bulk message size, K/M/G allowed (64K)\n"
"  --compute-us US        busy work per iteration, microseconds (1000)\n"
"  --iterations N         stop after N iterations, or\n"
"  --duration SEC         stop after SEC seconds (10)\n"
"  --connect-timeout SEC  wait this long for peers to connect, and\n"
"                         for a stalled peer, before failing (30)\n"
"  --sock-buf BYTES       SO_SNDBUF/SO_RCVBUF if the kernel allows\n"
"                         that much (4M); 0: kernel autotuning\n"
"  --json                 print the report as one JSON object\n"
"  --print-edges          print the pattern's edges over --n ranks,\n"
"                         'SRC DST' a line, and exit\n"
"  --n N                  number of ranks (for --print-edges)\n"
"  -h, --help\n"
"\n"
"Exit status: 0 done or stopped by SIGINT/SIGTERM, 1 failed, 2 usage.\n"
"tests/workloads/README.md defines the patterns' edges, the barrier\n"
"and the report.\n",
          f);
}

/* Parses a decimal count up to 'max'; with 'suffix', K, M or G multiply
 * by powers of 1024. */
static bool
s_parse_u64(const char *s, bool suffix, uint64_t max, uint64_t *out)
{
    char *end;
    uint64_t mult = 1;

    if (*s < '0' || *s > '9') {
        return false;           /* strtoull would take "-1" or " 1" */
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) {
        return false;
    }
    if (suffix && *end) {
        const char *units = "KMG";
        const char *u = strchr(units, *end & ~0x20);
        if (!u || !*u) {
            return false;
        }
        mult = 1ull << (10 * (u - units + 1));
        end++;
    }
    if (*end || v > max / mult) {
        return false;
    }
    *out = v * mult;
    return true;
}

static bool
s_parse_sec(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 1e6) {
        return false;
    }
    *out = v;
    return true;
}

/* Parses --phases' comma-separated patterns into 'o'. */
static bool
s_parse_phases(const char *list, struct bsp_opts *o)
{
    char buf[512];
    char *save = NULL;

    if (strlen(list) >= sizeof buf) {
        return false;
    }
    strcpy(buf, list);
    o->n_phases = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        enum bsp_pattern p;
        if (o->n_phases == BSP_MAX_PHASES || !s_pattern_parse(tok, &p)
            || p == BSP_PHASES) {
            return false;
        }
        o->phases[o->n_phases++] = p;
    }
    return o->n_phases > 0;
}

/* Fills 'o' from the command line.  Returns -1 to go on, else the exit
 * status (0 after --help, 2 after a message on a bad command line). */
static int
s_parse_args(int argc, char **argv, struct bsp_opts *o)
{
    enum {
        OPT_RANK = 256, OPT_PEERS, OPT_PATTERN, OPT_PHASES, OPT_PHASE_SEC,
        OPT_MSG_SIZE, OPT_COMPUTE_US, OPT_ITERATIONS, OPT_DURATION,
        OPT_CONNECT_TIMEOUT, OPT_SOCK_BUF, OPT_JSON, OPT_PRINT_EDGES, OPT_N,
    };
    static const struct option longopts[] = {
        {"rank", required_argument, NULL, OPT_RANK},
        {"peers", required_argument, NULL, OPT_PEERS},
        {"pattern", required_argument, NULL, OPT_PATTERN},
        {"phases", required_argument, NULL, OPT_PHASES},
        {"phase-sec", required_argument, NULL, OPT_PHASE_SEC},
        {"msg-size", required_argument, NULL, OPT_MSG_SIZE},
        {"compute-us", required_argument, NULL, OPT_COMPUTE_US},
        {"iterations", required_argument, NULL, OPT_ITERATIONS},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
        {"sock-buf", required_argument, NULL, OPT_SOCK_BUF},
        {"json", no_argument, NULL, OPT_JSON},
        {"print-edges", no_argument, NULL, OPT_PRINT_EDGES},
        {"n", required_argument, NULL, OPT_N},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *phases = NULL;
    bool has_duration = false;
    int n_arg = 0;
    uint64_t v;
    int c;

    memset(o, 0, sizeof *o);
    o->rank = -1;
    o->pattern = BSP_ALL_TO_ALL;
    o->msg_size = BSP_DEFAULT_MSG_SIZE;
    o->compute_us = BSP_DEFAULT_COMPUTE_US;
    o->duration = BSP_DEFAULT_DURATION;
    o->phase_sec = BSP_DEFAULT_PHASE_SEC;
    o->connect_timeout = BSP_DEFAULT_CONNECT_TIMEOUT;
    o->sock_buf = BSP_DEFAULT_SOCK_BUF;

#define BAD(...)                                                       \
    do {                                                               \
        s_log(__VA_ARGS__);                                            \
        fputs("vr-bsp: try 'vr-bsp --help'\n", stderr);                \
        return 2;                                                      \
    } while (0)

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_RANK:
            if (!s_parse_u64(optarg, false, BSP_MAX_RANKS - 1, &v)) {
                BAD("--rank: bad rank '%s'", optarg);
            }
            o->rank = (int) v;
            break;
        case OPT_PEERS:
            o->peers = optarg;
            break;
        case OPT_PATTERN:
            if (!s_pattern_parse(optarg, &o->pattern)) {
                BAD("--pattern: unknown pattern '%s' (all-to-all, ring, "
                    "mesh, tree, neighbor, pairs, phases)", optarg);
            }
            break;
        case OPT_PHASES:
            phases = optarg;
            break;
        case OPT_PHASE_SEC:
            if (!s_parse_sec(optarg, &o->phase_sec)) {
                BAD("--phase-sec: bad number of seconds '%s'", optarg);
            }
            break;
        case OPT_MSG_SIZE:
            if (!s_parse_u64(optarg, true, BSP_MAX_MSG_SIZE, &v)) {
                BAD("--msg-size: bad size '%s' (0 to 1G)", optarg);
            }
            o->msg_size = (uint32_t) v;
            break;
        case OPT_COMPUTE_US:
            if (!s_parse_u64(optarg, false, BSP_MAX_COMPUTE_US,
                             &o->compute_us)) {
                BAD("--compute-us: bad time '%s' (0 to %llu)", optarg,
                    BSP_MAX_COMPUTE_US);
            }
            break;
        case OPT_ITERATIONS:
            if (!s_parse_u64(optarg, false, UINT32_MAX, &o->iterations)
                || !o->iterations) {
                BAD("--iterations: bad count '%s'", optarg);
            }
            break;
        case OPT_DURATION:
            if (!s_parse_sec(optarg, &o->duration)) {
                BAD("--duration: bad number of seconds '%s'", optarg);
            }
            has_duration = true;
            break;
        case OPT_CONNECT_TIMEOUT:
            if (!s_parse_sec(optarg, &o->connect_timeout)) {
                BAD("--connect-timeout: bad number of seconds '%s'",
                    optarg);
            }
            break;
        case OPT_SOCK_BUF:
            if (!s_parse_u64(optarg, true, 1ull << 30, &o->sock_buf)) {
                BAD("--sock-buf: bad size '%s'", optarg);
            }
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_PRINT_EDGES:
            o->print_edges = true;
            break;
        case OPT_N:
            if (!s_parse_u64(optarg, false, BSP_MAX_RANKS, &v) || v < 2) {
                BAD("--n: bad number of ranks '%s' (2 to %d)", optarg,
                    BSP_MAX_RANKS);
            }
            n_arg = (int) v;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        case ':':
            BAD("option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt >= OPT_RANK) {
                BAD("option '%s' takes no value", argv[optind - 1]);
            }
            BAD("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        BAD("unexpected argument '%s'", argv[optind]);
    }
    if (o->iterations && has_duration) {
        BAD("--iterations and --duration exclude each other");
    }
    if (o->pattern == BSP_PHASES) {
        if (!s_parse_phases(phases ? phases : BSP_DEFAULT_PHASES, o)) {
            BAD("--phases: bad list '%s' (up to %d of all-to-all, ring, "
                "mesh, tree, neighbor, pairs)", phases ? phases : BSP_DEFAULT_PHASES,
                BSP_MAX_PHASES);
        }
    } else if (phases) {
        BAD("--phases goes with --pattern phases");
    } else {
        o->phases[0] = o->pattern;
        o->n_phases = 1;
    }

    if (o->print_edges) {
        if (o->peers || o->rank >= 0) {
            BAD("--print-edges takes --n, not --peers or --rank");
        }
        if (!n_arg) {
            BAD("--print-edges needs --n");
        }
        o->n = n_arg;
        return -1;
    }
    if (!o->peers || o->rank < 0) {
        BAD("--rank and --peers are required");
    }
    o->n = 1;
    for (const char *p = o->peers; *p; p++) {
        o->n += *p == ',';
    }
    if (o->n < 2 || o->n > BSP_MAX_RANKS) {
        BAD("--peers: %d ranks; 2 to %d are supported", o->n,
            BSP_MAX_RANKS);
    }
    if (n_arg && n_arg != o->n) {
        BAD("--n %d, but --peers lists %d ranks", n_arg, o->n);
    }
    if (o->rank >= o->n) {
        BAD("--rank %d, but --peers lists only %d ranks", o->rank, o->n);
    }
    return -1;
#undef BAD
}

/* ---- JSON helpers. */

static json_object *
s_json_double(double v, const char *fmt)
{
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    return json_object_new_double_s(v, buf);
}

static json_object *
s_json_edge(int src, int dst)
{
    json_object *e = json_object_new_array();
    json_object_array_add(e, json_object_new_int(src));
    json_object_array_add(e, json_object_new_int(dst));
    return e;
}

/* ---- --print-edges. */

static int
s_print_edges(const struct bsp_opts *o)
{
    int n = o->n;
    uint8_t *mark = calloc((size_t) n * (size_t) n, 1);
    int *out = malloc((size_t) n * sizeof *out);
    json_object *root = NULL, *phases = NULL;

    if (!mark || !out) {
        s_log("out of memory");
        free(mark);
        free(out);
        return 1;
    }
    if (o->json) {
        root = json_object_new_object();
        json_object_object_add(root, "pattern", json_object_new_string(
                                   s_pattern_names[o->pattern]));
        json_object_object_add(root, "n", json_object_new_int(n));
        if (o->pattern == BSP_PHASES) {
            phases = json_object_new_array();
        }
    }
    for (int ph = 0; ph < o->n_phases; ph++) {
        json_object *edges = phases ? json_object_new_array() : NULL;
        for (int i = 0; i < n; i++) {
            int n_out = s_pattern_dests(o->phases[ph], n, i, out);
            for (int k = 0; k < n_out; k++) {
                mark[(size_t) i * n + out[k]] = 1;
                if (edges) {
                    json_object_array_add(edges, s_json_edge(i, out[k]));
                }
            }
        }
        if (edges) {
            json_object *p = json_object_new_object();
            json_object_object_add(p, "pattern", json_object_new_string(
                                       s_pattern_names[o->phases[ph]]));
            json_object_object_add(p, "edges", edges);
            json_object_array_add(phases, p);
        }
    }

    json_object *edges = root ? json_object_new_array() : NULL;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            if (!mark[(size_t) i * n + j]) {
                continue;
            }
            if (edges) {
                json_object_array_add(edges, s_json_edge(i, j));
            } else {
                printf("%d %d\n", i, j);
            }
        }
    }
    if (root) {
        json_object *barrier = json_object_new_array();
        for (int i = 1; i < n; i++) {
            json_object_array_add(barrier, s_json_edge(i, 0));
            json_object_array_add(barrier, s_json_edge(0, i));
        }
        json_object_object_add(root, "edges", edges);
        if (phases) {
            json_object_object_add(root, "phases", phases);
        }
        json_object_object_add(root, "barrier_edges", barrier);
        json_object_object_add(root, "header_bytes",
                               json_object_new_int(BSP_HDR_SIZE));
        json_object_object_add(root, "hello_bytes",
                               json_object_new_int(BSP_HELLO_SIZE));
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
        json_object_put(root);
    }
    free(mark);
    free(out);
    return fflush(stdout) ? 1 : 0;
}

/* ---- Set-up: resolve, plan, connect. */

/* Splits one --peers entry, in place, into 'host' and 'port'. */
static bool
s_split_hostport(char *item, char **host, char **port)
{
    char *colon;
    if (item[0] == '[') {
        char *close = strchr(item, ']');
        if (!close || close[1] != ':') {
            return false;
        }
        *close = '\0';
        *host = item + 1;
        colon = close + 1;
    } else {
        colon = strrchr(item, ':');
        if (!colon) {
            return false;
        }
        *colon = '\0';
        *host = item;
    }
    *port = colon + 1;
    uint64_t v;
    return **host && s_parse_u64(*port, false, 65535, &v) && v > 0;
}

static void
s_format_addr(const struct sockaddr *sa, socklen_t len, char *buf,
              size_t size)
{
    char host[INET6_ADDRSTRLEN], serv[8];     /* numeric */
    if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV)) {
        snprintf(buf, size, "?");
    } else if (sa->sa_family == AF_INET6) {
        snprintf(buf, size, "[%s]:%s", host, serv);
    } else {
        snprintf(buf, size, "%s:%s", host, serv);
    }
}

/* Resolves every --peers entry into self->peers. */
static int
s_peers_parse(struct bsp *self)
{
    char *list = strdup(self->o.peers);
    char *item = list, *next;
    int rc = BSP_OK;

    if (!list) {
        return s_fail(self, "out of memory");
    }
    /* Not strtok_r(), which would merge empty entries and so shift the
     * ranks; s_parse_args() counted one entry more than commas. */
    for (int i = 0; i < self->o.n; i++, item = next) {
        struct bsp_peer *p = &self->peers[i];
        char *comma = strchr(item, ',');
        char *host, *port;
        if (comma) {
            *comma = '\0';
        }
        next = comma ? comma + 1 : item + strlen(item);
        if (!s_split_hostport(item, &host, &port)) {
            rc = s_fail(self, "--peers: entry %d is not HOST:PORT with a "
                        "port from 1 to 65535", i);
            break;
        }
        p->host = strdup(host);
        p->port = strdup(port);
        if (!p->host || !p->port) {
            rc = s_fail(self, "out of memory");
            break;
        }

        struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_NUMERICSERV};
        struct addrinfo *res = NULL;
        int err = getaddrinfo(host, port, &hints, &res);
        if (err) {
            rc = s_fail(self, "--peers: rank %d: cannot resolve '%s': %s",
                        i, host, gai_strerror(err));
            break;
        }
        memcpy(&p->addr, res->ai_addr, res->ai_addrlen);
        p->addr_len = res->ai_addrlen;
        freeaddrinfo(res);
        for (int j = 0; j < i; j++) {
            if (self->peers[j].addr_len == p->addr_len
                && !memcmp(&self->peers[j].addr, &p->addr, p->addr_len)) {
                rc = s_fail(self, "--peers: ranks %d and %d are both "
                            "%s:%s", j, i, host, port);
                break;
            }
        }
        if (rc) {
            break;
        }
    }
    free(list);
    return rc;
}

/* Works out this rank's part in each pattern run, and which ranks it
 * needs a connection with: those of any pattern, and rank 0 (or, for
 * rank 0, everyone) for the barrier. */
static int
s_plan(struct bsp *self)
{
    const struct bsp_opts *o = &self->o;
    int n = o->n, me = o->rank;
    int *tmp = malloc((size_t) n * sizeof *tmp);

    if (!tmp) {
        return s_fail(self, "out of memory");
    }
    for (int ph = 0; ph < o->n_phases; ph++) {
        struct bsp_plan *pl = &self->plans[ph];
        pl->dests = malloc((size_t) n * sizeof *pl->dests);
        pl->srcs = malloc((size_t) n * sizeof *pl->srcs);
        if (!pl->dests || !pl->srcs) {
            free(tmp);
            return s_fail(self, "out of memory");
        }
        pl->n_dests = s_pattern_dests(o->phases[ph], n, me, pl->dests);
        pl->n_srcs = s_pattern_srcs(o->phases[ph], n, me, pl->srcs, tmp);
        for (int k = 0; k < pl->n_dests; k++) {
            self->peers[pl->dests[k]].needed = true;
        }
        for (int k = 0; k < pl->n_srcs; k++) {
            self->peers[pl->srcs[k]].needed = true;
        }
        pl->n_edges = 0;
        for (int i = 0; i < n; i++) {
            pl->n_edges += (uint64_t) s_pattern_dests(o->phases[ph], n, i,
                                                      tmp);
        }
    }
    free(tmp);
    for (int j = 0; j < n; j++) {
        if (j != me && (me == 0 || j == 0)) {
            self->peers[j].needed = true;
        }
    }
    return BSP_OK;
}

static uint64_t
s_read_sysctl(const char *path)
{
    unsigned long long v = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%llu", &v) != 1) {
            v = 0;
        }
        fclose(f);
    }
    return v;
}

static void s_destroy(struct bsp **self_p);

/* Returns the state of a run of 'o', or NULL after logging why not. */
static struct bsp *
s_new(const struct bsp_opts *o)
{
    struct bsp *self = calloc(1, sizeof *self);
    size_t n = (size_t) o->n;

    if (!self) {
        s_log("out of memory");
        return NULL;
    }
    self->o = *o;
    self->listen_fd = -1;
    self->tag = UINT32_MAX;
    self->stage = "set-up";
    /* A rank may wait a whole computation for a slower one: allow two. */
    self->stall_sec = o->connect_timeout + 2e-6 * (double) o->compute_us;
    self->peers = calloc(n, sizeof *self->peers);
    self->chunk = malloc(BSP_CHUNK);
    self->scratch = malloc(BSP_CHUNK);
    self->pfds = calloc(n + BSP_MAX_PENDING + 1, sizeof *self->pfds);
    self->pfd_peer = calloc(n + BSP_MAX_PENDING + 1,
                            sizeof *self->pfd_peer);
    self->step = calloc(n, sizeof *self->step);
    self->switches = calloc(BSP_MAX_SWITCHES, sizeof *self->switches);
    if (!self->peers || !self->chunk || !self->scratch || !self->pfds
        || !self->pfd_peer || !self->step || !self->switches) {
        s_log("out of memory");
        s_destroy(&self);
        return NULL;
    }
    for (size_t j = 0; j < n; j++) {
        self->peers[j].fd = -1;
    }
    /* Not zeros, in case anything on the path compresses. */
    uint32_t x = 2463534242u;
    for (size_t k = 0; k < BSP_CHUNK; k++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self->chunk[k] = (uint8_t) x;
    }
    if (s_peers_parse(self) || s_plan(self)) {
        s_log("%s", self->error);
        s_destroy(&self);
        return NULL;
    }

    /* Setting SO_RCVBUF turns receive autotuning off, and the kernel caps
     * the value at net.core.rmem_max (208 KiB by default), well under
     * what autotuning reaches (tcp_rmem's maximum, 6 MiB).  So ask only
     * when the kernel grants the whole request. */
    if (o->sock_buf
        && s_read_sysctl("/proc/sys/net/core/rmem_max") >= o->sock_buf
        && s_read_sysctl("/proc/sys/net/core/wmem_max") >= o->sock_buf) {
        self->sock_buf = (int) o->sock_buf;
    }

    /* One descriptor per peer plus the unintroduced ones. */
    struct rlimit rl;
    rlim_t want = (rlim_t) n + BSP_MAX_PENDING + 16;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < want) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
            s_log("%d ranks need %llu file descriptors; the limit is %llu",
                  o->n, (unsigned long long) want,
                  (unsigned long long) rl.rlim_max);
            s_destroy(&self);
            return NULL;
        }
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return self;
}

static void
s_destroy(struct bsp **self_p)
{
    struct bsp *self = *self_p;
    if (!self) {
        return;
    }
    if (self->listen_fd >= 0) {
        close(self->listen_fd);
    }
    for (int k = 0; k < self->n_pending; k++) {
        close(self->pending[k].fd);
    }
    for (int j = 0; self->peers && j < self->o.n; j++) {
        if (self->peers[j].fd >= 0) {
            close(self->peers[j].fd);
        }
        free(self->peers[j].host);
        free(self->peers[j].port);
    }
    for (int ph = 0; ph < BSP_MAX_PHASES; ph++) {
        free(self->plans[ph].dests);
        free(self->plans[ph].srcs);
    }
    free(self->peers);
    free(self->chunk);
    free(self->scratch);
    free(self->pfds);
    free(self->pfd_peer);
    free(self->step);
    free(self->switches);
    free(self);
    *self_p = NULL;
}

/* Names a peer in messages: "rank 2 (10.0.0.3:5000)". */
static const char *
s_peer_name(const struct bsp *self, int peer, char *buf, size_t size)
{
    const struct bsp_peer *p = &self->peers[peer];
    bool v6 = strchr(p->host, ':') != NULL;
    snprintf(buf, size, "rank %d (%s%s%s:%s)", peer, v6 ? "[" : "",
             p->host, v6 ? "]" : "", p->port);
    return buf;
}

static int
s_socket(const struct bsp *self, int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && self->sock_buf) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &self->sock_buf,
                   sizeof self->sock_buf);
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &self->sock_buf,
                   sizeof self->sock_buf);
    }
    return fd;
}

/* Small frames (barrier, headers) must not wait for Nagle's ACK. */
static void
s_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int
s_listen(struct bsp *self)
{
    struct bsp_peer *me = &self->peers[self->o.rank];
    struct sockaddr_storage addr = me->addr;
    char name[128];
    int one = 1;

    self->listen_fd = s_socket(self, addr.ss_family);
    if (self->listen_fd < 0) {
        return s_fail(self, "socket: %s", strerror(errno));
    }
    /* Connections of an earlier run in TIME_WAIT must not block us. */
    setsockopt(self->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(self->listen_fd, (struct sockaddr *) &addr, me->addr_len);
    if (rc && errno == EADDRNOTAVAIL) {
        /* Our name for ourselves is not a local address (NAT, a name
         * that resolves elsewhere): take the port on every address. */
        if (addr.ss_family == AF_INET6) {
            ((struct sockaddr_in6 *) &addr)->sin6_addr = in6addr_any;
        } else {
            ((struct sockaddr_in *) &addr)->sin_addr.s_addr = INADDR_ANY;
        }
        s_log("%s is not a local address; listening on every address",
              me->host);
        rc = bind(self->listen_fd, (struct sockaddr *) &addr, me->addr_len);
    }
    if (rc || listen(self->listen_fd, SOMAXCONN)) {
        return s_fail(self, "cannot listen on %s: %s",
                      s_peer_name(self, self->o.rank, name, sizeof name),
                      strerror(errno));
    }
    return BSP_OK;
}

/* The introduction each side of a connection sends once, 40 bytes:
 *   0 magic "VBSP"   4 version u16   6 status u16   8 rank u32
 *  12 n u32   16 msg_size u32   20 pattern u8   21 n_phases u8
 *  22 phases u8[16]   38 zero u16
 * Bytes 12 to 40 are the configuration both sides must share. */
static void
s_hello_encode(const struct bsp *self, uint8_t *buf,
               enum bsp_hello_status status)
{
    memset(buf, 0, BSP_HELLO_SIZE);
    s_put32(buf, BSP_MAGIC);
    s_put16(buf + 4, BSP_VERSION);
    s_put16(buf + 6, (uint16_t) status);
    s_put32(buf + 8, (uint32_t) self->o.rank);
    s_put32(buf + 12, (uint32_t) self->o.n);
    s_put32(buf + 16, self->o.msg_size);
    buf[20] = (uint8_t) self->o.pattern;
    buf[21] = (uint8_t) self->o.n_phases;
    for (int k = 0; k < self->o.n_phases; k++) {
        buf[22 + k] = (uint8_t) self->o.phases[k];
    }
}

static bool
s_hello_is_ours(const uint8_t *buf)
{
    return s_get32(buf) == BSP_MAGIC && s_get16(buf + 4) == BSP_VERSION;
}

static bool
s_hello_same_config(const struct bsp *self, const uint8_t *buf)
{
    uint8_t mine[BSP_HELLO_SIZE];
    s_hello_encode(self, mine, BSP_HELLO_OK);
    return !memcmp(mine + 12, buf + 12, BSP_HELLO_SIZE - 12);
}

/* The configuration a hello carries, for mismatch messages. */
static const char *
s_hello_describe(const uint8_t *buf, char *out, size_t size)
{
    int len = snprintf(out, size, "n=%" PRIu32 " msg-size=%" PRIu32
                       " pattern=%s", s_get32(buf + 12), s_get32(buf + 16),
                       buf[20] < BSP_N_PATTERNS ? s_pattern_names[buf[20]]
                                                : "?");
    if (buf[20] == BSP_PHASES) {
        for (int k = 0; k < buf[21] && k < BSP_MAX_PHASES; k++) {
            if (len < 0 || (size_t) len >= size) {
                break;
            }
            uint8_t p = buf[22 + k];
            len += snprintf(out + len, size - (size_t) len, "%s%s",
                            k ? "," : " phases=",
                            p < BSP_N_PATTERNS ? s_pattern_names[p] : "?");
        }
    }
    return out;
}

static int
s_mismatch(struct bsp *self, const char *who, const uint8_t *theirs)
{
    uint8_t mine[BSP_HELLO_SIZE];
    char a[256], b[256];
    s_hello_encode(self, mine, BSP_HELLO_OK);
    return s_fail(self, "%s runs %s; this rank runs %s", who,
                  s_hello_describe(theirs, a, sizeof a),
                  s_hello_describe(mine, b, sizeof b));
}

static void
s_retry_later(struct bsp_peer *p, int err, double now)
{
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    p->last_err = err;
    p->state = BSP_CONN_IDLE;
    p->due = now + BSP_RETRY_SEC;
}

static int
s_connect_start(struct bsp *self, int peer, double now)
{
    struct bsp_peer *p = &self->peers[peer];
    int fd = s_socket(self, p->addr.ss_family);
    if (fd < 0) {
        return s_fail(self, "socket: %s", strerror(errno));
    }
    s_nodelay(fd);
    p->fd = fd;
    if (!connect(fd, (struct sockaddr *) &p->addr, p->addr_len)
        || errno == EINPROGRESS || errno == EINTR) {
        p->state = BSP_CONN_CONNECTING;
        p->due = now + BSP_ATTEMPT_SEC;
    } else {
        s_retry_later(p, errno, now);
    }
    return BSP_OK;
}

/* Our connect() to 'peer' finished: send our hello, or try again. */
static void
s_connect_done(struct bsp *self, int peer, double now)
{
    struct bsp_peer *p = &self->peers[peer];
    uint8_t hello[BSP_HELLO_SIZE];
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
        s_retry_later(p, err ? err : errno, now);
        return;
    }
    /* 40 bytes into a new socket's empty buffer: all or an error. */
    s_hello_encode(self, hello, BSP_HELLO_OK);
    if (send(p->fd, hello, sizeof hello, MSG_NOSIGNAL) != sizeof hello) {
        s_retry_later(p, errno, now);
        return;
    }
    p->state = BSP_CONN_HELLO;
    p->hello_got = 0;
}

/* Reads the reply to our hello from 'peer'. */
static int
s_hello_reply(struct bsp *self, int peer, double now)
{
    struct bsp_peer *p = &self->peers[peer];
    char name[128];
    ssize_t r = recv(p->fd, p->hello + p->hello_got,
                     BSP_HELLO_SIZE - p->hello_got, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        return BSP_OK;
    }
    if (r <= 0) {
        /* Refused by a dying process, or a stale listener: retry. */
        s_retry_later(p, r ? errno : ECONNRESET, now);
        return BSP_OK;
    }
    p->hello_got += (size_t) r;
    if (p->hello_got < BSP_HELLO_SIZE) {
        return BSP_OK;
    }

    s_peer_name(self, peer, name, sizeof name);
    if (!s_hello_is_ours(p->hello)) {
        return s_fail(self, "%s does not answer as vr-bsp version %d",
                      name, BSP_VERSION);
    }
    uint16_t status = s_get16(p->hello + 6);
    if (status == BSP_HELLO_MISMATCH || !s_hello_same_config(self,
                                                             p->hello)) {
        return s_mismatch(self, name, p->hello);
    }
    if (status == BSP_HELLO_BAD_RANK) {
        return s_fail(self, "%s refused us as rank %d: are --rank and "
                      "--peers the same everywhere?", name, self->o.rank);
    }
    if (status != BSP_HELLO_OK || s_get32(p->hello + 8) != (uint32_t) peer) {
        return s_fail(self, "%s answered as rank %" PRIu32 " (status %u): "
                      "are --peers the same everywhere?", name,
                      s_get32(p->hello + 8), status);
    }
    p->state = BSP_CONN_READY;
    p->wire_sent = p->wire_received = BSP_HELLO_SIZE;
    return BSP_OK;
}

static int
s_accept(struct bsp *self)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(self->listen_fd, (struct sockaddr *) &ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return BSP_OK;
            }
            return s_fail(self, "accept: %s", strerror(errno));
        }
        if (self->n_pending == BSP_MAX_PENDING) {
            /* Only a port scan or a crowd of strangers gets here. */
            close(fd);
            continue;
        }
        struct bsp_pending *pd = &self->pending[self->n_pending++];
        s_nodelay(fd);
        pd->fd = fd;
        pd->got = 0;
        pd->revents = 0;
        s_format_addr((struct sockaddr *) &ss, len, pd->from,
                      sizeof pd->from);
    }
}

/* Removes pending connection 'k', closing it unless 'keep'. */
static void
s_pending_drop(struct bsp *self, int k, bool keep)
{
    if (!keep) {
        close(self->pending[k].fd);
    }
    self->pending[k] = self->pending[--self->n_pending];
}

/* Reads the hello of pending connection 'k'; once it is whole, answers
 * and hands the connection to its rank, or drops it.  A stranger is
 * dropped; a vr-bsp that disagrees with us is a failure of the run. */
static int
s_pending_read(struct bsp *self, int k)
{
    struct bsp_pending *pd = &self->pending[k];
    uint8_t reply[BSP_HELLO_SIZE];
    char who[160];
    ssize_t r = recv(pd->fd, pd->hello + pd->got, BSP_HELLO_SIZE - pd->got,
                     0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        return BSP_OK;
    }
    if (r <= 0) {
        s_pending_drop(self, k, false);
        return BSP_OK;
    }
    pd->got += (size_t) r;
    if (pd->got < BSP_HELLO_SIZE) {
        return BSP_OK;
    }
    if (!s_hello_is_ours(pd->hello)) {
        s_log("ignoring a connection from %s: not a vr-bsp hello",
              pd->from);
        s_pending_drop(self, k, false);
        return BSP_OK;
    }

    uint32_t rank = s_get32(pd->hello + 8);
    snprintf(who, sizeof who, "rank %" PRIu32 " (from %s)", rank, pd->from);
    if (!s_hello_same_config(self, pd->hello)) {
        s_hello_encode(self, reply, BSP_HELLO_MISMATCH);
        (void) !send(pd->fd, reply, sizeof reply, MSG_NOSIGNAL);
        int rc = s_mismatch(self, who, pd->hello);
        s_pending_drop(self, k, false);
        return rc;
    }
    /* The higher rank of a pair connects to the lower one. */
    if (rank >= (uint32_t) self->o.n || rank <= (uint32_t) self->o.rank
        || !self->peers[rank].needed) {
        s_hello_encode(self, reply, BSP_HELLO_BAD_RANK);
        (void) !send(pd->fd, reply, sizeof reply, MSG_NOSIGNAL);
        s_pending_drop(self, k, false);
        return s_fail(self, "%s should not connect to rank %d: are --rank "
                      "and --peers the same everywhere?", who,
                      self->o.rank);
    }
    s_hello_encode(self, reply, BSP_HELLO_OK);
    if (send(pd->fd, reply, sizeof reply, MSG_NOSIGNAL) != sizeof reply) {
        s_pending_drop(self, k, false);    /* it will try again */
        return BSP_OK;
    }
    struct bsp_peer *p = &self->peers[rank];
    if (p->fd >= 0) {
        /* It gave up on a connection we had taken; nothing but the
         * hellos has crossed it yet, so the new one replaces it. */
        s_log("%s connected again; using the new connection", who);
        close(p->fd);
    }
    p->fd = pd->fd;
    p->state = BSP_CONN_READY;
    p->wire_sent = p->wire_received = BSP_HELLO_SIZE;
    s_pending_drop(self, k, true);
    return BSP_OK;
}

/* Fails the set-up, naming every rank still missing and why. */
static int
s_setup_timeout(struct bsp *self)
{
    char list[512];
    size_t len = 0;
    int n_missing = 0;

    list[0] = '\0';
    for (int j = 0; j < self->o.n; j++) {
        struct bsp_peer *p = &self->peers[j];
        char name[128];
        const char *why;
        if (!p->needed || p->state == BSP_CONN_READY) {
            continue;
        }
        if (n_missing++ == 6) {
            len += (size_t) snprintf(list + len, sizeof list - len, ", ...");
            break;
        }
        why = p->state == BSP_CONN_WAIT ? "did not connect to us"
              : p->state == BSP_CONN_HELLO ? "did not answer our hello"
              : p->last_err ? strerror(p->last_err)
                            : "no answer";
        len += (size_t) snprintf(list + len, sizeof list - len, "%s%s: %s",
                                 len ? ", " : "",
                                 s_peer_name(self, j, name, sizeof name),
                                 why);
        if (len >= sizeof list) {
            break;
        }
    }
    return s_fail(self, "gave up after %g s (--connect-timeout) waiting "
                  "for %s", self->o.connect_timeout, list);
}

/* Connects this rank with every rank it needs, whichever order they
 * start in, within --connect-timeout. */
static int
s_setup(struct bsp *self)
{
    double now = s_now(), deadline = now + self->o.connect_timeout;
    int me = self->o.rank, rc;

    if ((rc = s_listen(self))) {
        return rc;
    }
    for (int j = 0; j < self->o.n; j++) {
        struct bsp_peer *p = &self->peers[j];
        p->state = !p->needed ? BSP_CONN_NONE
                   : j < me   ? BSP_CONN_IDLE
                              : BSP_CONN_WAIT;
        p->due = now;
    }
    for (;;) {
        int n_missing = 0, n_pfd = 0;
        double wake;

        now = s_now();
        for (int j = 0; j < self->o.n; j++) {
            n_missing += self->peers[j].needed
                         && self->peers[j].state != BSP_CONN_READY;
        }
        if (!n_missing) {
            break;
        }
        if (s_signals) {
            return BSP_INTR;
        }
        if (now >= deadline) {
            return s_setup_timeout(self);
        }

        wake = fmin(deadline, now + BSP_POLL_MS / 1e3);
        self->pfds[n_pfd] = (struct pollfd){self->listen_fd, POLLIN, 0};
        self->pfd_peer[n_pfd++] = -1;
        for (int j = 0; j < me; j++) {
            struct bsp_peer *p = &self->peers[j];
            p->revents = 0;
            if (p->state == BSP_CONN_IDLE && now >= p->due
                && (rc = s_connect_start(self, j, now))) {
                return rc;
            }
            if (p->state == BSP_CONN_CONNECTING && now >= p->due) {
                s_retry_later(p, ETIMEDOUT, now);
            }
            if (p->state == BSP_CONN_IDLE || p->state
                                                 == BSP_CONN_CONNECTING) {
                wake = fmin(wake, p->due);
            }
            if (p->state == BSP_CONN_CONNECTING
                || p->state == BSP_CONN_HELLO) {
                self->pfds[n_pfd] = (struct pollfd){
                    p->fd, p->state == BSP_CONN_HELLO ? POLLIN : POLLOUT, 0};
                self->pfd_peer[n_pfd++] = j;
            }
        }
        for (int k = 0; k < self->n_pending; k++) {
            self->pending[k].revents = 0;
            self->pfds[n_pfd] =
                (struct pollfd){self->pending[k].fd, POLLIN, 0};
            self->pfd_peer[n_pfd++] = -2 - k;
        }

        int ms = (int) ceil((wake - now) * 1e3);
        int r = poll(self->pfds, (nfds_t) n_pfd, ms > 0 ? ms : 0);
        if (r < 0 && errno != EINTR) {
            return s_fail(self, "poll: %s", strerror(errno));
        }
        if (r <= 0) {
            continue;
        }
        now = s_now();
        bool can_accept = false;
        for (int i = 0; i < n_pfd; i++) {
            int who = self->pfd_peer[i];
            if (who == -1) {
                can_accept = self->pfds[i].revents != 0;
            } else if (who >= 0) {
                self->peers[who].revents = self->pfds[i].revents;
            } else {
                self->pending[-2 - who].revents = self->pfds[i].revents;
            }
        }
        for (int j = 0; j < me; j++) {
            struct bsp_peer *p = &self->peers[j];
            if (!p->revents) {
                continue;
            }
            if (p->state == BSP_CONN_CONNECTING) {
                s_connect_done(self, j, now);
            } else if (p->state == BSP_CONN_HELLO
                       && (rc = s_hello_reply(self, j, now))) {
                return rc;
            }
        }
        /* Backwards, as a dropped entry is replaced by the last one. */
        for (int k = self->n_pending - 1; k >= 0; k--) {
            if (self->pending[k].revents && (rc = s_pending_read(self, k))) {
                return rc;
            }
        }
        if (can_accept && (rc = s_accept(self))) {
            return rc;
        }
    }

    /* Everyone who should connect to us has: no more listening. */
    close(self->listen_fd);
    self->listen_fd = -1;
    while (self->n_pending) {
        s_pending_drop(self, 0, false);
    }
    return BSP_OK;
}

/* ---- Steps: frames in flight to and from many peers at once. */

static const char *
s_where(const struct bsp *self, char *buf, size_t size)
{
    if (self->tag == UINT32_MAX) {
        snprintf(buf, size, "the start barrier");
    } else {
        snprintf(buf, size, "iteration %" PRIu32 " (%s)", self->tag,
                 self->stage);
    }
    return buf;
}

static int
s_lost(struct bsp *self, int peer, int err)
{
    char name[128], where[64];
    return s_fail(self, "lost %s in %s: %s",
                  s_peer_name(self, peer, name, sizeof name),
                  s_where(self, where, sizeof where),
                  err ? strerror(err) : "connection closed by peer");
}

static void
s_step_add(struct bsp *self, int peer)
{
    struct bsp_peer *p = &self->peers[peer];
    assert(p->fd >= 0);
    if (!p->in_step) {
        p->in_step = true;
        p->revents = POLLIN | POLLOUT;  /* try before polling */
        self->step[self->n_step++] = peer;
    }
}

/* Queues a frame to 'peer' for the next s_run_step(). */
static void
s_post_send(struct bsp *self, int peer, enum bsp_frame type, uint8_t flags,
            uint16_t arg, uint32_t size)
{
    struct bsp_xfer *x = &self->peers[peer].tx;
    assert(!x->active);
    /* Header: payload size u32, iteration u32, type u8, flags u8,
     * arg u16 (RELEASE: the next iteration's phase). */
    s_put32(x->hdr, size);
    s_put32(x->hdr + 4, self->tag);
    x->hdr[8] = (uint8_t) type;
    x->hdr[9] = flags;
    s_put16(x->hdr + 10, arg);
    x->type = (uint8_t) type;
    x->size = size;
    x->done = 0;
    x->active = true;
    s_step_add(self, peer);
}

/* Expects a frame of 'type' and 'size' from 'peer' in the next step. */
static void
s_post_recv(struct bsp *self, int peer, enum bsp_frame type, uint32_t size)
{
    struct bsp_xfer *x = &self->peers[peer].rx;
    assert(!x->active);
    x->type = (uint8_t) type;
    x->size = size;
    x->done = 0;
    x->active = true;
    s_step_add(self, peer);
}

/* Sends what the socket takes of 'peer''s frame.  Returns 1 if bytes
 * moved, 0 if none, BSP_FAIL on error. */
static int
s_send_some(struct bsp *self, int peer)
{
    struct bsp_peer *p = &self->peers[peer];
    struct bsp_xfer *x = &p->tx;
    uint64_t total = BSP_HDR_SIZE + (uint64_t) x->size;
    bool moved = false;

    while (x->done < total) {
        struct iovec iov[2];
        struct msghdr m = {.msg_iov = iov};
        uint64_t body = x->done > BSP_HDR_SIZE ? x->done - BSP_HDR_SIZE : 0;
        uint64_t left = x->size - body;
        if (x->done < BSP_HDR_SIZE) {
            iov[m.msg_iovlen++] = (struct iovec){
                x->hdr + x->done, BSP_HDR_SIZE - (size_t) x->done};
        }
        if (left) {
            iov[m.msg_iovlen++] = (struct iovec){
                self->chunk, left < BSP_CHUNK ? (size_t) left : BSP_CHUNK};
        }
        ssize_t r = sendmsg(p->fd, &m, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            return s_lost(self, peer, errno);
        }
        uint64_t hdr = x->done < BSP_HDR_SIZE ? BSP_HDR_SIZE - x->done : 0;
        if (hdr > (uint64_t) r) {
            hdr = (uint64_t) r;
        }
        if (x->type == BSP_BULK) {
            p->bulk_sent += (uint64_t) r - hdr;
        }
        p->wire_sent += (uint64_t) r;
        x->done += (uint64_t) r;
        moved = true;
    }
    x->active = x->done < total;
    return moved;
}

/* Checks a received header against what the step expects. */
static int
s_check_hdr(struct bsp *self, int peer)
{
    const struct bsp_xfer *x = &self->peers[peer].rx;
    uint32_t size = s_get32(x->hdr), tag = s_get32(x->hdr + 4);
    char name[128], where[64];

    if (x->hdr[8] == x->type && tag == self->tag && size == x->size) {
        return BSP_OK;
    }
    return s_fail(self, "%s is out of step in %s: got frame type %u of "
                  "%" PRIu32 " bytes for iteration %" PRId32 ", expected "
                  "type %u of %" PRIu32 " bytes for iteration %" PRId32,
                  s_peer_name(self, peer, name, sizeof name),
                  s_where(self, where, sizeof where), x->hdr[8], size,
                  (int32_t) tag, x->type, x->size, (int32_t) self->tag);
}

/* Receives what has arrived of the frame from 'peer', never reading past
 * its end: the next frame may belong to a later step.  Returns as
 * s_send_some(). */
static int
s_recv_some(struct bsp *self, int peer)
{
    struct bsp_peer *p = &self->peers[peer];
    struct bsp_xfer *x = &p->rx;
    uint64_t total = BSP_HDR_SIZE + (uint64_t) x->size;
    bool moved = false;

    while (x->done < total) {
        void *buf;
        size_t want;
        if (x->done < BSP_HDR_SIZE) {
            buf = x->hdr + x->done;
            want = BSP_HDR_SIZE - (size_t) x->done;
        } else {
            buf = self->scratch;
            want = total - x->done < BSP_CHUNK ? (size_t) (total - x->done)
                                               : BSP_CHUNK;
        }
        ssize_t r = recv(p->fd, buf, want, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            return s_lost(self, peer, errno);
        }
        if (r == 0) {
            return s_lost(self, peer, 0);
        }
        if (x->done >= BSP_HDR_SIZE && x->type == BSP_BULK) {
            p->bulk_received += (uint64_t) r;
        }
        p->wire_received += (uint64_t) r;
        x->done += (uint64_t) r;
        moved = true;
        if (x->done == BSP_HDR_SIZE && s_check_hdr(self, peer)) {
            return BSP_FAIL;
        }
    }
    x->active = x->done < total;
    return moved;
}

/* True once a signal means giving up now rather than at the end of the
 * iteration: a second signal, or a first one BSP_GRACE_SEC ago. */
static bool
s_must_abort(struct bsp *self, double now)
{
    if (!s_signals) {
        return false;
    }
    if (self->sig_at == 0) {
        self->sig_at = now;
    }
    return s_signals >= 2 || now - self->sig_at >= BSP_GRACE_SEC;
}

static int
s_stalled(struct bsp *self)
{
    char list[400], name[128], where[64];
    size_t len = 0;
    list[0] = '\0';
    for (int k = 0; k < self->n_step && len < sizeof list; k++) {
        const struct bsp_peer *p = &self->peers[self->step[k]];
        if (p->tx.active || p->rx.active) {
            len += (size_t) snprintf(
                list + len, sizeof list - len, "%s%s", len ? ", " : "",
                s_peer_name(self, self->step[k], name, sizeof name));
        }
    }
    return s_fail(self, "no progress for %.1f s in %s: waiting for %s",
                  self->stall_sec, s_where(self, where, sizeof where), list);
}

/* Moves every posted frame, all at once so that no pair of ranks waits
 * on each other's full buffers.  With 'watch_idle' a connection closed
 * by any other peer fails the step too: within an iteration's exchange
 * no peer may have gone, while after the last barrier they may. */
static int
s_run_step(struct bsp *self, bool watch_idle)
{
    double deadline = s_now() + self->stall_sec;
    int rc = BSP_OK;

    for (;;) {
        int n_busy = 0, n_pfd = 0, r;
        bool moved = false;
        for (int k = 0; k < self->n_step; k++) {
            int peer = self->step[k];
            struct bsp_peer *p = &self->peers[peer];
            if (p->tx.active && (p->revents & (POLLOUT | POLLERR | POLLHUP))) {
                if ((r = s_send_some(self, peer)) < 0) {
                    rc = r;
                    goto out;
                }
                moved |= r > 0;
            }
            if (p->rx.active && p->revents) {
                if ((r = s_recv_some(self, peer)) < 0) {
                    rc = r;
                    goto out;
                }
                moved |= r > 0;
            }
            p->revents = 0;
            n_busy += p->tx.active || p->rx.active;
        }
        if (!n_busy) {
            break;
        }

        double now = s_now();
        if (moved) {
            deadline = now + self->stall_sec;
        }
        if (s_must_abort(self, now)) {
            rc = BSP_INTR;
            goto out;
        }
        if (now >= deadline) {
            rc = s_stalled(self);
            goto out;
        }
        for (int j = 0; j < self->o.n; j++) {
            struct bsp_peer *p = &self->peers[j];
            bool busy = p->in_step && (p->tx.active || p->rx.active);
            short ev = (short) ((p->tx.active ? POLLOUT : 0)
                                | (p->rx.active ? POLLIN : 0));
            if (p->fd < 0 || (!busy && !watch_idle)) {
                continue;
            }
            self->pfds[n_pfd] = (struct pollfd){
                p->fd, (short) (busy ? ev : POLLRDHUP), 0};
            self->pfd_peer[n_pfd++] = j;
        }
        double wait = fmin(deadline - now, BSP_POLL_MS / 1e3);
        r = poll(self->pfds, (nfds_t) n_pfd, (int) ceil(wait * 1e3));
        if (r < 0 && errno != EINTR) {
            rc = s_fail(self, "poll: %s", strerror(errno));
            goto out;
        }
        for (int i = 0; i < n_pfd && r > 0; i++) {
            int peer = self->pfd_peer[i];
            struct bsp_peer *p = &self->peers[peer];
            if (!self->pfds[i].revents) {
                continue;
            }
            if (!(p->in_step && (p->tx.active || p->rx.active))) {
                rc = s_lost(self, peer, 0);
                goto out;
            }
            p->revents = self->pfds[i].revents;
        }
    }
out:
    for (int k = 0; k < self->n_step; k++) {
        struct bsp_peer *p = &self->peers[self->step[k]];
        p->in_step = false;
        p->tx.active = p->rx.active = false;
    }
    self->n_step = 0;
    return rc;
}

/* ---- The iteration. */

/* Busy work for 'us' microseconds, cut short by a signal. */
static void
s_compute(uint64_t us)
{
    if (!us) {
        return;
    }
    double end = s_now() + (double) us / 1e6;
    double x = s_sink;
    do {
        /* A dependent chain of multiply-adds the compiler cannot drop
         * or vectorise: well under a microsecond per round. */
        for (int k = 0; k < 256; k++) {
            x = x * 0.999999 + 1.0;
        }
    } while (s_now() < end && !s_signals);
    s_sink = x;
}

/* Sends and receives the BULK frames of one iteration of 'phase'. */
static int
s_exchange(struct bsp *self, int phase)
{
    const struct bsp_plan *pl = &self->plans[phase];
    uint32_t size = self->o.msg_size;
    int me = self->o.rank, kids[2], n_kids, rc;

    self->stage = "exchange";
    if (self->o.phases[phase] != BSP_TREE) {
        for (int k = 0; k < pl->n_dests; k++) {
            s_post_send(self, pl->dests[k], BSP_BULK, 0, 0, size);
        }
        for (int k = 0; k < pl->n_srcs; k++) {
            s_post_recv(self, pl->srcs[k], BSP_BULK, size);
        }
        return s_run_step(self, true);
    }

    /* A reduce up the tree, then a broadcast down: a rank sends to its
     * parent once it has heard from its children, and to its children
     * once it has heard from its parent. */
    n_kids = s_tree_children(self->o.n, me, kids);
    for (int k = 0; k < n_kids; k++) {
        s_post_recv(self, kids[k], BSP_BULK, size);
    }
    if (n_kids && (rc = s_run_step(self, true))) {
        return rc;
    }
    if (me > 0) {
        s_post_send(self, (me - 1) / 2, BSP_BULK, 0, 0, size);
        s_post_recv(self, (me - 1) / 2, BSP_BULK, size);
        if ((rc = s_run_step(self, true))) {
            return rc;
        }
    }
    for (int k = 0; k < n_kids; k++) {
        s_post_send(self, kids[k], BSP_BULK, 0, 0, size);
    }
    return n_kids ? s_run_step(self, true) : BSP_OK;
}

/* Ends the iteration (or, before the first, starts the run) in step with
 * every rank: each sends rank 0 an ARRIVE, rank 0 answers each with a
 * RELEASE once it has them all.  Rank 0 decides there whether this was
 * the last iteration ('*stop') and which phase the next one runs. */
static int
s_barrier(struct bsp *self, bool *stop, int *phase)
{
    int n = self->o.n, rc;

    self->stage = "barrier";
    if (self->o.rank != 0) {
        s_post_send(self, 0, BSP_ARRIVE, s_signals ? BSP_F_STOP : 0, 0, 0);
        s_post_recv(self, 0, BSP_RELEASE, 0);
        if ((rc = s_run_step(self, false))) {
            return rc;
        }
        const uint8_t *h = self->peers[0].rx.hdr;
        uint16_t next = s_get16(h + 10);
        if (next >= self->o.n_phases) {
            return s_fail(self, "rank 0 chose phase %u of %d", next,
                          self->o.n_phases);
        }
        *stop = h[9] & BSP_F_STOP;
        self->stop_signalled = h[9] & BSP_F_SIGNALLED;
        *phase = next;
        return BSP_OK;
    }

    for (int j = 1; j < n; j++) {
        s_post_recv(self, j, BSP_ARRIVE, 0);
    }
    if ((rc = s_run_step(self, false))) {
        return rc;
    }
    bool asked = s_signals > 0, done = false;
    for (int j = 1; j < n; j++) {
        asked |= self->peers[j].rx.hdr[9] & BSP_F_STOP;
    }
    int next = 0;
    if (self->started) {
        double t = s_now() - self->t_start;
        done = self->o.iterations ? self->iterations + 1 >= self->o.iterations
                                  : t >= self->o.duration;
        next = (int) fmod(floor(t / self->o.phase_sec), self->o.n_phases);
    }
    uint8_t flags = (uint8_t) ((asked || done ? BSP_F_STOP : 0)
                               | (asked && !done ? BSP_F_SIGNALLED : 0));
    for (int j = 1; j < n; j++) {
        s_post_send(self, j, BSP_RELEASE, flags, (uint16_t) next, 0);
    }
    if ((rc = s_run_step(self, false))) {
        return rc;
    }
    *stop = flags & BSP_F_STOP;
    self->stop_signalled = flags & BSP_F_SIGNALLED;
    *phase = next;
    return BSP_OK;
}

static void
s_switch(struct bsp *self, uint64_t iteration, int phase)
{
    if (self->n_switches == BSP_MAX_SWITCHES) {
        self->n_switches_lost++;
        return;
    }
    self->switches[self->n_switches++] = (struct bsp_switch){iteration,
                                                             phase};
}

static int
s_run(struct bsp *self)
{
    double t0 = s_now();
    bool stop = false;
    int phase = 0, n_conns = 0, rc;

    if ((rc = s_setup(self))) {
        return rc;
    }
    for (int j = 0; j < self->o.n; j++) {
        n_conns += self->peers[j].fd >= 0;
    }
    s_log("connected to %d peer%s in %.2f s", n_conns,
          n_conns == 1 ? "" : "s", s_now() - t0);

    if ((rc = s_barrier(self, &stop, &phase))) {
        return rc;
    }
    self->started = true;
    self->t_start = self->t_end = s_now();
    s_switch(self, 0, phase);
    while (!stop) {
        int next;
        self->tag = (uint32_t) self->iterations;
        s_compute(self->o.compute_us);
        if ((rc = s_exchange(self, phase))
            || (rc = s_barrier(self, &stop, &next))) {
            return rc;
        }
        self->iterations++;
        self->phase_iters[phase]++;
        self->t_end = s_now();
        if (!stop && next != phase) {
            s_switch(self, self->iterations, next);
        }
        phase = next;
    }
    return BSP_OK;
}

/* ---- The report. */

static void
s_report_json(const struct bsp *self, const char *status)
{
    const struct bsp_opts *o = &self->o;
    double secs = self->started ? self->t_end - self->t_start : 0;
    uint64_t sent = 0, received = 0, wsent = 0, wreceived = 0;
    json_object *root = json_object_new_object();
    json_object *to = json_object_new_object();
    json_object *from = json_object_new_object();
    json_object *oto = json_object_new_object();
    json_object *ofrom = json_object_new_object();

    for (int j = 0; j < o->n; j++) {
        const struct bsp_peer *p = &self->peers[j];
        char key[16];
        if (j == o->rank) {
            continue;
        }
        snprintf(key, sizeof key, "%d", j);
        json_object_object_add(to, key,
                               json_object_new_int64((int64_t) p->bulk_sent));
        json_object_object_add(
            from, key, json_object_new_int64((int64_t) p->bulk_received));
        json_object_object_add(oto, key, json_object_new_int64((int64_t) (
                                             p->wire_sent - p->bulk_sent)));
        json_object_object_add(
            ofrom, key, json_object_new_int64((int64_t) (
                            p->wire_received - p->bulk_received)));
        sent += p->bulk_sent;
        received += p->bulk_received;
        wsent += p->wire_sent;
        wreceived += p->wire_received;
    }

#define ADD(key, value) json_object_object_add(root, key, value)
    ADD("rank", json_object_new_int(o->rank));
    ADD("n", json_object_new_int(o->n));
    ADD("pattern", json_object_new_string(s_pattern_names[o->pattern]));
    ADD("status", json_object_new_string(status));
    ADD("iterations", json_object_new_int64((int64_t) self->iterations));
    ADD("seconds", s_json_double(secs, "%.6f"));
    ADD("iterations_per_sec",
        s_json_double(secs > 0 ? (double) self->iterations / secs : 0,
                      "%.3f"));
    ADD("bytes_sent", json_object_new_int64((int64_t) sent));
    ADD("bytes_received", json_object_new_int64((int64_t) received));
    ADD("msg_size", json_object_new_int64(o->msg_size));
    ADD("compute_us", json_object_new_int64((int64_t) o->compute_us));
    ADD("overhead_bytes_sent", json_object_new_int64((int64_t) (wsent
                                                                - sent)));
    ADD("overhead_bytes_received",
        json_object_new_int64((int64_t) (wreceived - received)));
    ADD("sent_to", to);
    ADD("received_from", from);
    ADD("overhead_sent_to", oto);
    ADD("overhead_received_from", ofrom);
    if (o->pattern == BSP_PHASES) {
        json_object *list = json_object_new_array();
        json_object *iters = json_object_new_object();
        json_object *sw = json_object_new_array();
        for (int ph = 0; ph < o->n_phases; ph++) {
            const char *name = s_pattern_names[o->phases[ph]];
            json_object *prev;
            int64_t before = json_object_object_get_ex(iters, name, &prev)
                                 ? json_object_get_int64(prev) : 0;
            json_object_array_add(list, json_object_new_string(name));
            json_object_object_add(iters, name, json_object_new_int64(
                before + (int64_t) self->phase_iters[ph]));
        }
        for (size_t k = 0; k < self->n_switches; k++) {
            json_object *s = json_object_new_object();
            json_object_object_add(s, "iteration", json_object_new_int64(
                (int64_t) self->switches[k].iteration));
            json_object_object_add(s, "pattern", json_object_new_string(
                s_pattern_names[o->phases[self->switches[k].phase]]));
            json_object_array_add(sw, s);
        }
        ADD("phases", list);
        ADD("phase_sec", s_json_double(o->phase_sec, "%g"));
        ADD("phase_iterations", iters);
        ADD("switches", sw);
        ADD("switches_lost",
            json_object_new_int64((int64_t) self->n_switches_lost));
    }
    /* Every rank ran the same iterations of the same patterns, so rank 0
     * knows the whole run's bulk traffic without asking. */
    if (o->rank == 0 && self->started && !self->error[0]
        && strcmp(status, "interrupted")) {
        uint64_t bytes = 0, msgs = 0;
        for (int ph = 0; ph < o->n_phases; ph++) {
            msgs += self->phase_iters[ph] * self->plans[ph].n_edges;
        }
        bytes = msgs * o->msg_size;
        json_object *agg = json_object_new_object();
        json_object_object_add(agg, "messages",
                               json_object_new_int64((int64_t) msgs));
        json_object_object_add(agg, "bytes",
                               json_object_new_int64((int64_t) bytes));
        json_object_object_add(
            agg, "bytes_per_sec",
            s_json_double(secs > 0 ? (double) bytes / secs : 0, "%.0f"));
        ADD("aggregate", agg);
    }
    if (self->error[0]) {
        ADD("error", json_object_new_string(self->error));
    }
#undef ADD
    puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
}

static void
s_report_text(const struct bsp *self, const char *status)
{
    const struct bsp_opts *o = &self->o;
    double secs = self->started ? self->t_end - self->t_start : 0;
    uint64_t sent = 0, received = 0, wsent = 0, wreceived = 0;

    for (int j = 0; j < o->n; j++) {
        sent += self->peers[j].bulk_sent;
        received += self->peers[j].bulk_received;
        wsent += self->peers[j].wire_sent;
        wreceived += self->peers[j].wire_received;
    }
    printf("rank %d of %d, %s: %s, %" PRIu64 " iterations in %.3f s "
           "(%.1f/s)\n", o->rank, o->n, s_pattern_names[o->pattern], status,
           self->iterations, secs,
           secs > 0 ? (double) self->iterations / secs : 0);
    printf("  msg-size %" PRIu32 " B, compute %" PRIu64 " us\n",
           o->msg_size, o->compute_us);
    printf("  bulk bytes sent %" PRIu64 ", received %" PRIu64
           "; overhead sent %" PRIu64 ", received %" PRIu64 "\n",
           sent, received, wsent - sent, wreceived - received);
    for (int j = 0; j < o->n; j++) {
        const struct bsp_peer *p = &self->peers[j];
        if (!p->needed) {
            continue;
        }
        printf("  rank %d: bulk sent %" PRIu64 ", received %" PRIu64
               "; overhead sent %" PRIu64 ", received %" PRIu64 "\n",
               j, p->bulk_sent, p->bulk_received, p->wire_sent - p->bulk_sent,
               p->wire_received - p->bulk_received);
    }
    if (o->pattern == BSP_PHASES) {
        printf("  phases:");
        for (size_t k = 0; k < self->n_switches; k++) {
            printf(" %s from %" PRIu64 "%s",
                   s_pattern_names[o->phases[self->switches[k].phase]],
                   self->switches[k].iteration,
                   k + 1 < self->n_switches ? "," : "");
        }
        printf("%s\n", self->n_switches_lost ? " ..." : "");
    }
    if (self->error[0]) {
        printf("  error: %s\n", self->error);
    }
}

int
main(int argc, char **argv)
{
    struct bsp_opts o;
    struct bsp *self;
    const char *status;
    int rc = s_parse_args(argc, argv, &o);

    if (rc >= 0) {
        return rc;
    }
    if (o.print_edges) {
        return s_print_edges(&o);
    }
    s_log_rank = o.rank;

    /* No SA_RESTART: a signal also cuts a poll() short. */
    struct sigaction sa = {.sa_handler = s_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    self = s_new(&o);
    if (!self) {
        return 1;
    }
    rc = s_run(self);
    status = rc == BSP_FAIL              ? "failed"
             : rc == BSP_INTR            ? self->started ? "interrupted"
                                                         : "stopped"
             : self->stop_signalled      ? "stopped"
                                         : "completed";
    if (rc == BSP_FAIL) {
        s_log("error: %s", self->error);
    } else if (rc == BSP_INTR) {
        s_log("signalled: %s", status);
    }
    if (o.json) {
        s_report_json(self, status);
    } else {
        s_report_text(self, status);
    }
    fflush(stdout);
    s_destroy(&self);
    return rc == BSP_FAIL ? 1 : 0;
}
