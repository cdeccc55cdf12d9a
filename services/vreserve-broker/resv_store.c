/* SPDX-License-Identifier: MIT */
/* SQLite behind resv_store.h.  Statements are prepared once at open.  A
 * transition reads the current state, checks it against resv_fsm, and
 * writes the row and the history inside one IMMEDIATE transaction, so two
 * writers could never both move the same reservation from one state.
 * Every sqlite3_step() goes through s_step(), and a scan that stops on
 * anything but SQLITE_DONE is an error, never a shorter list. */
#include "resv_store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "resv_fsm.h"
#include "sqlstore.h"
#include "vtime.h"

LOG_MODULE("resv_store");

/* 2: start_us and end_us (advance reservations); 3: vlan and
 * link_prefix_len (VLAN circuits); 4: vlan_b (the ends on two VLANs).  An
 * older store is brought up to 4 on open, one version at a time. */
enum { S_SCHEMA_VERSION = 4 };

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
    "  addr_a TEXT NOT NULL DEFAULT '', addr_b TEXT NOT NULL DEFAULT '',"
    "  start_us INTEGER NOT NULL DEFAULT 0,"
    "  end_us INTEGER NOT NULL DEFAULT 0,"
    "  vlan INTEGER NOT NULL DEFAULT 0,"
    "  link_prefix_len INTEGER NOT NULL DEFAULT 0,"
    "  vlan_b INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX IF NOT EXISTS resv_request ON resv (request_id)"
    "  WHERE request_id != '';"
    "CREATE INDEX IF NOT EXISTS resv_path ON resv (path_id);"
    "CREATE TABLE IF NOT EXISTS history ("
    "  resv_id TEXT NOT NULL, from_state INTEGER NOT NULL,"
    "  to_state INTEGER NOT NULL, time_us INTEGER NOT NULL,"
    "  reason TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS history_resv ON history (resv_id);";

/* Version 1 to 2. */
static const char s_upgrade_2[] =
    "ALTER TABLE resv ADD COLUMN start_us INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE resv ADD COLUMN end_us INTEGER NOT NULL DEFAULT 0;"
    "UPDATE meta SET value = 2 WHERE key = 'schema';";

/* Version 2 to 3. */
static const char s_upgrade_3[] =
    "ALTER TABLE resv ADD COLUMN vlan INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE resv ADD COLUMN link_prefix_len INTEGER NOT NULL "
    "DEFAULT 0;"
    "UPDATE meta SET value = 3 WHERE key = 'schema';";

/* Version 3 to 4. */
static const char s_upgrade_4[] =
    "ALTER TABLE resv ADD COLUMN vlan_b INTEGER NOT NULL DEFAULT 0;"
    "UPDATE meta SET value = 4 WHERE key = 'schema';";

#define S_COLS                                                              \
    "id, host_a, host_b, bandwidth_mbps, latency_ms, state, path_id, "     \
    "network, owner, request_id, created_us, updated_us, error, addr_a, "  \
    "addr_b, start_us, end_us, vlan, link_prefix_len, vlan_b"

struct resv_store {
    struct sqlstore sql;        /* the connection */
    sqlite3_stmt *get;          /* by id */
    sqlite3_stmt *by_request;
    sqlite3_stmt *by_path;
    sqlite3_stmt *insert;
    sqlite3_stmt *set_id;
    sqlite3_stmt *update;
    sqlite3_stmt *add_hist;
    sqlite3_stmt *due;          /* resv_store_due(), every 100 ms */
    sqlite3_stmt *page;         /* resv_store_list_page() */
    sqlite3_stmt *purgeable;    /* anything for resv_store_purge()? */
};

/* An exec, counted by resv_store_fail_after() as a step is: an injected
 * failure can hit a BEGIN or a COMMIT too. */
static int
s_exec(resv_store_t *self, const char *sql)
{
    return sqlstore_inject(&self->sql) ? -1
                                       : sqlstore_exec(&self->sql, sql);
}

