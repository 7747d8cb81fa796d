/* Byte-for-byte checks of the OTLP logs encoders (ExportLogsServiceRequest, protobuf and
 * JSON) and of log record decoding into entries. */
#include <criterion/criterion.h>
#include <string.h>

#include "buffer.h"
#include "decode_log.h"
#include "otlp_common.h"
#include "otlp_logs.h"

static struct ldtap_buffer out;
static struct ldtap_log_entry entry;

static void setup(void) {
    ldtap_buffer_init(&out);
    memset(&entry, 0, sizeof entry);
    entry.time_ns = 1;
    entry.observed_time_ns = 2;
    entry.severity_number = 17;
    strcpy(entry.severity_text, "ERROR");
    memcpy(entry.text, "hi", 2);
    entry.body_length = 2;
    entry.text_used = 2;
    for (int i = 0; i < 16; i++) {
        entry.trace_id[i] = (uint8_t)(i + 1);
    }
    for (int i = 0; i < 8; i++) {
        entry.span_id[i] = (uint8_t)(0x11 + i);
    }
}

static void teardown(void) {
    ldtap_buffer_free(&out);
}

TestSuite(otlp_logs, .init = setup, .fini = teardown);

Test(otlp_logs, protobuf_minimal) {
    struct ldtap_buffer scope;
    ldtap_buffer_init(&scope);
    ldtap_protobuf_put_scope(&scope, 1);
    const uint8_t log_record[] = {
        0x09, 1, 0, 0, 0, 0, 0, 0, 0,                  /* time_unix_nano */
        0x10, 0x11,                                    /* severity_number 17 */
        0x1a, 0x05, 'E', 'R', 'R', 'O', 'R',           /* severity_text */
        0x2a, 0x04, 0x0a, 0x02, 'h', 'i',              /* body: AnyValue string */
        0x4a, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, /* trace_id */
        0x52, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,       /* span_id */
        0x59, 2, 0, 0, 0, 0, 0, 0, 0,                  /* observed_time_unix_nano */
    };
    struct ldtap_buffer expected;
    ldtap_buffer_init(&expected);
    size_t scope_logs = scope.length + 2 + sizeof log_record;
    ldtap_buffer_append(&expected, (const uint8_t[]){0x0a, (uint8_t)(scope_logs + 2), 0x12, (uint8_t)scope_logs}, 4);
    ldtap_buffer_append(&expected, scope.data, scope.length);
    ldtap_buffer_append(&expected, (const uint8_t[]){0x12, (uint8_t)sizeof log_record}, 2);
    ldtap_buffer_append(&expected, log_record, sizeof log_record);

    const struct ldtap_log_entry *entries[1] = {&entry};
    cr_assert(ldtap_otlp_logs_protobuf_encode(&out, entries, 1));
    cr_assert_eq(out.length, expected.length);
    cr_assert(memcmp(out.data, expected.data, out.length) == 0);
    ldtap_buffer_free(&scope);
    ldtap_buffer_free(&expected);
}

Test(otlp_logs, json_minimal) {
    const struct ldtap_log_entry *entries[1] = {&entry};
    cr_assert(ldtap_otlp_logs_json_encode(&out, entries, 1));
    ldtap_buffer_append_byte(&out, 0);
    const char expected[] = "\"logRecords\":[{\"timeUnixNano\":\"1\",\"observedTimeUnixNano\":\"2\",\"severityNumber\":17,"
                            "\"severityText\":\"ERROR\",\"body\":{\"stringValue\":\"hi\"},"
                            "\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"1112131415161718\"}]}]}]}";
    cr_assert(strstr((const char *)out.data, expected), "%s", (const char *)out.data);
    cr_assert_eq(strncmp((const char *)out.data, "{\"resourceLogs\":[{\"scopeLogs\":[{\"scope\":", 40), 0);
}

/* A record as the shim writes it: header, text, path. */
static size_t make_record(uint8_t *buffer, uint16_t stream, uint16_t kind, const char *text, const char *path) {
    struct ldtap_log_record record = {
        .time_ns = 7, .thread_id = 42, .fd = 2, .stream = stream, .kind = kind,
        .text_length = (uint16_t)strlen(text), .text_full_length = (uint32_t)strlen(text),
        .path_length = (uint16_t)(path ? strlen(path) : 0),
    };
    record.span_id[0] = 9;
    memcpy(buffer, &record, sizeof record);
    memcpy(buffer + sizeof record, text, record.text_length);
    if (path) {
        memcpy(buffer + sizeof record + record.text_length, path, record.path_length);
    }
    return sizeof record + record.text_length + record.path_length;
}

static const char *string_of(const char *key) {
    static char value[LDTAP_LOG_ENTRY_TEXT_BYTES];
    const struct ldtap_attribute *attribute = ldtap_log_entry_find(&entry, key);
    cr_assert_not_null(attribute, "attribute %s", key);
    memcpy(value, ldtap_log_entry_string(&entry, attribute), attribute->string_length);
    value[attribute->string_length] = '\0';
    return value;
}

