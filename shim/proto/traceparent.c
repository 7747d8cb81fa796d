/* W3C Trace Context level 1 `traceparent` parsing and formatting (see traceparent.h).
 * Pure code: runs in the shim on every incoming request that carries the header. */
#include "traceparent.h"

/* version "-" trace-id "-" parent-id "-" trace-flags, as laid out by version 00. */
enum {
    VERSION_OFFSET = 0,
    TRACE_ID_OFFSET = 3,
    PARENT_ID_OFFSET = 36,
    FLAGS_OFFSET = 53,
    VERSION_00_LENGTH = 55,
};

static const char lowercase_hex_digits[] = "0123456789abcdef";

static bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

/* The specification allows lower-case hex only; upper case means "ignore the header". */
static int lowercase_hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

static bool decode_hex(const char *text, size_t byte_count, uint8_t *out) {
    for (size_t i = 0; i < byte_count; i++) {
        int high = lowercase_hex_value(text[2 * i]);
        int low = lowercase_hex_value(text[2 * i + 1]);
        if (high < 0 || low < 0) {
            return false;
        }
        out[i] = (uint8_t)(high << 4 | low);
    }
    return true;
}

static bool is_all_zero(const uint8_t *bytes, size_t length) {
    uint8_t any = 0;
    for (size_t i = 0; i < length; i++) {
        any |= bytes[i];
    }
    return any == 0;
}

static bool has_dashes_of_version_00_layout(const char *value) {
    return value[TRACE_ID_OFFSET - 1] == '-' && value[PARENT_ID_OFFSET - 1] == '-' &&
           value[FLAGS_OFFSET - 1] == '-';
}

bool ldtap_traceparent_parse(const char *value, size_t length, struct ldtap_trace_context *context) {
    if (value == NULL) {
        return false;
    }
    while (length > 0 && is_blank(value[0])) {
        value++;
        length--;
    }
    while (length > 0 && is_blank(value[length - 1])) {
        length--;
    }
    if (length < VERSION_00_LENGTH || !has_dashes_of_version_00_layout(value)) {
        return false;
    }
    uint8_t version;
    struct ldtap_trace_context parsed;
    if (!decode_hex(value + VERSION_OFFSET, 1, &version) || version == 0xff ||
        !decode_hex(value + TRACE_ID_OFFSET, sizeof parsed.trace_id, parsed.trace_id) ||
        !decode_hex(value + PARENT_ID_OFFSET, sizeof parsed.parent_span_id, parsed.parent_span_id) ||
        !decode_hex(value + FLAGS_OFFSET, 1, &parsed.trace_flags)) {
        return false;
    }
    /* Version 00 is exactly 55 characters; a later version may append fields, each
     * introduced by '-', which a version-00 reader skips. */
    if (length > VERSION_00_LENGTH && (version == 0 || value[VERSION_00_LENGTH] != '-')) {
        return false;
    }
    if (is_all_zero(parsed.trace_id, sizeof parsed.trace_id) ||
        is_all_zero(parsed.parent_span_id, sizeof parsed.parent_span_id)) {
        return false;
    }
    if (context != NULL) {
        *context = parsed;
    }
    return true;
}

static char *encode_hex(const uint8_t *bytes, size_t length, char *out) {
    for (size_t i = 0; i < length; i++) {
        *out++ = lowercase_hex_digits[bytes[i] >> 4];
        *out++ = lowercase_hex_digits[bytes[i] & 0x0f];
    }
    return out;
}

void ldtap_traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags,
                              char out[56]) {
    const uint8_t version = 0;
    char *cursor = encode_hex(&version, 1, out);
    *cursor++ = '-';
    cursor = encode_hex(trace_id, 16, cursor);
    *cursor++ = '-';
    cursor = encode_hex(span_id, 8, cursor);
    *cursor++ = '-';
    cursor = encode_hex(&flags, 1, cursor);
    *cursor = '\0';
}
