/* SPDX-License-Identifier: MIT */
/* The SQLite connection under a service's store (the broker's resv_store,
 * the adapter's adapter_store): opened the one safe way (synchronous=FULL,
 * WAL checked, never assumed), every step's result turned into a message,
 * and the tests' hook that makes steps fail as an I/O error would.  The
 * stores keep their schemas and statements; this keeps the connection. */
#ifndef VR_SQLSTORE_H
#define VR_SQLSTORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

/* One open database.  Embedded in a store; sqlstore_open() fills it. */
struct sqlstore {
    sqlite3 *db;                /* the connection, NULL if not open */
    int fail_after;             /* tests: steps before an injected error */
    char err[200];              /* why the last call failed */
};

/* sqlstore_open() options. */
enum {
    SQLSTORE_FULLMUTEX = 1 << 0, /* SQLite's serialized threading mode */
    SQLSTORE_MEMORY_OK = 1 << 1, /* ":memory:" allowed (tests), no WAL */
};

/* Opens, or creates, the database at 'path' into '*s': a busy timeout of
 * 5 s, synchronous=FULL (a commit survives a power cut) and journal_mode
 * WAL (a crash never leaves half a transaction), which is checked: a file
 * system SQLite's WAL does not work on is refused.  'opts' is a set of
 * SQLSTORE_* bits.  Returns 0, or -1 with '*s' closed and a sentence
 * naming 'what' (the store's word for its file) and 'path' in 'err'
 * ('errsize' bytes). */
int sqlstore_open(struct sqlstore *s, const char *what, const char *path,
                  unsigned int opts, char *err, size_t errsize);

/* Finalizes nothing (the statements are the store's: finalize them
 * first) and closes the connection.  Safe on a closed 's'. */
void sqlstore_close(struct sqlstore *s);

/* sqlite3_step() of 'st', or the injected error of sqlstore_fail_after().
 * Returns SQLite's result; on one other than SQLITE_ROW or SQLITE_DONE
 * the reason is in 's->err'. */
int sqlstore_step(struct sqlstore *s, sqlite3_stmt *st);

/* Runs 'sql' (statements without results).  Returns 0, or -1 with the
 * reason in 's->err' and logged (rate-limited).  Not counted by
 * sqlstore_fail_after(); a store that wants its exec calls to fail too
 * asks sqlstore_inject() first. */
int sqlstore_exec(struct sqlstore *s, const char *sql);

/* For the tests' hook: true (and "injected I/O error" in 's->err') if
 * this call is one sqlstore_fail_after() makes fail; counts it. */
bool sqlstore_inject(struct sqlstore *s);

/* Ends a failed transaction, if SQLite has not already rolled it back
 * (it does after some errors, a full disk during COMMIT): the first error
 * stays in 's->err'. */
void sqlstore_rollback(struct sqlstore *s);

/* Prepares 'sql' into '*st'.  Returns 0, or -1 with the reason in
 * 's->err' and logged. */
int sqlstore_prepare(struct sqlstore *s, sqlite3_stmt **st, const char *sql);

/* Copies the text of column 'i' of the current row of 'st' into 'buf'
 * ('size' bytes), cut to fit; "" for NULL. */
void sqlstore_column_text(sqlite3_stmt *st, int i, char *buf, size_t size);

/* For tests: the ('n_steps' + 1)-th step from now, and every one after
 * it, fails as an I/O error would; -1 turns that off. */
void sqlstore_fail_after(struct sqlstore *s, int n_steps);

#endif /* VR_SQLSTORE_H */
