/* Tests of collector/decode_db.c: database span records of every system to OpenTelemetry
 * spans (names, attributes, errors, truncation, slow marks) and rejection of invalid ones. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>

#include "decode_db.h"
#include "ldtap_ring_abi.h"
#include "record_fixture.h"

static struct ldtap_span span;
static struct ldtap_db_statement statement;
static uint8_t
    payload[sizeof(struct ldtap_db_span_record) + LDTAP_DB_STATEMENT_MAX + LDTAP_DB_NAMESPACE_MAX + 64];
static struct ldtap_db_decode_options options = {.slow_query_ms = 500};

static void setup(void) {
    memset(&span, 0, sizeof span);
    options = (struct ldtap_db_decode_options){.slow_query_ms = 500};
}

TestSuite(decode_db, .init = setup);

/* A PostgreSQL client span from 192.0.2.9:5432, 20 ms long, child of span c0..c7. */
static struct ldtap_db_span_record base_record(uint16_t system) {
    struct ldtap_db_span_record record;
    memset(&record, 0, sizeof record);
    fixture_span_common(&record.span, LDTAP_SPAN_KIND_CLIENT, 20000000ull);
    record.system = system;
    record.source = LDTAP_DB_SOURCE_DRIVER;
    record.rows = -1;
    if (system != LDTAP_DB_SQLITE) {
        record.endpoints.family = AF_INET;
        inet_pton(AF_INET, "192.0.2.9", record.endpoints.peer_address);
        record.endpoints.peer_port = system == LDTAP_DB_REDIS ? 6379 : 5432;
    }
    return record;
}

static uint32_t build(struct ldtap_db_span_record record, const char *text, const char *namespace_text) {
    size_t text_length = strlen(text), namespace_length = namespace_text ? strlen(namespace_text) : 0;
    record.statement_length = (uint16_t)text_length;
    if (record.statement_full_length < text_length) {
        record.statement_full_length = (uint32_t)text_length;
    }
    record.namespace_length = (uint16_t)namespace_length;
    memset(payload, 0, sizeof payload);
    memcpy(payload, &record, sizeof record);
    memcpy(payload + sizeof record, text, text_length);
    memcpy(payload + sizeof record + text_length, namespace_text ? namespace_text : "", namespace_length);
    return (uint32_t)(sizeof record + text_length + namespace_length);
}

static bool decode(struct ldtap_db_span_record record, const char *text, const char *namespace_text) {
    uint32_t length = build(record, text, namespace_text);
    memset(&span, 0, sizeof span);
    return ldtap_decode_db_span(payload, length, &options, &span, &statement);
}

static void expect_string(const char *key, const char *expected) {
    const struct ldtap_attribute *attribute = ldtap_span_find(&span, key);
    cr_assert_not_null(attribute, "missing %s", key);
    cr_assert_eq(attribute->type, LDTAP_VALUE_STRING, "%s is not a string", key);
    cr_expect_eq(attribute->string_length, strlen(expected), "%s: length %u", key, attribute->string_length);
    cr_expect_eq(memcmp(ldtap_span_string(&span, attribute), expected, strlen(expected)), 0, "%s: '%.*s'",
                 key, (int)attribute->string_length, ldtap_span_string(&span, attribute));
}

static void expect_int(const char *key, int64_t expected) {
    const struct ldtap_attribute *attribute = ldtap_span_find(&span, key);
    cr_assert_not_null(attribute, "missing %s", key);
    cr_assert_eq(attribute->type, LDTAP_VALUE_INT);
    cr_expect_eq(attribute->int_value, expected, "%s: %lld", key, (long long)attribute->int_value);
}

static void expect_absent(const char *key) {
    cr_expect_null(ldtap_span_find(&span, key), "unexpected %s", key);
}

