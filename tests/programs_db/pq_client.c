/* libpq client for tests/e2e/db_hooks.sh: synchronous, parameterised, prepared and
 * asynchronous commands, a syntax error and a unique violation, each checked here.
 * Usage: pq_client CONNINFO (exit status 0 when libpq behaved as without the shim). */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

static int failures;

static void expect(int condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "pq_client: %s\n", what);
        failures++;
    }
}

/* Runs `sql` with PQexec and checks the status and, for errors, the SQLSTATE. */
static void run(PGconn *conn, const char *sql, ExecStatusType status, const char *sqlstate) {
    PGresult *result = PQexec(conn, sql);
    expect(PQresultStatus(result) == status, sql);
    if (sqlstate != NULL)
        expect(strcmp(PQresultErrorField(result, PG_DIAG_SQLSTATE), sqlstate) == 0, "sqlstate");
    PQclear(result);
}

int main(int argc, char **argv) {
    PGconn *conn = PQconnectdb(argc > 1 ? argv[1] : "");
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "pq_client: %s", PQerrorMessage(conn));
        return 2;
    }
    run(conn, "DROP TABLE IF EXISTS items", PGRES_COMMAND_OK, NULL);
    run(conn, "CREATE TABLE items (id integer PRIMARY KEY, name text)", PGRES_COMMAND_OK, NULL);

    const char *values[2] = {"1", "one"};
    PGresult *result = PQexecParams(conn, "INSERT INTO items VALUES ($1, $2)", 2, NULL, values, NULL, NULL, 0);
    expect(PQresultStatus(result) == PGRES_COMMAND_OK, "insert with parameters");
    PQclear(result);

    result = PQprepare(conn, "add_item", "INSERT INTO items VALUES ($1, $2)", 2, NULL);
    expect(PQresultStatus(result) == PGRES_COMMAND_OK, "prepare");
    PQclear(result);
    const char *more[2] = {"2", "two"};
    result = PQexecPrepared(conn, "add_item", 2, more, NULL, NULL, 0);
    expect(PQresultStatus(result) == PGRES_COMMAND_OK, "execute prepared");
    PQclear(result);

    /* Asynchronous: one command, its results, then the final NULL. */
    expect(PQsendQuery(conn, "SELECT id, name FROM items ORDER BY id") == 1, "send query");
    int results = 0;
    while ((result = PQgetResult(conn)) != NULL) {
        expect(PQntuples(result) == 2, "two rows");
        results++;
        PQclear(result);
    }
    expect(results == 1, "one result");
    const char *three[2] = {"3", "three"};
    expect(PQsendQueryPrepared(conn, "add_item", 2, three, NULL, NULL, 0) == 1, "send prepared");
    while ((result = PQgetResult(conn)) != NULL)
        PQclear(result);

    run(conn, "SELEC 1", PGRES_FATAL_ERROR, "42601");
    run(conn, "INSERT INTO items VALUES (1, 'again')", PGRES_FATAL_ERROR, "23505");
    run(conn, "UPDATE items SET name = upper(name)", PGRES_COMMAND_OK, NULL);
    PQfinish(conn);
    return failures != 0;
}
