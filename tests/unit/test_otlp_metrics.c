/* OTLP metrics encoding and temporality: byte-exact protobuf and JSON for small snapshots
 * fed straight to the snapshot visitor, resource grouping, and delta versus cumulative
 * arithmetic (resets, unchanged series, lowmemory). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buffer.h"
#include "metrics_snapshot.h"
#include "otlp_common.h"
#include "otlp_metrics_json.h"
#include "otlp_metrics_protobuf.h"

static const double two_bounds[] = {0.5, 1};
static const struct ldtap_instrument requests_counter = {"c", "", "1", LDTAP_INSTRUMENT_COUNTER, true, NULL, 0};
static const struct ldtap_instrument cpu_gauge = {"g", "Load", "1", LDTAP_INSTRUMENT_GAUGE, false, NULL, 0};
static const struct ldtap_instrument duration = {"d", "", "s", LDTAP_INSTRUMENT_HISTOGRAM, false, two_bounds, 2};

static struct ldtap_metrics_snapshot snapshot;
static struct ldtap_buffer out;

static void setup(void) {
    ldtap_metrics_snapshot_init(&snapshot);
    ldtap_buffer_init(&out);
}

static void teardown(void) {
    ldtap_metrics_snapshot_free(&snapshot);
    ldtap_buffer_free(&out);
}

TestSuite(otlp_metrics, .init = setup, .fini = teardown);

static void visit_sum(const struct ldtap_instrument *instrument, uint64_t series, int64_t int_value, double value,
                      uint64_t start, uint64_t time) {
    struct ldtap_metric_point point = {.series_id = series, .start_time_ns = start, .time_ns = time,
                                       .value = value, .int_value = int_value};
    ldtap_metrics_snapshot_visit(&snapshot, instrument, &point);
}

static void visit_histogram(uint64_t series, const uint64_t buckets[3], double sum, uint64_t start, uint64_t time,
                            const struct ldtap_resource *resource) {
    static const struct ldtap_attribute method = {.key = "http.request.method", .type = LDTAP_VALUE_STRING,
                                                  .string_offset = 2, .string_length = 3};
    struct ldtap_metric_point point = {
        .series_id = series, .resource = resource, .attributes = &method, .attribute_count = 1, .text = "xxGET",
        .start_time_ns = start, .time_ns = time, .count = buckets[0] + buckets[1] + buckets[2], .sum = sum,
        .min = 0.25, .max = 2, .bucket_counts = buckets};
    ldtap_metrics_snapshot_visit(&snapshot, &duration, &point);
}

static void push(uint8_t *bytes, size_t *length, const void *data, size_t count) {
    memcpy(bytes + *length, data, count);
    *length += count;
}

static void push_fixed64(uint8_t *bytes, size_t *length, uint8_t tag, uint64_t value) {
    bytes[(*length)++] = tag;
    for (int i = 0; i < 8; i++) {
        bytes[(*length)++] = (uint8_t)(value >> (8 * i));
    }
}

Test(otlp_metrics, counter_protobuf_bytes) {
    visit_sum(&requests_counter, 1, 5, 0, 0x100, 0x200);
    struct ldtap_delta_state next = {0};
    cr_assert(ldtap_metrics_snapshot_apply_temporality(&snapshot, LDTAP_TEMPORALITY_CUMULATIVE, &next, &next));
    ldtap_delta_state_free(&next); /* only the encoding is under test here */
    ldtap_metrics_snapshot_order(&snapshot);
    cr_assert(ldtap_otlp_metrics_protobuf_encode(&out, &snapshot));

    size_t version = strlen(LDTAP_OTLP_SCOPE_VERSION);
    uint8_t point[27];
    size_t point_length = 0;
    push_fixed64(point, &point_length, 0x11, 0x100); /* start_time_unix_nano = 2, fixed64 */
    push_fixed64(point, &point_length, 0x19, 0x200); /* time_unix_nano = 3 */
    push_fixed64(point, &point_length, 0x31, 5);     /* as_int = 6, sfixed64 */
    uint8_t expected[128];
    size_t length = 0;
    size_t sum_length = 2 + point_length + 4;
    size_t metric_length = 3 + 3 + 2 + sum_length;
    size_t scope_length = 7 + 2 + version;
    size_t scope_metrics_length = 2 + scope_length + 2 + metric_length;
    push(expected, &length, (uint8_t[]){0x0a, (uint8_t)(2 + scope_metrics_length), 0x12, (uint8_t)scope_metrics_length,
                                        0x0a, (uint8_t)scope_length, 0x0a, 5}, 8);
    push(expected, &length, "ldtap", 5);
    push(expected, &length, (uint8_t[]){0x12, (uint8_t)version}, 2);
    push(expected, &length, LDTAP_OTLP_SCOPE_VERSION, version);
    /* Metric: name = 1, unit = 3 (empty description omitted), sum = 7 */
    push(expected, &length, (uint8_t[]){0x12, (uint8_t)metric_length, 0x0a, 1, 'c', 0x1a, 1, '1', 0x3a,
                                        (uint8_t)sum_length, 0x0a, (uint8_t)point_length}, 12);
    push(expected, &length, point, point_length);
    /* aggregation_temporality = 2 (CUMULATIVE), is_monotonic = 3 */
    push(expected, &length, (uint8_t[]){0x10, 2, 0x18, 1}, 4);
    cr_assert_eq(out.length, length);
    cr_assert_arr_eq(out.data, expected, length);
}

