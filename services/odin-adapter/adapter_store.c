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
#include "sqlstore.h"

LOG_MODULE("adapter_store");

/* meta 'schema': 1 (none recorded: the first), 2 with the VLAN circuit's
 * vlan and prefix_len, 3 with an advance booking's start_us and end_us,
 * 4 with vlan_dst (the ends on two VLANs); an older store is brought up
 * to 4 on open. */
enum { S_SCHEMA_VERSION = 4 };

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS path ("
    "  n INTEGER PRIMARY KEY, path_id TEXT NOT NULL, sim_id INTEGER,"
    "  request_id TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL,"
    "  bandwidth_mbps REAL, latency_ms REAL, state INTEGER NOT NULL,"
    "  detail TEXT NOT NULL, backend_ref TEXT NOT NULL,"
    "  src_link TEXT NOT NULL, dst_link TEXT NOT NULL, error TEXT NOT NULL,"
    "  created_us INTEGER, updated_us INTEGER,"
    "  vlan INTEGER NOT NULL DEFAULT 0,"
    "  prefix_len INTEGER NOT NULL DEFAULT 0,"
    "  start_us INTEGER NOT NULL DEFAULT 0,"
    "  end_us INTEGER NOT NULL DEFAULT 0,"
    "  vlan_dst INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER);";

/* Version 1 to 2. */
static const char s_upgrade_2[] =
    "ALTER TABLE path ADD COLUMN vlan INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE path ADD COLUMN prefix_len INTEGER NOT NULL DEFAULT 0;";

/* Version 2 to 3. */
static const char s_upgrade_3[] =
    "ALTER TABLE path ADD COLUMN start_us INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE path ADD COLUMN end_us INTEGER NOT NULL DEFAULT 0;";

/* Version 3 to 4. */
static const char s_upgrade_4[] =
    "ALTER TABLE path ADD COLUMN vlan_dst INTEGER NOT NULL DEFAULT 0;";

#define S_COLS                                                             \
    "n, path_id, sim_id, request_id, src, dst, bandwidth_mbps, latency_ms," \
    " state, detail, backend_ref, src_link, dst_link, error, created_us,"  \
    " updated_us, vlan, prefix_len, start_us, end_us, vlan_dst"

struct adapter_store {
    struct sqlstore sql;        /* the connection */
    sqlite3_stmt *put;
    sqlite3_stmt *load;
    sqlite3_stmt *set_next;
};

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

/* Reads an integer of 'sql' (one row, one column) into '*v'.  Returns
 * 0, or -1 with the reason in self->sql.err. */
static int
s_read_int(adapter_store_t *self, const char *sql, sqlite3_int64 *v)
{
    sqlite3_stmt *st = NULL;
    if (sqlstore_prepare(&self->sql, &st, sql)) {
        return -1;
    }
    int rc = sqlstore_step(&self->sql, st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Brings the schema to S_SCHEMA_VERSION.  A store without a 'schema'
 * row is a version 1 one unless its path table already has the newer
 * columns (then the schema above just made them). */
static int
s_upgrade(adapter_store_t *self, const char *path, char *err,
          size_t errsize)
{
    sqlite3_int64 have = 0, has_vlan = 0, has_start = 0, has_vlan_dst = 0;
    if (s_read_int(self, "SELECT value FROM meta WHERE key = 'schema'",
                   &have)
        || s_read_int(self, "SELECT count(*) FROM pragma_table_info('path') "
                      "WHERE name = 'vlan'", &has_vlan)
        || s_read_int(self, "SELECT count(*) FROM pragma_table_info('path') "
                      "WHERE name = 'start_us'", &has_start)
        || s_read_int(self, "SELECT count(*) FROM pragma_table_info('path') "
                      "WHERE name = 'vlan_dst'", &has_vlan_dst)) {
        log_format(err, errsize, "state '%s': reading its schema: %s", path,
                   self->sql.err);
        return -1;
    }
    if (have == S_SCHEMA_VERSION) {
        return 0;
    }
    if (have > S_SCHEMA_VERSION) {
        log_format(err, errsize, "state '%s': schema version %lld, this "
                   "adapter knows %d", path, (long long) have,
                   S_SCHEMA_VERSION);
        return -1;
    }
    if (sqlstore_exec(&self->sql, "BEGIN IMMEDIATE")
        || (!has_vlan && sqlstore_exec(&self->sql, s_upgrade_2))
        || (!has_start && sqlstore_exec(&self->sql, s_upgrade_3))
        || (!has_vlan_dst && sqlstore_exec(&self->sql, s_upgrade_4))
        || sqlstore_exec(&self->sql, "INSERT OR REPLACE INTO meta VALUES "
                         "('schema', 4)")
        || sqlstore_exec(&self->sql, "COMMIT")) {
        log_format(err, errsize, "state '%s': upgrading its schema to %d: "
                   "%s", path, S_SCHEMA_VERSION, self->sql.err);
        sqlstore_rollback(&self->sql);
        return -1;
    }
    if (!has_vlan_dst) {
        VLOG_INFO("state '%s': schema upgraded to version %d", path,
                  S_SCHEMA_VERSION);
    }
    return 0;
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
    if (sqlstore_open(&self->sql, "state", path, 0, err, errsize)) {
        goto error;
    }
    if (sqlstore_exec(&self->sql, s_schema)) {
        log_format(err, errsize, "state '%s': %s", path, self->sql.err);
        goto error;
    }
    if (s_upgrade(self, path, err, errsize) != 0) {
        goto error;
    }
    if (sqlite3_prepare_v2(self->sql.db,
                              "INSERT OR REPLACE INTO path (" S_COLS ") "
                              "VALUES (?,?,?,?,?,?,?,?,?,?,"
                              "?,?,?,?,?,?,?,?,?,?,?)",
                              -1, &self->put, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(self->sql.db,
                              "SELECT " S_COLS " FROM path ORDER BY n", -1,
                              &self->load, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(self->sql.db,
                              "INSERT OR REPLACE INTO meta VALUES "
                              "('next_n', max(?, coalesce((SELECT value "
                              "FROM meta WHERE key = 'next_n'), 0)))",
                              -1, &self->set_next, NULL) != SQLITE_OK) {
        log_format(err, errsize, "state '%s': %s", path,
                   sqlite3_errmsg(self->sql.db));
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
    sqlstore_close(&self->sql);
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
    sqlite3_bind_int64(st, i++, (sqlite3_int64) r->vlan);
    sqlite3_bind_int64(st, i++, (sqlite3_int64) r->prefix_len);
    sqlite3_bind_int64(st, i++, (sqlite3_int64) (r->start_us > INT64_MAX
                                                     ? INT64_MAX
                                                     : r->start_us));
    sqlite3_bind_int64(st, i++, (sqlite3_int64) (r->end_us > INT64_MAX
                                                     ? INT64_MAX
                                                     : r->end_us));
    sqlite3_bind_int64(st, i++, (sqlite3_int64) r->vlan_dst);
    /* The row and the next path number together, or neither. */
    if (sqlstore_exec(&self->sql, "BEGIN IMMEDIATE")) {
        sqlite3_clear_bindings(st);
        return -1;
    }
    int rc = sqlstore_step(&self->sql, st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE) {
        sqlite3_bind_int64(self->set_next, 1, (sqlite3_int64) r->n + 1);
        rc = sqlstore_step(&self->sql, self->set_next);
        sqlite3_reset(self->set_next);
    }
    if (rc != SQLITE_DONE || sqlstore_exec(&self->sql, "COMMIT")) {
        VLOG_ERR_RL("sqlite: write path %s: %s", r->path_id,
                    self->sql.err);
        sqlstore_rollback(&self->sql);
        return -1;
    }
    return 0;
}

const char *
adapter_store_error(const adapter_store_t *self)
{
    return self->sql.err[0] ? self->sql.err : "no error";
}

void
adapter_store_fail_after(adapter_store_t *self, int n_steps)
{
    sqlstore_fail_after(&self->sql, n_steps);
}

int
adapter_store_load(adapter_store_t *self, adapter_store_fn *fn, void *arg)
{
    sqlite3_stmt *st = self->load;
    int n = 0, rc;
    while ((rc = sqlstore_step(&self->sql, st)) == SQLITE_ROW) {
        struct adapter_path_rec r;
        memset(&r, 0, sizeof r);
        int i = 0;
        r.n = (uint64_t) sqlite3_column_int64(st, i++);
        sqlstore_column_text(st, i++, r.path_id, sizeof r.path_id);
        r.sim_id = (uint64_t) sqlite3_column_int64(st, i++);
        sqlstore_column_text(st, i++, r.request_id, sizeof r.request_id);
        sqlstore_column_text(st, i++, r.src, sizeof r.src);
        sqlstore_column_text(st, i++, r.dst, sizeof r.dst);
        r.bandwidth_mbps = sqlite3_column_double(st, i++);
        r.latency_ms = sqlite3_column_double(st, i++);
        r.state = sqlite3_column_int(st, i++);
        sqlstore_column_text(st, i++, r.detail, sizeof r.detail);
        sqlstore_column_text(st, i++, r.backend_ref,
                             sizeof r.backend_ref);
        sqlstore_column_text(st, i++, r.src_link, sizeof r.src_link);
        sqlstore_column_text(st, i++, r.dst_link, sizeof r.dst_link);
        sqlstore_column_text(st, i++, r.error, sizeof r.error);
        r.created_us = (uint64_t) sqlite3_column_int64(st, i++);
        r.updated_us = (uint64_t) sqlite3_column_int64(st, i++);
        /* Out of range (a file edited by hand): as none. */
        sqlite3_int64 vlan = sqlite3_column_int64(st, i++);
        sqlite3_int64 plen = sqlite3_column_int64(st, i++);
        r.vlan = vlan > 0 && vlan <= ADAPTER_VLAN_MAX ? (uint32_t) vlan : 0;
        r.prefix_len = plen > 0 && plen <= 32 ? (uint32_t) plen : 0;
        sqlite3_int64 start = sqlite3_column_int64(st, i++);
        sqlite3_int64 end = sqlite3_column_int64(st, i++);
        r.start_us = start > 0 ? (uint64_t) start : 0;
        r.end_us = end > 0 ? (uint64_t) end : 0;
        sqlite3_int64 vlan_dst = sqlite3_column_int64(st, i++);
        r.vlan_dst = r.vlan && vlan_dst > 0 && vlan_dst <= ADAPTER_VLAN_MAX
                     ? (uint32_t) vlan_dst : 0;
        fn(&r, arg);
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        VLOG_ERR("sqlite: read paths (after %d): %s", n, self->sql.err);
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
    return sqlstore_exec(&self->sql, sql);
}

int
adapter_store_next_n(adapter_store_t *self, uint64_t *next_p)
{
    sqlite3_stmt *st;
    uint64_t next = 0;
    int rc = SQLITE_ERROR;
    if (sqlite3_prepare_v2(self->sql.db,
                           "SELECT max(coalesce((SELECT value FROM meta "
                           "WHERE key = 'next_n'), 1), "
                           "coalesce((SELECT max(n) + 1 FROM path), 1))",
                           -1, &st, NULL) == SQLITE_OK) {
        rc = sqlstore_step(&self->sql, st);
        if (rc == SQLITE_ROW) {
            next = (uint64_t) sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_ROW) {
        VLOG_ERR("sqlite: read the next path number: %s",
                 rc == SQLITE_ERROR ? sqlite3_errmsg(self->sql.db)
                                    : self->sql.err);
        return -1;
    }
    *next_p = next ? next : 1;
    return 0;
}