Test(decode_db, postgresql_select) {
    struct ldtap_db_span_record record = base_record(LDTAP_DB_POSTGRESQL);
    record.rows = 3;
    cr_assert(decode(record, "SELECT * FROM shop_order WHERE id = 42", "shop"));
    cr_expect_str_eq(span.name, "SELECT shop_order");
    cr_expect_eq(span.kind, LDTAP_SPAN_KIND_CLIENT);
    cr_expect_eq(span.status_code, LDTAP_STATUS_UNSET);
    cr_expect_eq(span.trace_flags, 1);
    cr_expect_eq(span.parent_span_id[0], 0xc0);
    expect_string("db.system.name", "postgresql");
    expect_string("db.query.text", "SELECT * FROM shop_order WHERE id = ?");
    expect_string("db.operation.name", "SELECT");
    expect_string("db.collection.name", "shop_order");
    expect_string("db.namespace", "shop");
    expect_string("server.address", "192.0.2.9");
    expect_int("server.port", 5432);
    expect_string("network.peer.address", "192.0.2.9");
    expect_int("network.peer.port", 5432);
    expect_int("db.response.returned_rows", 3);
    expect_int("thread.id", 4242);
    expect_absent("error.type");
    expect_absent("ldtap.db.statement_truncated");
    expect_absent("ldtap.db.slow");
    cr_expect_str_eq(statement.text, "SELECT * FROM shop_order WHERE id = ?");
    cr_expect(!statement.slow);
}

Test(decode_db, sqlite_has_no_endpoints_and_path_namespace) {
    struct ldtap_db_span_record record = base_record(LDTAP_DB_SQLITE);
    record.rows = 1;
    cr_assert(decode(record, "INSERT INTO \"polls_question\" (\"text\") VALUES ('Hi?')", "/srv/db.sqlite3"));
    cr_expect_str_eq(span.name, "INSERT polls_question");
    expect_string("db.system.name", "sqlite");
    expect_string("db.query.text", "INSERT INTO \"polls_question\" (\"text\") VALUES (?)");
    expect_string("db.namespace", "/srv/db.sqlite3");
    expect_absent("server.address");
    expect_absent("network.peer.address");
    expect_absent("db.response.returned_rows"); /* affected, not returned */
}

Test(decode_db, mysql_and_mariadb_errors_use_the_numeric_code) {
    struct ldtap_db_span_record record = base_record(LDTAP_DB_MYSQL);
    record.flags = LDTAP_DB_FLAG_ERROR;
    record.error_code = 1146;
    cr_assert(decode(record, "SELECT * FROM missing WHERE a = \"x\"", "test"));
    cr_expect_eq(span.status_code, LDTAP_STATUS_ERROR);
    expect_string("db.system.name", "mysql");
    expect_string("db.query.text", "SELECT * FROM missing WHERE a = ?");
    expect_string("db.response.status_code", "1146");
    expect_string("error.type", "1146");
    record.system = LDTAP_DB_MARIADB;
    record.error_code = 0;
    cr_assert(decode(record, "SELECT 1", NULL));
    expect_string("db.system.name", "mariadb");
    expect_string("error.type", "_OTHER");
    expect_absent("db.response.status_code");
    expect_absent("db.namespace");
}

Test(decode_db, postgresql_error_with_sqlstate) {
    struct ldtap_db_span_record record = base_record(LDTAP_DB_POSTGRESQL);
    record.flags = LDTAP_DB_FLAG_ERROR;
    memcpy(record.status_code, "23505", 5);
    record.error_code = 7; /* the SQLSTATE wins */
    cr_assert(decode(record, "INSERT INTO users (email) VALUES ($1)", "app"));
    cr_expect_eq(span.status_code, LDTAP_STATUS_ERROR);
    expect_string("db.response.status_code", "23505");
    expect_string("error.type", "23505");
    cr_expect_str_eq(span.name, "INSERT users");
}

Test(decode_db, status_code_without_error_flag_is_not_an_error) {
    struct ldtap_db_span_record record = base_record(LDTAP_DB_POSTGRESQL);
    memcpy(record.status_code, "01000", 5); /* a warning */
    cr_assert(decode(record, "SELECT 1", NULL));
    cr_expect_eq(span.status_code, LDTAP_STATUS_UNSET);
    expect_string("db.response.status_code", "01000");
    expect_absent("error.type");
}

