/* Tests of collector/sql_sanitize.c: a table of statements per dialect with their
 * sanitised text, operation and collection, then hostile and truncated input. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sql_sanitize.h"

#define PG LDTAP_SQL_DIALECT_POSTGRESQL
#define MY LDTAP_SQL_DIALECT_MYSQL
#define LITE LDTAP_SQL_DIALECT_SQLITE

struct sanitize_case {
    enum ldtap_sql_dialect dialect;
    const char *input;
    const char *text;
    const char *operation;
    const char *collection;
};

static const struct sanitize_case CASES[] = {
    /* literals */
    {PG, "SELECT * FROM users WHERE id = 42", "SELECT * FROM users WHERE id = ?", "SELECT", "users"},
    {PG, "SELECT * FROM t WHERE name = 'O''Brien'", "SELECT * FROM t WHERE name = ?", "SELECT", "t"},
    {PG, "SELECT * FROM t WHERE p = 'a\\' OR 1=1", "SELECT * FROM t WHERE p = ? OR ? = ?", "SELECT", "t"},
    {MY, "SELECT * FROM t WHERE p = 'it\\'s' AND q = 1", "SELECT * FROM t WHERE p = ? AND q = ?", "SELECT",
     "t"},
    {PG, "SELECT E'tab\\tand \\' quote' FROM t", "SELECT ? FROM t", "SELECT", "t"},
    {PG, "SELECT e'x' , X'DEADBEEF', B'0101', N'nat', U&'d\\0061t'", "SELECT ?, ?, ?, ?, ?", "SELECT", ""},
    {PG, "SELECT $$it's a secret$$", "SELECT ?", "SELECT", ""},
    {PG, "SELECT $body$ $$ nested $x$ $body$ FROM f", "SELECT ? FROM f", "SELECT", "f"},
    {PG, "SELECT 1.5, .5, 1e10, 2.5E-3, 6e+2", "SELECT ?, ?, ?, ?, ?", "SELECT", ""},
    {PG, "SELECT * FROM t WHERE a = -5 AND b = +3", "SELECT * FROM t WHERE a = ? AND b = ?", "SELECT", "t"},
    {PG, "SELECT a-1, a - 1, (-2) FROM t", "SELECT a - ?, a - ?, (?) FROM t", "SELECT", "t"},
    {PG, "SELECT * FROM t WHERE x=-1", "SELECT * FROM t WHERE x = ?", "SELECT", "t"},
    {PG, "SELECT * FROM t LIMIT -1 OFFSET 10", "SELECT * FROM t LIMIT ? OFFSET ?", "SELECT", "t"},
    {MY, "SELECT 0x1F, X'ab', x'CD' FROM t", "SELECT ?, ?, ? FROM t", "SELECT", "t"},
    {PG, "SELECT * FROM t WHERE flag = TRUE AND gone IS NULL AND x = FALSE",
     "SELECT * FROM t WHERE flag = TRUE AND gone IS NULL AND x = FALSE", "SELECT", "t"},
    {MY, "SELECT * FROM t WHERE name = \"bob\"", "SELECT * FROM t WHERE name = ?", "SELECT", "t"},
    {PG, "SELECT x::int, j->>'key' FROM t", "SELECT x::int, j ->> ? FROM t", "SELECT", "t"},
    {PG, "SELECT now() - interval '1 day'", "SELECT now() - interval ?", "SELECT", ""},
    /* identifiers and placeholders stay */
    {PG, "SELECT \"Name\" FROM \"Users\" WHERE \"id\" = $1",
     "SELECT \"Name\" FROM \"Users\" WHERE \"id\" = $1", "SELECT", "Users"},
    {MY, "SELECT `x` FROM `db`.`orders` WHERE h = ?", "SELECT `x` FROM `db`.`orders` WHERE h = ?", "SELECT",
     "db.orders"},
    {LITE, "SELECT * FROM t WHERE a = ?1 AND b = :name AND c = @p AND d = $v",
     "SELECT * FROM t WHERE a = ?1 AND b = :name AND c = @p AND d = $v", "SELECT", "t"},
    {PG, "UPDATE t SET a = %s, b = %(bee)s WHERE c = %s", "UPDATE t SET a = %s, b = %(bee)s WHERE c = %s",
     "UPDATE", "t"},
    {PG, "SELECT * FROM t WHERE a % 2 = 0", "SELECT * FROM t WHERE a % ? = ?", "SELECT", "t"},
    {PG, "SELECT t1.c2 FROM t1", "SELECT t1.c2 FROM t1", "SELECT", "t1"},
    {PG, "SELECT * FROM \"we\"\"ird\"", "SELECT * FROM \"we\"\"ird\"", "SELECT", "we\"ird"},
    /* comments */
    {PG, "SELECT 1 -- password='hunter2'\nFROM t", "SELECT ? FROM t", "SELECT", "t"},
    {PG, "/* user: alice */ SELECT * FROM t", "SELECT * FROM t", "SELECT", "t"},
    {PG, "SELECT /* a /* nested */ still comment */ 1", "SELECT ?", "SELECT", ""},
    {MY, "SELECT 1 # secret\nFROM t", "SELECT ? FROM t", "SELECT", "t"},
    {PG, "SELECT a # b FROM t", "SELECT a # b FROM t", "SELECT", "t"},
    {MY, "SELECT /*! STRAIGHT_JOIN */ a FROM t", "SELECT a FROM t", "SELECT", "t"},
    /* whitespace */
    {PG, "  SELECT\n\t*\r\n  FROM   t  WHERE a=1  ", "SELECT * FROM t WHERE a = ?", "SELECT", "t"},
    {PG, "SELECT count(*), max( a ) FROM t", "SELECT count(*), max(a) FROM t", "SELECT", "t"},
    {PG, "SELECT a , b ; ", "SELECT a, b;", "SELECT", ""},
    /* collapses */
    {PG, "SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (?)", "SELECT", "t"},
    {LITE, "SELECT * FROM t WHERE id IN (?, ?, ?, ?)", "SELECT * FROM t WHERE id IN (?)", "SELECT", "t"},
    {PG, "SELECT * FROM t WHERE id in ('a','b')", "SELECT * FROM t WHERE id in (?)", "SELECT", "t"},
    {PG, "SELECT * FROM t WHERE id IN ($1, $2)", "SELECT * FROM t WHERE id IN ($1, $2)", "SELECT", "t"},
    {PG, "SELECT * FROM t WHERE id IN (SELECT x FROM t WHERE y IN (1,2))",
     "SELECT * FROM t WHERE id IN (SELECT x FROM t WHERE y IN (?))", "SELECT", "t"},
    {PG, "SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4))",
     "SELECT * FROM t WHERE (a, b) IN ((?, ?), (?, ?))", "SELECT", "t"},
    {PG, "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", "INSERT INTO t (a, b) VALUES (?, ?)",
     "INSERT", "t"},
    {LITE, "INSERT INTO t(a,b) VALUES(?,?),(?,?)", "INSERT INTO t(a, b) VALUES(?, ?)", "INSERT", "t"},
    {PG, "INSERT INTO t VALUES (1, now()), (2, now())", "INSERT INTO t VALUES (?, now()), (?, now())",
     "INSERT", "t"},
    {PG, "INSERT INTO t VALUES (1), (2) ON CONFLICT (id) DO UPDATE SET n = 3",
     "INSERT INTO t VALUES (?) ON CONFLICT (id) DO UPDATE SET n = ?", "INSERT", "t"},
    {PG, "INSERT INTO t VALUES ($1, $2), ($3, $4)", "INSERT INTO t VALUES ($1, $2), ($3, $4)", "INSERT", "t"},
    /* operations and collections */
    {PG, "insert into public.orders (id) values (1)", "insert into public.orders (id) values (?)", "INSERT",
     "public.orders"},
    {PG, "UPDATE accounts SET balance = balance - 10 WHERE id = 7",
     "UPDATE accounts SET balance = balance - ? WHERE id = ?", "UPDATE", "accounts"},
    {PG, "DELETE FROM sessions WHERE expires < now()", "DELETE FROM sessions WHERE expires < now()", "DELETE",
     "sessions"},
    {PG, "SELECT * FROM a JOIN b ON a.id = b.id", "SELECT * FROM a JOIN b ON a.id = b.id", "SELECT", ""},
    {PG, "SELECT * FROM a, b WHERE a.x = b.y", "SELECT * FROM a, b WHERE a.x = b.y", "SELECT", ""},
    {PG, "SELECT * FROM a AS x, a AS y", "SELECT * FROM a AS x, a AS y", "SELECT", "a"},
    {PG, "SELECT * FROM (SELECT * FROM t) s", "SELECT * FROM (SELECT * FROM t) s", "SELECT", ""},
    {PG, "SELECT EXTRACT(YEAR FROM ts) FROM events", "SELECT EXTRACT(YEAR FROM ts) FROM events", "SELECT",
     "events"},
    {PG, "INSERT INTO archive SELECT * FROM orders", "INSERT INTO archive SELECT * FROM orders", "INSERT",
     ""},
    {PG, "WITH recent AS (SELECT * FROM orders) SELECT * FROM recent",
     "WITH recent AS (SELECT * FROM orders) SELECT * FROM recent", "SELECT", ""},
    {PG, "WITH d AS (DELETE FROM t RETURNING *) INSERT INTO u SELECT * FROM d",
     "WITH d AS (DELETE FROM t RETURNING *) INSERT INTO u SELECT * FROM d", "INSERT", ""},
    {PG, "CREATE TABLE IF NOT EXISTS shop_item (id serial)",
     "CREATE TABLE IF NOT EXISTS shop_item (id serial)", "CREATE", "shop_item"},
    {PG, "DROP TABLE IF EXISTS x.y", "DROP TABLE IF EXISTS x.y", "DROP", "x.y"},
    {PG, "TRUNCATE orders", "TRUNCATE orders", "TRUNCATE", "orders"},
    {PG, "SELECT * FROM ONLY parent", "SELECT * FROM ONLY parent", "SELECT", "parent"},
    {PG, "SELECT * FROM t FOR UPDATE", "SELECT * FROM t FOR UPDATE", "SELECT", "t"},
    {PG, "begin", "begin", "BEGIN", ""},
    {PG, "COMMIT", "COMMIT", "COMMIT", ""},
    {LITE, "PRAGMA foreign_keys = ON", "PRAGMA foreign_keys = ON", "PRAGMA", ""},
    {LITE, "SAVEPOINT \"s1\"", "SAVEPOINT \"s1\"", "SAVEPOINT", ""},
    {PG, "SELECT 1; SELECT 2", "SELECT ?; SELECT ?", "", ""},
    {PG, "frobnicate the table", "frobnicate the table", "", ""},
    {PG, "(SELECT 1)", "(SELECT ?)", "", ""},
    {PG, "", "", "", ""},
    {PG, "   -- only a comment", "", "", ""},
    /* unterminated constructs at the end */
    {PG, "SELECT * FROM t WHERE a = 'never closed", "SELECT * FROM t WHERE a = ?", "SELECT", "t"},
    {PG, "SELECT $$ open dollar", "SELECT ?", "SELECT", ""},
    {PG, "SELECT 1 /* open comment 'x'", "SELECT ?", "SELECT", ""},
    {MY, "SELECT 'ends in backslash\\", "SELECT ?", "SELECT", ""},
    {PG, "SELECT \"open name", "SELECT \"open name", "SELECT", ""},
};

