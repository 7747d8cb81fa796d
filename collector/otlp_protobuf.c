/* ExportTraceServiceRequest protobuf encoder over the wire helpers of otlp_common.c.
 * Field numbers: opentelemetry-proto trace/v1/trace.proto. */
#include "otlp_protobuf.h"

#include <string.h>

#include "otlp_common.h"

enum {
    SPAN_TRACE_ID = 1,
    SPAN_SPAN_ID = 2,
    SPAN_PARENT_SPAN_ID = 4,
    SPAN_NAME = 5,
    SPAN_KIND = 6,
    SPAN_START_TIME = 7,
    SPAN_END_TIME = 8,
    SPAN_ATTRIBUTES = 9,
    SPAN_EVENTS = 11,
    SPAN_STATUS = 15,
    SPAN_FLAGS = 16,
    STATUS_CODE = 3,
    EVENT_TIME = 1,
    EVENT_NAME = 2,
    EVENT_ATTRIBUTES = 3,
};

/* ---- Span.Event ---- */

static size_t event_size(const struct ldtap_span_events *events, const struct ldtap_span_event *event) {
    size_t name_length = strlen(event->name);
    size_t size = ldtap_protobuf_attributes_size(EVENT_ATTRIBUTES, events->text,
                                                 &events->attributes[event->first_attribute],
                                                 event->attribute_count);
    if (event->time_ns) {
        size += ldtap_protobuf_tag_size(EVENT_TIME) + 8;
    }
    if (name_length) {
        size += ldtap_protobuf_length_delimited_size(EVENT_NAME, ldtap_utf8_sanitized_length(event->name, name_length));
    }
    return size;
}

static size_t events_size(const struct ldtap_span_events *events) {
    size_t size = 0;
    for (uint16_t i = 0; events && i < events->event_count; i++) {
        size += ldtap_protobuf_length_delimited_size(SPAN_EVENTS, event_size(events, &events->events[i]));
    }
    return size;
}

static void put_events(struct ldtap_buffer *out, const struct ldtap_span_events *events) {
    for (uint16_t i = 0; events && i < events->event_count; i++) {
        const struct ldtap_span_event *event = &events->events[i];
        size_t name_length = strlen(event->name);
        ldtap_protobuf_put_length_header(out, SPAN_EVENTS, event_size(events, event));
        if (event->time_ns) {
            ldtap_protobuf_put_tag(out, EVENT_TIME, LDTAP_WIRE_FIXED64);
            ldtap_protobuf_put_fixed(out, event->time_ns, 8);
        }
        if (name_length) {
            ldtap_protobuf_put_string(out, EVENT_NAME, event->name, name_length,
                                      ldtap_utf8_sanitized_length(event->name, name_length));
        }
        ldtap_protobuf_put_attributes(out, EVENT_ATTRIBUTES, events->text, &events->attributes[event->first_attribute],
                                      event->attribute_count);
    }
}

/* ---- Span ---- */

static size_t status_size(const struct ldtap_span *span) {
    return ldtap_protobuf_tag_size(STATUS_CODE) + ldtap_protobuf_varint_size(span->status_code);
}

