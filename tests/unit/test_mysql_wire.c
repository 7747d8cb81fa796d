/* Unit tests for the MySQL/MariaDB wire framer: hand-built packets after the client/server
 * protocol documentation, fed whole, split at every byte and one byte at a time. */
#include "mysql_wire.h"
#include "wire_script.h"

#include "ldtap_ring_abi.h"

static void init(void *state, uint8_t *buffer, uint16_t capacity) {
    ldtap_mysql_init(state, buffer, capacity);
}

static enum ldtap_wire_event feed(void *state, enum ldtap_wire_direction direction, const uint8_t *bytes,
                                  size_t length, size_t *consumed) {
    return ldtap_mysql_feed(state, direction, bytes, length, consumed);
}

/* One packet: 3-byte little-endian length, sequence id, payload. */
static void packet(struct script *script, enum ldtap_wire_direction direction, uint8_t sequence, const void *payload,
                   size_t length) {
    uint8_t header[4] = {(uint8_t)length, (uint8_t)(length >> 8), (uint8_t)(length >> 16), sequence};
    script_add(script, direction, header, sizeof header);
    script_add(script, direction, payload, length);
}

#define CP(script, sequence, literal) packet(script, LDTAP_WIRE_FROM_CLIENT, sequence, literal, sizeof literal - 1)
#define SP(script, sequence, literal) packet(script, LDTAP_WIRE_FROM_SERVER, sequence, literal, sizeof literal - 1)

enum { CAPS_BASE = 0x0200 | 0x8000 | 0x80000 | 0x200000 | 0x8, DEPRECATE_EOF = 0x1000000 };

static void greeting(struct script *script, bool mariadb) {
    if (mariadb) {
        SP(script, 0, "\x0a" "5.5.5-10.11.6-MariaDB-0+deb12u1\0\1\0\0\0abcdefgh\0\xfe\xf7\x2d\x02\0\xff\x81\x15\0\0\0\0\0\0\x1d\0\0\0ijklmnopqrst\0mysql_native_password\0");
    } else {
        SP(script, 0, "\x0a" "8.0.36\0\1\0\0\0abcdefgh\0\xff\xff\xff\x02\0\xff\xdf\x15\0\0\0\0\0\0\0\0\0\0ijklmnopqrst\0caching_sha2_password\0");
    }
}

/* HandshakeResponse41 with database "shop", then OK. */
static void handshake(struct script *script, uint32_t capabilities) {
    uint8_t response[128] = {0};
    size_t length = 0;
    for (int i = 0; i < 4; i++) {
        response[length++] = (uint8_t)(capabilities >> (8 * i));
    }
    memcpy(response + 4, "\0\0\0\1\x2d", 5);
    length = 32;
    memcpy(response + length, "app\0", 4);
    length += 4;
    response[length++] = 20;
    memset(response + length, 0x5a, 20);
    length += 20;
    memcpy(response + length, "shop\0mysql_native_password\0", 27);
    length += 27;
    packet(script, LDTAP_WIRE_FROM_CLIENT, 1, response, length);
    SP(script, 2, "\0\0\0\2\0\0\0");
}

static struct wire_log log_;

static void frame(const struct script *script) {
    frame_everywhere(init, feed, LDTAP_DB_STATEMENT_MAX, script->chunks, script->count, &log_);
}

/* A text result set: 2 columns, 2 rows, with or without the EOF after definitions. */
static void text_result(struct script *script, bool deprecate_eof) {
    uint8_t sequence = 1;
    SP(script, sequence++, "\x02");
    SP(script, sequence++, "\3def\0\1t\1t\1a\1a\x0c\x3f\0\x0b\0\0\0\3\0\0\0\0\0");
    SP(script, sequence++, "\3def\0\1t\1t\1b\1b\x0c\x3f\0\x0b\0\0\0\3\0\0\0\0\0");
    if (!deprecate_eof) {
        SP(script, sequence++, "\xfe\0\0\x22\0");
    }
    SP(script, sequence++, "\1" "1\1" "2");
    SP(script, sequence++, "\1" "3\xfb");
    if (deprecate_eof) {
        SP(script, sequence++, "\xfe\0\0\x22\0\0\0");
    } else {
        SP(script, sequence++, "\xfe\0\0\x22\0");
    }
}

