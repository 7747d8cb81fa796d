/* libpq hooks: a span per synchronous call (PQexec, PQexecParams, PQprepare,
 * PQexecPrepared) and per asynchronous command (PQsend* to the NULL from PQgetResult). */
#include "db_span.h"

/* From libpq-fe.h / postgres_ext.h (the shim builds without the library's headers). */
enum {
    PGRES_COMMAND_OK = 1,
    PGRES_TUPLES_OK = 2,
    PGRES_BAD_RESPONSE = 5,
    PGRES_FATAL_ERROR = 7,
    PGRES_SINGLE_TUPLE = 9,
    PGRES_PIPELINE_ABORTED = 11,
};
#define PG_DIAG_SQLSTATE 'C'

/* "42" from PQcmdTuples; -1 when the command reports no count (an empty string). */
static int64_t parse_count(const char *text) {
    if (text == NULL || *text < '0' || *text > '9')
        return -1;
    int64_t count = 0;
    for (; *text >= '0' && *text <= '9' && count < INT64_MAX / 10; text++)
        count = count * 10 + (*text - '0');
    return count;
}

/* Folds one result of the command into its span (a NULL result: libpq failed it). */
static void note_result(struct ldtap_db_span *span, PGresult *result) {
    int status = result != NULL ? LDTAP_DB_REAL(PQresultStatus)(result) : PGRES_FATAL_ERROR;
    if (status == PGRES_TUPLES_OK)
        span->record.rows = LDTAP_DB_REAL(PQntuples)(result);
    else if (status == PGRES_SINGLE_TUPLE)
        span->record.rows = (span->record.rows > 0 ? span->record.rows : 0) + 1;
    else if (status == PGRES_COMMAND_OK)
        span->record.rows = parse_count(LDTAP_DB_REAL(PQcmdTuples)(result));
    else if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_PIPELINE_ABORTED)
        ldtap_db_span_fail(span, 0,
                           result != NULL ? LDTAP_DB_REAL(PQresultErrorField)(result, PG_DIAG_SQLSTATE) : NULL);
}

/* Starts `span` for a command; `text` is its SQL, or NULL to recall prepared `name`'s. */
static void begin(struct ldtap_db_span *span, PGconn *conn, const char *text, const char *name) {
    ldtap_db_span_begin(span, LDTAP_DB_POSTGRESQL, text, LDTAP_DB_NUL_TERMINATED);
    if (text == NULL)
        ldtap_db_prepared_recall(ldtap_db_prepared_key(conn, name), span);
    ldtap_db_span_peer(span, LDTAP_DB_REAL(PQsocket)(conn));
}

static void remember(PGconn *conn, const char *name, const char *query) {
    ldtap_db_prepared_remember(ldtap_db_prepared_key(conn, name), conn, query, LDTAP_DB_NUL_TERMINATED);
}

/* Synchronous calls: the span is the call. `before` runs first (a prepare remembers). */
#define LDTAP_PQ_SYNC_HOOK(name, parameters, arguments, text, statement_name, before)       \
    LDTAP_EXPORT PGresult *name parameters {                                                \
        if (!ldtap_db_enter(LDTAP_LIBRARY_LIBPQ))                                          \
            return LDTAP_DB_REAL(name) arguments;                                          \
        struct ldtap_db_span span;                                                         \
        before;                                                                            \
        begin(&span, conn, text, statement_name);                                          \
        PGresult *result = LDTAP_DB_REAL(name) arguments;                                  \
        note_result(&span, result);                                                        \
        ldtap_db_span_end(&span, LDTAP_DB_REAL(PQdb)(conn));                               \
        ldtap_db_leave();                                                                  \
        return result;                                                                     \
    }

/*
 * Asynchronous commands: the span waits in the pending table, keyed by the connection,
 * for PQgetResult's final NULL. In pipeline mode several commands are in flight on one
 * connection: the first keeps the span and the others go untraced (their results are
 * told apart only by counting PGRES_PIPELINE_SYNC markers, which is not worth it here).
 */
