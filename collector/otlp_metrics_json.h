/* OTLP/JSON encoder for ExportMetricsServiceRequest (the `application/json` body of
 * /v1/metrics), with the same grouping and fields as the protobuf encoder. */
#ifndef LDTAP_OTLP_METRICS_JSON_H
#define LDTAP_OTLP_METRICS_JSON_H

#include <stdbool.h>

#include "buffer.h"
#include "metrics_snapshot.h"

/* Appends one request (no trailing newline) holding an ordered snapshot to `out`. The
 * proto3 JSON mapping: lowerCamelCase names, 64-bit integers (fixed64 counts, times,
 * as_int) as decimal strings, enums as integers. False when memory ran out. */
bool ldtap_otlp_metrics_json_encode(struct ldtap_buffer *out, const struct ldtap_metrics_snapshot *snapshot);

#endif