static void
s_read_row(sqlite3_stmt *st, struct resv_rec *r)
{
    memset(r, 0, sizeof *r);
    sqlstore_column_text(st, 0, r->id, sizeof r->id);
    sqlstore_column_text(st, 1, r->host_a, sizeof r->host_a);
    sqlstore_column_text(st, 2, r->host_b, sizeof r->host_b);
    r->bandwidth_mbps = sqlite3_column_double(st, 3);
    r->latency_ms = sqlite3_column_double(st, 4);
    r->state = (Vr__ResvState) sqlite3_column_int(st, 5);
    sqlstore_column_text(st, 6, r->path_id, sizeof r->path_id);
    sqlstore_column_text(st, 7, r->network, sizeof r->network);
    sqlstore_column_text(st, 8, r->owner, sizeof r->owner);
    sqlstore_column_text(st, 9, r->request_id, sizeof r->request_id);
    r->created_us = (uint64_t) sqlite3_column_int64(st, 10);
    r->updated_us = (uint64_t) sqlite3_column_int64(st, 11);
    sqlstore_column_text(st, 12, r->error, sizeof r->error);
    sqlstore_column_text(st, 13, r->addr_a, sizeof r->addr_a);
    sqlstore_column_text(st, 14, r->addr_b, sizeof r->addr_b);
    r->start_us = (uint64_t) sqlite3_column_int64(st, 15);
    r->end_us = (uint64_t) sqlite3_column_int64(st, 16);
    /* Out of range (a file edited by hand): as none. */
    sqlite3_int64 vlan = sqlite3_column_int64(st, 17);
    sqlite3_int64 plen = sqlite3_column_int64(st, 18);
    r->vlan = vlan > 0 && vlan <= RESV_STORE_VLAN_MAX ? (uint32_t) vlan : 0;
    r->link_prefix_len = plen > 0 && plen <= 32 ? (uint32_t) plen : 0;
    sqlite3_int64 vlan_b = sqlite3_column_int64(st, 19);
    r->vlan_b = r->vlan && vlan_b > 0 && vlan_b <= RESV_STORE_VLAN_MAX
                ? (uint32_t) vlan_b : 0;
}

/* Runs a prepared one-key lookup. */
static int
s_lookup(resv_store_t *self, sqlite3_stmt *st, const char *key,
         struct resv_rec *out)
{
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, key ? key : "", -1, SQLITE_TRANSIENT);
    int rc = sqlstore_step(&self->sql, st);
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
    VLOG_ERR_RL("sqlite: lookup: %s", self->sql.err);
    return -1;
}

