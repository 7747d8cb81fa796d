/* One export's copy of the metric store: taken by an ldtap_metrics_collect visit, ordered
 * for the OTLP encoders, and turned into delta temporality where the preference asks. */
#ifndef LDTAP_METRICS_SNAPSHOT_H
#define LDTAP_METRICS_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

/* OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE. */
enum ldtap_metrics_temporality {
    LDTAP_TEMPORALITY_CUMULATIVE,
    LDTAP_TEMPORALITY_DELTA,
    LDTAP_TEMPORALITY_LOWMEMORY,
};

/* One series as exported. Everything it points to lives in the same allocation, so the
 * point outlives the store's lock and the store's own memory. */
struct ldtap_snapshot_point {
    const struct ldtap_instrument *instrument; /* static data */
    struct ldtap_resource *resource;           /* one reference held; may be NULL */
    uint64_t series_id;
    uint64_t start_time_ns, time_ns;
    double value;
    int64_t int_value;
    uint64_t count;
    double sum, min, max;
    bool has_min_max; /* false for an empty histogram and for a delta min/max cannot be known */
    bool delta;       /* the point's aggregation temporality: DELTA, else CUMULATIVE */
    uint64_t *bucket_counts; /* histograms: instrument->bound_count + 1 */
    struct ldtap_attribute *attributes; /* keys and string values in `text` */
    uint16_t attribute_count;
    char *text;
    size_t visit_order;
};

struct ldtap_metrics_snapshot {
    struct ldtap_snapshot_point **points;
    size_t count;
    size_t capacity;
    bool failed; /* memory ran out while copying: some series are missing */
};

void ldtap_metrics_snapshot_init(struct ldtap_metrics_snapshot *snapshot);
/* An ldtap_metric_visitor whose context is a snapshot: copies the point. */
void ldtap_metrics_snapshot_visit(void *context, const struct ldtap_instrument *instrument,
                                  const struct ldtap_metric_point *point);
/* Orders points as the encoders need them: one run per resource (first-appearance order),
 * inside it one run per instrument (the store visits an instrument's series together). */
void ldtap_metrics_snapshot_order(struct ldtap_metrics_snapshot *snapshot);
/* After ordering: the end of the run of points sharing points[first]'s resource, and of
 * the run inside [first, end) sharing its instrument (one OTLP Metric). */
size_t ldtap_metrics_snapshot_resource_end(const struct ldtap_metrics_snapshot *snapshot, size_t first);
size_t ldtap_metrics_snapshot_instrument_end(const struct ldtap_metrics_snapshot *snapshot, size_t first, size_t end);
/* Frees the points (releasing their resources) and keeps the array for the next export. */
void ldtap_metrics_snapshot_clear(struct ldtap_metrics_snapshot *snapshot);
void ldtap_metrics_snapshot_free(struct ldtap_metrics_snapshot *snapshot);

/* Whether `kind` is exported as delta under `preference`, per the OTel SDK exporter table:
 * delta makes counters and histograms delta; lowmemory does so only for synchronous ones.
 * Every ldtap counter is an observed total (CPU seconds, records drained): an asynchronous
 * counter, which lowmemory keeps cumulative; histograms are recorded per span, synchronous.
 * Up-down counters and gauges are never delta. */
bool ldtap_metrics_is_delta(enum ldtap_metrics_temporality preference, enum ldtap_instrument_kind kind);

/* The cumulative values last exported for each delta series, sorted by series_id. */
struct ldtap_delta_entry {
    uint64_t series_id;
    uint64_t start_time_ns; /* the series' own start: a change means the store reset it */
    uint64_t time_ns;       /* when these values were collected: the next delta's start */
    uint64_t count;
    double sum, value;
    int64_t int_value;
    uint32_t bucket_total; /* entries in bucket_counts */
    uint64_t *bucket_counts;
};

struct ldtap_delta_state {
    struct ldtap_delta_entry *entries;
    size_t count;
};

void ldtap_delta_state_free(struct ldtap_delta_state *state);

/* Marks each point's temporality; delta points become the change since `previous` (a series
 * not in `previous`, or reset since, reports everything since its own start) with
 * start_time the previous collection, and points that did not change are dropped. `next`
 * receives the cumulative values to diff against once this export has been delivered
 * (on failure, keep `previous`: the next delta then spans both intervals and nothing is
 * lost). False when memory ran out (`next` is then empty and the snapshot unchanged). */
bool ldtap_metrics_snapshot_apply_temporality(struct ldtap_metrics_snapshot *snapshot,
                                              enum ldtap_metrics_temporality preference,
                                              const struct ldtap_delta_state *previous,
                                              struct ldtap_delta_state *next);

#endif
