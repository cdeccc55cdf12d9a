/* SPDX-License-Identifier: MIT */
/* SQLite behind resv_store.h.  Statements are prepared once at open.  A
 * transition reads the current state, checks it against resv_fsm, and
 * writes the row and the history inside one IMMEDIATE transaction, so two
 * writers could never both move the same reservation from one state. */
#include "resv_store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "resv_fsm.h"
#include "vtime.h"

LOG_MODULE("resv_store");

enum { S_SCHEMA_VERSION = 1 };

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS resv ("
    "  n INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT UNIQUE,"
    "  host_a TEXT NOT NULL, host_b TEXT NOT NULL,"
    "  bandwidth_mbps REAL NOT NULL, latency_ms REAL NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  path_id TEXT NOT NULL DEFAULT '', network TEXT NOT NULL DEFAULT '',"
    "  owner TEXT NOT NULL DEFAULT '', request_id TEXT NOT NULL DEFAULT '',"
    "  created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL,"
    "  error TEXT NOT NULL DEFAULT '',"
    "  addr_a TEXT NOT NULL DEFAULT '', addr_b TEXT NOT NULL DEFAULT '');"
    "CREATE UNIQUE INDEX IF NOT EXISTS resv_request ON resv (request_id)"
    "  WHERE request_id != '';"
    "CREATE INDEX IF NOT EXISTS resv_path ON resv (path_id);"
    "CREATE TABLE IF NOT EXISTS history ("
    "  resv_id TEXT NOT NULL, from_state INTEGER NOT NULL,"
    "  to_state INTEGER NOT NULL, time_us INTEGER NOT NULL,"
    "  reason TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS history_resv ON history (resv_id);";

#define S_COLS                                                              \
    "id, host_a, host_b, bandwidth_mbps, latency_ms, state, path_id, "     \
    "network, owner, request_id, created_us, updated_us, error, addr_a, "  \
    "addr_b"

struct resv_store {
    sqlite3 *db;
    sqlite3_stmt *get;          /* by id */
    sqlite3_stmt *by_request;
    sqlite3_stmt *by_path;
    sqlite3_stmt *insert;
    sqlite3_stmt *set_id;
    sqlite3_stmt *update;
    sqlite3_stmt *add_hist;
};

static int
s_exec(resv_store_t *self, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(self->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        VLOG_ERR("sqlite: %s: %s", sql, err ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static int
s_prepare(resv_store_t *self, sqlite3_stmt **stmt, const char *sql)
{
    if (sqlite3_prepare_v2(self->db, sql, -1, stmt, NULL) != SQLITE_OK) {
        VLOG_ERR("sqlite: prepare '%s': %s", sql, sqlite3_errmsg(self->db));
        return -1;
    }
    return 0;
}

static void
s_copy(char *dst, size_t size, const unsigned char *src)
{
    snprintf(dst, size, "%s", src ? (const char *) src : "");
}

static void
s_read_row(sqlite3_stmt *st, struct resv_rec *r)
{
    memset(r, 0, sizeof *r);
    s_copy(r->id, sizeof r->id, sqlite3_column_text(st, 0));
    s_copy(r->host_a, sizeof r->host_a, sqlite3_column_text(st, 1));
    s_copy(r->host_b, sizeof r->host_b, sqlite3_column_text(st, 2));
    r->bandwidth_mbps = sqlite3_column_double(st, 3);
    r->latency_ms = sqlite3_column_double(st, 4);
    r->state = (Vr__ResvState) sqlite3_column_int(st, 5);
    s_copy(r->path_id, sizeof r->path_id, sqlite3_column_text(st, 6));
    s_copy(r->network, sizeof r->network, sqlite3_column_text(st, 7));
    s_copy(r->owner, sizeof r->owner, sqlite3_column_text(st, 8));
    s_copy(r->request_id, sizeof r->request_id, sqlite3_column_text(st, 9));
    r->created_us = (uint64_t) sqlite3_column_int64(st, 10);
    r->updated_us = (uint64_t) sqlite3_column_int64(st, 11);
    s_copy(r->error, sizeof r->error, sqlite3_column_text(st, 12));
    s_copy(r->addr_a, sizeof r->addr_a, sqlite3_column_text(st, 13));
    s_copy(r->addr_b, sizeof r->addr_b, sqlite3_column_text(st, 14));
}

/* Runs a prepared one-key lookup. */
static int
s_lookup(resv_store_t *self, sqlite3_stmt *st, const char *key,
         struct resv_rec *out)
{
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, key ? key : "", -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (out) {
            s_read_row(st, out);
        }
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        return RESV_STORE_NOT_FOUND;
    }
    VLOG_ERR("sqlite: lookup: %s", sqlite3_errmsg(self->db));
    return -1;
}

resv_store_t *
resv_store_new(const char *path)
{
    resv_store_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    if (sqlite3_open_v2(path, &self->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                            | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        VLOG_ERR("store '%s': %s", path,
                 self->db ? sqlite3_errmsg(self->db) : "cannot open");
        goto error;
    }
    sqlite3_busy_timeout(self->db, 5000);
    /* WAL: a crash never leaves a half-written transition; FULL: a
     * committed transition survives a power cut, so a path the broker
     * asked for is never forgotten. */
    if (s_exec(self, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
        || s_exec(self, s_schema)) {
        goto error;
    }
    sqlite3_stmt *v = NULL;
    if (s_prepare(self, &v, "SELECT value FROM meta WHERE key='schema'")) {
        goto error;
    }
    int have = sqlite3_step(v) == SQLITE_ROW ? sqlite3_column_int(v, 0) : 0;
    sqlite3_finalize(v);
    if (have == 0) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO meta VALUES ('schema', %d)",
                 S_SCHEMA_VERSION);
        if (s_exec(self, sql)) {
            goto error;
        }
    } else if (have != S_SCHEMA_VERSION) {
        VLOG_ERR("store '%s': schema version %d, this broker knows %d",
                 path, have, S_SCHEMA_VERSION);
        goto error;
    }
    if (s_prepare(self, &self->get,
                  "SELECT " S_COLS " FROM resv WHERE id = ?")
        || s_prepare(self, &self->by_request,
                     "SELECT " S_COLS " FROM resv WHERE request_id = ? "
                     "AND request_id != ''")
        || s_prepare(self, &self->by_path,
                     "SELECT " S_COLS " FROM resv WHERE path_id = ? "
                     "AND path_id != '' ORDER BY n DESC LIMIT 1")
        || s_prepare(self, &self->insert,
                     "INSERT INTO resv (host_a, host_b, bandwidth_mbps, "
                     "latency_ms, state, network, owner, request_id, "
                     "created_us, updated_us) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        || s_prepare(self, &self->set_id,
                     "UPDATE resv SET id = 'r-' || n WHERE n = ?")
        || s_prepare(self, &self->update,
                     "UPDATE resv SET state = ?, updated_us = ?, "
                     "path_id = COALESCE(?, path_id), "
                     "error = COALESCE(?, error), "
                     "addr_a = COALESCE(?, addr_a), "
                     "addr_b = COALESCE(?, addr_b) WHERE id = ?")
        || s_prepare(self, &self->add_hist,
                     "INSERT INTO history VALUES (?, ?, ?, ?, ?)")) {
        goto error;
    }
    return self;

error:
    resv_store_destroy(&self);
    return NULL;
}

void
resv_store_destroy(resv_store_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    resv_store_t *self = *self_p;
    sqlite3_finalize(self->get);
    sqlite3_finalize(self->by_request);
    sqlite3_finalize(self->by_path);
    sqlite3_finalize(self->insert);
    sqlite3_finalize(self->set_id);
    sqlite3_finalize(self->update);
    sqlite3_finalize(self->add_hist);
    sqlite3_close(self->db);
    free(self);
    *self_p = NULL;
}

static int
s_hist(resv_store_t *self, const char *id, Vr__ResvState from,
       Vr__ResvState to, uint64_t now, const char *reason)
{
    sqlite3_stmt *st = self->add_hist;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, (int) from);
    sqlite3_bind_int(st, 3, (int) to);
    sqlite3_bind_int64(st, 4, (sqlite3_int64) now);
    sqlite3_bind_text(st, 5, reason ? reason : "", -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int
resv_store_insert(resv_store_t *self, struct resv_rec *rec,
                  const char *reason)
{
    uint64_t now = vtime_now_us();
    if (s_exec(self, "BEGIN IMMEDIATE")) {
        return -1;
    }
    sqlite3_stmt *st = self->insert;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, rec->host_a, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, rec->host_b, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 3, rec->bandwidth_mbps);
    sqlite3_bind_double(st, 4, rec->latency_ms);
    sqlite3_bind_int(st, 5, VR__RESV_STATE__RESV_STATE_REQUESTED);
    sqlite3_bind_text(st, 6, rec->network, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, rec->owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, rec->request_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 9, (sqlite3_int64) now);
    sqlite3_bind_int64(st, 10, (sqlite3_int64) now);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        VLOG_ERR("store: insert %s-%s: %s", rec->host_a, rec->host_b,
                 sqlite3_errmsg(self->db));
        s_exec(self, "ROLLBACK");
        return -1;
    }
    sqlite3_int64 n = sqlite3_last_insert_rowid(self->db);
    snprintf(rec->id, sizeof rec->id, "r-%lld", (long long) n);
    sqlite3_reset(self->set_id);
    sqlite3_bind_int64(self->set_id, 1, n);
    rc = sqlite3_step(self->set_id);
    sqlite3_reset(self->set_id);
    if (rc != SQLITE_DONE
        || s_hist(self, rec->id, VR__RESV_STATE__RESV_STATE_UNKNOWN,
                  VR__RESV_STATE__RESV_STATE_REQUESTED, now, reason) != 0
        || s_exec(self, "COMMIT")) {
        VLOG_ERR("store: insert %s: %s", rec->id, sqlite3_errmsg(self->db));
        s_exec(self, "ROLLBACK");
        return -1;
    }
    rec->state = VR__RESV_STATE__RESV_STATE_REQUESTED;
    rec->created_us = rec->updated_us = now;
    return 0;
}

static void
s_bind_opt(sqlite3_stmt *st, int i, const char *v)
{
    if (v) {
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, i);
    }
}

int
resv_store_transition(resv_store_t *self, const char *id, Vr__ResvState to,
                      const char *reason, const char *path_id,
                      const char *error, const char *addr_a,
                      const char *addr_b, struct resv_rec *out)
{
    struct resv_rec cur;
    if (s_exec(self, "BEGIN IMMEDIATE")) {
        return -1;
    }
    int rc = s_lookup(self, self->get, id, &cur);
    if (rc != 0) {
        s_exec(self, "ROLLBACK");
        return rc;
    }
    if (!resv_fsm_legal(cur.state, to)) {
        s_exec(self, "ROLLBACK");
        return RESV_STORE_ILLEGAL;
    }
    uint64_t now = vtime_now_us();
    sqlite3_stmt *st = self->update;
    sqlite3_reset(st);
    sqlite3_bind_int(st, 1, (int) to);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) now);
    s_bind_opt(st, 3, path_id);
    s_bind_opt(st, 4, error);
    s_bind_opt(st, 5, addr_a);
    s_bind_opt(st, 6, addr_b);
    sqlite3_bind_text(st, 7, id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || s_hist(self, id, cur.state, to, now, reason)
        || s_exec(self, "COMMIT")) {
        VLOG_ERR("store: %s %s -> %s: %s", id, resv_fsm_name(cur.state),
                 resv_fsm_name(to), sqlite3_errmsg(self->db));
        s_exec(self, "ROLLBACK");
        return -1;
    }
    return out ? s_lookup(self, self->get, id, out) : 0;
}

