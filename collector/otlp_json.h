/* OTLP/JSON encoder for ExportTraceServiceRequest: the `application/json` body and the
 * line format of the traces file. Follows the OTLP spec's JSON mapping: lowerCamelCase
 * names, trace and span ids as lowercase hex, enums as integers, 64-bit integers as
 * decimal strings. */
#ifndef LDTAP_OTLP_JSON_H
#define LDTAP_OTLP_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"
#include "otlp_common.h"
#include "span.h"

/* Appends one request (no trailing newline) holding spans[0..count) to `out`, grouped
 * like the protobuf encoder. False when memory ran out (`out->failed`). */
bool ldtap_otlp_json_encode(struct ldtap_buffer *out, const struct ldtap_span *const *spans, size_t count);

#endif