Test(sql_sanitize, table_of_statements) {
    cr_assert_geq(sizeof CASES / sizeof CASES[0], 50);
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const struct sanitize_case *c = &CASES[i];
        char out[1024];
        struct ldtap_sql_result result;
        ldtap_sql_sanitize(c->input, strlen(c->input), c->dialect, false, out, sizeof out, &result);
        cr_expect_str_eq(out, c->text, "case %zu: %s", i, c->input);
        cr_expect_eq(result.length, strlen(out), "case %zu", i);
        cr_expect_str_eq(result.operation, c->operation, "case %zu operation: %s", i, c->input);
        cr_expect_str_eq(result.collection, c->collection, "case %zu collection: %s", i, c->input);
        cr_expect(!result.output_full, "case %zu", i);
    }
}

static void sanitize(const char *input, size_t length, bool truncated, char *out, size_t capacity,
                     struct ldtap_sql_result *result) {
    ldtap_sql_sanitize(input, length, PG, truncated, out, capacity, result);
}

Test(sql_sanitize, truncated_input_keeps_only_safe_collections) {
    char out[256];
    struct ldtap_sql_result result;
    const char *cut_name = "SELECT * FROM use";
    sanitize(cut_name, strlen(cut_name), true, out, sizeof out, &result);
    cr_expect_str_eq(out, "SELECT * FROM use");
    cr_expect_str_eq(result.collection, "");
    const char *select = "SELECT * FROM users WHERE id IN (1, 2";
    sanitize(select, strlen(select), true, out, sizeof out, &result);
    cr_expect_str_eq(out, "SELECT * FROM users WHERE id IN (?, ?", "an open list is left as it is");
    cr_expect_str_eq(result.collection, "", "a JOIN may follow the cut");
    const char *insert = "INSERT INTO orders (a, b) VALUES (1, 'abc";
    sanitize(insert, strlen(insert), true, out, sizeof out, &result);
    cr_expect_str_eq(out, "INSERT INTO orders (a, b) VALUES (?, ?");
    cr_expect_str_eq(result.operation, "INSERT");
    cr_expect_str_eq(result.collection, "orders");
}