int
resv_store_get(resv_store_t *self, const char *id, struct resv_rec *out)
{
    return s_lookup(self, self->get, id, out);
}

int
resv_store_by_request(resv_store_t *self, const char *request_id,
                      struct resv_rec *out)
{
    if (!request_id || !*request_id) {
        return RESV_STORE_NOT_FOUND;
    }
    return s_lookup(self, self->by_request, request_id, out);
}

int
resv_store_by_path(resv_store_t *self, const char *path_id,
                   struct resv_rec *out)
{
    return s_lookup(self, self->by_path, path_id, out);
}

int
resv_store_list(resv_store_t *self, bool include_ended,
                struct resv_rec **out, size_t *n)
{
    char sql[384];
    snprintf(sql, sizeof sql,
             "SELECT " S_COLS " FROM resv WHERE ?1 OR state NOT IN (%d, %d) "
             "ORDER BY n", VR__RESV_STATE__RESV_STATE_RELEASED,
             VR__RESV_STATE__RESV_STATE_FAILED);
    sqlite3_stmt *st;
    if (s_prepare(self, &st, sql)) {
        return -1;
    }
    sqlite3_bind_int(st, 1, include_ended);
    size_t cap = 16, len = 0;
    struct resv_rec *v = malloc(cap * sizeof *v);
    int rc;
    while (v && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            struct resv_rec *w = realloc(v, 2 * cap * sizeof *v);
            if (!w) {
                free(v);
                v = NULL;
                break;
            }
            v = w;
            cap *= 2;
        }
        s_read_row(st, &v[len++]);
    }
    sqlite3_finalize(st);
    if (!v) {
        return -1;
    }
    *out = v;
    *n = len;
    return 0;
}

