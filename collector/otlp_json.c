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

/* "events":[{"timeUnixNano":"…","name":"…","attributes":[…]},…] */
static void append_events(struct ldtap_buffer *out, const struct ldtap_span_events *events) {
    ldtap_buffer_append_cstring(out, ",\"events\":[");
    for (uint16_t i = 0; i < events->event_count; i++) {
        const struct ldtap_span_event *event = &events->events[i];
        ldtap_buffer_append_format(out, "%s{\"timeUnixNano\":\"%" PRIu64 "\",\"name\":", i ? "," : "",
                                   event->time_ns);
        ldtap_json_append_string(out, event->name, strlen(event->name));
        if (event->attribute_count) {
            ldtap_buffer_append_byte(out, ',');
            ldtap_json_append_attributes(out, events->text, &events->attributes[event->first_attribute],
                                         event->attribute_count);
        }
        ldtap_buffer_append_byte(out, '}');
    }
    ldtap_buffer_append_byte(out, ']');
}

static void append_span(struct ldtap_buffer *out, const struct ldtap_span *span) {
    ldtap_buffer_append_cstring(out, "{\"traceId\":");
    ldtap_json_append_hex(out, span->trace_id, sizeof span->trace_id);
    ldtap_buffer_append_cstring(out, ",\"spanId\":");
    ldtap_json_append_hex(out, span->span_id, sizeof span->span_id);
    if (!ldtap_otlp_id_is_zero(span->parent_span_id, sizeof span->parent_span_id)) {
        ldtap_buffer_append_cstring(out, ",\"parentSpanId\":");
        ldtap_json_append_hex(out, span->parent_span_id, sizeof span->parent_span_id);
    }
    if (span->trace_flags) {
        ldtap_buffer_append_cstring(out, ",\"flags\":");
        ldtap_buffer_append_u64(out, span->trace_flags);
    }
    ldtap_buffer_append_cstring(out, ",\"name\":");
    ldtap_json_append_string(out, span->name, strnlen(span->name, sizeof span->name));
    /* Without printf: these three numbers are on every span. */
    ldtap_buffer_append_cstring(out, ",\"kind\":");
    ldtap_buffer_append_u64(out, span->kind);
    ldtap_buffer_append_cstring(out, ",\"startTimeUnixNano\":\"");
    ldtap_buffer_append_u64(out, span->start_time_ns);
    ldtap_buffer_append_cstring(out, "\",\"endTimeUnixNano\":\"");
    ldtap_buffer_append_u64(out, span->end_time_ns);
    ldtap_buffer_append_byte(out, '"');
    if (span->attribute_count) {
        ldtap_buffer_append_byte(out, ',');
        ldtap_json_append_attributes(out, span->text, span->attributes, span->attribute_count);
    }
    if (span->events && span->events->event_count) {
        append_events(out, span->events);
    }
    if (span->status_code) {
        ldtap_buffer_append_format(out, ",\"status\":{\"code\":%u}", (unsigned)span->status_code);
    }
    ldtap_buffer_append_byte(out, '}');
}

static void append_span_item(struct ldtap_buffer *out, const void *span) {
    append_span(out, span);
}

bool ldtap_otlp_json_encode(struct ldtap_buffer *out, const struct ldtap_span *const *spans, size_t count) {
    ldtap_json_put_grouped(out, (const void *const *)spans, count, ldtap_otlp_span_resource, "resourceSpans",
                           "scopeSpans", "spans", append_span_item);
    return !out->failed;
}