Test(sql_sanitize, small_output_is_cut_between_tokens) {
    char out[16];
    struct ldtap_sql_result result;
    const char *input = "SELECT name FROM customers WHERE id = 1";
    sanitize(input, strlen(input), false, out, sizeof out, &result);
    cr_expect(result.output_full);
    cr_expect_str_eq(out, "SELECT name");
    cr_expect_str_eq(result.operation, "SELECT", "the whole input is still read");
    cr_expect_str_eq(result.collection, "customers");
    char one[1];
    sanitize(input, strlen(input), false, one, sizeof one, &result);
    cr_expect_str_eq(one, "");
}

Test(sql_sanitize, hostile_bytes_never_leak_literals) {
    static const char input[] = "SELECT\0'sec\0ret'\x01\xff\xfe FROM t\x7f WHERE a = 'x\0y' -- \0";
    char out[256];
    struct ldtap_sql_result result;
    sanitize(input, sizeof input - 1, false, out, sizeof out, &result);
    cr_expect_null(memmem(out, result.length, "sec", 3));
    cr_expect_null(memmem(out, result.length, "ret", 3));
    cr_expect_str_eq(result.operation, "SELECT");
}

Test(sql_sanitize, null_input_is_empty) {
    char out[8] = "junk";
    struct ldtap_sql_result result;
    sanitize(NULL, 100, false, out, sizeof out, &result);
    cr_expect_str_eq(out, "");
    cr_expect_str_eq(result.operation, "");
}