#define LDTAP_PQ_SEND_HOOK(name, parameters, arguments, text, statement_name, before)       \
    LDTAP_EXPORT int name parameters {                                                     \
        if (!ldtap_db_enter(LDTAP_LIBRARY_LIBPQ))                                          \
            return LDTAP_DB_REAL(name) arguments;                                          \
        bool started; /* false: a command holds the span already, or the table is full */ \
        before;                                                                            \
        struct ldtap_db_span *span = ldtap_db_pending_find_or_start(conn, &started);       \
        if (!started)                                                                      \
            span = NULL;                                                                   \
        else                                                                               \
            begin(span, conn, text, statement_name);                                       \
        int sent = LDTAP_DB_REAL(name) arguments;                                          \
        if (span != NULL && !sent) {                                                       \
            ldtap_db_span_fail(span, 0, NULL);                                             \
            ldtap_db_pending_end(span, LDTAP_DB_REAL(PQdb)(conn));                         \
        }                                                                                  \
        ldtap_db_leave();                                                                  \
        return sent;                                                                       \
    }

LDTAP_PQ_SYNC_HOOK(PQexec, (PGconn * conn, const char *query), (conn, query), query, NULL, (void)0)
LDTAP_PQ_SYNC_HOOK(PQexecParams,
                   (PGconn * conn, const char *command, int count, const unsigned *types,
                    const char *const *values, const int *lengths, const int *formats, int result_format),
                   (conn, command, count, types, values, lengths, formats, result_format), command, NULL,
                   (void)0)
LDTAP_PQ_SYNC_HOOK(PQprepare,
                   (PGconn * conn, const char *name, const char *query, int count, const unsigned *types),
                   (conn, name, query, count, types), query, NULL, remember(conn, name, query))
LDTAP_PQ_SYNC_HOOK(PQexecPrepared,
                   (PGconn * conn, const char *name, int count, const char *const *values,
                    const int *lengths, const int *formats, int result_format),
                   (conn, name, count, values, lengths, formats, result_format), NULL, name, (void)0)

LDTAP_PQ_SEND_HOOK(PQsendQuery, (PGconn * conn, const char *query), (conn, query), query, NULL, (void)0)
LDTAP_PQ_SEND_HOOK(PQsendQueryParams,
                   (PGconn * conn, const char *command, int count, const unsigned *types,
                    const char *const *values, const int *lengths, const int *formats, int result_format),
                   (conn, command, count, types, values, lengths, formats, result_format), command, NULL,
                   (void)0)
LDTAP_PQ_SEND_HOOK(PQsendPrepare,
                   (PGconn * conn, const char *name, const char *query, int count, const unsigned *types),
                   (conn, name, query, count, types), query, NULL, remember(conn, name, query))
LDTAP_PQ_SEND_HOOK(PQsendQueryPrepared,
                   (PGconn * conn, const char *name, int count, const char *const *values,
                    const int *lengths, const int *formats, int result_format),
                   (conn, name, count, values, lengths, formats, result_format), NULL, name, (void)0)

/* Each result of an asynchronous command is folded in as it comes; NULL ends the span. */
LDTAP_EXPORT PGresult *PQgetResult(PGconn *conn) {
    if (!ldtap_db_enter(LDTAP_LIBRARY_LIBPQ))
        return LDTAP_DB_REAL(PQgetResult)(conn);
    PGresult *result = LDTAP_DB_REAL(PQgetResult)(conn);
    struct ldtap_db_span *span = ldtap_db_pending_find(conn);
    if (span != NULL && result != NULL)
        note_result(span, result);
    else if (span != NULL)
        ldtap_db_pending_end(span, LDTAP_DB_REAL(PQdb)(conn));
    ldtap_db_leave();
    return result;
}