resv_store_t *
resv_store_new(const char *path)
{
    resv_store_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    /* WAL: a crash never leaves a half-written transition; FULL: a
     * committed transition survives a power cut, so a path the broker
     * asked for is never forgotten. */
    char err[300];
    if (sqlstore_open(&self->sql, "store", path,
                      SQLSTORE_FULLMUTEX | SQLSTORE_MEMORY_OK, err,
                      sizeof err)) {
        VLOG_ERR("%s", err);
        goto error;
    }
    if (s_exec(self, s_schema)) {
        goto error;
    }
    sqlite3_stmt *v = NULL;
    if (sqlstore_prepare(&self->sql, &v,
                         "SELECT value FROM meta WHERE key='schema'")) {
        goto error;
    }
    int step = sqlstore_step(&self->sql, v);
    int have = step == SQLITE_ROW ? sqlite3_column_int(v, 0) : 0;
    sqlite3_finalize(v);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        VLOG_ERR("store '%s': reading its schema version: %s", path,
                 self->sql.err);
        goto error;
    }
    if (have == 0) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO meta VALUES ('schema', %d)",
                 S_SCHEMA_VERSION);
        if (s_exec(self, sql)) {
            goto error;
        }
    } else if (have >= 1 && have < S_SCHEMA_VERSION) {
        /* The schema above made no new column on an older table (it
         * existed): add them, each version in one transaction. */
        static const char *const up[] = { NULL, NULL, s_upgrade_2,
                                           s_upgrade_3, s_upgrade_4 };
        for (int to = have + 1; to <= S_SCHEMA_VERSION; to++) {
            if (s_exec(self, "BEGIN IMMEDIATE") || s_exec(self, up[to])
                || s_exec(self, "COMMIT")) {
                VLOG_ERR("store '%s': upgrading its schema to %d: %s", path,
                         to, self->sql.err);
                sqlstore_rollback(&self->sql);
                goto error;
            }
            VLOG_INFO("store '%s': schema upgraded to version %d", path, to);
        }
    } else if (have != S_SCHEMA_VERSION) {
        VLOG_ERR("store '%s': schema version %d, this broker knows %d",
                 path, have, S_SCHEMA_VERSION);
        goto error;
    }
    if (sqlstore_prepare(&self->sql, &self->get,
            "SELECT " S_COLS " FROM resv WHERE id = ?")
        || sqlstore_prepare(&self->sql, &self->by_request,
            "SELECT " S_COLS " FROM resv WHERE request_id = ? "
            "AND request_id != ''")
        || sqlstore_prepare(&self->sql, &self->by_path,
            "SELECT " S_COLS " FROM resv WHERE path_id = ? "
            "AND path_id != '' ORDER BY n DESC LIMIT 1")
        || sqlstore_prepare(&self->sql, &self->insert,
            "INSERT INTO resv (host_a, host_b, bandwidth_mbps, "
            "latency_ms, state, network, owner, request_id, "
            "created_us, updated_us, start_us, end_us) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        || sqlstore_prepare(&self->sql, &self->set_id,
            "UPDATE resv SET id = 'r-' || n WHERE n = ?")
        || sqlstore_prepare(&self->sql, &self->update,
            "UPDATE resv SET state = ?, updated_us = ?, "
            "path_id = COALESCE(?, path_id), "
            "error = COALESCE(?, error), "
            "addr_a = COALESCE(?, addr_a), "
            "addr_b = COALESCE(?, addr_b), "
            "vlan = COALESCE(?, vlan), "
            "link_prefix_len = COALESCE(?, link_prefix_len), "
            "vlan_b = COALESCE(?, vlan_b) WHERE id = ?")
        || sqlstore_prepare(&self->sql, &self->add_hist,
            "INSERT INTO history VALUES (?, ?, ?, ?, ?)")) {
        goto error;
    }
    char due[512];
    snprintf(due, sizeof due,
             "SELECT " S_COLS " FROM resv WHERE "
             "(state = %d AND start_us <= ?1) OR "
             "(state IN (%d, %d, %d) AND end_us > 0 AND end_us <= ?1) "
             "ORDER BY n LIMIT ?2",
             VR__RESV_STATE__RESV_STATE_SCHEDULED,
             VR__RESV_STATE__RESV_STATE_REQUESTED,
             VR__RESV_STATE__RESV_STATE_PROVISIONING,
             VR__RESV_STATE__RESV_STATE_ACTIVE);
    char page[384], purgeable[256];
    snprintf(page, sizeof page,
             "SELECT " S_COLS " FROM resv WHERE (?1 OR state NOT IN "
             "(%d, %d)) AND n > ?2 ORDER BY n LIMIT ?3",
             VR__RESV_STATE__RESV_STATE_RELEASED,
             VR__RESV_STATE__RESV_STATE_FAILED);
    snprintf(purgeable, sizeof purgeable,
             "SELECT 1 FROM resv WHERE state IN (%d, %d) AND updated_us < ?1 "
             "LIMIT 1",
             VR__RESV_STATE__RESV_STATE_RELEASED,
             VR__RESV_STATE__RESV_STATE_FAILED);
    if (sqlstore_prepare(&self->sql, &self->due, due)
        || sqlstore_prepare(&self->sql, &self->page, page)
        || sqlstore_prepare(&self->sql, &self->purgeable, purgeable)) {
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
    sqlite3_finalize(self->due);
    sqlite3_finalize(self->page);
    sqlite3_finalize(self->purgeable);
    sqlstore_close(&self->sql);
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
    int rc = sqlstore_step(&self->sql, st);
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
    Vr__ResvState first = rec->start_us > now
                              ? VR__RESV_STATE__RESV_STATE_SCHEDULED
                              : VR__RESV_STATE__RESV_STATE_REQUESTED;
    sqlite3_bind_int(st, 5, (int) first);
    sqlite3_bind_text(st, 6, rec->network, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, rec->owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, rec->request_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 9, (sqlite3_int64) now);
    sqlite3_bind_int64(st, 10, (sqlite3_int64) now);
    sqlite3_bind_int64(st, 11, (sqlite3_int64) (rec->start_us > INT64_MAX
                                                    ? INT64_MAX
                                                    : rec->start_us));
    sqlite3_bind_int64(st, 12, (sqlite3_int64) (rec->end_us > INT64_MAX
                                                    ? INT64_MAX
                                                    : rec->end_us));
    int rc = sqlstore_step(&self->sql, st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        VLOG_ERR_RL("store: insert %s-%s: %s", LOG_ESC(rec->host_a),
                    LOG_ESC(rec->host_b), self->sql.err);
        sqlstore_rollback(&self->sql);
        return -1;
    }
    sqlite3_int64 n = sqlite3_last_insert_rowid(self->sql.db);
    snprintf(rec->id, sizeof rec->id, "r-%lld", (long long) n);
    sqlite3_reset(self->set_id);
    sqlite3_bind_int64(self->set_id, 1, n);
    rc = sqlstore_step(&self->sql, self->set_id);
    sqlite3_reset(self->set_id);
    if (rc != SQLITE_DONE
        || s_hist(self, rec->id, VR__RESV_STATE__RESV_STATE_UNKNOWN, first,
                  now, reason) != 0
        || s_exec(self, "COMMIT")) {
        VLOG_ERR_RL("store: insert %s: %s", rec->id, self->sql.err);
        sqlstore_rollback(&self->sql);
        return -1;
    }
    rec->state = first;
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
    struct resv_link link = { .addr_a = addr_a, .addr_b = addr_b,
                              .vlan = -1, .vlan_b = -1, .prefix_len = -1 };
    return resv_store_transition_link(self, id, to, reason, path_id, error,
                                      &link, out);
}

