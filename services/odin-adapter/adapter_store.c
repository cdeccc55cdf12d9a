/* SPDX-License-Identifier: MIT */
/* SQLite behind adapter_store.h.  Statements are prepared once at open;
 * every put (the path row and the next path number) is one transaction in
 * WAL mode with synchronous=FULL, so a path the adapter reported is never
 * forgotten; every sqlite3_step() result is checked. */
#include "adapter_store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

LOG_MODULE("adapter_store");

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS path ("
    "  n INTEGER PRIMARY KEY, path_id TEXT NOT NULL, sim_id INTEGER,"
    "  request_id TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL,"
    "  bandwidth_mbps REAL, latency_ms REAL, state INTEGER NOT NULL,"
    "  detail TEXT NOT NULL, backend_ref TEXT NOT NULL,"
    "  src_link TEXT NOT NULL, dst_link TEXT NOT NULL, error TEXT NOT NULL,"
    "  created_us INTEGER, updated_us INTEGER);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER);";

#define S_COLS                                                             \
    "n, path_id, sim_id, request_id, src, dst, bandwidth_mbps, latency_ms," \
    " state, detail, backend_ref, src_link, dst_link, error, created_us,"  \
    " updated_us"

struct adapter_store {
    sqlite3 *db;
    int fail_after;             /* tests: steps before an injected error */
    char err[200];              /* why the last call failed */
    sqlite3_stmt *put;
    sqlite3_stmt *load;
    sqlite3_stmt *set_next;
};

static int
s_exec(adapter_store_t *self, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(self->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        VLOG_ERR_RL("sqlite: %s: %s", sql, err ? err : "?");
        snprintf(self->err, sizeof self->err, "%s", err ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

/* Ends a failed transaction.  SQLite has already rolled it back after
 * some errors (a full disk during COMMIT): then there is nothing to do,
 * and the first error is the one kept in 'err'. */
static void
s_rollback(adapter_store_t *self)
{
    if (!sqlite3_get_autocommit(self->db)) {
        sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

/* sqlite3_step() with the test hook of adapter_store_fail_after(). */
static int
s_step(adapter_store_t *self, sqlite3_stmt *st)
{
    if (self->fail_after == 0) {
        snprintf(self->err, sizeof self->err, "injected I/O error");
        return SQLITE_IOERR;
    }
    if (self->fail_after > 0) {
        self->fail_after--;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf(self->err, sizeof self->err, "%s (%s)",
                 sqlite3_errmsg(self->db), sqlite3_errstr(rc));
    }
    return rc;
}

/* Asks for WAL and checks SQLite gave it; see resv_store.c. */
static bool
s_wal_ok(adapter_store_t *self, char *err, size_t errsize,
         const char *path)
{
    sqlite3_stmt *st = NULL;
    char mode[16] = "";
    int rc = SQLITE_ERROR;
    if (sqlite3_prepare_v2(self->db, "PRAGMA journal_mode=WAL", -1, &st,
                           NULL) == SQLITE_OK
        && (rc = s_step(self, st)) == SQLITE_ROW) {
        const unsigned char *m = sqlite3_column_text(st, 0);
        snprintf(mode, sizeof mode, "%s", m ? (const char *) m : "");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        log_format(err, errsize, "state '%s': setting journal_mode: %s",
                   path, sqlite3_errmsg(self->db));
        return false;
    }
    if (strcmp(mode, "wal") != 0) {
        log_format(err, errsize, "state '%s': journal_mode is '%s', not "
                   "'wal': refusing to run without it (is the file system "
                   "one that SQLite's WAL works on?)", path, mode);
        return false;
    }
    return true;
}

/* mkdir -p of the directory part of 'path'. */
static int
s_make_parent(const char *path)
{
    char dir[1024];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int) sizeof dir) {
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        return 0;
    }
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    return mkdir(dir, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

adapter_store_t *
adapter_store_open(const char *path, char *err, size_t errsize)
{
    if (s_make_parent(path) != 0) {
        log_format(err, errsize, "state '%s': cannot make its directory: %s",
                   path, strerror(errno));
        return NULL;
    }
    adapter_store_t *self = calloc(1, sizeof *self);
    if (!self) {
        log_format(err, errsize, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(path, &self->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)
        != SQLITE_OK) {
        log_format(err, errsize, "state '%s': %s", path,
                   self->db ? sqlite3_errmsg(self->db) : "cannot open");
        goto error;
    }
    sqlite3_busy_timeout(self->db, 5000);
    self->fail_after = -1;
    if (!s_wal_ok(self, err, errsize, path)) {
        goto error;
    }
    if (s_exec(self, "PRAGMA synchronous=FULL;") || s_exec(self, s_schema)
        || sqlite3_prepare_v2(self->db,
                              "INSERT OR REPLACE INTO path (" S_COLS ") "
                              "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                              -1, &self->put, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(self->db,
                              "SELECT " S_COLS " FROM path ORDER BY n", -1,
                              &self->load, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(self->db,
                              "INSERT OR REPLACE INTO meta VALUES "
                              "('next_n', max(?, coalesce((SELECT value "
                              "FROM meta WHERE key = 'next_n'), 0)))",
                              -1, &self->set_next, NULL) != SQLITE_OK) {
        log_format(err, errsize, "state '%s': %s", path,
                   sqlite3_errmsg(self->db));
        goto error;
    }
    return self;

error:
    adapter_store_close(&self);
    return NULL;
}

void
adapter_store_close(adapter_store_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    adapter_store_t *self = *self_p;
    sqlite3_finalize(self->put);
    sqlite3_finalize(self->load);
    sqlite3_finalize(self->set_next);
    sqlite3_close(self->db);
    free(self);
    *self_p = NULL;
}

int
adapter_store_put(adapter_store_t *self, const struct adapter_path_rec *r)
{
    sqlite3_stmt *st = self->put;
    int i = 1;
    sqlite3_bind_int64(st, i++, (sqlite3_int64) r->n);
    sqlite3_bind_text(st, i++, r->path_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, i++, (sqlite3_int64) r->sim_id);
    sqlite3_bind_text(st, i++, r->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, r->src, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, r->dst, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, i++, r->bandwidth_mbps);
    sqlite3_bind_double(st, i++, r->latency_ms);
    sqlite3_bind_int(st, i++, r->state);
    sqlite3_bind_text(st, i++, r->detail, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, r->backend_ref, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, r->src_link, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, r->dst_link, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, r->error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, i++, (sqlite3_int64) r->created_us);
    sqlite3_bind_int64(st, i++, (sqlite3_int64) r->updated_us);
    /* The row and the next path number together, or neither. */
    if (s_exec(self, "BEGIN IMMEDIATE")) {
        sqlite3_clear_bindings(st);
        return -1;
    }
    int rc = s_step(self, st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE) {
        sqlite3_bind_int64(self->set_next, 1, (sqlite3_int64) r->n + 1);
        rc = s_step(self, self->set_next);
        sqlite3_reset(self->set_next);
    }
    if (rc != SQLITE_DONE || s_exec(self, "COMMIT")) {
        VLOG_ERR_RL("sqlite: write path %s: %s", r->path_id, self->err);
        s_rollback(self);
        return -1;
    }
    return 0;
}

const char *
adapter_store_error(const adapter_store_t *self)
{
    return self->err[0] ? self->err : "no error";
}

void
adapter_store_fail_after(adapter_store_t *self, int n_steps)
{
    self->fail_after = n_steps < 0 ? -1 : n_steps;
}

static void
s_col(sqlite3_stmt *st, int i, char *buf, size_t size)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(buf, size, "%s", s ? (const char *) s : "");
}

int
adapter_store_load(adapter_store_t *self, adapter_store_fn *fn, void *arg)
{
    sqlite3_stmt *st = self->load;
    int n = 0, rc;
    while ((rc = s_step(self, st)) == SQLITE_ROW) {
        struct adapter_path_rec r;
        memset(&r, 0, sizeof r);
        int i = 0;
        r.n = (uint64_t) sqlite3_column_int64(st, i++);
        s_col(st, i++, r.path_id, sizeof r.path_id);
        r.sim_id = (uint64_t) sqlite3_column_int64(st, i++);
        s_col(st, i++, r.request_id, sizeof r.request_id);
        s_col(st, i++, r.src, sizeof r.src);
        s_col(st, i++, r.dst, sizeof r.dst);
        r.bandwidth_mbps = sqlite3_column_double(st, i++);
        r.latency_ms = sqlite3_column_double(st, i++);
        r.state = sqlite3_column_int(st, i++);
        s_col(st, i++, r.detail, sizeof r.detail);
        s_col(st, i++, r.backend_ref, sizeof r.backend_ref);
        s_col(st, i++, r.src_link, sizeof r.src_link);
        s_col(st, i++, r.dst_link, sizeof r.dst_link);
        s_col(st, i++, r.error, sizeof r.error);
        r.created_us = (uint64_t) sqlite3_column_int64(st, i++);
        r.updated_us = (uint64_t) sqlite3_column_int64(st, i++);
        fn(&r, arg);
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        VLOG_ERR("sqlite: read paths (after %d): %s", n, self->err);
        return -1;
    }
    return n;
}

int
adapter_store_trim(adapter_store_t *self, size_t keep)
{
    char sql[256];
    /* States 4 and 5: DOWN and FAILED. */
    snprintf(sql, sizeof sql,
             "DELETE FROM path WHERE state IN (4, 5) AND n NOT IN "
             "(SELECT n FROM path ORDER BY n DESC LIMIT %zu)", keep);
    return s_exec(self, sql);
}

int
adapter_store_next_n(adapter_store_t *self, uint64_t *next_p)
{
    sqlite3_stmt *st;
    uint64_t next = 0;
    int rc = SQLITE_ERROR;
    if (sqlite3_prepare_v2(self->db,
                           "SELECT max(coalesce((SELECT value FROM meta "
                           "WHERE key = 'next_n'), 1), "
                           "coalesce((SELECT max(n) + 1 FROM path), 1))",
                           -1, &st, NULL) == SQLITE_OK) {
        rc = s_step(self, st);
        if (rc == SQLITE_ROW) {
            next = (uint64_t) sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_ROW) {
        VLOG_ERR("sqlite: read the next path number: %s",
                 rc == SQLITE_ERROR ? sqlite3_errmsg(self->db) : self->err);
        return -1;
    }
    *next_p = next ? next : 1;
    return 0;
}
