/* SPDX-License-Identifier: MIT */
/* odin-adapter's SQLite store: records written at each transition are
 * all found again, in order and whole, after close and reopen (a
 * simulated restart); the path number never goes back, even when the
 * newest records are trimmed; a missing directory is made; an unusable
 * path is refused with a message.  Failing closed: a write that fails
 * halfway (the row written, the path number not) leaves nothing; a read
 * error in the middle of a load is an error, not fewer paths; the journal
 * is WAL.  A VLAN circuit's vlan and prefix length are kept; a store of
 * the first schema (no vlan) opens, upgraded, its paths whole. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <unistd.h>

#include "adapter_store.h"
#include "log.h"

struct s_seen {
    struct adapter_path_rec v[16];
    size_t n;
};

/* The path table of the first schema, up to its last column: old stores
 * are made from it (the later schemas add columns after it). */
#define S_PATH_V1                                                         \
    "CREATE TABLE path (n INTEGER PRIMARY KEY, path_id TEXT NOT NULL,"    \
    " sim_id INTEGER, request_id TEXT NOT NULL, src TEXT NOT NULL,"       \
    " dst TEXT NOT NULL, bandwidth_mbps REAL, latency_ms REAL,"           \
    " state INTEGER NOT NULL, detail TEXT NOT NULL,"                      \
    " backend_ref TEXT NOT NULL, src_link TEXT NOT NULL,"                 \
    " dst_link TEXT NOT NULL, error TEXT NOT NULL, created_us INTEGER,"   \
    " updated_us INTEGER"

static void
s_collect(const struct adapter_path_rec *r, void *arg)
{
    struct s_seen *s = arg;
    assert(s->n < 16);
    s->v[s->n++] = *r;
}

