/* The one list of database client library functions: the hooks libldtap.so exports
 * (checked against shim/libldtap.map by tests/e2e/shim_basics.sh) and the helpers it only
 * calls, per library. Drives the late-resolved originals table (late_symbols.c). */
#ifndef LDTAP_DB_LIST_H
#define LDTAP_DB_LIST_H

#include <stdint.h>

/* The libraries' handles stay opaque: the shim builds without their headers. */
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef int (*ldtap_sqlite3_callback)(void *, int, char **, char **);
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef struct st_mysql MYSQL;
typedef struct st_mysql_res MYSQL_RES;
typedef struct st_mysql_stmt MYSQL_STMT;

/* X(return type, name, parameters, arguments). Hooks are exported and interpose the
 * library's definition; helpers are looked up only, to read results and handles. */
#define LDTAP_SQLITE_HOOKS(X)                                                                        \
    X(int, sqlite3_prepare_v2,                                                                       \
      (sqlite3 * db, const char *sql, int bytes, sqlite3_stmt **statement, const char **tail),       \
      (db, sql, bytes, statement, tail))                                                             \
    X(int, sqlite3_prepare_v3,                                                                       \
      (sqlite3 * db, const char *sql, int bytes, unsigned flags, sqlite3_stmt **statement,           \
       const char **tail),                                                                           \
      (db, sql, bytes, flags, statement, tail))                                                      \
    X(int, sqlite3_step, (sqlite3_stmt * statement), (statement))                                    \
    X(int, sqlite3_reset, (sqlite3_stmt * statement), (statement))                                   \
    X(int, sqlite3_finalize, (sqlite3_stmt * statement), (statement))                                \
    X(int, sqlite3_exec,                                                                             \
      (sqlite3 * db, const char *sql, ldtap_sqlite3_callback callback, void *argument,               \
       char **error_message),                                                                        \
      (db, sql, callback, argument, error_message))
#define LDTAP_SQLITE_HELPERS(X)                                                                      \
    X(const char *, sqlite3_sql, (sqlite3_stmt * statement), (statement))                            \
    X(sqlite3 *, sqlite3_db_handle, (sqlite3_stmt * statement), (statement))                         \
    X(const char *, sqlite3_db_filename, (sqlite3 * db, const char *name), (db, name))               \
    X(int, sqlite3_column_count, (sqlite3_stmt * statement), (statement))                            \
    X(int, sqlite3_total_changes, (sqlite3 * db), (db))

#define LDTAP_LIBPQ_HOOKS(X)                                                                         \
    X(PGresult *, PQexec, (PGconn * conn, const char *query), (conn, query))                         \
    X(PGresult *, PQexecParams,                                                                      \
      (PGconn * conn, const char *command, int count, const unsigned *types,                         \
       const char *const *values, const int *lengths, const int *formats, int result_format),        \
      (conn, command, count, types, values, lengths, formats, result_format))                        \
    X(PGresult *, PQprepare,                                                                         \
      (PGconn * conn, const char *name, const char *query, int count, const unsigned *types),        \
      (conn, name, query, count, types))                                                             \
    X(PGresult *, PQexecPrepared,                                                                    \
      (PGconn * conn, const char *name, int count, const char *const *values, const int *lengths,    \
       const int *formats, int result_format),                                                       \
      (conn, name, count, values, lengths, formats, result_format))                                  \
    X(int, PQsendQuery, (PGconn * conn, const char *query), (conn, query))                           \
    X(int, PQsendQueryParams,                                                                        \
      (PGconn * conn, const char *command, int count, const unsigned *types,                         \
       const char *const *values, const int *lengths, const int *formats, int result_format),        \
      (conn, command, count, types, values, lengths, formats, result_format))                        \
    X(int, PQsendPrepare,                                                                            \
      (PGconn * conn, const char *name, const char *query, int count, const unsigned *types),        \
      (conn, name, query, count, types))                                                             \
    X(int, PQsendQueryPrepared,                                                                      \
      (PGconn * conn, const char *name, int count, const char *const *values, const int *lengths,    \
       const int *formats, int result_format),                                                       \
      (conn, name, count, values, lengths, formats, result_format))                                  \
    X(PGresult *, PQgetResult, (PGconn * conn), (conn))
