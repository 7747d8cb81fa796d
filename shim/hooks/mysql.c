/* MariaDB/MySQL client hooks: a span per query (mysql_real_query, mysql_query, or
 * mysql_send_query to mysql_read_query_result), ended once its outcome is known: at once
 * for an error or a statement without result set, else when the program takes the result
 * (mysql_store_result counts its rows); a span per statement prepare and per execution. */
#include <string.h>

#include "db_span.h"

/* MARIADB_CONNECTION_SCHEMA in MariaDB Connector/C's enum mariadb_value. */
#define MARIADB_CONNECTION_SCHEMA 15

typedef char (*ldtap_mariadb_get_infov)(MYSQL *mysql, int value, void *argument, ...);

/* MariaDB Connector/C only (libmysqlclient lacks it): looked up once, may stay NULL. */
static ldtap_mariadb_get_infov get_infov;
static bool get_infov_looked_up;

/* The current database (USE …) of the connection, or NULL. */
static const char *schema_of(MYSQL *mysql) {
    if (!__atomic_load_n(&get_infov_looked_up, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&get_infov, (ldtap_mariadb_get_infov)ldtap_late_symbol("mariadb_get_infov"),
                         __ATOMIC_RELAXED);
        __atomic_store_n(&get_infov_looked_up, true, __ATOMIC_RELEASE);
    }
    ldtap_mariadb_get_infov get = __atomic_load_n(&get_infov, __ATOMIC_RELAXED);
    const char *schema = NULL;
    if (mysql != NULL && get != NULL && get(mysql, MARIADB_CONNECTION_SCHEMA, &schema) != 0)
        return NULL;
    return schema;
}

/* The server's own name for itself: MariaDB says so in its version string. */
static enum ldtap_db_system system_of(MYSQL *mysql) {
    const char *version = mysql != NULL ? LDTAP_DB_REAL(mysql_get_server_info)(mysql) : NULL;
    return version != NULL && strstr(version, "MariaDB") != NULL ? LDTAP_DB_MARIADB : LDTAP_DB_MYSQL;
}

static void begin(struct ldtap_db_span *span, MYSQL *mysql, const char *query, size_t length) {
    ldtap_db_span_begin(span, system_of(mysql), query, length);
    if (mysql != NULL)
        ldtap_db_span_peer(span, LDTAP_DB_REAL(mysql_get_socket)(mysql));
}

/* A new query on `mysql`; a previous one whose result was never taken ends first, and
 * the new one takes over its slot. */
static struct ldtap_db_span *start_query(MYSQL *mysql, const char *query, size_t length) {
    bool started;
    struct ldtap_db_span *span = ldtap_db_pending_find_or_start(mysql, &started);
    if (span == NULL)
        return NULL;
    if (!started)
        ldtap_db_span_end(span, schema_of(mysql));
    begin(span, mysql, query, length);
    return span;
}

/* The server answered (status 0: success): end the span unless a result set follows. */
static void answered(MYSQL *mysql, struct ldtap_db_span *span, int status) {
    if (span == NULL)
        return;
    if (status != 0)
        ldtap_db_span_fail(span, LDTAP_DB_REAL(mysql_errno)(mysql), LDTAP_DB_REAL(mysql_sqlstate)(mysql));
    else if (LDTAP_DB_REAL(mysql_field_count)(mysql) != 0)
        return; /* rows to come: mysql_store_result or mysql_use_result ends it */
    else
        span->record.rows = (int64_t)LDTAP_DB_REAL(mysql_affected_rows)(mysql);
    ldtap_db_pending_end(span, schema_of(mysql));
}

LDTAP_EXPORT int mysql_real_query(MYSQL *mysql, const char *query, unsigned long length) {
    if (mysql == NULL || !ldtap_db_enter(LDTAP_LIBRARY_MYSQL))
        return LDTAP_DB_REAL(mysql_real_query)(mysql, query, length);
    struct ldtap_db_span *span = start_query(mysql, query, length);
    int status = LDTAP_DB_REAL(mysql_real_query)(mysql, query, length);
    answered(mysql, span, status);
    ldtap_db_leave();
    return status;
}

LDTAP_EXPORT int mysql_query(MYSQL *mysql, const char *query) {
    if (mysql == NULL || !ldtap_db_enter(LDTAP_LIBRARY_MYSQL))
        return LDTAP_DB_REAL(mysql_query)(mysql, query);
    struct ldtap_db_span *span = start_query(mysql, query, LDTAP_DB_NUL_TERMINATED);
    int status = LDTAP_DB_REAL(mysql_query)(mysql, query);
    answered(mysql, span, status);
    ldtap_db_leave();
    return status;
}

LDTAP_EXPORT int mysql_send_query(MYSQL *mysql, const char *query, unsigned long length) {
    if (mysql == NULL || !ldtap_db_enter(LDTAP_LIBRARY_MYSQL))
        return LDTAP_DB_REAL(mysql_send_query)(mysql, query, length);
    struct ldtap_db_span *span = start_query(mysql, query, length);
    int status = LDTAP_DB_REAL(mysql_send_query)(mysql, query, length);
    if (status != 0)
        answered(mysql, span, status);
    ldtap_db_leave();
    return status;
}

