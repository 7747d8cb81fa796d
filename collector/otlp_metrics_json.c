/* OTLP/JSON metrics request encoder. Output has no whitespace. */
#include "otlp_metrics_json.h"

#include <inttypes.h>
#include <string.h>

#include "otlp_common.h"

static void append_text_member(struct ldtap_buffer *out, const char *name, const char *text) {
    ldtap_buffer_append_cstring(out, name);
    ldtap_json_append_string(out, text ? text : "", text ? strlen(text) : 0);
}

/* The members every data point starts with, a trailing comma included. */
static void append_point_head(struct ldtap_buffer *out, const struct ldtap_snapshot_point *point) {
    ldtap_buffer_append_byte(out, '{');
    if (point->attribute_count) {
        ldtap_json_append_attributes(out, point->text, point->attributes, point->attribute_count);
        ldtap_buffer_append_byte(out, ',');
    }
    if (point->start_time_ns) {
        ldtap_buffer_append_format(out, "\"startTimeUnixNano\":\"%" PRIu64 "\",", point->start_time_ns);
    }
    ldtap_buffer_append_format(out, "\"timeUnixNano\":\"%" PRIu64 "\"", point->time_ns);
}

static void append_number_point(struct ldtap_buffer *out, const struct ldtap_snapshot_point *point) {
    append_point_head(out, point);
    if (point->instrument->is_integer) {
        ldtap_buffer_append_format(out, ",\"asInt\":\"%" PRId64 "\"}", point->int_value);
        return;
    }
    ldtap_buffer_append_cstring(out, ",\"asDouble\":");
    ldtap_json_append_double(out, point->value);
    ldtap_buffer_append_byte(out, '}');
}

static void append_histogram_point(struct ldtap_buffer *out, const struct ldtap_snapshot_point *point) {
    const struct ldtap_instrument *instrument = point->instrument;
    append_point_head(out, point);
    ldtap_buffer_append_format(out, ",\"count\":\"%" PRIu64 "\"", point->count);
    if (point->count) {
        ldtap_buffer_append_cstring(out, ",\"sum\":");
        ldtap_json_append_double(out, point->sum);
    }
    ldtap_buffer_append_cstring(out, ",\"bucketCounts\":[");
    for (uint32_t i = 0; i <= instrument->bound_count; i++) {
        ldtap_buffer_append_format(out, i ? ",\"%" PRIu64 "\"" : "\"%" PRIu64 "\"", point->bucket_counts[i]);
    }
    ldtap_buffer_append_cstring(out, "],\"explicitBounds\":[");
    for (uint32_t i = 0; i < instrument->bound_count; i++) {
        if (i) {
            ldtap_buffer_append_byte(out, ',');
        }
        ldtap_json_append_double(out, instrument->bounds[i]);
    }
    ldtap_buffer_append_byte(out, ']');
    if (point->has_min_max) {
        ldtap_buffer_append_cstring(out, ",\"min\":");
        ldtap_json_append_double(out, point->min);
        ldtap_buffer_append_cstring(out, ",\"max\":");
        ldtap_json_append_double(out, point->max);
    }
    ldtap_buffer_append_byte(out, '}');
}

static const char *data_member(const struct ldtap_instrument *instrument) {
    switch (instrument->kind) {
    case LDTAP_INSTRUMENT_HISTOGRAM: return ",\"histogram\":{\"dataPoints\":[";
    case LDTAP_INSTRUMENT_GAUGE: return ",\"gauge\":{\"dataPoints\":[";
    default: return ",\"sum\":{\"dataPoints\":[";
    }
}

/* points[0, count) share one instrument. */
static void append_metric(struct ldtap_buffer *out, struct ldtap_snapshot_point *const *points, size_t count) {
    const struct ldtap_instrument *instrument = points[0]->instrument;
    append_text_member(out, "{\"name\":", instrument->name);
    append_text_member(out, ",\"description\":", instrument->description);
    append_text_member(out, ",\"unit\":", instrument->unit);
    ldtap_buffer_append_cstring(out, data_member(instrument));
    for (size_t i = 0; i < count; i++) {
        if (i) {
            ldtap_buffer_append_byte(out, ',');
        }
        if (instrument->kind == LDTAP_INSTRUMENT_HISTOGRAM) {
            append_histogram_point(out, points[i]);
        } else {
            append_number_point(out, points[i]);
        }
    }
    ldtap_buffer_append_byte(out, ']');
    if (instrument->kind != LDTAP_INSTRUMENT_GAUGE) {
        /* AGGREGATION_TEMPORALITY_DELTA = 1, _CUMULATIVE = 2 */
        ldtap_buffer_append_format(out, ",\"aggregationTemporality\":%d", points[0]->delta ? 1 : 2);
    }
    if (instrument->kind == LDTAP_INSTRUMENT_COUNTER) {
        ldtap_buffer_append_cstring(out, ",\"isMonotonic\":true");
    }
    ldtap_buffer_append_cstring(out, "}}");
}

static void append_resource_metrics(struct ldtap_buffer *out, const struct ldtap_metrics_snapshot *snapshot,
                                    size_t first, size_t end) {
    ldtap_buffer_append_byte(out, '{');
    ldtap_json_append_resource(out, snapshot->points[first]->resource);
    ldtap_buffer_append_cstring(out, "\"scopeMetrics\":[{");
    ldtap_json_append_scope(out);
    ldtap_buffer_append_cstring(out, ",\"metrics\":[");
    for (size_t at = first; at < end;) {
        size_t run_end = ldtap_metrics_snapshot_instrument_end(snapshot, at, end);
        if (at != first) {
            ldtap_buffer_append_byte(out, ',');
        }
        append_metric(out, snapshot->points + at, run_end - at);
        at = run_end;
    }
    ldtap_buffer_append_cstring(out, "]}]}");
}

bool ldtap_otlp_metrics_json_encode(struct ldtap_buffer *out, const struct ldtap_metrics_snapshot *snapshot) {
    ldtap_buffer_append_cstring(out, "{\"resourceMetrics\":[");
    for (size_t first = 0; first < snapshot->count;) {
        size_t end = ldtap_metrics_snapshot_resource_end(snapshot, first);
        if (first) {
            ldtap_buffer_append_byte(out, ',');
        }
        append_resource_metrics(out, snapshot, first, end);
        first = end;
    }
    ldtap_buffer_append_cstring(out, "]}");
    return !out->failed;
}
