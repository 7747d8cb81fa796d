/* OTLP logs encoders: opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest as
 * protobuf (otlp_logs_protobuf.c) and as OTLP/JSON (otlp_logs_json.c). */
#ifndef LDTAP_OTLP_LOGS_H
#define LDTAP_OTLP_LOGS_H

#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"
#include "decode_log.h"

/* Appends one request holding entries[0..count): one ResourceLogs per distinct resource
 * (first-appearance order) with one ScopeLogs (scope "ldtap"). Zero-valued fields and
 * all-zero ids are left out; strings are made valid UTF-8. The JSON form has no
 * whitespace and no trailing newline. False when memory ran out (`out->failed`). */
bool ldtap_otlp_logs_protobuf_encode(struct ldtap_buffer *out, const struct ldtap_log_entry *const *entries,
                                     size_t count);
bool ldtap_otlp_logs_json_encode(struct ldtap_buffer *out, const struct ldtap_log_entry *const *entries, size_t count);

/* The resource of a log entry, for ldtap_otlp_first_of. */
const struct ldtap_resource *ldtap_log_entry_resource(const void *entry);

#endif