/* Binds 'v' to parameter 'i', or NULL (unchanged) when it is negative. */
static void
s_bind_opt_int(sqlite3_stmt *st, int i, int v)
{
    if (v >= 0) {
        sqlite3_bind_int(st, i, v);
    } else {
        sqlite3_bind_null(st, i);
    }
}

int
resv_store_transition_link(resv_store_t *self, const char *id,
                           Vr__ResvState to, const char *reason,
                           const char *path_id, const char *error,
                           const struct resv_link *link,
                           struct resv_rec *out)
{
    struct resv_rec cur;
    if (s_exec(self, "BEGIN IMMEDIATE")) {
        return -1;
    }
    int rc = s_lookup(self, self->get, id, &cur);
    if (rc != 0) {
        sqlstore_rollback(&self->sql);
        return rc;
    }
    if (!resv_fsm_legal(cur.state, to)) {
        sqlstore_rollback(&self->sql);
        return RESV_STORE_ILLEGAL;
    }
    uint64_t now = vtime_now_us();
    sqlite3_stmt *st = self->update;
    sqlite3_reset(st);
    sqlite3_bind_int(st, 1, (int) to);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) now);
    s_bind_opt(st, 3, path_id);
    s_bind_opt(st, 4, error);
    s_bind_opt(st, 5, link->addr_a);
    s_bind_opt(st, 6, link->addr_b);
    s_bind_opt_int(st, 7, link->vlan);
    s_bind_opt_int(st, 8, link->prefix_len);
    s_bind_opt_int(st, 9, link->vlan_b);
    sqlite3_bind_text(st, 10, id, -1, SQLITE_TRANSIENT);
    rc = sqlstore_step(&self->sql, st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || s_hist(self, id, cur.state, to, now, reason)
        || s_exec(self, "COMMIT")) {
        VLOG_ERR_RL("store: %s %s -> %s: %s", id, resv_fsm_name(cur.state),
                    resv_fsm_name(to), self->sql.err);
        sqlstore_rollback(&self->sql);
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

uint64_t
resv_store_id_number(const char *id)
{
    if (strncmp(id, "r-", 2) || !id[2] || strlen(id) > 21) {
        return 0;
    }
    uint64_t n = 0;
    for (const char *c = id + 2; *c; c++) {
        if (*c < '0' || *c > '9' || n > (UINT64_MAX - 9) / 10) {
            return 0;
        }
        n = n * 10 + (uint64_t) (*c - '0');
    }
    return n;
}

/* Reads every row 'st' gives (bound by the caller) into a malloc'd array.
 * Returns 0, or -1 if the scan stopped on anything
 * but its end (nothing is returned then: no partial list). */
static int
s_scan(resv_store_t *self, sqlite3_stmt *st, struct resv_rec **out,
       size_t *n)
{
    size_t cap = 16, len = 0;
    struct resv_rec *v = malloc(cap * sizeof *v);
    int rc = SQLITE_NOMEM;
    while (v && (rc = sqlstore_step(&self->sql, st)) == SQLITE_ROW) {
        if (len == cap) {
            struct resv_rec *w = realloc(v, 2 * cap * sizeof *v);
            if (!w) {
                rc = SQLITE_NOMEM;
                break;
            }
            v = w;
            cap *= 2;
        }
        s_read_row(st, &v[len++]);
    }
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_NOMEM) {
            snprintf(self->sql.err, sizeof self->sql.err, "out of memory");
        }
        VLOG_ERR_RL("store: list stopped after %zu rows: %s", len,
                    self->sql.err);
        free(v);
        return -1;
    }
    *out = v;
    *n = len;
    return 0;
}

