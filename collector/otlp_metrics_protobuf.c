/* ExportMetricsServiceRequest protobuf encoder over the wire helpers of otlp_common.c.
 * Field numbers: opentelemetry-proto metrics/v1/metrics.proto and
 * collector/metrics/v1/metrics_service.proto (checked against the generated definitions
 * the tests decode with). */
#include "otlp_metrics_protobuf.h"

#include <string.h>

#include "otlp_common.h"

enum {
    REQUEST_RESOURCE_METRICS = 1,
    RESOURCE_METRICS_RESOURCE = 1,
    RESOURCE_METRICS_SCOPE_METRICS = 2,
    SCOPE_METRICS_SCOPE = 1,
    SCOPE_METRICS_METRICS = 2,
    METRIC_NAME = 1,
    METRIC_DESCRIPTION = 2,
    METRIC_UNIT = 3,
    METRIC_GAUGE = 5,
    METRIC_SUM = 7,
    METRIC_HISTOGRAM = 9,
    DATA_POINTS = 1, /* Gauge, Sum and Histogram alike */
    DATA_AGGREGATION_TEMPORALITY = 2,
    SUM_IS_MONOTONIC = 3,
    NUMBER_START_TIME = 2,
    NUMBER_TIME = 3,
    NUMBER_AS_DOUBLE = 4,
    NUMBER_AS_INT = 6,
    NUMBER_ATTRIBUTES = 7,
    HISTOGRAM_START_TIME = 2,
    HISTOGRAM_TIME = 3,
    HISTOGRAM_COUNT = 4,
    HISTOGRAM_SUM = 5,
    HISTOGRAM_BUCKET_COUNTS = 6,
    HISTOGRAM_EXPLICIT_BOUNDS = 7,
    HISTOGRAM_ATTRIBUTES = 9,
    HISTOGRAM_MIN = 11,
    HISTOGRAM_MAX = 12,
};

enum { TEMPORALITY_DELTA = 1, TEMPORALITY_CUMULATIVE = 2 };

/* A tagged fixed64 or double field. */
static size_t fixed64_field_size(uint32_t field) {
    return ldtap_protobuf_tag_size(field) + 8;
}

static void put_fixed64_field(struct ldtap_buffer *out, uint32_t field, uint64_t value) {
    ldtap_protobuf_put_tag(out, field, LDTAP_WIRE_FIXED64);
    ldtap_protobuf_put_fixed(out, value, 8);
}

static void put_double_field(struct ldtap_buffer *out, uint32_t field, double value) {
    ldtap_protobuf_put_tag(out, field, LDTAP_WIRE_FIXED64);
    ldtap_protobuf_put_double(out, value);
}

/* proto3 omits an empty string. */
static size_t text_field_size(uint32_t field, const char *text) {
    size_t length = text ? strlen(text) : 0;
    return length ? ldtap_protobuf_length_delimited_size(field, ldtap_utf8_sanitized_length(text, length)) : 0;
}

static void put_text_field(struct ldtap_buffer *out, uint32_t field, const char *text) {
    size_t length = text ? strlen(text) : 0;
    if (length) {
        ldtap_protobuf_put_string(out, field, text, length, ldtap_utf8_sanitized_length(text, length));
    }
}

static size_t times_size(const struct ldtap_snapshot_point *point, uint32_t start_field, uint32_t time_field) {
    return (point->start_time_ns ? fixed64_field_size(start_field) : 0) +
           (point->time_ns ? fixed64_field_size(time_field) : 0);
}

static void put_times(struct ldtap_buffer *out, const struct ldtap_snapshot_point *point, uint32_t start_field,
                      uint32_t time_field) {
    if (point->start_time_ns) {
        put_fixed64_field(out, start_field, point->start_time_ns);
    }
    if (point->time_ns) {
        put_fixed64_field(out, time_field, point->time_ns);
    }
}

/* ---- NumberDataPoint ---- */

static size_t number_point_size(const struct ldtap_snapshot_point *point) {
    /* The value is a oneof member (as_double or as_int): written even when zero. */
    return times_size(point, NUMBER_START_TIME, NUMBER_TIME) + fixed64_field_size(NUMBER_AS_DOUBLE) +
           ldtap_protobuf_attributes_size(NUMBER_ATTRIBUTES, point->text, point->attributes, point->attribute_count);
}

