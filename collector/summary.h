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
    uint64_t durability_waived; /* spans whose ring records were released before delivery (ring pressure) */
    uint64_t db_rollup_evictions; /* requests whose query rollup aged out or lost its place */
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
/* A process's resident memory at first sight and at its last reading, for the memory
 * table under its service. */
struct ldtap_summary_memory {
    int32_t pid;
    bool is_master;
    uint64_t rss_first_bytes;
    uint64_t rss_last_bytes;
};
void ldtap_summary_add_memory(struct ldtap_summary *summary, const char *service_name,
                              const struct ldtap_summary_memory *memory);
/* Saturation peaks of a service: highest busy fraction of its workers (mean over them,
 * 1 = all busy) and highest accept queue seen (-1: no listening socket). */
void ldtap_summary_add_saturation(struct ldtap_summary *summary, const char *service_name, bool has_busy_fraction,
                                  double busy_fraction_max, int64_t accept_queue_max);
/* The "growing" flag: RSS grew by more than both 10 MiB and 20% of the first reading.
 * Both, because a small process's RSS moves by large percentages and a large one's by
 * many MiB without leaking. */
bool ldtap_summary_rss_growing(uint64_t first_bytes, uint64_t last_bytes);

/* Counts one database statement execution (sanitised text) for the slowest-statements
 * section; `slow` marks executions that took at least LDTAP_SLOW_QUERY_MS. */
void ldtap_summary_add_statement(struct ldtap_summary *summary, const char *statement, uint64_t duration_ns,
                                 bool slow);

/* A Python exception (traceback) or a crash (signal name as `type`, top frames as `stack`,
 * which may be empty) for the "crashes and exceptions" section. Texts need no NUL. */
void ldtap_summary_add_exception(struct ldtap_summary *summary, const char *service_name, const char *type,
                                 size_t type_length, const char *message, size_t message_length, const char *stack,
                                 size_t stack_length);

/* Takes back one exception counted by ldtap_summary_add_exception (see
 * ldtap_exception_stats_retract). */
void ldtap_summary_retract_exception(struct ldtap_summary *summary, const char *service_name, const char *type,
                                     size_t type_length);

/* Prints per-service tables (at most 80 columns) and the totals. */
void ldtap_summary_print(const struct ldtap_summary *summary, const struct ldtap_summary_totals *totals, FILE *out);

#endif