int
resv_store_list(resv_store_t *self, bool include_ended,
                struct resv_rec **out, size_t *n)
{
    uint64_t next;
    return resv_store_list_page(self, include_ended, 0, SIZE_MAX, out, n,
                                &next);
}

int
resv_store_list_page(resv_store_t *self, bool include_ended,
                     uint64_t after_n, size_t max, struct resv_rec **out,
                     size_t *n, uint64_t *next_n)
{
    sqlite3_stmt *st = self->page;
    sqlite3_reset(st);
    sqlite3_bind_int(st, 1, include_ended);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) (after_n > INT64_MAX
                                                   ? INT64_MAX : after_n));
    /* One row more than asked tells whether there is a next page. */
    sqlite3_bind_int64(st, 3, max >= (size_t) INT64_MAX
                                  ? -1 : (sqlite3_int64) max + 1);
    int rc = s_scan(self, st, out, n);
    sqlite3_reset(st);
    if (rc != 0) {
        return -1;
    }
    *next_n = 0;
    if (*n > max) {
        *n = max;
        /* The number of the last row returned: the next page is after
         * it. */
        *next_n = max > 0 ? resv_store_id_number((*out)[max - 1].id) : after_n;
    }
    return 0;
}

int
resv_store_history(resv_store_t *self, const char *id,
                   struct resv_hist **out, size_t *n)
{
    sqlite3_stmt *st;
    if (sqlstore_prepare(&self->sql, &st,
                         "SELECT from_state, to_state, time_us, reason "
                         "FROM history WHERE resv_id = ? ORDER BY rowid")) {
        return -1;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    size_t cap = 8, len = 0;
    struct resv_hist *v = malloc(cap * sizeof *v);
    int rc = SQLITE_NOMEM;
    while (v && (rc = sqlstore_step(&self->sql, st)) == SQLITE_ROW) {
        if (len == cap) {
            struct resv_hist *w = realloc(v, 2 * cap * sizeof *v);
            if (!w) {
                rc = SQLITE_NOMEM;
                break;
            }
            v = w;
            cap *= 2;
        }
        v[len].from = (Vr__ResvState) sqlite3_column_int(st, 0);
        v[len].to = (Vr__ResvState) sqlite3_column_int(st, 1);
        v[len].time_us = (uint64_t) sqlite3_column_int64(st, 2);
        sqlstore_column_text(st, 3, v[len].reason, sizeof v[len].reason);
        len++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        VLOG_ERR_RL("store: history of %s stopped after %zu rows: %s", id,
                    len, rc == SQLITE_NOMEM ? "out of memory" : self->sql.err);
        free(v);
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
    if (sqlstore_prepare(&self->sql, &st, sql)) {
        return -1;
    }
    s_bind_opt(st, 1, host);
    s_bind_opt(st, 2, network);
    int rc = sqlstore_step(&self->sql, st);
    *n = rc == SQLITE_ROW ? (size_t) sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        VLOG_ERR_RL("store: count: %s", self->sql.err);
        return -1;
    }
    return 0;
}

int
resv_store_due(resv_store_t *self, uint64_t now_us, size_t max,
               struct resv_rec **out, size_t *n)
{
    sqlite3_stmt *st = self->due;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, (sqlite3_int64) (now_us > INT64_MAX
                                                   ? INT64_MAX : now_us));
    sqlite3_bind_int64(st, 2, (sqlite3_int64) (max > INT64_MAX ? INT64_MAX
                                                               : max));
    int rc = s_scan(self, st, out, n);
    sqlite3_reset(st);
    return rc;
}

