/* The end-of-run summary: per service, request counts, errors and latency percentiles
 * per server route and per client destination, then what happened to every span. */
#ifndef LDTAP_SUMMARY_H
#define LDTAP_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "span.h"

/* Latency histogram with logarithmic buckets: bucket i holds durations in
 * (gamma^(i-1), gamma^i] nanoseconds with gamma = 1.02, and reports the value
 * 2 gamma^i / (gamma + 1), whose relative error is at most (gamma - 1) / (gamma + 1),
 * just under 1%, for any duration from 1 ns to about 3 hours (longer ones are clamped). */
struct ldtap_histogram;

struct ldtap_histogram *ldtap_histogram_new(void);
void ldtap_histogram_free(struct ldtap_histogram *histogram);
void ldtap_histogram_record(struct ldtap_histogram *histogram, uint64_t duration_ns);
/* The nearest-rank `quantile` (0..1] in nanoseconds; 0 when empty. */
double ldtap_histogram_quantile(const struct ldtap_histogram *histogram, double quantile);

/* What happened to spans outside the per-route table. */
struct ldtap_summary_totals {
    uint64_t decoded;
    uint64_t exported;
    uint64_t sampled_out;
    uint64_t dropped_ring_full;
    uint64_t dropped_queue_full;
    uint64_t dropped_after_retries;
    uint64_t invalid_records;
    uint64_t skipped_uncommitted;
    uint64_t unparented_async;
    uint64_t route_overflow;
    uint64_t corrupt_rings;
    const char *destination; /* traces URL or file path */
    bool to_file;
    bool export_disabled; /* OTEL_TRACES_EXPORTER=none */
};

struct ldtap_summary;

struct ldtap_summary *ldtap_summary_new(void);
void ldtap_summary_free(struct ldtap_summary *summary);
/* Counts one traced process of `service_name` (called once per ring). */
void ldtap_summary_add_process(struct ldtap_summary *summary, const char *service_name);
/* Counts every decoded span, sampled or not. */
void ldtap_summary_add_span(struct ldtap_summary *summary, const char *service_name, const struct ldtap_span *span);
/* Prints per-service tables (at most 80 columns) and the totals. */
void ldtap_summary_print(const struct ldtap_summary *summary, const struct ldtap_summary_totals *totals, FILE *out);

#endif
