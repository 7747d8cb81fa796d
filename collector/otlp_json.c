/* OTLP/JSON request encoder. Output has no whitespace: one request is one line of the
 * traces file. */
#include "otlp_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_common.h"

static const char hex_digits[] = "0123456789abcdef";

static bool needs_escape(uint8_t byte) {
    return byte < 0x20 || byte == '"' || byte == '\\' || byte >= 0x7F;
}

static void append_escape(struct ldtap_buffer *out, uint8_t byte) {
    char escaped[7] = {'\\', 0, 0, 0, 0, 0, 0};
    switch (byte) {
    case '"': escaped[1] = '"'; break;
    case '\\': escaped[1] = '\\'; break;
    case '\b': escaped[1] = 'b'; break;
    case '\f': escaped[1] = 'f'; break;
    case '\n': escaped[1] = 'n'; break;
    case '\r': escaped[1] = 'r'; break;
    case '\t': escaped[1] = 't'; break;
    default:
        memcpy(escaped + 1, "u00", 3);
        escaped[4] = hex_digits[byte >> 4];
        escaped[5] = hex_digits[byte & 0xF];
        ldtap_buffer_append(out, escaped, 6);
        return;
    }
    ldtap_buffer_append(out, escaped, 2);
}

void ldtap_json_append_string(struct ldtap_buffer *out, const char *text, size_t length) {
    const uint8_t *bytes = (const uint8_t *)text;
    size_t run_start = 0;
    size_t at = 0;
    ldtap_buffer_append_byte(out, '"');
    while (at < length) {
        if (!needs_escape(bytes[at])) {
            at++;
            continue;
        }
        ldtap_buffer_append(out, bytes + run_start, at - run_start);
        if (bytes[at] < 0x80) {
            append_escape(out, bytes[at]);
            at++;
        } else {
            bool valid;
            size_t used = ldtap_utf8_next(bytes + at, length - at, &valid);
            if (valid) {
                ldtap_buffer_append(out, bytes + at, used);
            } else {
                ldtap_buffer_append_cstring(out, "\\ufffd");
            }
            at += used;
        }
        run_start = at;
    }
    ldtap_buffer_append(out, bytes + run_start, at - run_start);
    ldtap_buffer_append_byte(out, '"');
}

static void append_hex(struct ldtap_buffer *out, const uint8_t *bytes, size_t length) {
    ldtap_buffer_append_byte(out, '"');
    for (size_t i = 0; i < length; i++) {
        ldtap_buffer_append_byte(out, (uint8_t)hex_digits[bytes[i] >> 4]);
        ldtap_buffer_append_byte(out, (uint8_t)hex_digits[bytes[i] & 0xF]);
    }
    ldtap_buffer_append_byte(out, '"');
}

static void append_format(struct ldtap_buffer *out, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void append_format(struct ldtap_buffer *out, const char *format, ...) {
    char text[128]; /* callers format at most a few numbers */
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(text, sizeof text, format, arguments);
    va_end(arguments);
    if (length > 0) {
        ldtap_buffer_append(out, text, (size_t)length < sizeof text ? (size_t)length : sizeof text - 1);
    }
}

/* The shortest %g form that reads back as the same double; proto3's JSON mapping spells
 * the non-finite values as strings. */
static void append_double(struct ldtap_buffer *out, double value) {
    if (isnan(value)) {
        ldtap_buffer_append_cstring(out, "\"NaN\"");
        return;
    }
    if (isinf(value)) {
        ldtap_buffer_append_cstring(out, value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    char text[40];
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, value);
        if (strtod(text, NULL) == value) {
            break;
        }
    }
    ldtap_buffer_append_cstring(out, text);
}

static void append_attributes(struct ldtap_buffer *out, const char *text, const struct ldtap_attribute *attributes,
                              uint16_t count) {
    ldtap_buffer_append_cstring(out, "\"attributes\":[");
    for (uint16_t i = 0; i < count; i++) {
        const struct ldtap_attribute *attribute = &attributes[i];
        ldtap_buffer_append_cstring(out, i ? ",{\"key\":" : "{\"key\":");
        ldtap_json_append_string(out, attribute->key, strlen(attribute->key));
        ldtap_buffer_append_cstring(out, ",\"value\":{");
        switch (attribute->type) {
        case LDTAP_VALUE_STRING:
            ldtap_buffer_append_cstring(out, "\"stringValue\":");
            ldtap_json_append_string(out, text + attribute->string_offset, attribute->string_length);
            break;
        case LDTAP_VALUE_BOOL:
            ldtap_buffer_append_cstring(out, attribute->bool_value ? "\"boolValue\":true" : "\"boolValue\":false");
            break;
        case LDTAP_VALUE_INT:
            append_format(out, "\"intValue\":\"%" PRId64 "\"", attribute->int_value);
            break;
        case LDTAP_VALUE_DOUBLE:
            ldtap_buffer_append_cstring(out, "\"doubleValue\":");
            append_double(out, attribute->double_value);
            break;
        default:
            break;
        }
        ldtap_buffer_append_cstring(out, "}}");
    }
    ldtap_buffer_append_byte(out, ']');
}

static bool all_zero(const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length; i++) {
        if (bytes[i]) {
            return false;
        }
    }
    return true;
}