Test(decode_db, redis_command) {
    struct ldtap_db_span_record record = base_record(LDTAP_DB_REDIS);
    record.source = LDTAP_DB_SOURCE_WIRE;
    cr_assert(decode(record, "hset session:1 user alice token s3cret", "0"));
    cr_expect_str_eq(span.name, "HSET");
    expect_string("db.system.name", "redis");
    expect_string("db.operation.name", "HSET");
    expect_string("db.query.text", "HSET session:1 user ? token ?");
    expect_string("db.namespace", "0");
    expect_int("server.port", 6379);
    expect_absent("db.collection.name");
    cr_assert(decode(record, "CLIENT SETNAME worker-1", NULL));
    expect_string("db.operation.name", "CLIENT SETNAME");
    expect_string("db.query.text", "CLIENT SETNAME ?");
    record.flags = LDTAP_DB_FLAG_ERROR;
    memcpy(record.status_code, "WRONGTYP", 8); /* fills the field: no NUL */
    cr_assert(decode(record, "GET k", NULL));
    expect_string("error.type", "WRONGTYP");
}

Test(decode_db, raw_statements_opt_in) {
    options.raw_statements = true;
    cr_assert(decode(base_record(LDTAP_DB_POSTGRESQL), "SELECT * FROM t WHERE pw = 'x'", NULL));
    expect_string("db.query.text", "SELECT * FROM t WHERE pw = 'x'");
    cr_expect_str_eq(statement.text, "SELECT * FROM t WHERE pw = ?",
                     "the summary still groups sanitised text");
    expect_string("db.collection.name", "t");
}

Test(decode_db, truncated_statement_is_marked) {
    struct ldtap_db_span_record record = base_record(LDTAP_DB_POSTGRESQL);
    record.statement_full_length = 5000;
    cr_assert(decode(record, "SELECT * FROM users WHERE name = 'abc", NULL));
    expect_string("db.query.text", "SELECT * FROM users WHERE name = ?");
    const struct ldtap_attribute *truncated = ldtap_span_find(&span, "ldtap.db.statement_truncated");
    cr_assert_not_null(truncated);
    cr_expect(truncated->bool_value);
    expect_absent("db.collection.name"); /* a JOIN may have been cut off */
    cr_expect_str_eq(span.name, "SELECT");
}

Test(decode_db, long_statement_is_capped_and_marked) {
    char text[LDTAP_DB_STATEMENT_MAX + 1];
    memset(text, 'a', LDTAP_DB_STATEMENT_MAX);
    memcpy(text, "SELECT ", 7);
    for (size_t i = 7; i + 2 < LDTAP_DB_STATEMENT_MAX; i += 3) {
        memcpy(text + i, "a, ", 3);
    }
    text[LDTAP_DB_STATEMENT_MAX] = '\0';
    cr_assert(decode(base_record(LDTAP_DB_POSTGRESQL), text, NULL));
    const struct ldtap_attribute *query = ldtap_span_find(&span, "db.query.text");
    cr_assert_not_null(query);
    cr_expect_leq(query->string_length, LDTAP_DB_QUERY_TEXT_MAX_BYTES - 1);
    cr_expect_not_null(ldtap_span_find(&span, "ldtap.db.statement_truncated"));
}

Test(decode_db, slow_queries) {
    struct ldtap_db_span_record record = base_record(LDTAP_DB_POSTGRESQL);
    record.span.end_time_ns = record.span.start_time_ns + 500000000ull;
    cr_assert(decode(record, "SELECT pg_sleep(1)", NULL));
    cr_expect_not_null(ldtap_span_find(&span, "ldtap.db.slow"));
    cr_expect(statement.slow);
    options.slow_query_ms = 0;
    cr_assert(decode(record, "SELECT pg_sleep(1)", NULL));
    expect_absent("ldtap.db.slow");
}

