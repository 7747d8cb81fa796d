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

static void append_hex(struct ldtap_buffer *out, const uint8_t *bytes, size_t length) {
    ldtap_buffer_append_byte(out, '"');
    for (size_t i = 0; i < length; i++) {
        ldtap_buffer_append_byte(out, (uint8_t)hex_digits[bytes[i] >> 4]);
        ldtap_buffer_append_byte(out, (uint8_t)hex_digits[bytes[i] & 0xF]);
    }
    ldtap_buffer_append_byte(out, '"');
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
        ldtap_json_append_format(out, ",\"flags\":%u", (unsigned)span->trace_flags);
    }
    ldtap_buffer_append_cstring(out, ",\"name\":");
    ldtap_json_append_string(out, span->name, strnlen(span->name, sizeof span->name));
    ldtap_json_append_format(out, ",\"kind\":%u,\"startTimeUnixNano\":\"%" PRIu64 "\",\"endTimeUnixNano\":\"%" PRIu64 "\"",
                  (unsigned)span->kind, span->start_time_ns, span->end_time_ns);
    if (span->attribute_count) {
        ldtap_buffer_append_byte(out, ',');
        ldtap_json_append_attributes(out, span->text, span->attributes, span->attribute_count);
    }
    if (span->status_code) {
        ldtap_json_append_format(out, ",\"status\":{\"code\":%u}", (unsigned)span->status_code);
    }
    ldtap_buffer_append_byte(out, '}');
}

static void append_resource_spans(struct ldtap_buffer *out, const struct ldtap_span *const *spans, size_t count,
                                  size_t first) {
    const struct ldtap_resource *resource = spans[first]->resource;
    ldtap_buffer_append_byte(out, '{');
    ldtap_json_append_resource(out, resource);
    ldtap_buffer_append_cstring(out, "\"scopeSpans\":[{");
    ldtap_json_append_scope(out);
    ldtap_buffer_append_cstring(out, ",\"spans\":[");
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
