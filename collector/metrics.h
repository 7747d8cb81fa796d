/* The collector's metric store: RED histograms aggregated from every decoded span (before
 * sampling, so counts are exact), per-process gauges read from /proc and the ring header,
 * and ldtap's own health counters. Written by the drain loop; read by the Prometheus
 * endpoint, the OTLP metrics exporter and the exit summary, each from its own thread. */
#ifndef LDTAP_METRICS_H
#define LDTAP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldtap_ring_abi.h"
#include "span.h"

enum ldtap_instrument_kind {
    LDTAP_INSTRUMENT_COUNTER,        /* monotonic sum, cumulative since start_time_ns */
    LDTAP_INSTRUMENT_UPDOWN_COUNTER, /* non-monotonic sum */
    LDTAP_INSTRUMENT_GAUGE,
    LDTAP_INSTRUMENT_HISTOGRAM, /* explicit bucket boundaries */
};

/* One instrument, named and unitised as the OpenTelemetry semantic conventions say
 * (e.g. "http.server.request.duration", unit "s"). Static data, never freed. */
struct ldtap_instrument {
    const char *name;
    const char *description;
    const char *unit; /* UCUM: "s", "By", "{request}", "1" */
    enum ldtap_instrument_kind kind;
    bool is_integer;      /* sums and gauges: int_value is meaningful, not value */
    const double *bounds; /* histograms: upper bounds, ascending */
    uint32_t bound_count; /* histograms: bucket_counts has bound_count + 1 entries */
};

/* One time series' current value as handed to a visitor; valid only during the call. */
struct ldtap_metric_point {
    uint64_t series_id; /* stable for the store's life: instrument + resource + attributes */
    /* Service-level resource (service.name, host.name, telemetry.sdk.*) for metrics
     * aggregated from spans; the full process resource (process.pid …) for process
     * metrics. Points of one resource pointer belong together. */
    const struct ldtap_resource *resource;
    const struct ldtap_attribute *attributes; /* strings live in `text` at string_offset */
    uint16_t attribute_count;
    const char *text;
    uint64_t start_time_ns; /* when this series began accumulating (unix epoch ns) */
    uint64_t time_ns;       /* when the value was observed (unix epoch ns) */
    double value;           /* sums and gauges, !is_integer */
    int64_t int_value;      /* sums and gauges, is_integer */
    uint64_t count;         /* histograms */
    double sum, min, max;   /* histograms; min/max meaningless when count == 0 */
    const uint64_t *bucket_counts; /* histograms: bound_count + 1 counts, last is +Inf */
};

typedef void (*ldtap_metric_visitor)(void *context, const struct ldtap_instrument *instrument,
                                     const struct ldtap_metric_point *point);

/* What a ring's header says about its process, read by the drain each step. */
struct ldtap_process_sample {
    int32_t pid;
    int32_t parent_pid;
    uint64_t process_start_ticks;
    struct ldtap_resource *resource; /* the process resource (a reference is taken) */
    const char *service_name;
    int64_t in_flight_requests;
    uint64_t busy_time_ns; /* busy so far, current period included (see the ABI) */
    bool has_served;       /* a busy period has ended: at least one request was answered */
    uint64_t committed_records, dropped_ring_full, dropped_too_large, unparented_async_spans;
    uint64_t sampled_at_ns; /* CLOCK_MONOTONIC when busy_time_ns was computed; 0: now */
    /* The ring header's heap counters; has_heap false while the shim's heap hooks are off. */
    bool has_heap;
    int64_t heap_live_bytes, anon_mmap_bytes;
    uint64_t heap_allocations, heap_frees, heap_allocated_bytes;
};

/* ldtap's own health, from the drain and the exporter. */
struct ldtap_self_sample {
    uint64_t records_drained, invalid_records, skipped_uncommitted, rings_attached, rings_corrupt;
    uint64_t spans_exported, spans_dropped_queue_full, spans_dropped_after_retries, export_failures;
};

struct ldtap_metrics;

/* NULL if out of memory. `max_series` bounds memory: past it new series are dropped and
 * counted (ldtap_metrics_dropped_series). */
struct ldtap_metrics *ldtap_metrics_create(uint32_t max_series);
void ldtap_metrics_free(struct ldtap_metrics *metrics);

/* Drain thread: every decoded span, sampled or not. */
void ldtap_metrics_add_span(struct ldtap_metrics *metrics, const char *service_name, const struct ldtap_span *span);
/* Drain thread, about once a second per live ring: reads /proc/<pid> too (RSS, CPU, fds,
 * threads, listening sockets' accept queues). `alive` false: the process is gone; its
 * series are kept until the next collection has seen them, then removed. */
void ldtap_metrics_update_process(struct ldtap_metrics *metrics, const struct ldtap_process_sample *sample,
                                  bool alive);
void ldtap_metrics_update_self(struct ldtap_metrics *metrics, const struct ldtap_self_sample *sample);

/* Any thread: calls `visitor` for every series under the store's lock, all series of one
 * instrument consecutively. The visitor must not call back into the store. */
void ldtap_metrics_collect(struct ldtap_metrics *metrics, ldtap_metric_visitor visitor, void *context);

uint64_t ldtap_metrics_dropped_series(const struct ldtap_metrics *metrics);

/* For the exit summary: what the store remembers of each process (live or gone; a
 * bounded number of gone ones) and each service's saturation peaks. */
struct ldtap_process_report {
    int32_t pid;
    int32_t parent_pid;
    const char *service_name;
    bool is_master; /* its children are traced too (gunicorn's arbiter) */
    bool alive;
    bool has_memory;          /* RSS was read at least once */
    uint64_t rss_first_bytes; /* at the first reading */
    uint64_t rss_last_bytes;  /* at the latest reading while it ran */
};
struct ldtap_service_report {
    const char *service_name;
    bool has_busy_fraction;
    double busy_fraction_max; /* highest ldtap.service.busy_fraction seen */
    int64_t accept_queue_max; /* highest accept queue of its listening sockets; -1: none seen */
};
struct ldtap_metrics_report_visitor {
    void (*process)(void *context, const struct ldtap_process_report *report);
    void (*service)(void *context, const struct ldtap_service_report *report);
    void *context;
};
/* Any thread; visitors run under the store's lock and must not call back into it. */
void ldtap_metrics_report(struct ldtap_metrics *metrics, const struct ldtap_metrics_report_visitor *visitor);

#endif
