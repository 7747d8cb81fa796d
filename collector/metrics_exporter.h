/* The OTLP metrics exporter: a thread that every OTEL_METRIC_EXPORT_INTERVAL collects the
 * metric store, encodes an ExportMetricsServiceRequest (cumulative, or delta as the
 * temporality preference says) and POSTs it to /v1/metrics with the span exporter's
 * transport and retry policy; one last export when it stops. */
#ifndef LDTAP_METRICS_EXPORTER_H
#define LDTAP_METRICS_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "exporter.h"
#include "metrics.h"
#include "metrics_snapshot.h"

struct ldtap_metrics_exporter_config {
    const char *url; /* full URL ending in /v1/metrics */
    enum ldtap_otlp_protocol protocol;
    bool gzip;
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    uint32_t timeout_ms;        /* per request (OTEL_EXPORTER_OTLP_METRICS_TIMEOUT), default 10000 */
    uint32_t interval_ms;       /* OTEL_METRIC_EXPORT_INTERVAL, default 60000 */
    uint32_t export_timeout_ms; /* OTEL_METRIC_EXPORT_TIMEOUT: one export, retries included; 30000 */
    enum ldtap_metrics_temporality temporality;
};

struct ldtap_metrics_export_stats {
    uint64_t exports;           /* requests accepted */
    uint64_t failed_exports;    /* exports given up (their delta is carried into the next one) */
    uint64_t failed_requests;   /* attempts that failed, retried or not */
    uint64_t retried_requests;
    uint64_t exported_points;
    char last_error[256];
};

struct ldtap_metrics_exporter;

/* Starts the thread. NULL with a sentence in `error` when the configuration cannot work (a
 * bad header line, libcurl failing to start, out of memory). `metrics` must outlive it. */
struct ldtap_metrics_exporter *ldtap_metrics_exporter_start(const struct ldtap_metrics_exporter_config *config,
                                                            struct ldtap_metrics *metrics, char *error,
                                                            size_t error_size);

/* Exports now, in the exporter's thread, and waits for the outcome (at most the export
 * timeout plus a second). */
void ldtap_metrics_exporter_export_now(struct ldtap_metrics_exporter *exporter);

void ldtap_metrics_exporter_get_stats(struct ldtap_metrics_exporter *exporter,
                                      struct ldtap_metrics_export_stats *stats);

/* A final export (bounded by `deadline_ms` and the export timeout), then stops the thread,
 * fills `stats` (may be NULL) and frees. Call before the store is freed. */
void ldtap_metrics_exporter_stop(struct ldtap_metrics_exporter *exporter, uint32_t deadline_ms,
                                 struct ldtap_metrics_export_stats *stats);

#endif
