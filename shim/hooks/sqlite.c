/* SQLite hooks: one span per execution of a prepared statement (first sqlite3_step to
 * SQLITE_DONE, an error, sqlite3_reset or sqlite3_finalize) and one per sqlite3_exec. */
#include <string.h>

#include "db_span.h"
#include "thread.h"

/* Result codes from sqlite3.h (the shim builds without the library's headers). */
enum { SQLITE_OK = 0, SQLITE_ROW = 100, SQLITE_DONE = 101 };

static const char *database_file(sqlite3 *db) {
    return db != NULL ? LDTAP_DB_REAL(sqlite3_db_filename)(db, "main") : NULL;
}

/*
 * Prepares copy nothing: SQLite keeps the text of every statement sqlite3_prepare_v2/_v3
 * make (it re-prepares from it after a schema change) and sqlite3_sql() hands it back for
 * free, so the text is read from the statement itself when an execution ends (finish) and
 * cannot go stale when a finalized statement's address is reused. The hooks are there for
 * two other reasons: SQLite runs queries of its own while preparing (reading the schema
 * through sqlite3_exec), which the depth guard keeps from becoming spans; and a statement
 * that fails to prepare (a syntax error) is a failed query the program made, so it
 * becomes an error span.
 */
static int prepare_failed(sqlite3 *db, const char *sql, int bytes, uint64_t start_ns, int result) {
    struct ldtap_db_span span;
    ldtap_db_span_begin(&span, LDTAP_DB_SQLITE, sql,
                        sql == NULL ? 0 : bytes < 0 ? LDTAP_DB_NUL_TERMINATED : strnlen(sql, (size_t)bytes));
    span.record.span.start_time_ns = start_ns;
    ldtap_db_span_fail(&span, (uint32_t)result, NULL);
    ldtap_db_span_end(&span, database_file(db));
    return result;
}

LDTAP_EXPORT int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int bytes, sqlite3_stmt **statement,
                                    const char **tail) {
    if (!ldtap_db_enter(LDTAP_LIBRARY_SQLITE))
        return LDTAP_DB_REAL(sqlite3_prepare_v2)(db, sql, bytes, statement, tail);
    uint64_t start_ns = ldtap_now_ns();
    int result = LDTAP_DB_REAL(sqlite3_prepare_v2)(db, sql, bytes, statement, tail);
    if (result != SQLITE_OK)
        prepare_failed(db, sql, bytes, start_ns, result);
    ldtap_db_leave();
    return result;
}

LDTAP_EXPORT int sqlite3_prepare_v3(sqlite3 *db, const char *sql, int bytes, unsigned flags,
                                    sqlite3_stmt **statement, const char **tail) {
    if (!ldtap_db_enter(LDTAP_LIBRARY_SQLITE))
        return LDTAP_DB_REAL(sqlite3_prepare_v3)(db, sql, bytes, flags, statement, tail);
    uint64_t start_ns = ldtap_now_ns();
    int result = LDTAP_DB_REAL(sqlite3_prepare_v3)(db, sql, bytes, flags, statement, tail);
    if (result != SQLITE_OK)
        prepare_failed(db, sql, bytes, start_ns, result);
    ldtap_db_leave();
    return result;
}

/* Rows returned; for a statement without result columns, rows changed (triggers
 * included), read only there: a row-returning statement changes nothing worth counting. */
static bool returns_rows(sqlite3_stmt *statement) {
    return LDTAP_DB_REAL(sqlite3_column_count)(statement) != 0;
}

/*
 * sqlite3_db_filename() looks "main" up by name on every call (over a hundred instructions,
 * more than the rest of an execution's bookkeeping), yet a connection's main file never
 * changes while it is open. So each thread keeps the file of the connection whose
 * statement it finished last, valid until any statement is finalized: a connection the
 * cache names had a statement, so it cannot really close (sqlite3_close fails, and
 * sqlite3_close_v2 waits) and its address be reused before that statement is finalized,
 * and every sqlite3_finalize call bumps the generation before anything else.
 */
static uint64_t finalize_generation;
static LDTAP_THREAD_LOCAL struct {
    const void *db;
    uint64_t generation;
    const char *file;
    size_t length; /* of `file`, at most LDTAP_DB_NAMESPACE_MAX */
} last_file;

static void connection_file(const void *db) {
    uint64_t generation = __atomic_load_n(&finalize_generation, __ATOMIC_RELAXED);
    if (last_file.db != db || last_file.generation != generation) {
        last_file.file = database_file((sqlite3 *)db);
        last_file.length = last_file.file != NULL ? strnlen(last_file.file, LDTAP_DB_NAMESPACE_MAX) : 0;
        last_file.db = db;
        last_file.generation = generation;
    }
}

/* What the execution's start noted (its connection, whether it returns rows) stands for
 * the statement to the end, except its text: that is read now, from the statement itself
 * (still alive: every caller ends the span before the original finalize), straight into
 * the record. Read now rather than at the start: a schema change re-prepares the
 * statement during sqlite3_step and frees the text the start would have seen. */
