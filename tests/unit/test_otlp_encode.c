/* Byte-for-byte checks of the OTLP protobuf and JSON encoders on small known inputs:
 * varint edges, every attribute type, omitted defaults, long strings, JSON escaping and
 * UTF-8 repair. decode.js checks the same encoders against the official definitions. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buffer.h"
#include "otlp_common.h"
#include "otlp_json.h"
#include "otlp_protobuf.h"
#include "span.h"

static struct ldtap_buffer out;

static void setup(void) {
    ldtap_buffer_init(&out);
}

static void teardown(void) {
    ldtap_buffer_free(&out);
}

TestSuite(otlp_encode, .init = setup, .fini = teardown);

static void minimal_span(struct ldtap_span *span) {
    memset(span, 0, sizeof *span);
    for (int i = 0; i < 16; i++) {
        span->trace_id[i] = (uint8_t)(i + 1);
    }
    for (int i = 0; i < 8; i++) {
        span->span_id[i] = (uint8_t)(0x11 + i);
    }
    strcpy(span->name, "a");
    span->kind = 2;
    span->start_time_ns = 1;
    span->end_time_ns = 2;
}

static bool contains(const struct ldtap_buffer *buffer, const void *needle, size_t length) {
    return memmem(buffer->data, buffer->length, needle, length) != NULL;
}

static void encode_one(const struct ldtap_span *span) {
    const struct ldtap_span *spans[1] = {span};
    ldtap_buffer_reset(&out);
    cr_assert(ldtap_otlp_protobuf_encode(&out, spans, 1));
}

static void assert_varint(uint64_t value, const uint8_t *expected, size_t length) {
    ldtap_buffer_reset(&out);
    ldtap_protobuf_put_varint(&out, value);
    cr_assert_eq(ldtap_protobuf_varint_size(value), length, "size of %llu", (unsigned long long)value);
    cr_assert_eq(out.length, length);
    cr_assert_arr_eq(out.data, expected, length, "bytes of %llu", (unsigned long long)value);
}

Test(otlp_encode, varint_edges) {
    assert_varint(0, (const uint8_t[]){0x00}, 1);
    assert_varint(1, (const uint8_t[]){0x01}, 1);
    assert_varint(127, (const uint8_t[]){0x7f}, 1);
    assert_varint(128, (const uint8_t[]){0x80, 0x01}, 2);
    assert_varint(300, (const uint8_t[]){0xac, 0x02}, 2);
    assert_varint(16383, (const uint8_t[]){0xff, 0x7f}, 2);
    assert_varint(16384, (const uint8_t[]){0x80, 0x80, 0x01}, 3);
    assert_varint(UINT32_MAX, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x0f}, 5);
    assert_varint(UINT64_MAX, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10);
}

Test(otlp_encode, minimal_request_bytes) {
    cr_assert_str_eq(LDTAP_OTLP_SCOPE_NAME, "ldtap");
    cr_assert_eq(strlen(LDTAP_OTLP_SCOPE_VERSION), 5, "the expected lengths below assume x.y.z");
    uint8_t expected[] = {
        0x0a, 0x47,                   /* resource_spans, 71 bytes (no resource: it is NULL) */
        0x12, 0x45,                   /* scope_spans, 69 */
        0x0a, 0x0e,                   /* scope, 14 */
        0x0a, 0x05, 'l', 'd', 't', 'a', 'p',
        0x12, 0x05, 0, 0, 0, 0, 0,    /* version, patched below */
        0x12, 0x33,                   /* span, 51 */
        0x0a, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        0x12, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
        0x2a, 0x01, 'a',              /* name (5) */
        0x30, 0x02,                   /* kind (6) server */
        0x39, 1, 0, 0, 0, 0, 0, 0, 0, /* start (7), fixed64 little-endian */
        0x41, 2, 0, 0, 0, 0, 0, 0, 0, /* end (8) */
    };
    memcpy(expected + 15, LDTAP_OTLP_SCOPE_VERSION, 5);
    struct ldtap_span span;
    minimal_span(&span);
    encode_one(&span);
    cr_assert_eq(out.length, sizeof expected);
    cr_assert_arr_eq(out.data, expected, sizeof expected);
}