LDTAP_EXPORT int mysql_read_query_result(MYSQL *mysql) {
    if (mysql == NULL || !ldtap_db_enter(LDTAP_LIBRARY_MYSQL))
        return LDTAP_DB_REAL(mysql_read_query_result)(mysql);
    int status = LDTAP_DB_REAL(mysql_read_query_result)(mysql);
    answered(mysql, ldtap_db_pending_find(mysql), status);
    ldtap_db_leave();
    return status;
}

/* The program takes the result set: the span ends (rows known when stored, not streamed). */
static MYSQL_RES *take_result(MYSQL_RES *(*original)(MYSQL *), MYSQL *mysql, bool stored) {
    if (mysql == NULL || !ldtap_db_enter(LDTAP_LIBRARY_MYSQL))
        return original(mysql);
    MYSQL_RES *result = original(mysql);
    struct ldtap_db_span *span = ldtap_db_pending_find(mysql);
    if (span != NULL) {
        if (result == NULL && LDTAP_DB_REAL(mysql_errno)(mysql) != 0)
            ldtap_db_span_fail(span, LDTAP_DB_REAL(mysql_errno)(mysql), LDTAP_DB_REAL(mysql_sqlstate)(mysql));
        else if (result != NULL && stored)
            span->record.rows = (int64_t)LDTAP_DB_REAL(mysql_num_rows)(result);
        ldtap_db_pending_end(span, schema_of(mysql));
    }
    ldtap_db_leave();
    return result;
}

LDTAP_EXPORT MYSQL_RES *mysql_store_result(MYSQL *mysql) {
    return take_result(LDTAP_DB_REAL(mysql_store_result), mysql, true);
}

LDTAP_EXPORT MYSQL_RES *mysql_use_result(MYSQL *mysql) {
    return take_result(LDTAP_DB_REAL(mysql_use_result), mysql, false);
}

/* ---- prepared statements: MYSQL_STMT has no way back to its text or connection ---- */

static uint64_t statement_key(MYSQL_STMT *statement) { return ldtap_db_prepared_key(statement, NULL); }

LDTAP_EXPORT MYSQL_STMT *mysql_stmt_init(MYSQL *mysql) {
    MYSQL_STMT *statement = LDTAP_DB_REAL(mysql_stmt_init)(mysql);
    if (statement != NULL && ldtap_db_enter(LDTAP_LIBRARY_MYSQL)) {
        ldtap_db_prepared_remember(statement_key(statement), mysql, NULL, 0);
        ldtap_db_leave();
    }
    return statement;
}

static void statement_failed(struct ldtap_db_span *span, MYSQL_STMT *statement) {
    ldtap_db_span_fail(span, LDTAP_DB_REAL(mysql_stmt_errno)(statement),
                       LDTAP_DB_REAL(mysql_stmt_sqlstate)(statement));
}

LDTAP_EXPORT int mysql_stmt_prepare(MYSQL_STMT *statement, const char *query, unsigned long length) {
    if (statement == NULL || !ldtap_db_enter(LDTAP_LIBRARY_MYSQL))
        return LDTAP_DB_REAL(mysql_stmt_prepare)(statement, query, length);
    MYSQL *mysql = (MYSQL *)ldtap_db_prepared_recall(statement_key(statement), NULL);
    ldtap_db_prepared_remember(statement_key(statement), mysql, query, length);
    struct ldtap_db_span span;
    begin(&span, mysql, query, length);
    int status = LDTAP_DB_REAL(mysql_stmt_prepare)(statement, query, length);
    if (status != 0)
        statement_failed(&span, statement);
    ldtap_db_span_end(&span, schema_of(mysql));
    ldtap_db_leave();
    return status;
}

LDTAP_EXPORT int mysql_stmt_execute(MYSQL_STMT *statement) {
    if (statement == NULL || !ldtap_db_enter(LDTAP_LIBRARY_MYSQL))
        return LDTAP_DB_REAL(mysql_stmt_execute)(statement);
    MYSQL *mysql = (MYSQL *)ldtap_db_prepared_recall(statement_key(statement), NULL);
    struct ldtap_db_span span;
    begin(&span, mysql, NULL, 0);
    ldtap_db_prepared_recall(statement_key(statement), &span);
    int status = LDTAP_DB_REAL(mysql_stmt_execute)(statement);
    if (status != 0)
        statement_failed(&span, statement);
    else if (LDTAP_DB_REAL(mysql_stmt_field_count)(statement) == 0)
        span.record.rows = (int64_t)LDTAP_DB_REAL(mysql_stmt_affected_rows)(statement);
    ldtap_db_span_end(&span, schema_of(mysql));
    ldtap_db_leave();
    return status;
}

LDTAP_EXPORT char mysql_stmt_close(MYSQL_STMT *statement) {
    if (statement != NULL && ldtap_db_enter(LDTAP_LIBRARY_MYSQL)) {
        ldtap_db_prepared_forget(statement_key(statement));
        ldtap_db_leave();
    }
    return LDTAP_DB_REAL(mysql_stmt_close)(statement);
}