int
resv_store_history(resv_store_t *self, const char *id,
                   struct resv_hist **out, size_t *n)
{
    sqlite3_stmt *st;
    if (s_prepare(self, &st,
                  "SELECT from_state, to_state, time_us, reason "
                  "FROM history WHERE resv_id = ? ORDER BY rowid")) {
        return -1;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    size_t cap = 8, len = 0;
    struct resv_hist *v = malloc(cap * sizeof *v);
    while (v && sqlite3_step(st) == SQLITE_ROW) {
        if (len == cap) {
            struct resv_hist *w = realloc(v, 2 * cap * sizeof *v);
            if (!w) {
                free(v);
                v = NULL;
                break;
            }
            v = w;
            cap *= 2;
        }
        v[len].from = (Vr__ResvState) sqlite3_column_int(st, 0);
        v[len].to = (Vr__ResvState) sqlite3_column_int(st, 1);
        v[len].time_us = (uint64_t) sqlite3_column_int64(st, 2);
        s_copy(v[len].reason, sizeof v[len].reason,
               sqlite3_column_text(st, 3));
        len++;
    }
    sqlite3_finalize(st);
    if (!v) {
        return -1;
    }
    *out = v;
    *n = len;
    return 0;
}

int
resv_store_count_open(resv_store_t *self, const char *host,
                      const char *network, size_t *n)
{
    char sql[384];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM resv WHERE state NOT IN (%d, %d) "
             "AND (?1 IS NULL OR host_a = ?1 OR host_b = ?1) "
             "AND (?2 IS NULL OR network = ?2)",
             VR__RESV_STATE__RESV_STATE_RELEASED,
             VR__RESV_STATE__RESV_STATE_FAILED);
    sqlite3_stmt *st;
    if (s_prepare(self, &st, sql)) {
        return -1;
    }
    s_bind_opt(st, 1, host);
    s_bind_opt(st, 2, network);
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? (size_t) sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}
