/* Unit tests for the PostgreSQL wire framer: hand-built conversations after the protocol's
 * "Message Flow" and "Message Formats" pages, fed whole, split at every byte and bytewise. */
#include "pgwire.h"
#include "wire_script.h"

#include "ldtap_ring_abi.h"

static void init(void *state, uint8_t *buffer, uint16_t capacity) {
    ldtap_pgwire_init(state, buffer, capacity);
}

static enum ldtap_wire_event feed(void *state, enum ldtap_wire_direction direction, const uint8_t *bytes,
                                  size_t length, size_t *consumed) {
    return ldtap_pgwire_feed(state, direction, bytes, length, consumed);
}

static void put_be32(uint8_t *at, uint32_t value) {
    at[0] = (uint8_t)(value >> 24);
    at[1] = (uint8_t)(value >> 16);
    at[2] = (uint8_t)(value >> 8);
    at[3] = (uint8_t)value;
}

/* A typed message; `body` holds its own NULs. */
static void message(struct script *script, enum ldtap_wire_direction direction, char type, const char *body,
                    size_t length) {
    uint8_t header[5] = {(uint8_t)type};
    put_be32(header + 1, (uint32_t)length + 4);
    script_add(script, direction, header, sizeof header);
    script_add(script, direction, body, length);
}

#define FRONT(script, type, literal) message(script, LDTAP_WIRE_FROM_CLIENT, type, literal, sizeof literal - 1)
#define BACK(script, type, literal) message(script, LDTAP_WIRE_FROM_SERVER, type, literal, sizeof literal - 1)

static void untyped(struct script *script, uint32_t code, const char *body, size_t length) {
    uint8_t header[8];
    put_be32(header, (uint32_t)length + 8);
    put_be32(header + 4, code);
    script_add(script, LDTAP_WIRE_FROM_CLIENT, header, sizeof header);
    script_add(script, LDTAP_WIRE_FROM_CLIENT, body, length);
}

#define STARTUP(script, literal) untyped(script, 196608, literal, sizeof literal - 1)

/* Startup, trust authentication, parameter status, key data, ReadyForQuery. */
static void connect(struct script *script, bool with_database) {
    if (with_database) {
        STARTUP(script, "user\0alice\0database\0shop\0application_name\0psql\0\0");
    } else {
        STARTUP(script, "user\0alice\0\0");
    }
    BACK(script, 'R', "\0\0\0\0");
    BACK(script, 'S', "server_version\0" "16.2\0");
    BACK(script, 'K', "\0\0\0\1\2\3\4\5");
    BACK(script, 'Z', "I");
}

static struct wire_log log_;

static void frame(const struct script *script) {
    frame_everywhere(init, feed, LDTAP_DB_STATEMENT_MAX, script->chunks, script->count, &log_);
}

Test(pgwire, simple_query_with_rows_and_namespace) {
    struct script script;
    script_reset(&script);
    connect(&script, true);
    FRONT(&script, 'Q', "SELECT * FROM t\0");
    BACK(&script, 'T', "\0\1a\0\0\0\0\0\0\1\0\0\0\x17\0\4\xff\xff\xff\xff\0\0");
    BACK(&script, 'D', "\0\1\0\0\0\1" "1");
    BACK(&script, 'D', "\0\1\0\0\0\1" "2");
    BACK(&script, 'D', "\0\1\0\0\0\1" "3");
    BACK(&script, 'C', "SELECT 3\0");
    BACK(&script, 'Z', "I");
    frame(&script);
    cr_assert_str_eq(log_.events, "BC");
    cr_assert_str_eq(log_.texts[0], "SELECT * FROM t");
    cr_assert_eq(log_.queries[0].full_length, 15);
    cr_assert_eq(log_.queries[0].flags, 0);
    cr_assert_eq(log_.results[0].rows, 3);
    cr_assert_eq(log_.results[0].flags, 0);
    cr_assert_eq(log_.results[0].sequence, 1);
    cr_assert_str_eq(log_.namespace_, "shop");
}

Test(pgwire, namespace_defaults_to_user) {
    struct script script;
    script_reset(&script);
    connect(&script, false);
    FRONT(&script, 'Q', "INSERT INTO t VALUES (1)\0");
    BACK(&script, 'C', "INSERT 0 1\0");
    BACK(&script, 'Z', "I");
    frame(&script);
    cr_assert_str_eq(log_.events, "BC");
    cr_assert_eq(log_.results[0].rows, 1);
    cr_assert_str_eq(log_.namespace_, "alice");
}

