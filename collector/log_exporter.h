/* The OTLP logs exporter: a bounded queue of decoded log entries filled by the drain and a
 * thread that batches them into ExportLogsServiceRequests for /v1/logs, or, with no
 * endpoint, appends them as OTLP-JSON lines to the traces output file. */
#ifndef LDTAP_LOG_EXPORTER_H
#define LDTAP_LOG_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode_log.h"
#include "exporter.h"

struct ldtap_log_exporter_config {
    const char *url;       /* full URL ending in /v1/logs; NULL: append to `file_path` */
    const char *file_path; /* the traces output file: one ExportLogsServiceRequest a line */
    enum ldtap_otlp_protocol protocol;
    bool gzip;
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    uint32_t timeout_ms;        /* per request; default 10000 */
    uint32_t max_queue;         /* entries waiting; default 512 (an entry is about 9 KiB) */
    uint32_t max_batch;         /* entries per request; default 128 */
    uint32_t schedule_delay_ms; /* between batches; default 1000 (OTEL_BLRP_SCHEDULE_DELAY) */
};

struct ldtap_log_export_stats {
    uint64_t enqueued;
    uint64_t exported;
    uint64_t dropped_queue_full;
    uint64_t dropped_after_retries; /* refused, retries gave up, or the stop deadline passed */
    uint64_t failed_requests;
    uint64_t retried_requests;
    char last_error[256];
};

struct ldtap_log_exporter;

/* NULL with a sentence in `error` (file not writable, bad header, libcurl, memory). */
struct ldtap_log_exporter *ldtap_log_exporter_start(const struct ldtap_log_exporter_config *config, char *error,
                                                    size_t error_size);

/* Copies the entry, retaining entry->resource, and takes over its claim (settled when the
 * record is delivered or given up). False when the queue is full: counted, claim settled. */
bool ldtap_log_exporter_enqueue(struct ldtap_log_exporter *exporter, struct ldtap_log_entry *entry);

/* Exports what is queued within `deadline_ms` (the rest is counted as dropped), stops the
 * thread, fills `stats` (may be NULL) and frees. NULL is accepted. */
void ldtap_log_exporter_stop(struct ldtap_log_exporter *exporter, uint32_t deadline_ms,
                             struct ldtap_log_export_stats *stats);

#endif
