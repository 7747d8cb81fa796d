/* ExportLogsServiceRequest as OTLP/JSON: lowerCamelCase names, ids as hex, 64-bit numbers
 * as decimal strings; one request is one line of the output file. */
#include "otlp_logs.h"

#include <inttypes.h>
#include <string.h>

#include "otlp_common.h"

static void append_log_record(struct ldtap_buffer *out, const struct ldtap_log_entry *entry) {
    ldtap_buffer_append_format(out,
                               "{\"timeUnixNano\":\"%" PRIu64 "\",\"observedTimeUnixNano\":\"%" PRIu64 "\"",
                               entry->time_ns, entry->observed_time_ns);
    if (entry->severity_number) {
        ldtap_buffer_append_format(out, ",\"severityNumber\":%u", (unsigned)entry->severity_number);
    }
    if (entry->severity_text[0]) {
        ldtap_buffer_append_cstring(out, ",\"severityText\":");
        ldtap_json_append_string(out, entry->severity_text, strlen(entry->severity_text));
    }
    ldtap_buffer_append_cstring(out, ",\"body\":{\"stringValue\":");
    ldtap_json_append_string(out, entry->text, entry->body_length);
    ldtap_buffer_append_byte(out, '}');
    if (entry->attribute_count) {
        ldtap_buffer_append_byte(out, ',');
        ldtap_json_append_attributes(out, entry->text, entry->attributes, entry->attribute_count);
    }
    if (!ldtap_otlp_id_is_zero(entry->trace_id, sizeof entry->trace_id)) {
        ldtap_buffer_append_cstring(out, ",\"traceId\":");
        ldtap_json_append_hex(out, entry->trace_id, sizeof entry->trace_id);
    }
    if (!ldtap_otlp_id_is_zero(entry->span_id, sizeof entry->span_id)) {
        ldtap_buffer_append_cstring(out, ",\"spanId\":");
        ldtap_json_append_hex(out, entry->span_id, sizeof entry->span_id);
    }
    if (entry->event_name) {
        ldtap_buffer_append_cstring(out, ",\"eventName\":");
        ldtap_json_append_string(out, entry->event_name, strlen(entry->event_name));
    }
    ldtap_buffer_append_byte(out, '}');
}

static void append_log_record_item(struct ldtap_buffer *out, const void *entry) {
    append_log_record(out, entry);
}

bool ldtap_otlp_logs_json_encode(struct ldtap_buffer *out, const struct ldtap_log_entry *const *entries, size_t count) {
    ldtap_json_put_grouped(out, (const void *const *)entries, count, ldtap_log_entry_resource, "resourceLogs",
                           "scopeLogs", "logRecords", append_log_record_item);
    return !out->failed;
}