Test(pgwire, error_response_sets_sqlstate) {
    struct script script;
    script_reset(&script);
    connect(&script, true);
    FRONT(&script, 'Q', "INSERT INTO u VALUES (1)\0");
    BACK(&script, 'E', "SERROR\0VERROR\0C23505\0Mduplicate key value\0\0");
    BACK(&script, 'Z', "E");
    FRONT(&script, 'Q', "ROLLBACK\0");
    BACK(&script, 'C', "ROLLBACK\0");
    BACK(&script, 'Z', "I");
    frame(&script);
    cr_assert_str_eq(log_.events, "BCBC");
    cr_assert_eq(log_.results[0].flags, LDTAP_DB_FLAG_ERROR);
    cr_assert_str_eq(log_.results[0].status_code, "23505");
    cr_assert_eq(log_.results[1].flags, 0);
    cr_assert_eq(log_.results[1].rows, -1);
    cr_assert_str_eq(log_.results[1].status_code, "");
}

Test(pgwire, multi_statement_query_is_one_span) {
    struct script script;
    script_reset(&script);
    connect(&script, true);
    FRONT(&script, 'Q', "BEGIN; UPDATE t SET a = 1; COMMIT\0");
    BACK(&script, 'C', "BEGIN\0");
    BACK(&script, 'C', "UPDATE 7\0");
    BACK(&script, 'N', "SWARNING\0C01000\0Mhm\0\0");
    BACK(&script, 'C', "COMMIT\0");
    BACK(&script, 'Z', "I");
    frame(&script);
    cr_assert_str_eq(log_.events, "BC");
    cr_assert_eq(log_.results[0].rows, 7);
    cr_assert_eq(log_.results[0].flags, 0);
}

/* Parse/Bind/Describe/Execute/Sync of a named statement, then a second Execute of it. */
Test(pgwire, named_prepared_statement_is_remembered) {
    struct script script;
    script_reset(&script);
    connect(&script, true);
    FRONT(&script, 'P', "__asyncpg_stmt_1__\0SELECT a FROM t WHERE b = $1\0\0\1\0\0\0\x17");
    FRONT(&script, 'D', "S__asyncpg_stmt_1__\0");
    FRONT(&script, 'S', "");
    BACK(&script, '1', "");
    BACK(&script, 't', "\0\1\0\0\0\x17");
    BACK(&script, 'T', "\0\0");
    BACK(&script, 'Z', "I");
    FRONT(&script, 'B', "\0__asyncpg_stmt_1__\0\0\0\0\1\0\0\0\1" "7\0\0");
    FRONT(&script, 'E', "\0\0\0\0\0");
    FRONT(&script, 'S', "");
    BACK(&script, '2', "");
    BACK(&script, 'D', "\0\1\0\0\0\1" "x");
    BACK(&script, 'C', "SELECT 1\0");
    BACK(&script, 'Z', "I");
    FRONT(&script, 'B', "\0__asyncpg_stmt_1__\0\0\0\0\1\0\0\0\1" "8\0\0");
    FRONT(&script, 'E', "\0\0\0\0\0");
    FRONT(&script, 'S', "");
    BACK(&script, '2', "");
    BACK(&script, 'C', "SELECT 0\0");
    BACK(&script, 'Z', "I");
    frame(&script);
    cr_assert_str_eq(log_.events, "BCBC");
    for (int i = 0; i < 2; i++) {
        cr_assert_str_eq(log_.texts[i], "SELECT a FROM t WHERE b = $1");
        cr_assert_eq(log_.queries[i].flags, LDTAP_DB_FLAG_PREPARED);
    }
    cr_assert_eq(log_.results[0].rows, 1);
    cr_assert_eq(log_.results[1].rows, 0);
}

Test(pgwire, pipelined_unnamed_statements_map_in_order) {
    struct script script;
    script_reset(&script);
    connect(&script, true);
    FRONT(&script, 'P', "\0SELECT 1\0\0\0");
    FRONT(&script, 'B', "\0\0\0\0\0\0\0\0");
    FRONT(&script, 'E', "\0\0\0\0\0");
    FRONT(&script, 'P', "\0SELECT 2, 3\0\0\0");
    FRONT(&script, 'B', "\0\0\0\0\0\0\0\0");
    FRONT(&script, 'E', "\0\0\0\0\0");
    FRONT(&script, 'S', "");
    BACK(&script, '1', "");
    BACK(&script, '2', "");
    BACK(&script, 'D', "\0\1\0\0\0\1" "1");
    BACK(&script, 'C', "SELECT 1\0");
    BACK(&script, '1', "");
    BACK(&script, '2', "");
    BACK(&script, 'C', "SELECT 5\0");
    BACK(&script, 'Z', "I");
    frame(&script);
    cr_assert_str_eq(log_.events, "BBCC");
    cr_assert_str_eq(log_.texts[0], "SELECT 1");
    cr_assert_str_eq(log_.texts[1], "SELECT 2, 3");
    cr_assert_eq(log_.queries[0].flags, 0);
    cr_assert_eq(log_.results[0].rows, 1);
    cr_assert_eq(log_.results[1].rows, 5);
    cr_assert_eq(log_.results[1].sequence, 2);
}

