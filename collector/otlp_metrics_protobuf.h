/* Hand-written protobuf encoder for opentelemetry.proto.collector.metrics.v1
 * .ExportMetricsServiceRequest (the OTLP/HTTP `application/x-protobuf` body of /v1/metrics). */
#ifndef LDTAP_OTLP_METRICS_PROTOBUF_H
#define LDTAP_OTLP_METRICS_PROTOBUF_H

#include <stdbool.h>

#include "buffer.h"
#include "metrics_snapshot.h"

/* Appends one request holding an ordered snapshot (ldtap_metrics_snapshot_order) to `out`:
 * one ResourceMetrics per resource run with one ScopeMetrics (scope "ldtap"), one Metric
 * per instrument run (Sum, Gauge or Histogram), fields in field-number order with proto3
 * defaults omitted. False when memory ran out (`out->failed`). */
bool ldtap_otlp_metrics_protobuf_encode(struct ldtap_buffer *out, const struct ldtap_metrics_snapshot *snapshot);

#endif