Test(otlp_logs, decode_line) {
    uint8_t buffer[2048];
    size_t length = make_record(buffer, LDTAP_LOG_STREAM_STDERR, LDTAP_LOG_KIND_LINE,
                                "[2024-05-01 10:00:00 +0000] [7] [WARNING] slow", NULL);
    struct ldtap_traceback traceback;
    cr_assert(ldtap_decode_log(buffer, length, 99, &entry, &traceback));
    cr_assert_eq(entry.severity_number, 13);
    cr_assert_str_eq(entry.severity_text, "WARNING");
    cr_assert_str_eq(string_of("log.iostream"), "stderr");
    cr_assert_null(ldtap_log_exception_events(&entry));
    /* Hostile lengths are refused. */
    cr_assert_not(ldtap_decode_log(buffer, length - 1, 99, &entry, &traceback));
    struct ldtap_log_record *record = (struct ldtap_log_record *)buffer;
    record->path_length = 3;
    cr_assert_not(ldtap_decode_log(buffer, length + 3, 99, &entry, &traceback));
}

Test(otlp_logs, decode_traceback_file) {
    uint8_t buffer[2048];
    const char text[] = "Traceback (most recent call last):\n  File \"v.py\", line 3, in view\n    1/0\n"
                        "ZeroDivisionError: division by zero";
    size_t length = make_record(buffer, LDTAP_LOG_STREAM_FILE, LDTAP_LOG_KIND_TRACEBACK, text, "/var/log/app.log");
    struct ldtap_traceback traceback;
    cr_assert(ldtap_decode_log(buffer, length, 99, &entry, &traceback));
    cr_assert_eq(entry.severity_number, 17);
    cr_assert_str_eq(string_of("log.file.path"), "/var/log/app.log");
    cr_assert_str_eq(string_of("exception.type"), "ZeroDivisionError");
    cr_assert_str_eq(string_of("exception.message"), "division by zero");
    cr_assert_str_eq(string_of("exception.stacktrace"), text);
    struct ldtap_span_events *events = ldtap_log_exception_events(&entry);
    cr_assert_not_null(events);
    cr_assert_eq(events->event_count, 1);
    cr_assert_eq(events->events[0].attribute_count, 3);
    cr_assert_str_eq(events->events[0].name, "exception");
    ldtap_span_events_release(events);
}

/* An exception group (3.11) and the chained part of a chain, as the shim records them. */
Test(otlp_logs, decode_group_and_chained_tracebacks) {
    static uint8_t buffer[4096];
    const char group[] = "  + Exception Group Traceback (most recent call last):\n"
                         "  |   File \"/srv/shop.py\", line 41, in checkout\n"
                         "  |     raise ExceptionGroup(\"checkout failed\", errors)\n"
                         "  | ExceptionGroup: checkout failed (2 sub-exceptions)\n"
                         "  +-+---------------- 1 ----------------\n"
                         "    | ValueError: out of stock\n"
                         "    +---------------- 2 ----------------\n"
                         "    | TypeError: card declined\n"
                         "    +------------------------------------";
    size_t length = make_record(buffer, LDTAP_LOG_STREAM_STDERR, LDTAP_LOG_KIND_TRACEBACK, group, NULL);
    struct ldtap_traceback traceback;
    cr_assert(ldtap_decode_log(buffer, length, 99, &entry, &traceback));
    cr_assert_str_eq(string_of("exception.type"), "ExceptionGroup");
    cr_assert_str_eq(string_of("exception.message"), "checkout failed (2 sub-exceptions)");
    cr_assert_str_eq(string_of("exception.stacktrace"), group);
    struct ldtap_span_events *events = ldtap_log_exception_events(&entry);
    cr_assert_not_null(events);
    ldtap_span_events_release(events);

    const char chained[] = "The above exception was the direct cause of the following exception:\n\n"
                           "Traceback (most recent call last):\n"
                           "  File \"/srv/shop.py\", line 22, in chained_view\n"
                           "LookupError: no such order";
    length = make_record(buffer, LDTAP_LOG_STREAM_STDERR, LDTAP_LOG_KIND_TRACEBACK, chained, NULL);
    cr_assert(ldtap_decode_log(buffer, length, 99, &entry, &traceback));
    cr_assert_str_eq(string_of("exception.type"), "LookupError");
    cr_assert_str_eq(string_of("exception.message"), "no such order");
}

/* An event's name is LogRecord field 12 (event_name), after observed_time_unix_nano, and
 * "eventName" in JSON; a record without one has neither. */
Test(otlp_logs, event_name_field) {
    entry.event_name = "ev.x";
    const struct ldtap_log_entry *entries[1] = {&entry};
    cr_assert(ldtap_otlp_logs_protobuf_encode(&out, entries, 1));
    const uint8_t tail[] = {0x59, 2, 0, 0, 0, 0, 0, 0, 0, 0x62, 0x04, 'e', 'v', '.', 'x'};
    cr_assert_geq(out.length, sizeof tail);
    cr_assert(memcmp(out.data + out.length - sizeof tail, tail, sizeof tail) == 0,
              "field 12 ends the record");
    ldtap_buffer_reset(&out);
    cr_assert(ldtap_otlp_logs_json_encode(&out, entries, 1));
    ldtap_buffer_append_byte(&out, 0);
    cr_assert(strstr((const char *)out.data, "\"spanId\":\"1112131415161718\",\"eventName\":\"ev.x\"}"), "%s",
              (const char *)out.data);
}
