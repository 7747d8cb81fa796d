/* MariaDB client for tests/e2e/db_hooks.sh: plain queries with and without a result set,
 * a prepared statement, a syntax error and a duplicate key, each checked here.
 * Usage: mysql_client PORT DATABASE (exit status 0 when the library behaved normally). */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void expect(int condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "mysql_client: %s\n", what);
        failures++;
    }
}

int main(int argc, char **argv) {
    MYSQL *mysql = mysql_init(NULL);
    if (argc < 3 || mysql_real_connect(mysql, "127.0.0.1", "root", NULL, argv[2], (unsigned)atoi(argv[1]),
                                       NULL, 0) == NULL) {
        fprintf(stderr, "mysql_client: %s\n", mysql_error(mysql));
        return 2;
    }
    expect(mysql_query(mysql, "DROP TABLE IF EXISTS items") == 0, "drop");
    expect(mysql_query(mysql, "CREATE TABLE items (id INT PRIMARY KEY, name TEXT)") == 0, "create");
    const char *insert = "INSERT INTO items VALUES (1, 'one'), (2, 'two')";
    expect(mysql_real_query(mysql, insert, strlen(insert)) == 0, "insert");
    expect(mysql_affected_rows(mysql) == 2, "two rows inserted");

    expect(mysql_query(mysql, "SELECT id, name FROM items ORDER BY id") == 0, "select");
    MYSQL_RES *result = mysql_store_result(mysql);
    expect(result != NULL && mysql_num_rows(result) == 2, "two rows stored");
    mysql_free_result(result);

    MYSQL_STMT *statement = mysql_stmt_init(mysql);
    const char *update = "UPDATE items SET name = ? WHERE id = ?";
    expect(mysql_stmt_prepare(statement, update, strlen(update)) == 0, "prepare");
    char name[] = "uno";
    int id = 1;
    unsigned long name_length = 3;
    MYSQL_BIND parameters[2];
    memset(parameters, 0, sizeof(parameters));
    parameters[0].buffer_type = MYSQL_TYPE_STRING;
    parameters[0].buffer = name;
    parameters[0].length = &name_length;
    parameters[1].buffer_type = MYSQL_TYPE_LONG;
    parameters[1].buffer = &id;
    expect(mysql_stmt_bind_param(statement, parameters) == 0, "bind");
    expect(mysql_stmt_execute(statement) == 0, "execute");
    expect(mysql_stmt_affected_rows(statement) == 1, "one row updated");
    mysql_stmt_close(statement);

    expect(mysql_query(mysql, "SELEC 1") != 0 && mysql_errno(mysql) == 1064, "syntax error 1064");
    expect(mysql_query(mysql, "INSERT INTO items VALUES (1, 'again')") != 0 && mysql_errno(mysql) == 1062,
           "duplicate key 1062");
    mysql_close(mysql);
    return failures != 0;
}
