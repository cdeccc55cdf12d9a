/* SPDX-License-Identifier: MIT */
/* common/sqlstore: a store's database opens with synchronous=FULL and a
 * WAL journal (the -wal file is there); ":memory:" opens only where
 * allowed; an unusable path is refused with a message naming the store's
 * word and the path.  A failed step or exec leaves its reason in 'err';
 * the fault hook fails the ('n' + 1)-th step and every one after, and
 * counts an exec only where the store asks (sqlstore_inject); a rollback
 * after a failure leaves nothing written; NULL text reads as "". */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sqlstore.h"

static int
s_count(struct sqlstore *s)
{
    sqlite3_stmt *st = NULL;
    assert(sqlstore_prepare(s, &st, "SELECT COUNT(*) FROM t") == 0);
    assert(sqlstore_step(s, st) == SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

int
main(void)
{
    log_init("test_sqlstore");
    char dir[] = "/tmp/test_sqlstore.XXXXXX";
    assert(mkdtemp(dir));
    char path[256], wal[300], err[512];
    snprintf(path, sizeof path, "%s/s.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);

    /* Opened: synchronous FULL (2), WAL (the -wal file beside it once
     * written). */
    struct sqlstore s;
    assert(sqlstore_open(&s, "state", path, 0, err, sizeof err) == 0);
    sqlite3_stmt *st = NULL;
    assert(sqlstore_prepare(&s, &st, "PRAGMA synchronous") == 0);
    assert(sqlstore_step(&s, st) == SQLITE_ROW);
    assert(sqlite3_column_int(st, 0) == 2);
    sqlite3_finalize(st);

    /* Steps and execs; NULL text is "", long text is cut. */
    assert(sqlstore_exec(&s, "CREATE TABLE t (a TEXT)") == 0);
    assert(access(wal, F_OK) == 0);
    assert(sqlstore_exec(&s, "INSERT INTO t VALUES (NULL), ('abcdef')")
           == 0);
    assert(sqlstore_prepare(&s, &st, "SELECT a FROM t ORDER BY rowid")
           == 0);
    char buf[4] = "x";
    assert(sqlstore_step(&s, st) == SQLITE_ROW);
    sqlstore_column_text(st, 0, buf, sizeof buf);
    assert(strcmp(buf, "") == 0);
    assert(sqlstore_step(&s, st) == SQLITE_ROW);
    sqlstore_column_text(st, 0, buf, sizeof buf);
    assert(strcmp(buf, "abc") == 0);
    assert(sqlstore_step(&s, st) == SQLITE_DONE);
    sqlite3_finalize(st);

    /* Errors name their reason. */
    assert(sqlstore_exec(&s, "INSERT INTO nowhere VALUES (1)") == -1);
    assert(strstr(s.err, "nowhere"));
    assert(sqlstore_prepare(&s, &st, "SELECT nonsense FROM") == -1);
    assert(st == NULL && s.err[0]);
    assert(sqlstore_exec(&s, "CREATE TABLE u (a INTEGER PRIMARY KEY)")
           == 0);
    assert(sqlstore_prepare(&s, &st, "INSERT INTO u VALUES (1)") == 0);
    assert(sqlstore_step(&s, st) == SQLITE_DONE);
    sqlite3_reset(st);
    assert(sqlstore_step(&s, st) == SQLITE_CONSTRAINT);
    assert(strstr(s.err, "UNIQUE") && strstr(s.err, "constraint"));
    sqlite3_finalize(st);

    /* The fault hook: one step passes, the next and later ones fail;
     * exec is not counted unless the store asks. */
    assert(sqlstore_exec(&s, "BEGIN IMMEDIATE") == 0);
    assert(sqlstore_prepare(&s, &st, "INSERT INTO t VALUES ('x')") == 0);
    sqlstore_fail_after(&s, 1);
    assert(sqlstore_step(&s, st) == SQLITE_DONE);
    sqlite3_reset(st);
    assert(sqlstore_step(&s, st) == SQLITE_IOERR);
    assert(strcmp(s.err, "injected I/O error") == 0);
    assert(sqlstore_step(&s, st) == SQLITE_IOERR);
    assert(sqlstore_inject(&s));
    sqlite3_finalize(st);
    /* The rollback leaves nothing of the half-done transaction, and a
     * second one is harmless. */
    sqlstore_rollback(&s);
    sqlstore_rollback(&s);
    sqlstore_fail_after(&s, -1);
    assert(s_count(&s) == 2);
    sqlstore_fail_after(&s, 1);
    assert(!sqlstore_inject(&s));
    assert(sqlstore_inject(&s));
    sqlstore_fail_after(&s, -1);
    assert(!sqlstore_inject(&s));
    sqlstore_close(&s);
    sqlstore_close(&s);
    assert(s.db == NULL);

    /* Reopened: the rows are there. */
    assert(sqlstore_open(&s, "state", path, SQLSTORE_FULLMUTEX, err,
                         sizeof err) == 0);
    assert(s_count(&s) == 2);
    sqlstore_close(&s);

    /* ":memory:" only where allowed (it has no WAL). */
    assert(sqlstore_open(&s, "store", ":memory:", 0, err, sizeof err)
           == -1);
    assert(strstr(err, "store ':memory:': journal_mode is 'memory'"));
    assert(s.db == NULL);
    assert(sqlstore_open(&s, "store", ":memory:", SQLSTORE_MEMORY_OK, err,
                         sizeof err) == 0);
    sqlstore_close(&s);

    /* An unusable path: refused, named. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/s.db", dir);
    assert(sqlstore_open(&s, "state", bad, 0, err, sizeof err) == -1);
    assert(strncmp(err, "state '", 7) == 0 && strstr(err, bad));
    assert(s.db == NULL);

    unlink(path);
    unlink(wal);
    char shm[300];
    snprintf(shm, sizeof shm, "%s-shm", path);
    unlink(shm);
    assert(rmdir(dir) == 0);
    return 0;
}