Test(sql_sanitize, huge_input_is_linear_and_bounded) {
    size_t length = 4u << 20;
    char *input = malloc(length);
    cr_assert_not_null(input);
    const char *piece = "SELECT 'a''b', 12.5e3, $tag$ x $tag$ /* c */ FROM t WHERE x IN (1, 2) -- d\n";
    size_t piece_length = strlen(piece);
    for (size_t at = 0; at < length; at += piece_length) {
        memcpy(input + at, piece, at + piece_length <= length ? piece_length : length - at);
    }
    char out[4096];
    struct ldtap_sql_result result;
    sanitize(input, length, true, out, sizeof out, &result);
    cr_expect(result.output_full);
    cr_expect_lt(result.length, sizeof out);
    cr_expect_null(memmem(out, result.length, "12.5", 4));
    cr_expect_str_eq(result.operation, "SELECT", "without ';' the pieces read as one statement");
    /* A long run of quotes, dollars and comment openers must not go quadratic. */
    memset(input, '$', length);
    sanitize(input, length, false, out, sizeof out, &result);
    memset(input, '\'', length);
    sanitize(input, length, false, out, sizeof out, &result);
    cr_expect_str_eq(out, "?", "an even run of quotes is one literal with doubled quotes");
    free(input);
}

Test(sql_sanitize, deep_parentheses) {
    char input[512];
    size_t length = 0;
    for (int i = 0; i < 100; i++) {
        input[length++] = '(';
    }
    memcpy(input + length, "1, 2", 4);
    length += 4;
    for (int i = 0; i < 100; i++) {
        input[length++] = ')';
    }
    char out[1024];
    struct ldtap_sql_result result;
    sanitize(input, length, false, out, sizeof out, &result);
    cr_expect_null(memchr(out, '1', result.length));
    cr_expect_eq(out[0], '(');
}
