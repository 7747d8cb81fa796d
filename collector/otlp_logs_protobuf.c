/* ExportLogsServiceRequest protobuf encoder over the wire helpers of otlp_common.c.
 * Field numbers: opentelemetry-proto logs/v1/logs.proto and common/v1/common.proto. */
#include "otlp_logs.h"

#include <string.h>

#include "otlp_common.h"

enum {
    LOG_TIME = 1,
    LOG_SEVERITY_NUMBER = 2,
    LOG_SEVERITY_TEXT = 3,
    LOG_BODY = 5,
    LOG_ATTRIBUTES = 6,
    LOG_TRACE_ID = 9,
    LOG_SPAN_ID = 10,
    LOG_OBSERVED_TIME = 11,
    LOG_EVENT_NAME = 12,
    ANY_VALUE_STRING = 1,
};

const struct ldtap_resource *ldtap_log_entry_resource(const void *entry) {
    return ((const struct ldtap_log_entry *)entry)->resource;
}

static size_t body_size(const struct ldtap_log_entry *entry) {
    return ldtap_protobuf_length_delimited_size(ANY_VALUE_STRING,
                                                ldtap_utf8_sanitized_length(entry->text, entry->body_length));
}

static size_t log_record_size(const struct ldtap_log_entry *entry) {
    size_t severity_length = strlen(entry->severity_text);
    size_t size = 0;
    if (entry->time_ns) {
        size += ldtap_protobuf_tag_size(LOG_TIME) + 8;
    }
    if (entry->severity_number) {
        size += ldtap_protobuf_tag_size(LOG_SEVERITY_NUMBER) + ldtap_protobuf_varint_size(entry->severity_number);
    }
    if (severity_length) {
        size += ldtap_protobuf_length_delimited_size(LOG_SEVERITY_TEXT,
                                                     ldtap_utf8_sanitized_length(entry->severity_text, severity_length));
    }
    size += ldtap_protobuf_length_delimited_size(LOG_BODY, body_size(entry));
    size += ldtap_protobuf_attributes_size(LOG_ATTRIBUTES, entry->text, entry->attributes, entry->attribute_count);
    if (!ldtap_otlp_id_is_zero(entry->trace_id, sizeof entry->trace_id)) {
        size += ldtap_protobuf_length_delimited_size(LOG_TRACE_ID, sizeof entry->trace_id);
    }
    if (!ldtap_otlp_id_is_zero(entry->span_id, sizeof entry->span_id)) {
        size += ldtap_protobuf_length_delimited_size(LOG_SPAN_ID, sizeof entry->span_id);
    }
    if (entry->observed_time_ns) {
        size += ldtap_protobuf_tag_size(LOG_OBSERVED_TIME) + 8;
    }
    if (entry->event_name) {
        size += ldtap_protobuf_length_delimited_size(LOG_EVENT_NAME, strlen(entry->event_name));
    }
    return size;
}

static void put_id(struct ldtap_buffer *out, uint32_t field, const uint8_t *id, size_t length) {
    if (!ldtap_otlp_id_is_zero(id, length)) {
        ldtap_protobuf_put_length_header(out, field, length);
        ldtap_buffer_append(out, id, length);
    }
}

static void put_fixed64_field(struct ldtap_buffer *out, uint32_t field, uint64_t value) {
    if (value) {
        ldtap_protobuf_put_tag(out, field, LDTAP_WIRE_FIXED64);
        ldtap_protobuf_put_fixed(out, value, 8);
    }
}

/* Fields in number order, as canonical encoders write them. */
static void put_log_record(struct ldtap_buffer *out, const struct ldtap_log_entry *entry) {
    size_t severity_length = strlen(entry->severity_text);
    put_fixed64_field(out, LOG_TIME, entry->time_ns);
    if (entry->severity_number) {
        ldtap_protobuf_put_tag(out, LOG_SEVERITY_NUMBER, LDTAP_WIRE_VARINT);
        ldtap_protobuf_put_varint(out, entry->severity_number);
    }
    if (severity_length) {
        ldtap_protobuf_put_string(out, LOG_SEVERITY_TEXT, entry->severity_text, severity_length,
                                  ldtap_utf8_sanitized_length(entry->severity_text, severity_length));
    }
    ldtap_protobuf_put_length_header(out, LOG_BODY, body_size(entry));
    ldtap_protobuf_put_string(out, ANY_VALUE_STRING, entry->text, entry->body_length,
                              ldtap_utf8_sanitized_length(entry->text, entry->body_length));
    ldtap_protobuf_put_attributes(out, LOG_ATTRIBUTES, entry->text, entry->attributes, entry->attribute_count);
    put_id(out, LOG_TRACE_ID, entry->trace_id, sizeof entry->trace_id);
    put_id(out, LOG_SPAN_ID, entry->span_id, sizeof entry->span_id);
    put_fixed64_field(out, LOG_OBSERVED_TIME, entry->observed_time_ns);
    if (entry->event_name) { /* a literal of ours: valid UTF-8 */
        size_t length = strlen(entry->event_name);
        ldtap_protobuf_put_string(out, LOG_EVENT_NAME, entry->event_name, length, length);
    }
}

static size_t log_record_item_size(const void *entry) {
    return log_record_size(entry);
}

static void put_log_record_item(struct ldtap_buffer *out, const void *entry) {
    put_log_record(out, entry);
}

bool ldtap_otlp_logs_protobuf_encode(struct ldtap_buffer *out, const struct ldtap_log_entry *const *entries,
                                     size_t count) {
    ldtap_protobuf_put_grouped(out, (const void *const *)entries, count, ldtap_log_entry_resource,
                               log_record_item_size, put_log_record_item);
    return !out->failed;
}
