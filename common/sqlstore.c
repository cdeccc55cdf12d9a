/* SPDX-License-Identifier: MIT */
/* The stores' SQLite connection (sqlstore.h): open with the journal
 * checked, steps whose errors become messages, the tests' fault hook. */
#include "sqlstore.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

LOG_MODULE("sqlstore");

/* Asks for WAL and checks that SQLite gave it: without WAL (a file system
 * that cannot map the shared-memory index, say) a crash could leave a
 * half-written transaction, so the store refuses to open.  ":memory:" has
 * no journal to speak of and is allowed where 'memory_ok'. */
static int
s_check_wal(struct sqlstore *s, const char *what, const char *path,
            bool memory_ok, char *err, size_t errsize)
{
    sqlite3_stmt *st = NULL;
    char mode[16] = "";
    int rc = SQLITE_ERROR;
    if (sqlstore_prepare(s, &st, "PRAGMA journal_mode=WAL") == 0
        && (rc = sqlstore_step(s, st)) == SQLITE_ROW) {
        sqlstore_column_text(st, 0, mode, sizeof mode);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        log_format(err, errsize, "%s '%s': setting journal_mode: %s", what,
                   path, s->err);
        return -1;
    }
    bool memory = memory_ok && !strcmp(path, ":memory:");
    if (strcmp(mode, memory ? "memory" : "wal") != 0) {
        log_format(err, errsize, "%s '%s': journal_mode is '%s', not "
                   "'wal': refusing to run without it (is the file system "
                   "one that SQLite's WAL works on?)", what, path, mode);
        return -1;
    }
    return 0;
}

int
sqlstore_open(struct sqlstore *s, const char *what, const char *path,
              unsigned int opts, char *err, size_t errsize)
{
    memset(s, 0, sizeof *s);
    s->fail_after = -1;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (opts & SQLSTORE_FULLMUTEX) {
        flags |= SQLITE_OPEN_FULLMUTEX;
    }
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        log_format(err, errsize, "%s '%s': %s", what, path,
                   s->db ? sqlite3_errmsg(s->db) : "cannot open");
        goto error;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (sqlstore_exec(s, "PRAGMA synchronous=FULL;")) {
        log_format(err, errsize, "%s '%s': setting synchronous: %s", what,
                   path, s->err);
        goto error;
    }
    if (s_check_wal(s, what, path, opts & SQLSTORE_MEMORY_OK, err,
                    errsize)) {
        goto error;
    }
    return 0;

error:
    sqlstore_close(s);
    return -1;
}

void
sqlstore_close(struct sqlstore *s)
{
    sqlite3_close(s->db);
    s->db = NULL;
}

bool
sqlstore_inject(struct sqlstore *s)
{
    if (s->fail_after == 0) {
        snprintf(s->err, sizeof s->err, "injected I/O error");
        return true;
    }
    if (s->fail_after > 0) {
        s->fail_after--;
    }
    return false;
}

int
sqlstore_step(struct sqlstore *s, sqlite3_stmt *st)
{
    if (sqlstore_inject(s)) {
        return SQLITE_IOERR;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf(s->err, sizeof s->err, "%s (%s)", sqlite3_errmsg(s->db),
                 sqlite3_errstr(rc));
    }
    return rc;
}

int
sqlstore_exec(struct sqlstore *s, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        VLOG_ERR_RL("sqlite: %s: %s", sql, err ? err : "?");
        snprintf(s->err, sizeof s->err, "%s", err ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

void
sqlstore_rollback(struct sqlstore *s)
{
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

int
sqlstore_prepare(struct sqlstore *s, sqlite3_stmt **st, const char *sql)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        snprintf(s->err, sizeof s->err, "%s", sqlite3_errmsg(s->db));
        VLOG_ERR("sqlite: prepare '%s': %s", sql, s->err);
        return -1;
    }
    return 0;
}

void
sqlstore_column_text(sqlite3_stmt *st, int i, char *buf, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(buf, size, "%s", t ? (const char *) t : "");
}

void
sqlstore_fail_after(struct sqlstore *s, int n_steps)
{
    s->fail_after = n_steps < 0 ? -1 : n_steps;
}