Test(pgwire, error_in_batch_skips_the_rest_until_sync) {
    struct script script;
    script_reset(&script);
    connect(&script, true);
    FRONT(&script, 'P', "\0SELEC 1\0\0\0");
    FRONT(&script, 'B', "\0\0\0\0\0\0\0\0");
    FRONT(&script, 'E', "\0\0\0\0\0");
    FRONT(&script, 'P', "\0SELECT 2\0\0\0");
    FRONT(&script, 'B', "\0\0\0\0\0\0\0\0");
    FRONT(&script, 'E', "\0\0\0\0\0");
    FRONT(&script, 'S', "");
    BACK(&script, 'E', "SERROR\0C42601\0Msyntax error\0\0");
    BACK(&script, 'Z', "I");
    FRONT(&script, 'Q', "SELECT 9\0");
    BACK(&script, 'C', "SELECT 1\0");
    BACK(&script, 'Z', "I");
    frame(&script);
    cr_assert_str_eq(log_.events, "BBCCBC");
    cr_assert_eq(log_.results[0].flags, LDTAP_DB_FLAG_ERROR);
    cr_assert_str_eq(log_.results[0].status_code, "42601");
    cr_assert_eq(log_.results[1].flags, LDTAP_DB_FLAG_ERROR);
    cr_assert_str_eq(log_.results[1].status_code, "");
    cr_assert_eq(log_.results[2].flags, 0);
    cr_assert_eq(log_.results[2].sequence, 3);
}

Test(pgwire, failed_parse_without_execute_makes_no_span) {
    struct script script;
    script_reset(&script);
    connect(&script, true);
    FRONT(&script, 'P', "s9\0SELEC\0\0\0");
    FRONT(&script, 'S', "");
    FRONT(&script, 'Q', "SELECT 1\0");
    BACK(&script, 'E', "SERROR\0C42601\0\0");
    BACK(&script, 'Z', "I");
    BACK(&script, 'C', "SELECT 1\0");
    BACK(&script, 'Z', "I");
    frame(&script);
    cr_assert_str_eq(log_.events, "BC");
    cr_assert_eq(log_.results[0].flags, 0);
    cr_assert_eq(log_.results[0].rows, 1);
}

Test(pgwire, closed_statement_is_forgotten_and_portal_suspends) {
    struct script script;
    script_reset(&script);
    connect(&script, true);
    FRONT(&script, 'P', "s1\0SELECT x FROM big\0\0\0");
    FRONT(&script, 'B', "cur\0s1\0\0\0\0\0\0\0");
    FRONT(&script, 'E', "cur\0\0\0\0\2");
    FRONT(&script, 'H', "");
    BACK(&script, '1', "");
    BACK(&script, '2', "");
    BACK(&script, 'D', "\0\1\0\0\0\1" "1");
    BACK(&script, 'D', "\0\1\0\0\0\1" "2");
    BACK(&script, 's', "");
    FRONT(&script, 'C', "Ss1\0");
    FRONT(&script, 'B', "\0s1\0\0\0\0\0\0\0");
    FRONT(&script, 'E', "\0\0\0\0\0");
    FRONT(&script, 'S', "");
    BACK(&script, '3', "");
    BACK(&script, 'E', "SERROR\0C26000\0Mprepared statement \"s1\" does not exist\0\0");
    BACK(&script, 'Z', "I");
    frame(&script);
    cr_assert_str_eq(log_.events, "BCBC");
    cr_assert_str_eq(log_.texts[0], "SELECT x FROM big");
    cr_assert_eq(log_.results[0].rows, 2);
    cr_assert_eq(log_.queries[1].text_length, 0);
    cr_assert_eq(log_.queries[1].flags, LDTAP_DB_FLAG_PREPARED);
    cr_assert_str_eq(log_.results[1].status_code, "26000");
}

