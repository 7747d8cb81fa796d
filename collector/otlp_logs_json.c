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
    ldtap_buffer_append_byte(out, '}');
}

static void append_resource_logs(struct ldtap_buffer *out, const struct ldtap_log_entry *const *entries,
                                 size_t count, size_t first) {
    const struct ldtap_resource *resource = entries[first]->resource;
    ldtap_buffer_append_byte(out, '{');
    ldtap_json_append_resource(out, resource);
    ldtap_buffer_append_cstring(out, "\"scopeLogs\":[{");
    ldtap_json_append_scope(out);
    ldtap_buffer_append_cstring(out, ",\"logRecords\":[");
    bool first_record = true;
    for (size_t i = first; i < count; i++) {
        if (entries[i]->resource == resource) {
            if (!first_record) {
                ldtap_buffer_append_byte(out, ',');
            }
            append_log_record(out, entries[i]);
            first_record = false;
        }
    }
    ldtap_buffer_append_cstring(out, "]}]}");
}

bool ldtap_otlp_logs_json_encode(struct ldtap_buffer *out, const struct ldtap_log_entry *const *entries, size_t count) {
    bool first_group = true;
    ldtap_buffer_append_cstring(out, "{\"resourceLogs\":[");
    for (size_t i = 0; i < count; i++) {
        if (ldtap_otlp_first_of((const void *const *)entries, i, ldtap_log_entry_resource)) {
            if (!first_group) {
                ldtap_buffer_append_byte(out, ',');
            }
            append_resource_logs(out, entries, count, i);
            first_group = false;
        }
    }
    ldtap_buffer_append_cstring(out, "]}");
    return !out->failed;
}
