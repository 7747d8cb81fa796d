/* ExportTraceServiceRequest protobuf encoder. Every nested message's length is computed
 * before it is written, so the output is canonical and written once, with no back-patching.
 * Field numbers: opentelemetry-proto trace/v1/trace.proto, common/v1/common.proto. */
#include "otlp_protobuf.h"

#include <string.h>

#include "otlp_common.h"

enum wire_type { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LENGTH = 2, WIRE_FIXED32 = 5 };

enum {
    REQUEST_RESOURCE_SPANS = 1,
    RESOURCE_SPANS_RESOURCE = 1,
    RESOURCE_SPANS_SCOPE_SPANS = 2,
    RESOURCE_ATTRIBUTES = 1,
    SCOPE_SPANS_SCOPE = 1,
    SCOPE_SPANS_SPANS = 2,
    SCOPE_NAME = 1,
    SCOPE_VERSION = 2,
    SPAN_TRACE_ID = 1,
    SPAN_SPAN_ID = 2,
    SPAN_PARENT_SPAN_ID = 4,
    SPAN_NAME = 5,
    SPAN_KIND = 6,
    SPAN_START_TIME = 7,
    SPAN_END_TIME = 8,
    SPAN_ATTRIBUTES = 9,
    SPAN_STATUS = 15,
    SPAN_FLAGS = 16,
    STATUS_CODE = 3,
    KEY_VALUE_KEY = 1,
    KEY_VALUE_VALUE = 2,
    ANY_VALUE_STRING = 1,
    ANY_VALUE_BOOL = 2,
    ANY_VALUE_INT = 3,
    ANY_VALUE_DOUBLE = 4,
};

size_t ldtap_protobuf_varint_size(uint64_t value) {
    size_t size = 1;
    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    return size;
}

void ldtap_protobuf_put_varint(struct ldtap_buffer *out, uint64_t value) {
    uint8_t bytes[10];
    size_t used = 0;
    while (value >= 0x80) {
        bytes[used++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    bytes[used++] = (uint8_t)value;
    ldtap_buffer_append(out, bytes, used);
}

static size_t tag_size(uint32_t field) {
    return ldtap_protobuf_varint_size((uint64_t)field << 3);
}

static size_t length_delimited_size(uint32_t field, size_t payload_size) {
    return tag_size(field) + ldtap_protobuf_varint_size(payload_size) + payload_size;
}

static void put_tag(struct ldtap_buffer *out, uint32_t field, enum wire_type wire) {
    ldtap_protobuf_put_varint(out, ((uint64_t)field << 3) | wire);
}

static void put_length_header(struct ldtap_buffer *out, uint32_t field, size_t payload_size) {
    put_tag(out, field, WIRE_LENGTH);
    ldtap_protobuf_put_varint(out, payload_size);
}

/* Fixed-width fields are little-endian on the wire whatever the host order. */
static void put_fixed(struct ldtap_buffer *out, uint64_t value, size_t width) {
    uint8_t bytes[8];
    for (size_t i = 0; i < width; i++) {
        bytes[i] = (uint8_t)(value >> (8 * i));
    }
    ldtap_buffer_append(out, bytes, width);
}

static void put_string_field(struct ldtap_buffer *out, uint32_t field, const char *text, size_t length,
                             size_t sanitized_length) {
    put_length_header(out, field, sanitized_length);
    if (sanitized_length == length) {
        ldtap_buffer_append(out, text, length);
    } else {
        ldtap_utf8_append_sanitized(out, text, length);
    }
}

/* ---- attributes: KeyValue { key = 1; AnyValue value = 2 } ---- */

static size_t any_value_size(const char *text, const struct ldtap_attribute *attribute) {
    switch (attribute->type) {
    case LDTAP_VALUE_STRING:
        return length_delimited_size(
            ANY_VALUE_STRING,
            ldtap_utf8_sanitized_length(text + attribute->string_offset, attribute->string_length));
    case LDTAP_VALUE_BOOL:
        return tag_size(ANY_VALUE_BOOL) + 1;
    case LDTAP_VALUE_INT:
        return tag_size(ANY_VALUE_INT) + ldtap_protobuf_varint_size((uint64_t)attribute->int_value);
    case LDTAP_VALUE_DOUBLE:
        return tag_size(ANY_VALUE_DOUBLE) + 8;
    default:
        return 0; /* an empty AnyValue: the attribute is kept, its value unknown */
    }
}

static void put_any_value(struct ldtap_buffer *out, const char *text, const struct ldtap_attribute *attribute) {
    /* A oneof member is written even when it holds the default value. */
    switch (attribute->type) {
    case LDTAP_VALUE_STRING: {
        const char *value = text + attribute->string_offset;
        put_string_field(out, ANY_VALUE_STRING, value, attribute->string_length,
                         ldtap_utf8_sanitized_length(value, attribute->string_length));
        break;
    }
    case LDTAP_VALUE_BOOL:
        put_tag(out, ANY_VALUE_BOOL, WIRE_VARINT);
        ldtap_buffer_append_byte(out, attribute->bool_value ? 1 : 0);
        break;
    case LDTAP_VALUE_INT:
        put_tag(out, ANY_VALUE_INT, WIRE_VARINT);
        ldtap_protobuf_put_varint(out, (uint64_t)attribute->int_value);
        break;
    case LDTAP_VALUE_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &attribute->double_value, sizeof bits);
        put_tag(out, ANY_VALUE_DOUBLE, WIRE_FIXED64);
        put_fixed(out, bits, 8);
        break;
    }
    default:
        break;
    }
}