Test(mysql_wire, queries_ok_err_and_result_sets) {
    for (int deprecate = 0; deprecate < 2; deprecate++) {
        struct script script;
        script_reset(&script);
        greeting(&script, false);
        handshake(&script, CAPS_BASE | (deprecate ? DEPRECATE_EOF : 0));
        CP(&script, 0, "\x03SELECT a, b FROM t");
        text_result(&script, deprecate);
        CP(&script, 0, "\x03UPDATE t SET a = 1");
        SP(&script, 1, "\0\x05\0\x02\0\0\0");
        CP(&script, 0, "\x03INSERT INTO u VALUES (1)");
        SP(&script, 1, "\xff\x26\x04#23000Duplicate entry '1' for key 'PRIMARY'");
        CP(&script, 0, "\x0e");
        SP(&script, 1, "\0\0\0\2\0\0\0");
        frame(&script);
        cr_assert_str_eq(log_.events, "BCBCBC");
        cr_assert_str_eq(log_.texts[0], "SELECT a, b FROM t");
        cr_assert_eq(log_.results[0].rows, 2, "deprecate %d", deprecate);
        cr_assert_eq(log_.results[1].rows, 5);
        cr_assert_eq(log_.results[2].flags, LDTAP_DB_FLAG_ERROR);
        cr_assert_eq(log_.results[2].error_code, 1062);
        cr_assert_str_eq(log_.results[2].status_code, "23000");
        cr_assert_str_eq(log_.namespace_, "shop");
    }
}

Test(mysql_wire, prepared_statements) {
    struct script script;
    script_reset(&script);
    greeting(&script, true);
    handshake(&script, CAPS_BASE);
    CP(&script, 0, "\x16SELECT a FROM t WHERE id = ?");
    SP(&script, 1, "\0\x07\0\0\0\1\0\1\0\0\0\0");
    SP(&script, 2, "\3def\0\0\0\1?\0\x0c\x3f\0\0\0\0\0\x08\x80\0\0\0\0");
    SP(&script, 3, "\xfe\0\0\2\0");
    SP(&script, 4, "\3def\0\1t\1t\1a\1a\x0c\x3f\0\x0b\0\0\0\3\0\0\0\0\0");
    SP(&script, 5, "\xfe\0\0\2\0");
    CP(&script, 0, "\x17\x07\0\0\0\0\1\0\0\0\0\1\x08\0\x05\0\0\0\0\0\0\0");
    SP(&script, 1, "\x01");
    SP(&script, 2, "\3def\0\1t\1t\1a\1a\x0c\x3f\0\x0b\0\0\0\3\0\0\0\0\0");
    SP(&script, 3, "\xfe\0\0\2\0");
    SP(&script, 4, "\0\0\1" "9");
    SP(&script, 5, "\xfe\0\0\2\0");
    CP(&script, 0, "\x19\x07\0\0\0");
    CP(&script, 0, "\x17\x07\0\0\0\0\1\0\0\0");
    SP(&script, 1, "\xff\xdb\x04#HY000Unknown prepared statement handler");
    CP(&script, 0, "\x02other");
    SP(&script, 1, "\0\0\0\2\0\0\0");
    CP(&script, 0, "\x01");
    frame(&script);
    cr_assert_str_eq(log_.events, "BCBCS");
    cr_assert_str_eq(log_.texts[0], "SELECT a FROM t WHERE id = ?");
    cr_assert_eq(log_.queries[0].flags, LDTAP_DB_FLAG_PREPARED);
    cr_assert_eq(log_.results[0].rows, 1);
    cr_assert_eq(log_.queries[1].text_length, 0);
    cr_assert_eq(log_.results[1].error_code, 1243);
    cr_assert_eq(log_.stop_reason, LDTAP_WIRE_STOP_CLOSED);
    cr_assert_str_eq(log_.namespace_, "other");
}

Test(mysql_wire, multi_results_and_big_packets) {
    static uint8_t big[0xffffff + 100];
    struct script script;
    script_reset(&script);
    greeting(&script, false);
    handshake(&script, CAPS_BASE | DEPRECATE_EOF);
    CP(&script, 0, "\x03" "CALL p()");
    SP(&script, 1, "\x01");
    SP(&script, 2, "\3def\0\1t\1t\1a\1a\x0c\x3f\0\x0b\0\0\0\3\0\0\0\0\0");
    SP(&script, 3, "\1" "1");
    SP(&script, 4, "\xfe\0\0\x0a\0\0\0"); /* more results */
    SP(&script, 5, "\0\x03\0\2\0\0\0");
    /* A 16 MiB + 100 byte query: a full packet and a continuation. */
    big[0] = 0x03;
    memcpy(big + 1, "INSERT INTO blob VALUES ('", 26);
    memset(big + 27, 'z', sizeof big - 27);
    packet(&script, LDTAP_WIRE_FROM_CLIENT, 0, big, 0xffffff);
    packet(&script, LDTAP_WIRE_FROM_CLIENT, 1, big + 0xffffff, 100);
    SP(&script, 2, "\0\1\0\2\0\0\0");
    run_script(init, feed, 64, script.chunks, script.count, 0, SIZE_MAX, &log_);
    cr_assert_str_eq(log_.events, "BCBC");
    cr_assert_eq(log_.results[0].rows, 4);
    cr_assert_eq(log_.queries[1].text_length, 64);
    cr_assert_eq(log_.queries[1].full_length, 0xffffff + 99);
    cr_assert_eq(log_.results[1].rows, 1);
    static struct wire_log pieces;
    run_script(init, feed, 64, script.chunks, script.count, 0, 4093, &pieces);
    cr_assert(logs_equal(&log_, &pieces));
}