static void put_number_point(struct ldtap_buffer *out, const struct ldtap_snapshot_point *point) {
    put_times(out, point, NUMBER_START_TIME, NUMBER_TIME);
    if (point->instrument->is_integer) {
        put_fixed64_field(out, NUMBER_AS_INT, (uint64_t)point->int_value); /* sfixed64 */
    } else {
        put_double_field(out, NUMBER_AS_DOUBLE, point->value);
    }
    ldtap_protobuf_put_attributes(out, NUMBER_ATTRIBUTES, point->text, point->attributes, point->attribute_count);
}

/* ---- HistogramDataPoint ---- */

static size_t histogram_point_size(const struct ldtap_snapshot_point *point) {
    const struct ldtap_instrument *instrument = point->instrument;
    size_t size = times_size(point, HISTOGRAM_START_TIME, HISTOGRAM_TIME);
    if (point->count) {
        /* sum is `optional`: present exactly when there were observations. */
        size += fixed64_field_size(HISTOGRAM_COUNT) + fixed64_field_size(HISTOGRAM_SUM);
    }
    size += ldtap_protobuf_length_delimited_size(HISTOGRAM_BUCKET_COUNTS, 8 * ((size_t)instrument->bound_count + 1));
    if (instrument->bound_count) {
        size += ldtap_protobuf_length_delimited_size(HISTOGRAM_EXPLICIT_BOUNDS, 8 * (size_t)instrument->bound_count);
    }
    size += ldtap_protobuf_attributes_size(HISTOGRAM_ATTRIBUTES, point->text, point->attributes,
                                           point->attribute_count);
    if (point->has_min_max) {
        size += fixed64_field_size(HISTOGRAM_MIN) + fixed64_field_size(HISTOGRAM_MAX);
    }
    return size;
}

static void put_histogram_point(struct ldtap_buffer *out, const struct ldtap_snapshot_point *point) {
    const struct ldtap_instrument *instrument = point->instrument;
    put_times(out, point, HISTOGRAM_START_TIME, HISTOGRAM_TIME);
    if (point->count) {
        put_fixed64_field(out, HISTOGRAM_COUNT, point->count);
        put_double_field(out, HISTOGRAM_SUM, point->sum);
    }
    /* Repeated scalars are packed, as proto3 encoders write them. */
    ldtap_protobuf_put_length_header(out, HISTOGRAM_BUCKET_COUNTS, 8 * ((size_t)instrument->bound_count + 1));
    for (uint32_t i = 0; i <= instrument->bound_count; i++) {
        ldtap_protobuf_put_fixed(out, point->bucket_counts[i], 8);
    }
    if (instrument->bound_count) {
        ldtap_protobuf_put_length_header(out, HISTOGRAM_EXPLICIT_BOUNDS, 8 * (size_t)instrument->bound_count);
        for (uint32_t i = 0; i < instrument->bound_count; i++) {
            ldtap_protobuf_put_double(out, instrument->bounds[i]);
        }
    }
    ldtap_protobuf_put_attributes(out, HISTOGRAM_ATTRIBUTES, point->text, point->attributes,
                                  point->attribute_count);
    if (point->has_min_max) {
        put_double_field(out, HISTOGRAM_MIN, point->min);
        put_double_field(out, HISTOGRAM_MAX, point->max);
    }
}

/* ---- Metric: points[first, end) share one instrument ---- */

static size_t point_size(const struct ldtap_snapshot_point *point) {
    return point->instrument->kind == LDTAP_INSTRUMENT_HISTOGRAM ? histogram_point_size(point)
                                                                 : number_point_size(point);
}

static uint32_t data_field(const struct ldtap_instrument *instrument) {
    switch (instrument->kind) {
    case LDTAP_INSTRUMENT_HISTOGRAM: return METRIC_HISTOGRAM;
    case LDTAP_INSTRUMENT_GAUGE: return METRIC_GAUGE;
    default: return METRIC_SUM;
    }
}

static size_t data_size(struct ldtap_snapshot_point *const *points, size_t count) {
    const struct ldtap_instrument *instrument = points[0]->instrument;
    size_t size = 0;
    for (size_t i = 0; i < count; i++) {
        size += ldtap_protobuf_length_delimited_size(DATA_POINTS, point_size(points[i]));
    }
    if (instrument->kind != LDTAP_INSTRUMENT_GAUGE) {
        size += ldtap_protobuf_tag_size(DATA_AGGREGATION_TEMPORALITY) + 1;
    }
    if (instrument->kind == LDTAP_INSTRUMENT_COUNTER) {
        size += ldtap_protobuf_tag_size(SUM_IS_MONOTONIC) + 1;
    }
    return size;
}