Test(pgwire, copy_data_passes_through) {
    struct script script;
    script_reset(&script);
    connect(&script, true);
    FRONT(&script, 'Q', "COPY t FROM STDIN\0");
    BACK(&script, 'G', "\0\0\2\0\0\0\0");
    FRONT(&script, 'd', "1\t2\n");
    FRONT(&script, 'd', "Q\0\0\0\x05" "E\n");
    FRONT(&script, 'c', "");
    BACK(&script, 'C', "COPY 2\0");
    BACK(&script, 'Z', "I");
    FRONT(&script, 'Q', "COPY t TO STDOUT\0");
    BACK(&script, 'H', "\0\0\1\0\0");
    BACK(&script, 'd', "Z\0\0\0\x05I\n");
    BACK(&script, 'c', "");
    BACK(&script, 'C', "COPY 1\0");
    BACK(&script, 'Z', "I");
    frame(&script);
    cr_assert_str_eq(log_.events, "BCBC");
    cr_assert_eq(log_.results[0].rows, 2);
    cr_assert_eq(log_.results[1].rows, 1);
}

Test(pgwire, ssl_request_accepted_stops) {
    struct script script;
    script_reset(&script);
    untyped(&script, 80877103, "", 0);
    ADD(&script, LDTAP_WIRE_FROM_SERVER, "S");
    ADD(&script, LDTAP_WIRE_FROM_CLIENT, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
    frame(&script);
    cr_assert_str_eq(log_.events, "S");
    cr_assert_eq(log_.stop_reason, LDTAP_WIRE_STOP_ENCRYPTED);
}

Test(pgwire, ssl_request_refused_continues_in_plaintext) {
    struct script script;
    script_reset(&script);
    untyped(&script, 80877103, "", 0);
    ADD(&script, LDTAP_WIRE_FROM_SERVER, "N");
    connect(&script, true);
    FRONT(&script, 'Q', "SELECT 1\0");
    BACK(&script, 'C', "SELECT 1\0");
    BACK(&script, 'Z', "I");
    FRONT(&script, 'X', "");
    frame(&script);
    cr_assert_str_eq(log_.events, "BCS");
    cr_assert_eq(log_.stop_reason, LDTAP_WIRE_STOP_CLOSED);
}

Test(pgwire, gssenc_and_cancel) {
    struct script script;
    script_reset(&script);
    untyped(&script, 80877104, "", 0);
    ADD(&script, LDTAP_WIRE_FROM_SERVER, "G");
    frame(&script);
    cr_assert_str_eq(log_.events, "S");
    cr_assert_eq(log_.stop_reason, LDTAP_WIRE_STOP_ENCRYPTED);
    script_reset(&script);
    untyped(&script, 80877102, "\0\0\0\1\0\0\0\2", 8);
    frame(&script);
    cr_assert_str_eq(log_.events, "S");
    cr_assert_eq(log_.stop_reason, LDTAP_WIRE_STOP_NOT_QUERIES);
}

Test(pgwire, sasl_authentication_passes_through) {
    struct script script;
    script_reset(&script);
    STARTUP(&script, "user\0bob\0database\0db1\0\0");
    BACK(&script, 'R', "\0\0\0\x0aSCRAM-SHA-256\0\0");
    FRONT(&script, 'p', "SCRAM-SHA-256\0\0\0\0\x04n,,x");
    BACK(&script, 'R', "\0\0\0\x0br=abc");
    FRONT(&script, 'p', "c=biws,r=abc,p=xyz");
    BACK(&script, 'R', "\0\0\0\x0cv=sig");
    BACK(&script, 'R', "\0\0\0\0");
    BACK(&script, 'Z', "I");
    FRONT(&script, 'Q', "SELECT 1\0");
    BACK(&script, 'I', "");
    BACK(&script, 'Z', "I");
    frame(&script);
    cr_assert_str_eq(log_.events, "BC");
    cr_assert_str_eq(log_.namespace_, "db1");
}

/* pg8000 sends its PasswordMessage and a Flush in one write; the password is never a query. */
Test(pgwire, cleartext_password_followed_by_flush_passes_through) {
    struct script script;
    script_reset(&script);
    STARTUP(&script, "user\0bob\0database\0db1\0\0");
    BACK(&script, 'R', "\0\0\0\x03");
    FRONT(&script, 'p', "hunter2\0");
    FRONT(&script, 'H', "");
    BACK(&script, 'R', "\0\0\0\0");
    BACK(&script, 'Z', "I");
    FRONT(&script, 'Q', "SELECT 1\0");
    BACK(&script, 'I', "");
    BACK(&script, 'Z', "I");
    frame(&script);
    cr_assert_str_eq(log_.events, "BC");
    cr_assert_str_eq(log_.texts[0], "SELECT 1");
}

Test(pgwire, long_statement_is_cut_but_measured) {
    static char body[5000];
    memset(body, 'x', sizeof body);
    memcpy(body, "SELECT '", 8);
    body[sizeof body - 1] = '\0';
    struct script script;
    script_reset(&script);
    connect(&script, true);
    message(&script, LDTAP_WIRE_FROM_CLIENT, 'Q', body, sizeof body);
    BACK(&script, 'C', "SELECT 1\0");
    BACK(&script, 'Z', "I");
    struct wire_log *log = &log_;
    run_script(init, feed, 100, script.chunks, script.count, 0, SIZE_MAX, log);
    cr_assert_str_eq(log->events, "BC");
    cr_assert_eq(log->queries[0].text_length, 100);
    cr_assert_eq(log->queries[0].full_length, sizeof body - 1);
    cr_assert(memcmp(log->texts[0], "SELECT 'xx", 10) == 0);
}

Test(pgwire, hostile_inputs_give_up) {
    static const struct {
        const char *bytes;
        size_t length;
    } firsts[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27},
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11},
        {"\0\0\0\x08\0\x02\0\0", 8},             /* protocol 2.0 */
        {"\0\0\0\x04\0\x03\0\0", 4 + 4},         /* too short for a startup */
        {"\x7f\xff\xff\xff\0\x03\0\0", 8},       /* absurd length */
        {"*1\r\n$4\r\nPING\r\n", 14},
    };
    for (size_t i = 0; i < sizeof firsts / sizeof firsts[0]; i++) {
        struct script script;
        script_reset(&script);
        script_add(&script, LDTAP_WIRE_FROM_CLIENT, firsts[i].bytes, firsts[i].length);
        frame(&script);
        cr_assert_str_eq(log_.events, "G", "sample %zu", i);
    }
    /* After startup: bad lengths and types. */
    const char *after[] = {"Q\0\0\0\x02", "Q\x7f\0\0\0", "z\0\0\0\x04", "\0\0\0\0\x04"};
    for (size_t i = 0; i < sizeof after / sizeof after[0]; i++) {
        struct script script;
        script_reset(&script);
        connect(&script, true);
        script_add(&script, LDTAP_WIRE_FROM_CLIENT, after[i], 5);
        frame(&script);
        cr_assert_str_eq(log_.events, "G", "after startup %zu", i);
    }
    struct script script;
    script_reset(&script);
    connect(&script, true);
    BACK(&script, 'C', "SELECT 1\0"); /* an answer to nothing */
    frame(&script);
    cr_assert_str_eq(log_.events, "G");
}