static size_t key_value_size(const char *text, const struct ldtap_attribute *attribute) {
    size_t key_length = ldtap_utf8_sanitized_length(attribute->key, strlen(attribute->key));
    return length_delimited_size(KEY_VALUE_KEY, key_length) +
           length_delimited_size(KEY_VALUE_VALUE, any_value_size(text, attribute));
}

static size_t attributes_size(uint32_t field, const char *text, const struct ldtap_attribute *attributes,
                              uint16_t count) {
    size_t size = 0;
    for (uint16_t i = 0; i < count; i++) {
        size += length_delimited_size(field, key_value_size(text, &attributes[i]));
    }
    return size;
}

static void put_attributes(struct ldtap_buffer *out, uint32_t field, const char *text,
                           const struct ldtap_attribute *attributes, uint16_t count) {
    for (uint16_t i = 0; i < count; i++) {
        const struct ldtap_attribute *attribute = &attributes[i];
        size_t key_length = strlen(attribute->key);
        put_length_header(out, field, key_value_size(text, attribute));
        put_string_field(out, KEY_VALUE_KEY, attribute->key, key_length,
                         ldtap_utf8_sanitized_length(attribute->key, key_length));
        put_length_header(out, KEY_VALUE_VALUE, any_value_size(text, attribute));
        put_any_value(out, text, attribute);
    }
}

/* ---- Span ---- */

static bool all_zero(const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length; i++) {
        if (bytes[i]) {
            return false;
        }
    }
    return true;
}

static size_t status_size(const struct ldtap_span *span) {
    return tag_size(STATUS_CODE) + ldtap_protobuf_varint_size(span->status_code);
}

static size_t span_size(const struct ldtap_span *span) {
    size_t name_length = strnlen(span->name, sizeof span->name);
    size_t size = length_delimited_size(SPAN_TRACE_ID, sizeof span->trace_id) +
                  length_delimited_size(SPAN_SPAN_ID, sizeof span->span_id);
    if (!all_zero(span->parent_span_id, sizeof span->parent_span_id)) {
        size += length_delimited_size(SPAN_PARENT_SPAN_ID, sizeof span->parent_span_id);
    }
    if (name_length) {
        size += length_delimited_size(SPAN_NAME, ldtap_utf8_sanitized_length(span->name, name_length));
    }
    if (span->kind) {
        size += tag_size(SPAN_KIND) + ldtap_protobuf_varint_size(span->kind);
    }
    if (span->start_time_ns) {
        size += tag_size(SPAN_START_TIME) + 8;
    }
    if (span->end_time_ns) {
        size += tag_size(SPAN_END_TIME) + 8;
    }
    size += attributes_size(SPAN_ATTRIBUTES, span->text, span->attributes, span->attribute_count);
    if (span->status_code) {
        size += length_delimited_size(SPAN_STATUS, status_size(span));
    }
    if (span->trace_flags) {
        size += tag_size(SPAN_FLAGS) + 4;
    }
    return size;
}