static void finish(sqlite3_stmt *statement, struct ldtap_db_span *span) {
    if (span->counts_changes)
        span->record.rows = LDTAP_DB_REAL(sqlite3_total_changes)((sqlite3 *)span->handle) - span->start_mark;
    connection_file(span->handle);
    ldtap_db_pending_end_with_text(span, LDTAP_DB_REAL(sqlite3_sql)(statement), last_file.file,
                                   last_file.length);
}

/* A new execution of `statement` in `span`, a slot just claimed for it; its text comes at
 * the end (finish). */
static void start_execution(sqlite3_stmt *statement, struct ldtap_db_span *span) {
    ldtap_db_span_begin(span, LDTAP_DB_SQLITE, NULL, 0);
    sqlite3 *db = LDTAP_DB_REAL(sqlite3_db_handle)(statement);
    span->handle = db;
    span->counts_changes = !returns_rows(statement);
    if (span->counts_changes)
        span->start_mark = LDTAP_DB_REAL(sqlite3_total_changes)(db);
    span->record.rows = 0;
}

LDTAP_HOT LDTAP_EXPORT int sqlite3_step(sqlite3_stmt *statement) {
    if (statement == NULL || !ldtap_db_enter(LDTAP_LIBRARY_SQLITE))
        return LDTAP_DB_REAL(sqlite3_step)(statement);
    bool started; /* NULL and false: table full, this execution goes untraced */
    struct ldtap_db_span *span = ldtap_db_pending_find_or_start(statement, &started);
    if (started)
        start_execution(statement, span);
    int result = LDTAP_DB_REAL(sqlite3_step)(statement);
    if (span != NULL && result == SQLITE_ROW) {
        span->record.rows++;
    } else if (span != NULL) {
        if (result != SQLITE_DONE)
            ldtap_db_span_fail(span, (uint32_t)result, NULL);
        finish(statement, span);
    }
    ldtap_db_leave();
    return result;
}

/* An execution abandoned part-way (rows left unread) ends where the program gave up. */
static int end_execution_then(int (*original)(sqlite3_stmt *), sqlite3_stmt *statement) {
    if (statement == NULL || !ldtap_db_enter(LDTAP_LIBRARY_SQLITE))
        return original(statement);
    struct ldtap_db_span *span = ldtap_db_pending_find(statement);
    if (span != NULL)
        finish(statement, span); /* before the original: finalize frees the statement */
    int result = original(statement);
    ldtap_db_leave();
    return result;
}

LDTAP_EXPORT int sqlite3_reset(sqlite3_stmt *statement) {
    return end_execution_then(LDTAP_DB_REAL(sqlite3_reset), statement);
}

LDTAP_EXPORT int sqlite3_finalize(sqlite3_stmt *statement) {
    /* Untraced calls too: see connection_file. Relaxed is enough, the allocator orders a
     * free before the reuse of its address. */
    __atomic_fetch_add(&finalize_generation, 1, __ATOMIC_RELAXED);
    return end_execution_then(LDTAP_DB_REAL(sqlite3_finalize), statement);
}

/* sqlite3_exec's callback, wrapped to count the rows it is given. */
struct exec_rows {
    ldtap_sqlite3_callback callback;
    void *argument;
    int64_t count;
};

static int count_row(void *context, int columns, char **values, char **names) {
    struct exec_rows *rows = context;
    rows->count++;
    /* The program's callback may run statements of its own: they are spans too. */
    unsigned depth = ldtap_db_depth;
    ldtap_db_depth = 0;
    int result = rows->callback(rows->argument, columns, values, names);
    ldtap_db_depth = depth;
    return result;
}

LDTAP_EXPORT int sqlite3_exec(sqlite3 *db, const char *sql, ldtap_sqlite3_callback callback,
                              void *argument, char **error_message) {
    if (db == NULL || !ldtap_db_enter(LDTAP_LIBRARY_SQLITE))
        return LDTAP_DB_REAL(sqlite3_exec)(db, sql, callback, argument, error_message);
    struct ldtap_db_span span;
    ldtap_db_span_begin(&span, LDTAP_DB_SQLITE, sql, LDTAP_DB_NUL_TERMINATED);
    int changes_before = LDTAP_DB_REAL(sqlite3_total_changes)(db);
    struct exec_rows rows = {callback, argument, 0};
    int result = LDTAP_DB_REAL(sqlite3_exec)(db, sql, callback != NULL ? count_row : NULL,
                                              callback != NULL ? &rows : argument, error_message);
    span.record.rows =
        rows.count > 0 ? rows.count : LDTAP_DB_REAL(sqlite3_total_changes)(db) - changes_before;
    if (result != SQLITE_OK)
        ldtap_db_span_fail(&span, (uint32_t)result, NULL);
    ldtap_db_span_end(&span, database_file(db));
    ldtap_db_leave();
    return result;
}