/* Runs 'sql' on the SQLite file 'path' (made if new): an old store. */
static void
s_sql(const char *path, const char *sql)
{
    sqlite3 *db;
    assert(sqlite3_open(path, &db) == SQLITE_OK);
    assert(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

static uint64_t
s_next(adapter_store_t *st)
{
    uint64_t next = 0;
    assert(adapter_store_next_n(st, &next) == 0);
    return next;
}

static struct adapter_path_rec
s_rec(uint64_t n, int state)
{
    struct adapter_path_rec r;
    memset(&r, 0, sizeof r);
    r.n = n;
    snprintf(r.path_id, sizeof r.path_id, "p-%llu", (unsigned long long) n);
    r.sim_id = n + 100;
    snprintf(r.request_id, sizeof r.request_id, "req-%llu",
             (unsigned long long) n);
    snprintf(r.src, sizeof r.src, "10.210.0.1");
    snprintf(r.dst, sizeof r.dst, "10.210.0.2");
    r.bandwidth_mbps = 1000;
    r.latency_ms = 2.5;
    r.state = state;
    snprintf(r.detail, sizeof r.detail, "lambda=2 route=a,b latency_ms=1");
    snprintf(r.backend_ref, sizeof r.backend_ref, "odin-%llu",
             (unsigned long long) n);
    snprintf(r.src_link, sizeof r.src_link, "10.212.0.1");
    snprintf(r.dst_link, sizeof r.dst_link, "10.212.0.2");
    snprintf(r.error, sizeof r.error, "it's 'quoted'");
    r.created_us = 1000 * n;
    r.updated_us = 2000 * n;
    r.vlan = n % 2 ? 1780 + (uint32_t) n : 0;
    r.vlan_dst = n == 3 ? 1790 : 0;     /* p-3's ends on two VLANs */
    r.prefix_len = 30;
    r.start_us = n % 2 ? UINT64_C(1800000000000000) + n : 0;
    r.end_us = n % 2 ? r.start_us + 60000000 : 0;
    return r;
}

int
main(void)
{
    log_init("test_adapter_store");
    char dir[] = "/tmp/test_adapter_store.XXXXXX";
    assert(mkdtemp(dir));
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/a/b/adapter.db", dir);

    adapter_store_t *st = adapter_store_open(path, err, sizeof err);
    assert(st);
    assert(s_next(st) == 1);
    for (uint64_t n = 1; n <= 5; n++) {
        struct adapter_path_rec r = s_rec(n, 1);
        assert(adapter_store_put(st, &r) == 0);
    }
    /* Transitions overwrite: 2 up, 3 down, 5 failed. */
    struct adapter_path_rec r = s_rec(2, 2);
    assert(adapter_store_put(st, &r) == 0);
    r = s_rec(3, 4);
    assert(adapter_store_put(st, &r) == 0);
    r = s_rec(5, 5);
    assert(adapter_store_put(st, &r) == 0);
    adapter_store_close(&st);
    assert(!st);

    /* The restart. */
    st = adapter_store_open(path, err, sizeof err);
    assert(st);
    struct s_seen seen = { .n = 0 };
    assert(adapter_store_load(st, s_collect, &seen) == 5);
    assert(seen.n == 5);
    for (size_t i = 0; i < 5; i++) {
        struct adapter_path_rec want = s_rec(i + 1, i == 1 ? 2
                                                    : i == 2 ? 4
                                                    : i == 4 ? 5 : 1);
        assert(!memcmp(&seen.v[i], &want, sizeof want));
    }
    assert(s_next(st) == 6);

    /* Trimming to 2 keeps open paths and the newest rows, never the
     * number: p-3 (down) goes, p-5 (failed, newest) stays. */
    assert(adapter_store_trim(st, 2) == 0);
    seen.n = 0;
    assert(adapter_store_load(st, s_collect, &seen) == 4);
    assert(seen.v[2].n == 4 && seen.v[3].n == 5);
    r = s_rec(4, 4);
    assert(adapter_store_put(st, &r) == 0);
    r = s_rec(5, 4);
    assert(adapter_store_put(st, &r) == 0);
    assert(adapter_store_trim(st, 0) == 0);
    assert(s_next(st) == 6);
    adapter_store_close(&st);
    st = adapter_store_open(path, err, sizeof err);
    assert(st && s_next(st) == 6);

    /* One transaction a write: the row goes in, the number fails, and
     * neither is there afterwards. */
    seen.n = 0;
    int before = adapter_store_load(st, s_collect, &seen);
    r = s_rec(9, 1);
    adapter_store_fail_after(st, 1);
    assert(adapter_store_put(st, &r) == -1);
    assert(strstr(adapter_store_error(st), "injected"));
    adapter_store_fail_after(st, -1);
    seen.n = 0;
    assert(adapter_store_load(st, s_collect, &seen) == before);
    assert(s_next(st) == 6);
    /* The first step failing: nothing either. */
    adapter_store_fail_after(st, 0);
    assert(adapter_store_put(st, &r) == -1);
    adapter_store_fail_after(st, -1);
    seen.n = 0;
    assert(adapter_store_load(st, s_collect, &seen) == before);
    /* A read error after one row: -1, not one path. */
    assert(before == 2);
    adapter_store_fail_after(st, 1);
    seen.n = 0;
    assert(adapter_store_load(st, s_collect, &seen) == -1);
    adapter_store_fail_after(st, -1);
    /* And the next number cannot be guessed. */
    adapter_store_fail_after(st, 0);
    uint64_t next = 0;
    assert(adapter_store_next_n(st, &next) == -1);
    adapter_store_fail_after(st, -1);
    assert(adapter_store_put(st, &r) == 0 && s_next(st) == 10);
    adapter_store_close(&st);

    /* The journal is WAL: the file beside the database says so. */
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    st = adapter_store_open(path, err, sizeof err);
    assert(st && access(wal, F_OK) == 0);
    adapter_store_close(&st);

    /* A file where the directory should be. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/a/b/adapter.db/x.db", dir);
    assert(!adapter_store_open(bad, err, sizeof err));
    assert(strstr(err, "adapter.db"));
    printf("refused: %s\n", err);

    /* A store of the first schema: no vlan, no prefix_len, no
     * 'schema' row.  It opens, upgraded once, its path as it was. */
    char old[300];
    snprintf(old, sizeof old, "%s/old.db", dir);
    s_sql(old,
        S_PATH_V1 ");"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER);"
        "INSERT INTO path VALUES (7, 'p-7', 0, 'rq', '10.0.0.1',"
        " '10.0.0.2', 10, 0, 2, 'd', '', '10.212.0.1', '10.212.0.2', '',"
        " 1, 2);"
        "INSERT INTO meta VALUES ('next_n', 8);");
    for (int round = 0; round < 2; round++) {
        st = adapter_store_open(old, err, sizeof err);
        assert(st);
        seen.n = 0;
        assert(adapter_store_load(st, s_collect, &seen) == 1);
        assert(seen.v[0].n == 7 && seen.v[0].state == 2);
        assert(!strcmp(seen.v[0].src_link, "10.212.0.1"));
        assert(seen.v[0].vlan == (round ? 1799u : 0u));
        assert(seen.v[0].prefix_len == (round ? 29u : 0u));
        assert(seen.v[0].start_us == (round ? 5u : 0u));
        assert(seen.v[0].end_us == (round ? 9u : 0u));
        assert(s_next(st) == 8);
        r = seen.v[0];
        r.vlan = 1799;
        r.prefix_len = 29;
        r.start_us = 5;
        r.end_us = 9;
        assert(adapter_store_put(st, &r) == 0);
        adapter_store_close(&st);
    }
    /* A store of schema 2 (vlan, no booking times): upgraded to 4. */
    char v2[300];
    snprintf(v2, sizeof v2, "%s/v2.db", dir);
    s_sql(v2,
        S_PATH_V1 ", vlan INTEGER NOT NULL DEFAULT 0,"
        " prefix_len INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER);"
        "INSERT INTO path VALUES (3, 'p-3', 0, 'rq', '10.0.0.1',"
        " '10.0.0.2', 10, 0, 2, 'd', '', '10.212.0.1', '10.212.0.2', '',"
        " 1, 2, 1781, 30);"
        "INSERT INTO meta VALUES ('next_n', 4);"
        "INSERT INTO meta VALUES ('schema', 2);");
    st = adapter_store_open(v2, err, sizeof err);
    assert(st);
    seen.n = 0;
    assert(adapter_store_load(st, s_collect, &seen) == 1);
    assert(seen.v[0].vlan == 1781 && seen.v[0].prefix_len == 30);
    assert(seen.v[0].start_us == 0 && seen.v[0].end_us == 0);
    assert(seen.v[0].vlan_dst == 0);
    r = seen.v[0];
    r.start_us = 77;
    r.vlan_dst = 1782;
    assert(adapter_store_put(st, &r) == 0);
    adapter_store_close(&st);
    st = adapter_store_open(v2, err, sizeof err);
    assert(st);
    seen.n = 0;
    assert(adapter_store_load(st, s_collect, &seen) == 1);
    assert(seen.v[0].start_us == 77 && seen.v[0].vlan_dst == 1782);
    adapter_store_close(&st);

    /* A newer schema than this adapter knows is refused. */
    s_sql(old, "UPDATE meta SET value = 99 WHERE key = 'schema'");
    assert(!adapter_store_open(old, err, sizeof err));
    assert(strstr(err, "schema version 99"));
    printf("refused: %s\n", err);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert(system(cmd) == 0);
    printf("test_adapter_store: ok\n");
    return 0;
}