Test(otlp_encode, empty_batch_is_empty_message) {
    cr_assert(ldtap_otlp_protobuf_encode(&out, NULL, 0));
    cr_assert_eq(out.length, 0);
    cr_assert(ldtap_otlp_json_encode(&out, NULL, 0));
    cr_assert_eq(out.length, strlen("{\"resourceSpans\":[]}"));
    cr_assert_arr_eq(out.data, "{\"resourceSpans\":[]}", out.length);
}

Test(otlp_encode, attribute_types) {
    struct ldtap_span span;
    minimal_span(&span);
    ldtap_span_add_string(&span, "k", "v", 1);
    ldtap_span_add_int(&span, "i", -1);
    ldtap_span_add_double(&span, "d", 1.5);
    ldtap_span_add_bool(&span, "b", true);
    ldtap_span_add_bool(&span, "f", false);
    ldtap_span_add_string(&span, "e", "", 0);
    ldtap_span_add_int(&span, "z", 0);
    encode_one(&span);
    /* Field 9 (0x4a) KeyValue { key = 1; value = 2 { AnyValue oneof } } */
    const uint8_t string_kv[] = {0x4a, 0x08, 0x0a, 0x01, 'k', 0x12, 0x03, 0x0a, 0x01, 'v'};
    const uint8_t int_kv[] = {0x4a, 0x10, 0x0a, 0x01, 'i', 0x12, 0x0b, 0x18,
                              0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t double_kv[] = {0x4a, 0x0e, 0x0a, 0x01, 'd', 0x12, 0x09, 0x21, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f};
    const uint8_t true_kv[] = {0x4a, 0x07, 0x0a, 0x01, 'b', 0x12, 0x02, 0x10, 0x01};
    /* oneof members are written even when they hold the default value */
    const uint8_t false_kv[] = {0x4a, 0x07, 0x0a, 0x01, 'f', 0x12, 0x02, 0x10, 0x00};
    const uint8_t empty_kv[] = {0x4a, 0x07, 0x0a, 0x01, 'e', 0x12, 0x02, 0x0a, 0x00};
    const uint8_t zero_kv[] = {0x4a, 0x07, 0x0a, 0x01, 'z', 0x12, 0x02, 0x18, 0x00};
    cr_assert(contains(&out, string_kv, sizeof string_kv));
    cr_assert(contains(&out, int_kv, sizeof int_kv));
    cr_assert(contains(&out, double_kv, sizeof double_kv));
    cr_assert(contains(&out, true_kv, sizeof true_kv));
    cr_assert(contains(&out, false_kv, sizeof false_kv));
    cr_assert(contains(&out, empty_kv, sizeof empty_kv));
    cr_assert(contains(&out, zero_kv, sizeof zero_kv));
}

Test(otlp_encode, parent_status_flags_and_omitted_defaults) {
    struct ldtap_span span;
    minimal_span(&span);
    encode_one(&span);
    cr_assert_not(contains(&out, (const uint8_t[]){0x22, 0x08}, 2), "root span has no parent field");
    cr_assert_not(contains(&out, (const uint8_t[]){0x7a}, 1), "unset status is omitted");
    cr_assert_not(contains(&out, (const uint8_t[]){0x85, 0x01}, 2), "zero flags are omitted");

    memset(span.parent_span_id, 0xab, 8);
    span.status_code = LDTAP_STATUS_ERROR;
    span.trace_flags = 0x01;
    encode_one(&span);
    const uint8_t parent[] = {0x22, 0x08, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
    const uint8_t status_and_flags[] = {0x7a, 0x02, 0x18, 0x02, 0x85, 0x01, 0x01, 0x00, 0x00, 0x00};
    cr_assert(contains(&out, parent, sizeof parent));
    /* status (15) then flags (16, fixed32), the last fields of the span and the request */
    cr_assert_arr_eq(out.data + out.length - sizeof status_and_flags, status_and_flags, sizeof status_and_flags);
}

static uint64_t read_varint(const uint8_t *bytes, size_t *at) {
    uint64_t value = 0;
    for (int shift = 0;; shift += 7) {
        uint8_t byte = bytes[(*at)++];
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            return value;
        }
    }
}

/* Walks a message's fields; true when every field is well formed and ends exactly at `length`. */
static bool well_formed(const uint8_t *bytes, size_t length) {
    size_t at = 0;
    while (at < length) {
        uint64_t key = read_varint(bytes, &at);
        switch (key & 7) {
        case 0: read_varint(bytes, &at); break;
        case 1: at += 8; break;
        case 5: at += 4; break;
        case 2: {
            uint64_t field_length = read_varint(bytes, &at);
            at += field_length;
            break;
        }
        default: return false;
        }
    }
    return at == length;
}

Test(otlp_encode, long_strings_get_multibyte_lengths) {
    static char long_value[2000];
    memset(long_value, 'x', sizeof long_value);
    struct ldtap_span span;
    minimal_span(&span);
    memset(span.name, 'n', sizeof span.name); /* no NUL: the whole array is the name */
    ldtap_span_add_string(&span, "s300", long_value, 300);
    ldtap_span_add_string(&span, "s1600", long_value, 1600);
    encode_one(&span);
    cr_assert(well_formed(out.data, out.length));
    cr_assert(contains(&out, (const uint8_t[]){0x2a, 0x80, 0x01, 'n'}, 4), "128-byte name");
    cr_assert(contains(&out, (const uint8_t[]){0x0a, 0xac, 0x02, 'x'}, 4), "300-byte value");
    cr_assert(contains(&out, (const uint8_t[]){0x0a, 0xc0, 0x0c, 'x'}, 4), "1600-byte value");
    /* request > resource_spans > scope_spans > span: each length must fit exactly */
    const uint8_t *resource_spans = out.data + 3; /* 0x0a + 2-byte length */
    cr_assert_eq(out.data[0], 0x0a);
    cr_assert(well_formed(resource_spans, out.length - 3));
}

Test(otlp_encode, protobuf_strings_are_made_utf8) {
    struct ldtap_span span;
    minimal_span(&span);
    strcpy(span.name, "a\xff" "b");
    encode_one(&span);
    const uint8_t repaired[] = {0x2a, 0x05, 'a', 0xef, 0xbf, 0xbd, 'b'};
    cr_assert(contains(&out, repaired, sizeof repaired));
}

Test(otlp_encode, spans_grouped_by_resource_in_first_appearance_order) {
    struct ldtap_resource *first = ldtap_resource_new();
    struct ldtap_resource *second = ldtap_resource_new();
    ldtap_resource_add_string(first, "service.name", "one", 3);
    ldtap_resource_add_string(second, "service.name", "two", 3);
    struct ldtap_span spans[3];
    for (int i = 0; i < 3; i++) {
        minimal_span(&spans[i]);
        spans[i].name[0] = (char)('A' + i);
        spans[i].resource = i == 1 ? second : first;
    }
    const struct ldtap_span *pointers[3] = {&spans[0], &spans[1], &spans[2]};
    cr_assert(ldtap_otlp_json_encode(&out, pointers, 3));
    ldtap_buffer_append_byte(&out, 0);
    const char *json = (const char *)out.data;
    const char *one = strstr(json, "\"one\""), *two = strstr(json, "\"two\"");
    const char *a = strstr(json, "\"name\":\"A\""), *b = strstr(json, "\"name\":\"B\""), *c = strstr(json, "\"name\":\"C\"");
    cr_assert(one && two && a && b && c);
    cr_assert(one < a && a < c && c < two && two < b, "%s", json);
    ldtap_buffer_reset(&out);
    cr_assert(ldtap_otlp_protobuf_encode(&out, pointers, 3));
    cr_assert(well_formed(out.data, out.length));
    size_t groups = 0;
    for (size_t at = 0; at < out.length; groups++) {
        cr_assert_eq(out.data[at++], 0x0a);
        at += read_varint(out.data, &at);
    }
    cr_assert_eq(groups, 2);
    ldtap_resource_release(first);
    ldtap_resource_release(second);
}

static void assert_json_string(const char *input, size_t length, const char *expected) {
    ldtap_buffer_reset(&out);
    ldtap_json_append_string(&out, input, length);
    ldtap_buffer_append_byte(&out, 0);
    cr_assert_str_eq((const char *)out.data, expected);
}

Test(otlp_encode, json_escaping) {
    assert_json_string("plain", 5, "\"plain\"");
    assert_json_string("", 0, "\"\"");
    assert_json_string("a\"b\\c/", 6, "\"a\\\"b\\\\c/\"");
    assert_json_string("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
    assert_json_string("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
    assert_json_string("a\0b", 3, "\"a\\u0000b\"");
    assert_json_string("é☕😀", strlen("é☕😀"), "\"é☕😀\"");
}

Test(otlp_encode, json_invalid_utf8_becomes_replacement) {
    assert_json_string("\xff", 1, "\"\\ufffd\"");
    assert_json_string("a\xc3", 2, "\"a\\ufffd\"");                 /* truncated 2-byte */
    assert_json_string("\xe2\x98!", 3, "\"\\ufffd!\"");            /* truncated 3-byte: one U+FFFD */
    assert_json_string("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");       /* overlong */
    assert_json_string("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
    assert_json_string("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    assert_json_string("\xf0\x9f\x98" "A", 4, "\"\\ufffdA\"");
    assert_json_string("\x80\x80", 2, "\"\\ufffd\\ufffd\"");       /* lone continuations */
    cr_assert_eq(ldtap_utf8_sanitized_length("\xf0\x9f\x98" "A", 4), 4);
    cr_assert_eq(ldtap_utf8_sanitized_length("\xed\xa0\x80", 3), 9);
}

/* What ldtap_json_append_string must write, one byte at a time: the encoder's word-at-a-time
 * scan has to agree with this on every input. */
static size_t reference_json_string(const uint8_t *bytes, size_t length, char *out) {
    size_t used = 0;
    out[used++] = '"';
    for (size_t at = 0; at < length;) {
        uint8_t byte = bytes[at];
        const char *named = byte == '"'    ? "\\\""
                            : byte == '\\' ? "\\\\"
                            : byte == '\b' ? "\\b"
                            : byte == '\f' ? "\\f"
                            : byte == '\n' ? "\\n"
                            : byte == '\r' ? "\\r"
                            : byte == '\t' ? "\\t"
                                           : NULL;
        if (named) {
            used += (size_t)sprintf(out + used, "%s", named);
            at++;
        } else if (byte < 0x20 || byte == 0x7f) {
            used += (size_t)sprintf(out + used, "\\u%04x", byte);
            at++;
        } else if (byte < 0x80) {
            out[used++] = (char)byte;
            at++;
        } else {
            bool valid;
            size_t taken = ldtap_utf8_next(bytes + at, length - at, &valid);
            if (valid) {
                memcpy(out + used, bytes + at, taken);
                used += taken;
            } else {
                used += (size_t)sprintf(out + used, "\\ufffd");
            }
            at += taken;
        }
    }
    out[used++] = '"';
    return used;
}

Test(otlp_encode, json_string_agrees_with_bytewise_reference) {
    /* Mostly plain text, with each kind of byte that needs care sprinkled at every offset
     * relative to the 8-byte words, and every length around a word. */
    static const uint8_t specials[] = {'"',  '\\', '\n', 0x00, 0x1f, 0x20, 0x7e, 0x7f, 0x80,
                                       0xc3, 0xa9, 0xe2, 0x98, 0x95, 0xf0, 0xff, 'A',  'z'};
    uint8_t input[64];
    char expected[64 * 6 + 3];
    uint64_t state = 0x2545f4914f6cdd1dull;
    for (int round = 0; round < 20000; round++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        size_t length = (size_t)(state % sizeof input);
        for (size_t i = 0; i < length; i++) {
            input[i] = (uint8_t)('a' + (i % 26));
        }
        for (int k = 0; k < (int)((state >> 8) % 4) && length > 0; k++) {
            input[(state >> (16 + 8 * k)) % length] = specials[(state >> (20 + 8 * k)) % sizeof specials];
        }
        size_t expected_length = reference_json_string(input, length, expected);
        ldtap_buffer_reset(&out);
        ldtap_json_append_string(&out, (const char *)input, length);
        cr_assert_eq(out.length, expected_length, "round %d: length %zu, expected %zu", round, out.length,
                     expected_length);
        cr_assert_eq(memcmp(out.data, expected, expected_length), 0, "round %d", round);
    }
}

Test(otlp_encode, json_hex_ids) {
    static const uint8_t id[20] = {0x00, 0x01, 0xab, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60,
                                   0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x0f};
    ldtap_buffer_reset(&out);
    ldtap_json_append_hex(&out, id, 8);
    ldtap_json_append_hex(&out, id, 16);
    ldtap_json_append_hex(&out, id, 20);
    ldtap_json_append_hex(&out, id, 0);
    ldtap_buffer_append_byte(&out, 0);
    cr_assert_str_eq((const char *)out.data, "\"0001abff10203040\""
                                             "\"0001abff102030405060708090a0b0c0\""
                                             "\"0001abff102030405060708090a0b0c0d0e0f00f\""
                                             "\"\"");
}

Test(otlp_encode, json_span_exact) {
    struct ldtap_span span;
    minimal_span(&span);
    memset(span.parent_span_id, 0xab, 8);
    span.status_code = LDTAP_STATUS_ERROR;
    span.trace_flags = 1;
    span.end_time_ns = UINT64_MAX;
    ldtap_span_add_int(&span, "i", INT64_MIN);
    ldtap_span_add_double(&span, "d", 0.1);
    ldtap_span_add_double(&span, "n", NAN);
    ldtap_span_add_double(&span, "w", 1.0);
    ldtap_span_add_bool(&span, "b", false);
    const struct ldtap_span *spans[1] = {&span};
    cr_assert(ldtap_otlp_json_encode(&out, spans, 1));
    ldtap_buffer_append_byte(&out, 0);
    char expected[1024];
    snprintf(expected, sizeof expected,
             "{\"resourceSpans\":[{\"scopeSpans\":[{\"scope\":{\"name\":\"ldtap\",\"version\":\"%s\"},\"spans\":[{"
             "\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"1112131415161718\","
             "\"parentSpanId\":\"abababababababab\",\"flags\":1,\"name\":\"a\",\"kind\":2,"
             "\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"18446744073709551615\",\"attributes\":["
             "{\"key\":\"i\",\"value\":{\"intValue\":\"-9223372036854775808\"}},"
             "{\"key\":\"d\",\"value\":{\"doubleValue\":0.1}},"
             "{\"key\":\"n\",\"value\":{\"doubleValue\":\"NaN\"}},"
             "{\"key\":\"w\",\"value\":{\"doubleValue\":1}},"
             "{\"key\":\"b\",\"value\":{\"boolValue\":false}}],"
             "\"status\":{\"code\":2}}]}]}]}",
             LDTAP_OTLP_SCOPE_VERSION);
    cr_assert_str_eq((const char *)out.data, expected);
}

Test(otlp_encode, buffer_is_reused_across_batches) {
    struct ldtap_span span;
    minimal_span(&span);
    encode_one(&span);
    uint8_t *first_data = out.data;
    size_t first_length = out.length;
    encode_one(&span);
    cr_assert_eq(out.data, first_data);
    cr_assert_eq(out.length, first_length);
}