Test(otlp_metrics, histogram_protobuf_fields) {
    const uint64_t buckets[3] = {1, 2, 3};
    visit_histogram(7, buckets, 4.5, 10, 20, NULL);
    ldtap_metrics_snapshot_order(&snapshot);
    cr_assert(ldtap_otlp_metrics_protobuf_encode(&out, &snapshot));
    /* Histogram = 9 inside the Metric, temporality 2 after the points. */
    const uint8_t count_and_sum[] = {0x21, 6, 0, 0, 0, 0, 0, 0, 0, 0x29, 0, 0, 0, 0, 0, 0, 0x12, 0x40};
    const uint8_t packed_buckets[] = {0x32, 24, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3};
    const uint8_t packed_bounds[] = {0x3a, 16, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    const uint8_t attribute[] = {0x4a, 0x1c, 0x0a, 0x13};
    const uint8_t min_max[] = {0x59, 0, 0, 0, 0, 0, 0, 0xd0, 0x3f, 0x61, 0, 0, 0, 0, 0, 0, 0, 0x40};
    cr_assert(memmem(out.data, out.length, count_and_sum, sizeof count_and_sum));
    cr_assert(memmem(out.data, out.length, packed_buckets, sizeof packed_buckets));
    cr_assert(memmem(out.data, out.length, packed_bounds, sizeof packed_bounds));
    cr_assert(memmem(out.data, out.length, attribute, sizeof attribute));
    cr_assert(memmem(out.data, out.length, min_max, sizeof min_max));
    cr_assert_eq(out.data[out.length - 2], 0x10);
    cr_assert_eq(out.data[out.length - 1], 2);
}

Test(otlp_metrics, json_exact) {
    const uint64_t buckets[3] = {1, 0, 2};
    visit_histogram(3, buckets, 3.25, 10, 20, NULL);
    visit_sum(&cpu_gauge, 4, 0, 0.75, 0, 20);
    struct ldtap_delta_state next = {0};
    cr_assert(ldtap_metrics_snapshot_apply_temporality(&snapshot, LDTAP_TEMPORALITY_CUMULATIVE, &next, &next));
    ldtap_delta_state_free(&next); /* only the encoding is under test here */
    ldtap_metrics_snapshot_order(&snapshot);
    cr_assert(ldtap_otlp_metrics_json_encode(&out, &snapshot));
    char expected[1024];
    snprintf(expected, sizeof expected,
             "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"scope\":{\"name\":\"ldtap\",\"version\":\"%s\"},"
             "\"metrics\":[{\"name\":\"d\",\"description\":\"\",\"unit\":\"s\",\"histogram\":{\"dataPoints\":[{"
             "\"attributes\":[{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"GET\"}}],"
             "\"startTimeUnixNano\":\"10\",\"timeUnixNano\":\"20\",\"count\":\"3\",\"sum\":3.25,"
             "\"bucketCounts\":[\"1\",\"0\",\"2\"],\"explicitBounds\":[0.5,1],\"min\":0.25,\"max\":2}],"
             "\"aggregationTemporality\":2}},"
             "{\"name\":\"g\",\"description\":\"Load\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":[{"
             "\"timeUnixNano\":\"20\",\"asDouble\":0.75}]}}]}]}]}",
             LDTAP_OTLP_SCOPE_VERSION);
    cr_assert_eq(out.length, strlen(expected));
    cr_assert_arr_eq(out.data, expected, out.length, "got %.*s", (int)out.length, (const char *)out.data);
}

Test(otlp_metrics, points_grouped_by_resource_then_instrument) {
    struct ldtap_resource *a = ldtap_resource_new(), *b = ldtap_resource_new();
    cr_assert(a && b);
    ldtap_resource_add_string(a, "service.name", "a", 1);
    ldtap_resource_add_string(b, "service.name", "b", 1);
    const uint64_t buckets[3] = {1, 0, 0};
    visit_histogram(1, buckets, 0.1, 1, 2, a);
    visit_histogram(2, buckets, 0.1, 1, 2, b);
    visit_histogram(3, buckets, 0.1, 1, 2, a);
    /* The visit took references: the store may drop its own now. */
    ldtap_resource_release(a);
    ldtap_resource_release(b);
    ldtap_metrics_snapshot_order(&snapshot);
    cr_assert_eq(snapshot.points[0]->series_id, 1);
    cr_assert_eq(snapshot.points[1]->series_id, 3);
    cr_assert_eq(snapshot.points[2]->series_id, 2);
    cr_assert_eq(ldtap_metrics_snapshot_resource_end(&snapshot, 0), 2);
    cr_assert_eq(ldtap_metrics_snapshot_instrument_end(&snapshot, 0, 2), 2);
    cr_assert(ldtap_otlp_metrics_json_encode(&out, &snapshot));
    const char *text = (const char *)out.data;
    cr_assert(strstr(text, "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"a\"}}]},"));
}

Test(otlp_metrics, temporality_table) {
    cr_assert_not(ldtap_metrics_is_delta(LDTAP_TEMPORALITY_CUMULATIVE, LDTAP_INSTRUMENT_HISTOGRAM));
    cr_assert(ldtap_metrics_is_delta(LDTAP_TEMPORALITY_DELTA, LDTAP_INSTRUMENT_HISTOGRAM));
    cr_assert(ldtap_metrics_is_delta(LDTAP_TEMPORALITY_DELTA, LDTAP_INSTRUMENT_COUNTER));
    cr_assert_not(ldtap_metrics_is_delta(LDTAP_TEMPORALITY_DELTA, LDTAP_INSTRUMENT_UPDOWN_COUNTER));
    cr_assert_not(ldtap_metrics_is_delta(LDTAP_TEMPORALITY_DELTA, LDTAP_INSTRUMENT_GAUGE));
    cr_assert(ldtap_metrics_is_delta(LDTAP_TEMPORALITY_LOWMEMORY, LDTAP_INSTRUMENT_HISTOGRAM));
    cr_assert_not(ldtap_metrics_is_delta(LDTAP_TEMPORALITY_LOWMEMORY, LDTAP_INSTRUMENT_COUNTER));
}

/* Collects the three series at time `time` and applies delta against `*state`, which
 * becomes the new state as if the export had been delivered. */
static void delta_round(struct ldtap_delta_state *state, const uint64_t buckets[3], int64_t counter, double gauge,
                        uint64_t counter_start, uint64_t time) {
    ldtap_metrics_snapshot_clear(&snapshot);
    visit_histogram(1, buckets, (double)(buckets[0] + buckets[1] + buckets[2]), 100, time, NULL);
    visit_sum(&requests_counter, 2, counter, 0, counter_start, time);
    visit_sum(&cpu_gauge, 3, 0, gauge, 0, time);
    ldtap_metrics_snapshot_order(&snapshot);
    struct ldtap_delta_state next;
    cr_assert(ldtap_metrics_snapshot_apply_temporality(&snapshot, LDTAP_TEMPORALITY_DELTA, state, &next));
    ldtap_delta_state_free(state);
    *state = next;
}

static const struct ldtap_snapshot_point *find_series(uint64_t series) {
    for (size_t i = 0; i < snapshot.count; i++) {
        if (snapshot.points[i]->series_id == series) {
            return snapshot.points[i];
        }
    }
    return NULL;
}

Test(otlp_metrics, delta_math) {
    struct ldtap_delta_state state = {0};
    /* First export: everything since the series began, with its own start time. */
    delta_round(&state, (uint64_t[]){1, 1, 0}, 5, 0.5, 100, 1000);
    const struct ldtap_snapshot_point *histogram = find_series(1);
    cr_assert(histogram && histogram->delta);
    cr_assert_eq(histogram->count, 2);
    cr_assert_eq(histogram->start_time_ns, 100);
    cr_assert(histogram->has_min_max, "the first interval's extremes are the cumulative ones");
    cr_assert_eq(find_series(2)->int_value, 5);

    /* Second: only the change, starting at the previous collection. */
    delta_round(&state, (uint64_t[]){1, 3, 2}, 9, 0.25, 100, 2000);
    histogram = find_series(1);
    cr_assert_eq(histogram->count, 4);
    cr_assert_eq(histogram->bucket_counts[0], 0);
    cr_assert_eq(histogram->bucket_counts[1], 2);
    cr_assert_eq(histogram->bucket_counts[2], 2);
    cr_assert_float_eq(histogram->sum, 4.0, 1e-9);
    cr_assert_eq(histogram->start_time_ns, 1000);
    cr_assert_eq(histogram->time_ns, 2000);
    cr_assert_not(histogram->has_min_max);
    cr_assert_eq(find_series(2)->int_value, 4);
    cr_assert_eq(find_series(2)->start_time_ns, 1000);
    const struct ldtap_snapshot_point *gauge = find_series(3);
    cr_assert(gauge && !gauge->delta);
    cr_assert_float_eq(gauge->value, 0.25, 1e-12);

    /* Nothing new: the histogram and counter are left out, the gauge stays. */
    delta_round(&state, (uint64_t[]){1, 3, 2}, 9, 0.25, 100, 3000);
    cr_assert_null(find_series(1));
    cr_assert_null(find_series(2));
    cr_assert_not_null(find_series(3));

    /* The counter restarted (new start time): its whole value is new again. */
    delta_round(&state, (uint64_t[]){1, 3, 3}, 2, 0.25, 2500, 4000);
    cr_assert_eq(find_series(2)->int_value, 2);
    cr_assert_eq(find_series(2)->start_time_ns, 2500);
    cr_assert_eq(find_series(1)->count, 1);
    cr_assert_eq(find_series(1)->start_time_ns, 3000);
    ldtap_delta_state_free(&state);
}

Test(otlp_metrics, failed_export_keeps_the_old_state) {
    struct ldtap_delta_state delivered = {0};
    delta_round(&delivered, (uint64_t[]){1, 0, 0}, 1, 0, 100, 1000);
    /* An export that is not delivered: its `next` is dropped, `delivered` stays. */
    ldtap_metrics_snapshot_clear(&snapshot);
    visit_histogram(1, (uint64_t[]){2, 0, 0}, 2, 100, 2000, NULL);
    struct ldtap_delta_state lost;
    cr_assert(ldtap_metrics_snapshot_apply_temporality(&snapshot, LDTAP_TEMPORALITY_DELTA, &delivered, &lost));
    ldtap_delta_state_free(&lost);
    /* The next one spans both intervals. */
    ldtap_metrics_snapshot_clear(&snapshot);
    visit_histogram(1, (uint64_t[]){3, 0, 0}, 3, 100, 3000, NULL);
    struct ldtap_delta_state next;
    cr_assert(ldtap_metrics_snapshot_apply_temporality(&snapshot, LDTAP_TEMPORALITY_DELTA, &delivered, &next));
    cr_assert_eq(find_series(1)->count, 2);
    cr_assert_eq(find_series(1)->start_time_ns, 1000);
    ldtap_delta_state_free(&next);
    ldtap_delta_state_free(&delivered);
}

Test(otlp_metrics, cumulative_keeps_values) {
    visit_histogram(1, (uint64_t[]){4, 0, 1}, 5, 100, 1000, NULL);
    struct ldtap_delta_state empty = {0}, next;
    cr_assert(ldtap_metrics_snapshot_apply_temporality(&snapshot, LDTAP_TEMPORALITY_CUMULATIVE, &empty, &next));
    cr_assert_eq(next.count, 0);
    cr_assert_eq(find_series(1)->count, 5);
    cr_assert_not(find_series(1)->delta);
    ldtap_delta_state_free(&next);
}
