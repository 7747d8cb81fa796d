/* libsqlite3 client for tests/e2e/db_hooks.sh: prepared statements stepped to the end,
 * abandoned part-way (reset, finalize), sqlite3_exec with a callback, a failed prepare.
 * Prints each call's result and errno so a run with the shim can be compared with one without.
 * Usage: sqlite_client DATABASE_FILE */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>

static int print_row(void *context, int columns, char **values, char **names) {
    (void)context;
    (void)names;
    printf("row %s\n", columns > 0 && values[0] != NULL ? values[0] : "NULL");
    return 0;
}

/* Steps `sql` `steps` times (0: to the end), then finalizes it. */
static void run(sqlite3 *db, const char *sql, int steps) {
    sqlite3_stmt *statement = NULL;
    errno = 77;
    int result = sqlite3_prepare_v2(db, sql, -1, &statement, NULL);
    printf("prepare %d errno=%d\n", result, errno);
    for (int i = 0; statement != NULL && (steps == 0 || i < steps); i++) {
        errno = 78;
        result = sqlite3_step(statement);
        printf("step %d errno=%d\n", result, errno);
        if (result != SQLITE_ROW)
            break;
    }
    if (statement != NULL && steps != 0) {
        errno = 79;
        printf("reset %d errno=%d\n", sqlite3_reset(statement), errno);
    }
    errno = 80;
    printf("finalize %d errno=%d\n", sqlite3_finalize(statement), errno);
}

int main(int argc, char **argv) {
    sqlite3 *db = NULL;
    if (argc < 2 || sqlite3_open(argv[1], &db) != SQLITE_OK)
        return 2;
    run(db, "DROP TABLE IF EXISTS items", 0);
    run(db, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE)", 0);
    run(db, "INSERT INTO items (name) VALUES ('a'), ('b'), ('c')", 0);
    run(db, "SELECT id FROM items ORDER BY id", 0);       /* 3 rows, to SQLITE_DONE */
    run(db, "SELECT name FROM items ORDER BY id", 2);     /* 2 rows, then reset */
    run(db, "INSERT INTO items (name) VALUES ('a')", 0);  /* constraint violation: 19 */
    run(db, "SELEC 1", 0);                                /* fails to prepare: 1 */
    errno = 81;
    int result = sqlite3_exec(db, "SELECT id FROM items WHERE id > 1", print_row, NULL, NULL);
    printf("exec %d errno=%d\n", result, errno);
    printf("close %d\n", sqlite3_close(db));
    return 0;
}