#define LDTAP_LIBPQ_HELPERS(X)                                                                       \
    X(int, PQresultStatus, (const PGresult *result), (result))                                       \
    X(char *, PQresultErrorField, (const PGresult *result, int field), (result, field))              \
    X(int, PQntuples, (const PGresult *result), (result))                                            \
    X(char *, PQcmdTuples, (PGresult * result), (result))                                            \
    X(char *, PQdb, (const PGconn *conn), (conn))                                                    \
    X(int, PQsocket, (const PGconn *conn), (conn))

#define LDTAP_MYSQL_HOOKS(X)                                                                         \
    X(int, mysql_real_query, (MYSQL * mysql, const char *query, unsigned long length),               \
      (mysql, query, length))                                                                        \
    X(int, mysql_query, (MYSQL * mysql, const char *query), (mysql, query))                          \
    X(int, mysql_send_query, (MYSQL * mysql, const char *query, unsigned long length),               \
      (mysql, query, length))                                                                        \
    X(int, mysql_read_query_result, (MYSQL * mysql), (mysql))                                        \
    X(MYSQL_RES *, mysql_store_result, (MYSQL * mysql), (mysql))                                     \
    X(MYSQL_RES *, mysql_use_result, (MYSQL * mysql), (mysql))                                       \
    X(MYSQL_STMT *, mysql_stmt_init, (MYSQL * mysql), (mysql))                                       \
    X(int, mysql_stmt_prepare, (MYSQL_STMT * statement, const char *query, unsigned long length),    \
      (statement, query, length))                                                                    \
    X(int, mysql_stmt_execute, (MYSQL_STMT * statement), (statement))                                \
    X(char, mysql_stmt_close, (MYSQL_STMT * statement), (statement))
#define LDTAP_MYSQL_HELPERS(X)                                                                       \
    X(unsigned, mysql_errno, (MYSQL * mysql), (mysql))                                               \
    X(const char *, mysql_sqlstate, (MYSQL * mysql), (mysql))                                        \
    X(unsigned, mysql_field_count, (MYSQL * mysql), (mysql))                                         \
    X(uint64_t, mysql_affected_rows, (MYSQL * mysql), (mysql))                                       \
    X(uint64_t, mysql_num_rows, (MYSQL_RES * result), (result))                                      \
    X(const char *, mysql_get_server_info, (MYSQL * mysql), (mysql))                                 \
    X(int, mysql_get_socket, (MYSQL * mysql), (mysql))                                               \
    X(unsigned, mysql_stmt_errno, (MYSQL_STMT * statement), (statement))                             \
    X(const char *, mysql_stmt_sqlstate, (MYSQL_STMT * statement), (statement))                      \
    X(unsigned, mysql_stmt_field_count, (MYSQL_STMT * statement), (statement))                       \
    X(uint64_t, mysql_stmt_affected_rows, (MYSQL_STMT * statement), (statement))

/* Each library is resolved as a unit, the first time one of its hooks runs. */
enum ldtap_db_library { LDTAP_LIBRARY_SQLITE, LDTAP_LIBRARY_LIBPQ, LDTAP_LIBRARY_MYSQL, LDTAP_LIBRARY_COUNT };

/* X(library, list) for the exported lists only. */
#define LDTAP_DB_HOOK_LISTS(X)                                                                       \
    X(LDTAP_LIBRARY_SQLITE, LDTAP_SQLITE_HOOKS)                                                      \
    X(LDTAP_LIBRARY_LIBPQ, LDTAP_LIBPQ_HOOKS)                                                        \
    X(LDTAP_LIBRARY_MYSQL, LDTAP_MYSQL_HOOKS)

/* X(library, list) for every list, hooks then helpers: consumers pick columns. */
#define LDTAP_DB_LISTS(X)                                                                            \
    X(LDTAP_LIBRARY_SQLITE, LDTAP_SQLITE_HOOKS)                                                      \
    X(LDTAP_LIBRARY_SQLITE, LDTAP_SQLITE_HELPERS)                                                    \
    X(LDTAP_LIBRARY_LIBPQ, LDTAP_LIBPQ_HOOKS)                                                        \
    X(LDTAP_LIBRARY_LIBPQ, LDTAP_LIBPQ_HELPERS)                                                      \
    X(LDTAP_LIBRARY_MYSQL, LDTAP_MYSQL_HOOKS)                                                        \
    X(LDTAP_LIBRARY_MYSQL, LDTAP_MYSQL_HELPERS)

#endif
