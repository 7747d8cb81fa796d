/* Hand-written protobuf encoder for opentelemetry.proto.collector.trace.v1
 * .ExportTraceServiceRequest (the OTLP/HTTP `application/x-protobuf` body). */
#ifndef LDTAP_OTLP_PROTOBUF_H
#define LDTAP_OTLP_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "span.h"

/* Appends one request holding spans[0..count) to `out`: one ResourceSpans per distinct
 * resource (first-appearance order) with one ScopeSpans (scope "ldtap", LDTAP_VERSION).
 * Zero-valued scalar fields are omitted as proto3 does; strings are made valid UTF-8.
 * False when memory ran out (`out->failed`). */
bool ldtap_otlp_protobuf_encode(struct ldtap_buffer *out, const struct ldtap_span *const *spans, size_t count);

#endif
