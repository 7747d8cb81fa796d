/* Benchmark for callgrind (scripts/bench_db.sh): N PQexec("SELECT 1") round trips on one
 * libpq connection: each is one database span under ldtap. Callgrind counts this client's
 * instructions only, not the server's. Usage: db_pq_calls N CONNINFO */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s N CONNINFO\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[1], NULL, 10);
    PGconn *connection = PQconnectdb(argv[2]);
    if (PQstatus(connection) != CONNECTION_OK) {
        fprintf(stderr, "libpq: %s", PQerrorMessage(connection));
        return 1;
    }
    for (long i = 0; i < n; i++) {
        PGresult *result = PQexec(connection, "SELECT 1");
        if (PQresultStatus(result) != PGRES_TUPLES_OK) {
            fprintf(stderr, "libpq: %s", PQerrorMessage(connection));
            return 1;
        }
        PQclear(result);
    }
    PQfinish(connection);
    return 0;
}