Test(pgwire, recognise) {
    cr_assert_eq(ldtap_pgwire_recognise((const uint8_t *)"\0\0\0\x10\0\x03\0\0user", 12), LDTAP_WIRE_RECOGNISED);
    cr_assert_eq(ldtap_pgwire_recognise((const uint8_t *)"\0\0\0\x08\x04\xd2\x16\x2f", 8), LDTAP_WIRE_RECOGNISED);
    cr_assert_eq(ldtap_pgwire_recognise((const uint8_t *)"\0\0\0\x08\x04\xd2\x16\x30", 8), LDTAP_WIRE_RECOGNISED);
    cr_assert_eq(ldtap_pgwire_recognise((const uint8_t *)"\0\0\0\x10\x04\xd2\x16\x2e", 8), LDTAP_WIRE_RECOGNISED);
    cr_assert_eq(ldtap_pgwire_recognise((const uint8_t *)"\0\0\0", 3), LDTAP_WIRE_NEED_MORE_BYTES);
    cr_assert_eq(ldtap_pgwire_recognise((const uint8_t *)"GET / HTTP/1.1", 14), LDTAP_WIRE_NOT_RECOGNISED);
    cr_assert_eq(ldtap_pgwire_recognise((const uint8_t *)"\x16\x03\x01\x02\0\x01\0\x01", 8), LDTAP_WIRE_NOT_RECOGNISED);
    cr_assert_eq(ldtap_pgwire_recognise((const uint8_t *)"\0\0\0\x08\0\x02\0\0", 8), LDTAP_WIRE_NOT_RECOGNISED);
}