static size_t span_size(const struct ldtap_span *span) {
    size_t name_length = strnlen(span->name, sizeof span->name);
    size_t size = ldtap_protobuf_length_delimited_size(SPAN_TRACE_ID, sizeof span->trace_id) +
                  ldtap_protobuf_length_delimited_size(SPAN_SPAN_ID, sizeof span->span_id);
    if (!ldtap_otlp_id_is_zero(span->parent_span_id, sizeof span->parent_span_id)) {
        size += ldtap_protobuf_length_delimited_size(SPAN_PARENT_SPAN_ID, sizeof span->parent_span_id);
    }
    if (name_length) {
        size += ldtap_protobuf_length_delimited_size(SPAN_NAME, ldtap_utf8_sanitized_length(span->name, name_length));
    }
    if (span->kind) {
        size += ldtap_protobuf_tag_size(SPAN_KIND) + ldtap_protobuf_varint_size(span->kind);
    }
    if (span->start_time_ns) {
        size += ldtap_protobuf_tag_size(SPAN_START_TIME) + 8;
    }
    if (span->end_time_ns) {
        size += ldtap_protobuf_tag_size(SPAN_END_TIME) + 8;
    }
    size += ldtap_protobuf_attributes_size(SPAN_ATTRIBUTES, span->text, span->attributes, span->attribute_count);
    size += events_size(span->events);
    if (span->status_code) {
        size += ldtap_protobuf_length_delimited_size(SPAN_STATUS, status_size(span));
    }
    if (span->trace_flags) {
        size += ldtap_protobuf_tag_size(SPAN_FLAGS) + 4;
    }
    return size;
}

static void put_span(struct ldtap_buffer *out, const struct ldtap_span *span) {
    size_t name_length = strnlen(span->name, sizeof span->name);
    ldtap_protobuf_put_length_header(out, SPAN_TRACE_ID, sizeof span->trace_id);
    ldtap_buffer_append(out, span->trace_id, sizeof span->trace_id);
    ldtap_protobuf_put_length_header(out, SPAN_SPAN_ID, sizeof span->span_id);
    ldtap_buffer_append(out, span->span_id, sizeof span->span_id);
    /* A root span's parent must be empty, not eight zero bytes. */
    if (!ldtap_otlp_id_is_zero(span->parent_span_id, sizeof span->parent_span_id)) {
        ldtap_protobuf_put_length_header(out, SPAN_PARENT_SPAN_ID, sizeof span->parent_span_id);
        ldtap_buffer_append(out, span->parent_span_id, sizeof span->parent_span_id);
    }
    if (name_length) {
        ldtap_protobuf_put_string(out, SPAN_NAME, span->name, name_length,
                         ldtap_utf8_sanitized_length(span->name, name_length));
    }
    if (span->kind) {
        ldtap_protobuf_put_tag(out, SPAN_KIND, LDTAP_WIRE_VARINT);
        ldtap_protobuf_put_varint(out, span->kind);
    }
    if (span->start_time_ns) {
        ldtap_protobuf_put_tag(out, SPAN_START_TIME, LDTAP_WIRE_FIXED64);
        ldtap_protobuf_put_fixed(out, span->start_time_ns, 8);
    }
    if (span->end_time_ns) {
        ldtap_protobuf_put_tag(out, SPAN_END_TIME, LDTAP_WIRE_FIXED64);
        ldtap_protobuf_put_fixed(out, span->end_time_ns, 8);
    }
    ldtap_protobuf_put_attributes(out, SPAN_ATTRIBUTES, span->text, span->attributes, span->attribute_count);
    put_events(out, span->events); /* field 11 sits between attributes (9) and status (15) */
    if (span->status_code) {
        ldtap_protobuf_put_length_header(out, SPAN_STATUS, status_size(span));
        ldtap_protobuf_put_tag(out, STATUS_CODE, LDTAP_WIRE_VARINT);
        ldtap_protobuf_put_varint(out, span->status_code);
    }
    if (span->trace_flags) {
        ldtap_protobuf_put_tag(out, SPAN_FLAGS, LDTAP_WIRE_FIXED32);
        ldtap_protobuf_put_fixed(out, span->trace_flags, 4);
    }
}

/* ---- ResourceSpans ---- */

static size_t span_item_size(const void *span) {
    return span_size(span);
}

static void put_span_item(struct ldtap_buffer *out, const void *span) {
    put_span(out, span);
}

bool ldtap_otlp_protobuf_encode(struct ldtap_buffer *out, const struct ldtap_span *const *spans, size_t count) {
    ldtap_protobuf_put_grouped(out, (const void *const *)spans, count, ldtap_otlp_span_resource, span_item_size,
                               put_span_item);
    return !out->failed;
}
