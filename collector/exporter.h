/* Span exporters: OTLP/HTTP (protobuf or JSON, gzip, batching, retry with backoff) on a
 * background thread, or OTLP-JSON lines appended to a local file when no endpoint is set.
 * The drain loop only enqueues: a slow or dead backend never slows draining. */
#ifndef LDTAP_EXPORTER_H
#define LDTAP_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "span.h"

enum ldtap_otlp_protocol { LDTAP_OTLP_HTTP_PROTOBUF, LDTAP_OTLP_HTTP_JSON };

struct ldtap_exporter_config {
    const char *traces_url; /* full URL ending in /v1/traces; NULL: write `file_path` instead */
    const char *file_path;  /* OTLP-JSON lines file (one ExportTraceServiceRequest a line) */
    enum ldtap_otlp_protocol protocol;
    bool gzip;                  /* OTEL_EXPORTER_OTLP_COMPRESSION=gzip (default on) */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    uint32_t timeout_ms;        /* per request; OTEL_EXPORTER_OTLP_TIMEOUT, default 10000 */
    uint32_t max_queue_spans;   /* OTEL_BSP_MAX_QUEUE_SIZE, default 2048 */
    uint32_t max_batch_spans;   /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 512 */
    uint32_t schedule_delay_ms; /* OTEL_BSP_SCHEDULE_DELAY, default 5000 */
};

struct ldtap_export_stats {
    uint64_t enqueued_spans;
    uint64_t exported_spans;
    uint64_t dropped_queue_full;    /* enqueue found the queue at max_queue_spans */
    uint64_t dropped_after_retries; /* non-retryable answer, or retries gave up */
    uint64_t failed_requests;
    uint64_t retried_requests;
    char last_error[256];
};

struct ldtap_exporter;

/* Starts the exporter (and its thread for OTLP/HTTP). NULL with a sentence in `error`
 * when the configuration cannot work (unwritable file, curl initialisation failure). */
struct ldtap_exporter *ldtap_exporter_start(const struct ldtap_exporter_config *config, char *error,
                                            size_t error_size);

/* Copies the span (taking a reference on its resource) and takes over its claim, settled
 * once the span is delivered or given up. False when the queue is full: the span is
 * dropped and counted, and its claim settled. Never blocks on the network. */
bool ldtap_exporter_enqueue(struct ldtap_exporter *exporter, struct ldtap_span *span);

/* True when an enqueue now would find the queue full (the drain then leaves records in
 * their rings, which are the bigger buffer, rather than drop them). Lock-free: the drain
 * asks before every record. */
bool ldtap_exporter_is_full(struct ldtap_exporter *exporter);

/* Exports what is queued, waiting at most `deadline_ms`; what is still unsent then is
 * counted as dropped. */
void ldtap_exporter_flush(struct ldtap_exporter *exporter, uint32_t deadline_ms);

void ldtap_exporter_get_stats(struct ldtap_exporter *exporter, struct ldtap_export_stats *stats);

/* Flushes (bounded by `deadline_ms`), stops the thread, fills `stats` and frees. */
void ldtap_exporter_stop(struct ldtap_exporter *exporter, uint32_t deadline_ms, struct ldtap_export_stats *stats);

#endif