int
resv_store_count_by_state(resv_store_t *self, size_t *by_state,
                          size_t n_states)
{
    sqlite3_stmt *st;
    if (sqlstore_prepare(&self->sql, &st,
                         "SELECT state, COUNT(*) FROM resv GROUP BY state")) {
        return -1;
    }
    memset(by_state, 0, n_states * sizeof *by_state);
    int rc;
    while ((rc = sqlstore_step(&self->sql, st)) == SQLITE_ROW) {
        int state = sqlite3_column_int(st, 0);
        if (state >= 0 && (size_t) state < n_states) {
            by_state[state] = (size_t) sqlite3_column_int64(st, 1);
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        VLOG_ERR_RL("store: count by state: %s", self->sql.err);
        return -1;
    }
    return 0;
}

int
resv_store_purge(resv_store_t *self, uint64_t before_us, size_t max,
                 size_t *n_deleted)
{
    char sql[512];
    /* The oldest first, at most 'max' a call, so that a long backlog is
     * worked off in short transactions. */
    snprintf(sql, sizeof sql,
             "CREATE TEMP TABLE IF NOT EXISTS purge (id TEXT);"
             "DELETE FROM temp.purge;"
             "INSERT INTO temp.purge SELECT id FROM resv WHERE state IN "
             "(%d, %d) AND updated_us < %lld ORDER BY n LIMIT %lld;",
             VR__RESV_STATE__RESV_STATE_RELEASED,
             VR__RESV_STATE__RESV_STATE_FAILED,
             (long long) (before_us > INT64_MAX ? INT64_MAX : before_us),
             (long long) (max > INT32_MAX ? INT32_MAX : max));
    *n_deleted = 0;
    /* Most calls find nothing to delete: then no write transaction (a
     * reconcile every reconcile_ms asks). */
    sqlite3_stmt *any = self->purgeable;
    sqlite3_reset(any);
    sqlite3_bind_int64(any, 1, (sqlite3_int64) (before_us > INT64_MAX
                                                    ? INT64_MAX : before_us));
    int rc = sqlstore_step(&self->sql, any);
    sqlite3_reset(any);
    if (rc == SQLITE_DONE) {
        return 0;
    }
    if (rc != SQLITE_ROW) {
        VLOG_ERR_RL("store: purge: %s", self->sql.err);
        return -1;
    }
    if (s_exec(self, "BEGIN IMMEDIATE")) {
        return -1;
    }
    if (s_exec(self, sql)
        || s_exec(self, "DELETE FROM history WHERE resv_id IN "
                        "(SELECT id FROM temp.purge)")
        || s_exec(self, "DELETE FROM resv WHERE id IN "
                        "(SELECT id FROM temp.purge)")) {
        sqlstore_rollback(&self->sql);
        return -1;
    }
    size_t n = (size_t) sqlite3_changes(self->sql.db);
    if (s_exec(self, "COMMIT")) {
        sqlstore_rollback(&self->sql);
        return -1;
    }
    *n_deleted = n;
    return 0;
}

const char *
resv_store_error(const resv_store_t *self)
{
    return self->sql.err[0] ? self->sql.err : "no error";
}

void
resv_store_fail_after(resv_store_t *self, int n_steps)
{
    sqlstore_fail_after(&self->sql, n_steps);
}