static size_t metric_size(struct ldtap_snapshot_point *const *points, size_t count) {
    const struct ldtap_instrument *instrument = points[0]->instrument;
    return text_field_size(METRIC_NAME, instrument->name) +
           text_field_size(METRIC_DESCRIPTION, instrument->description) +
           text_field_size(METRIC_UNIT, instrument->unit) +
           ldtap_protobuf_length_delimited_size(data_field(instrument), data_size(points, count));
}

static void put_metric(struct ldtap_buffer *out, struct ldtap_snapshot_point *const *points, size_t count) {
    const struct ldtap_instrument *instrument = points[0]->instrument;
    put_text_field(out, METRIC_NAME, instrument->name);
    put_text_field(out, METRIC_DESCRIPTION, instrument->description);
    put_text_field(out, METRIC_UNIT, instrument->unit);
    ldtap_protobuf_put_length_header(out, data_field(instrument), data_size(points, count));
    for (size_t i = 0; i < count; i++) {
        ldtap_protobuf_put_length_header(out, DATA_POINTS, point_size(points[i]));
        if (instrument->kind == LDTAP_INSTRUMENT_HISTOGRAM) {
            put_histogram_point(out, points[i]);
        } else {
            put_number_point(out, points[i]);
        }
    }
    if (instrument->kind != LDTAP_INSTRUMENT_GAUGE) {
        ldtap_protobuf_put_tag(out, DATA_AGGREGATION_TEMPORALITY, LDTAP_WIRE_VARINT);
        ldtap_protobuf_put_varint(out, points[0]->delta ? TEMPORALITY_DELTA : TEMPORALITY_CUMULATIVE);
    }
    if (instrument->kind == LDTAP_INSTRUMENT_COUNTER) {
        ldtap_protobuf_put_tag(out, SUM_IS_MONOTONIC, LDTAP_WIRE_VARINT);
        ldtap_protobuf_put_varint(out, 1);
    }
}

/* ---- ResourceMetrics: points[first, end) share one resource ---- */

static size_t scope_metrics_size(const struct ldtap_metrics_snapshot *snapshot, size_t first, size_t end) {
    size_t size = ldtap_protobuf_scope_size(SCOPE_METRICS_SCOPE);
    for (size_t at = first; at < end;) {
        size_t run_end = ldtap_metrics_snapshot_instrument_end(snapshot, at, end);
        size += ldtap_protobuf_length_delimited_size(SCOPE_METRICS_METRICS,
                                                     metric_size(snapshot->points + at, run_end - at));
        at = run_end;
    }
    return size;
}

static void put_resource_metrics(struct ldtap_buffer *out, const struct ldtap_metrics_snapshot *snapshot,
                                 size_t first, size_t end) {
    const struct ldtap_resource *resource = snapshot->points[first]->resource;
    size_t scope_size = scope_metrics_size(snapshot, first, end);
    ldtap_protobuf_put_length_header(out, REQUEST_RESOURCE_METRICS,
                                     ldtap_protobuf_resource_size(RESOURCE_METRICS_RESOURCE, resource) +
                                         ldtap_protobuf_length_delimited_size(RESOURCE_METRICS_SCOPE_METRICS,
                                                                              scope_size));
    ldtap_protobuf_put_resource(out, RESOURCE_METRICS_RESOURCE, resource);
    ldtap_protobuf_put_length_header(out, RESOURCE_METRICS_SCOPE_METRICS, scope_size);
    ldtap_protobuf_put_scope(out, SCOPE_METRICS_SCOPE);
    for (size_t at = first; at < end;) {
        size_t run_end = ldtap_metrics_snapshot_instrument_end(snapshot, at, end);
        ldtap_protobuf_put_length_header(out, SCOPE_METRICS_METRICS, metric_size(snapshot->points + at, run_end - at));
        put_metric(out, snapshot->points + at, run_end - at);
        at = run_end;
    }
}

bool ldtap_otlp_metrics_protobuf_encode(struct ldtap_buffer *out, const struct ldtap_metrics_snapshot *snapshot) {
    for (size_t first = 0; first < snapshot->count;) {
        size_t end = ldtap_metrics_snapshot_resource_end(snapshot, first);
        put_resource_metrics(out, snapshot, first, end);
        first = end;
    }
    return !out->failed;
}