static void put_span(struct ldtap_buffer *out, const struct ldtap_span *span) {
    size_t name_length = strnlen(span->name, sizeof span->name);
    put_length_header(out, SPAN_TRACE_ID, sizeof span->trace_id);
    ldtap_buffer_append(out, span->trace_id, sizeof span->trace_id);
    put_length_header(out, SPAN_SPAN_ID, sizeof span->span_id);
    ldtap_buffer_append(out, span->span_id, sizeof span->span_id);
    /* A root span's parent must be empty, not eight zero bytes. */
    if (!all_zero(span->parent_span_id, sizeof span->parent_span_id)) {
        put_length_header(out, SPAN_PARENT_SPAN_ID, sizeof span->parent_span_id);
        ldtap_buffer_append(out, span->parent_span_id, sizeof span->parent_span_id);
    }
    if (name_length) {
        put_string_field(out, SPAN_NAME, span->name, name_length,
                         ldtap_utf8_sanitized_length(span->name, name_length));
    }
    if (span->kind) {
        put_tag(out, SPAN_KIND, WIRE_VARINT);
        ldtap_protobuf_put_varint(out, span->kind);
    }
    if (span->start_time_ns) {
        put_tag(out, SPAN_START_TIME, WIRE_FIXED64);
        put_fixed(out, span->start_time_ns, 8);
    }
    if (span->end_time_ns) {
        put_tag(out, SPAN_END_TIME, WIRE_FIXED64);
        put_fixed(out, span->end_time_ns, 8);
    }
    put_attributes(out, SPAN_ATTRIBUTES, span->text, span->attributes, span->attribute_count);
    if (span->status_code) {
        put_length_header(out, SPAN_STATUS, status_size(span));
        put_tag(out, STATUS_CODE, WIRE_VARINT);
        ldtap_protobuf_put_varint(out, span->status_code);
    }
    if (span->trace_flags) {
        put_tag(out, SPAN_FLAGS, WIRE_FIXED32);
        put_fixed(out, span->trace_flags, 4);
    }
}

/* ---- ResourceSpans ---- */

static size_t scope_size(void) {
    return length_delimited_size(SCOPE_NAME, strlen(LDTAP_OTLP_SCOPE_NAME)) +
           length_delimited_size(SCOPE_VERSION, strlen(LDTAP_OTLP_SCOPE_VERSION));
}

static void put_resource_spans(struct ldtap_buffer *out, const struct ldtap_span *const *spans, size_t count,
                               size_t first) {
    const struct ldtap_resource *resource = spans[first]->resource;
    size_t spans_total = 0;
    for (size_t i = first; i < count; i++) {
        if (spans[i]->resource == resource) {
            spans_total += length_delimited_size(SCOPE_SPANS_SPANS, span_size(spans[i]));
        }
    }
    size_t scope_spans_size = length_delimited_size(SCOPE_SPANS_SCOPE, scope_size()) + spans_total;
    size_t resource_size =
        resource ? attributes_size(RESOURCE_ATTRIBUTES, resource->text, resource->attributes,
                                   resource->attribute_count)
                 : 0;
    size_t resource_spans_size = length_delimited_size(RESOURCE_SPANS_SCOPE_SPANS, scope_spans_size);
    if (resource) {
        resource_spans_size += length_delimited_size(RESOURCE_SPANS_RESOURCE, resource_size);
    }

    put_length_header(out, REQUEST_RESOURCE_SPANS, resource_spans_size);
    if (resource) {
        put_length_header(out, RESOURCE_SPANS_RESOURCE, resource_size);
        put_attributes(out, RESOURCE_ATTRIBUTES, resource->text, resource->attributes, resource->attribute_count);
    }
    put_length_header(out, RESOURCE_SPANS_SCOPE_SPANS, scope_spans_size);
    put_length_header(out, SCOPE_SPANS_SCOPE, scope_size());
    put_string_field(out, SCOPE_NAME, LDTAP_OTLP_SCOPE_NAME, strlen(LDTAP_OTLP_SCOPE_NAME),
                     strlen(LDTAP_OTLP_SCOPE_NAME));
    put_string_field(out, SCOPE_VERSION, LDTAP_OTLP_SCOPE_VERSION, strlen(LDTAP_OTLP_SCOPE_VERSION),
                     strlen(LDTAP_OTLP_SCOPE_VERSION));
    for (size_t i = first; i < count; i++) {
        if (spans[i]->resource == resource) {
            put_length_header(out, SCOPE_SPANS_SPANS, span_size(spans[i]));
            put_span(out, spans[i]);
        }
    }
}

bool ldtap_otlp_protobuf_encode(struct ldtap_buffer *out, const struct ldtap_span *const *spans, size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (ldtap_otlp_first_of_resource(spans, i)) {
            put_resource_spans(out, spans, count, i);
        }
    }
    return !out->failed;
}
