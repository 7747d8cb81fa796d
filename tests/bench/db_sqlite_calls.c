/* Benchmark for callgrind (scripts/bench_db.sh): N executions of one prepared statement on
 * an in-memory SQLite database (bind, step to SQLITE_DONE, reset): each execution is one
 * database span under ldtap. Usage: db_sqlite_calls N */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s N\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[1], NULL, 10);
    sqlite3 *db;
    sqlite3_stmt *statement;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT ?1 + 1", -1, &statement, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    long sum = 0;
    for (long i = 0; i < n; i++) {
        sqlite3_bind_int64(statement, 1, i);
        while (sqlite3_step(statement) == SQLITE_ROW) {
            sum += sqlite3_column_int64(statement, 0);
        }
        sqlite3_reset(statement);
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    printf("%ld\n", sum); /* keeps the loop from being optimised away */
    return 0;
}