static void append_span(struct ldtap_buffer *out, const struct ldtap_span *span) {
    ldtap_buffer_append_cstring(out, "{\"traceId\":");
    append_hex(out, span->trace_id, sizeof span->trace_id);
    ldtap_buffer_append_cstring(out, ",\"spanId\":");
    append_hex(out, span->span_id, sizeof span->span_id);
    if (!all_zero(span->parent_span_id, sizeof span->parent_span_id)) {
        ldtap_buffer_append_cstring(out, ",\"parentSpanId\":");
        append_hex(out, span->parent_span_id, sizeof span->parent_span_id);
    }
    if (span->trace_flags) {
        append_format(out, ",\"flags\":%u", (unsigned)span->trace_flags);
    }
    ldtap_buffer_append_cstring(out, ",\"name\":");
    ldtap_json_append_string(out, span->name, strnlen(span->name, sizeof span->name));
    append_format(out, ",\"kind\":%u,\"startTimeUnixNano\":\"%" PRIu64 "\",\"endTimeUnixNano\":\"%" PRIu64 "\"",
                  (unsigned)span->kind, span->start_time_ns, span->end_time_ns);
    if (span->attribute_count) {
        ldtap_buffer_append_byte(out, ',');
        append_attributes(out, span->text, span->attributes, span->attribute_count);
    }
    if (span->status_code) {
        append_format(out, ",\"status\":{\"code\":%u}", (unsigned)span->status_code);
    }
    ldtap_buffer_append_byte(out, '}');
}

static void append_resource_spans(struct ldtap_buffer *out, const struct ldtap_span *const *spans, size_t count,
                                  size_t first) {
    const struct ldtap_resource *resource = spans[first]->resource;
    ldtap_buffer_append_byte(out, '{');
    if (resource) {
        ldtap_buffer_append_cstring(out, "\"resource\":{");
        append_attributes(out, resource->text, resource->attributes, resource->attribute_count);
        ldtap_buffer_append_cstring(out, "},");
    }
    ldtap_buffer_append_cstring(out, "\"scopeSpans\":[{\"scope\":{\"name\":");
    ldtap_json_append_string(out, LDTAP_OTLP_SCOPE_NAME, strlen(LDTAP_OTLP_SCOPE_NAME));
    ldtap_buffer_append_cstring(out, ",\"version\":");
    ldtap_json_append_string(out, LDTAP_OTLP_SCOPE_VERSION, strlen(LDTAP_OTLP_SCOPE_VERSION));
    ldtap_buffer_append_cstring(out, "},\"spans\":[");
    bool first_span = true;
    for (size_t i = first; i < count; i++) {
        if (spans[i]->resource == resource) {
            if (!first_span) {
                ldtap_buffer_append_byte(out, ',');
            }
            append_span(out, spans[i]);
            first_span = false;
        }
    }
    ldtap_buffer_append_cstring(out, "]}]}");
}

bool ldtap_otlp_json_encode(struct ldtap_buffer *out, const struct ldtap_span *const *spans, size_t count) {
    bool first_group = true;
    ldtap_buffer_append_cstring(out, "{\"resourceSpans\":[");
    for (size_t i = 0; i < count; i++) {
        if (ldtap_otlp_first_of_resource(spans, i)) {
            if (!first_group) {
                ldtap_buffer_append_byte(out, ',');
            }
            append_resource_spans(out, spans, count, i);
            first_group = false;
        }
    }
    ldtap_buffer_append_cstring(out, "]}");
    return !out->failed;
}