Test(decode_db, names_fall_back_to_the_system) {
    cr_assert(decode(base_record(LDTAP_DB_POSTGRESQL), "", NULL));
    cr_expect_str_eq(span.name, "postgresql");
    expect_absent("db.query.text");
    cr_assert(decode(base_record(LDTAP_DB_SQLITE), "COMMIT", NULL));
    cr_expect_str_eq(span.name, "COMMIT");
}

Test(decode_db, hostile_text_is_cleaned) {
    struct ldtap_db_span_record record = base_record(LDTAP_DB_POSTGRESQL);
    cr_assert(decode(record, "SELECT * FROM \"t\x01\xff\" WHERE a = 1", "d\x02\xc3"));
    const struct ldtap_attribute *collection = ldtap_span_find(&span, "db.collection.name");
    cr_assert_not_null(collection);
    cr_expect_eq(memcmp(ldtap_span_string(&span, collection), "t\xef\xbf\xbd\xef\xbf\xbd", 7), 0);
    expect_string("db.namespace", "d\xef\xbf\xbd\xef\xbf\xbd");
}

Test(decode_db, invalid_records_are_rejected) {
    struct ldtap_db_span_record record = base_record(LDTAP_DB_POSTGRESQL);
    uint32_t length = build(record, "SELECT 1", "db");
    cr_expect(!ldtap_decode_db_span(payload, length - 1, &options, &span, NULL),
              "namespace past the payload");
    cr_expect(!ldtap_decode_db_span(payload, sizeof record - 1, &options, &span, NULL), "short header");
    cr_expect(!ldtap_decode_db_span(NULL, length, &options, &span, NULL));
    cr_expect(ldtap_decode_db_span(payload, length + 8, &options, &span, NULL), "padding after is fine");

    struct ldtap_db_span_record bad = record;
    bad.span.kind = LDTAP_SPAN_KIND_SERVER;
    cr_expect(!decode(bad, "SELECT 1", NULL), "server kind");
    bad = record;
    bad.system = 6;
    cr_expect(!decode(bad, "SELECT 1", NULL), "unknown system");
    bad.system = 0;
    cr_expect(!decode(bad, "SELECT 1", NULL), "system 0");
    bad = record;
    bad.source = 3;
    cr_expect(!decode(bad, "SELECT 1", NULL), "unknown source");
    bad = record;
    bad.span.end_time_ns = bad.span.start_time_ns - 1;
    cr_expect(!decode(bad, "SELECT 1", NULL), "ends before it starts");

    /* Lengths over the ABI maxima, even when the payload would hold them. */
    bad = record;
    memcpy(payload, &bad, sizeof bad);
    struct ldtap_db_span_record *in_place = (struct ldtap_db_span_record *)payload;
    in_place->statement_length = LDTAP_DB_STATEMENT_MAX + 1;
    in_place->statement_full_length = LDTAP_DB_STATEMENT_MAX + 1;
    in_place->namespace_length = 0;
    cr_expect(!ldtap_decode_db_span(payload, sizeof payload, &options, &span, NULL),
              "statement over the max");
    in_place->statement_length = 0;
    in_place->namespace_length = LDTAP_DB_NAMESPACE_MAX + 1;
    cr_expect(!ldtap_decode_db_span(payload, sizeof payload, &options, &span, NULL),
              "namespace over the max");
    in_place->namespace_length = 0;
    in_place->statement_length = 10;
    in_place->statement_full_length = 9;
    cr_expect(!ldtap_decode_db_span(payload, sizeof payload, &options, &span, NULL),
              "full length below length");
}

Test(decode_db, remote_unsampled_parent_is_kept) {
    struct ldtap_db_span_record record = base_record(LDTAP_DB_POSTGRESQL);
    record.span.flags = LDTAP_SPAN_FLAG_UPSTREAM_DECISION;
    cr_assert(decode(record, "SELECT 1", NULL));
    cr_expect_eq(span.trace_flags, 0);
}