Test(mysql_wire, ssl_request_stops_and_local_infile_gives_up) {
    struct script script;
    script_reset(&script);
    greeting(&script, false);
    CP(&script, 1, "\x08\x8a\0\0\0\0\0\1\x2d\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    frame(&script);
    cr_assert_str_eq(log_.events, "S");
    cr_assert_eq(log_.stop_reason, LDTAP_WIRE_STOP_ENCRYPTED);
    script_reset(&script);
    greeting(&script, false);
    handshake(&script, CAPS_BASE);
    CP(&script, 0, "\x03LOAD DATA LOCAL INFILE 'x' INTO TABLE t");
    SP(&script, 1, "\xfbx");
    frame(&script);
    cr_assert_str_eq(log_.events, "BG");
}

Test(mysql_wire, auth_switch_passes_through) {
    struct script script;
    script_reset(&script);
    greeting(&script, false);
    uint8_t response[40] = {0x08, 0x82, 0x2a, 0};
    memcpy(response + 32, "app\0\0", 5); /* empty auth response, no database */
    response[1] |= 0x80;
    packet(&script, LDTAP_WIRE_FROM_CLIENT, 1, response, 37);
    SP(&script, 2, "\xfemysql_native_password\0abcdefghijklmnopqrst\0");
    CP(&script, 3, "01234567890123456789");
    SP(&script, 4, "\0\0\0\2\0\0\0");
    CP(&script, 0, "\x03SELECT 1");
    SP(&script, 1, "\0\0\0\2\0\0\0");
    frame(&script);
    cr_assert_str_eq(log_.events, "BC");
    cr_assert_str_eq(log_.namespace_, "");
}

Test(mysql_wire, hostile_inputs_give_up) {
    struct script script;
    const char *firsts[] = {"GET / HTTP/1.1\r\n\r\n", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"};
    for (size_t i = 0; i < 2; i++) {
        script_reset(&script);
        script_add(&script, LDTAP_WIRE_FROM_CLIENT, firsts[i], strlen(firsts[i]));
        frame(&script);
        cr_assert_str_eq(log_.events, "G");
        script_reset(&script);
        script_add(&script, LDTAP_WIRE_FROM_SERVER, firsts[i], strlen(firsts[i]));
        frame(&script);
        cr_assert_str_eq(log_.events, "G");
    }
    script_reset(&script);
    greeting(&script, false);
    handshake(&script, CAPS_BASE);
    CP(&script, 3, "\x03SELECT 1"); /* a command must start at sequence 0 */
    frame(&script);
    cr_assert_str_eq(log_.events, "G");
    script_reset(&script);
    greeting(&script, false);
    handshake(&script, CAPS_BASE);
    SP(&script, 1, "\0\0\0\2\0\0\0"); /* an answer to nothing */
    frame(&script);
    cr_assert_str_eq(log_.events, "G");
}

Test(mysql_wire, recognise) {
    cr_assert_eq(ldtap_mysql_recognise((const uint8_t *)"\x4a\0\0\0\x0a" "8.0.36", 11), LDTAP_WIRE_RECOGNISED);
    cr_assert_eq(ldtap_mysql_recognise((const uint8_t *)"\x4a\0\0", 3), LDTAP_WIRE_NEED_MORE_BYTES);
    cr_assert_eq(ldtap_mysql_recognise((const uint8_t *)"HTTP/1.1", 8), LDTAP_WIRE_NOT_RECOGNISED);
    cr_assert_eq(ldtap_mysql_recognise((const uint8_t *)"\x4a\0\0\0\x09" "8", 6), LDTAP_WIRE_NOT_RECOGNISED);
}
