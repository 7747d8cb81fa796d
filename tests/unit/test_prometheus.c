/* Criterion tests for collector/prometheus.c: OTel -> Prometheus name translation, each
 * instrument kind rendered from hand-made points, label escaping and resource labels. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus.h"

static const char *family(const char *name, const char *unit, enum ldtap_instrument_kind kind) {
    static char result[256];
    struct ldtap_instrument instrument = {.name = name, .unit = unit, .kind = kind};
    cr_assert(ldtap_prometheus_family_name(&instrument, result, sizeof result), "%s does not fit", name);
    return result;
}

Test(prometheus, family_names_follow_the_specification) {
    cr_assert_str_eq(family("http.server.request.duration", "s", LDTAP_INSTRUMENT_HISTOGRAM),
                     "http_server_request_duration_seconds");
    cr_assert_str_eq(family("ldtap.records.dropped", "{record}", LDTAP_INSTRUMENT_COUNTER),
                     "ldtap_records_dropped_total");
    cr_assert_str_eq(family("process.cpu.time", "s", LDTAP_INSTRUMENT_COUNTER),
                     "process_cpu_time_seconds_total");
    cr_assert_str_eq(family("process.memory.usage", "By", LDTAP_INSTRUMENT_UPDOWN_COUNTER),
                     "process_memory_usage_bytes");
    cr_assert_str_eq(family("system.memory.utilization", "1", LDTAP_INSTRUMENT_GAUGE),
                     "system_memory_utilization_ratio");
    /* "1" is a ratio only for gauges. */
    cr_assert_str_eq(family("things.seen", "1", LDTAP_INSTRUMENT_COUNTER), "things_seen_total");
    cr_assert_str_eq(family("queue.wait.seconds", "s", LDTAP_INSTRUMENT_GAUGE), "queue_wait_seconds");
    cr_assert_str_eq(family("requests.total", "{request}", LDTAP_INSTRUMENT_COUNTER), "requests_total");
    cr_assert_str_eq(family("request.rate", "{request}/s", LDTAP_INSTRUMENT_GAUGE),
                     "request_rate_per_second");
    cr_assert_str_eq(family("throughput", "By/s", LDTAP_INSTRUMENT_GAUGE), "throughput_bytes_per_second");
    cr_assert_str_eq(family("heap", "KiBy", LDTAP_INSTRUMENT_GAUGE), "heap_kibibytes");
    cr_assert_str_eq(family("system.network.dropped", "packets", LDTAP_INSTRUMENT_GAUGE),
                     "system_network_dropped_packets");
    cr_assert_str_eq(family("weird..name-(x)", "", LDTAP_INSTRUMENT_GAUGE), "weird_name_x");
    cr_assert_str_eq(family("9lives", NULL, LDTAP_INSTRUMENT_GAUGE), "_9lives");
}

/* Gauges never end in _count (Prometheus keeps it for histograms): the counted thing,
 * from the unit's annotation, in the plural. */
Test(prometheus, count_gauges_become_plurals) {
    cr_assert_str_eq(family("process.thread.count", "{thread}", LDTAP_INSTRUMENT_UPDOWN_COUNTER),
                     "process_threads");
    cr_assert_str_eq(
        family("process.unix.file_descriptor.count", "{file_descriptor}", LDTAP_INSTRUMENT_UPDOWN_COUNTER),
        "process_unix_file_descriptors");
    cr_assert_str_eq(family("system.process.count", "{process}", LDTAP_INSTRUMENT_GAUGE), "system_processes");
    cr_assert_str_eq(family("queue.count", "{entry}", LDTAP_INSTRUMENT_GAUGE), "queue_entries");
    cr_assert_str_eq(family("db.client.connection.count", "{connection}", LDTAP_INSTRUMENT_UPDOWN_COUNTER),
                     "db_client_connections");
    cr_assert_str_eq(family("pool.count", "{connection}", LDTAP_INSTRUMENT_GAUGE), "pool_connections");
    /* Counters keep _total; a count gauge without an annotation is left alone. */
    cr_assert_str_eq(family("errors.count", "{error}", LDTAP_INSTRUMENT_COUNTER), "errors_count_total");
    cr_assert_str_eq(family("things.count", "", LDTAP_INSTRUMENT_GAUGE), "things_count");
}

Test(prometheus, label_names_are_sanitised) {
    char name[64];
    ldtap_prometheus_label_name("http.route", name, sizeof name);
    cr_assert_str_eq(name, "http_route");
    ldtap_prometheus_label_name("2xx", name, sizeof name);
    cr_assert_str_eq(name, "key_2xx");
    ldtap_prometheus_label_name("_private", name, sizeof name);
    cr_assert_str_eq(name, "key_private");
    ldtap_prometheus_label_name("a:b", name, sizeof name);
    cr_assert_str_eq(name, "a_b");
}

/* ---- rendering from hand-made points ---- */

struct fake_point {
    struct ldtap_attribute attributes[4];
    char text[256];
    size_t text_used;
    struct ldtap_metric_point point;
};

static void add_string(struct fake_point *fake, const char *key, const char *value) {
    struct ldtap_attribute *attribute = &fake->attributes[fake->point.attribute_count++];
    size_t length = strlen(value);
    *attribute = (struct ldtap_attribute){.key = key,
                                          .type = LDTAP_VALUE_STRING,
                                          .string_offset = (uint16_t)fake->text_used,
                                          .string_length = (uint16_t)length};
    memcpy(fake->text + fake->text_used, value, length);
    fake->text_used += length;
    fake->point.attributes = fake->attributes;
    fake->point.text = fake->text;
}

static void add_int(struct fake_point *fake, const char *key, int64_t value) {
    fake->attributes[fake->point.attribute_count++] =
        (struct ldtap_attribute){.key = key, .type = LDTAP_VALUE_INT, .int_value = value};
    fake->point.attributes = fake->attributes;
    fake->point.text = fake->text;
}

/* Renders `count` points of `instrument` and returns the NUL-terminated text (static). */
static const char *render(const struct ldtap_instrument *instrument, struct fake_point *points, int count) {
    static char text[8192];
    struct ldtap_buffer out;
    ldtap_buffer_init(&out);
    struct ldtap_prometheus_render render;
    ldtap_prometheus_render_begin(&render, &out);
    for (int i = 0; i < count; i++) {
        ldtap_prometheus_visit(&render, instrument, &points[i].point);
    }
    cr_assert(ldtap_prometheus_render_end(&render));
    cr_assert_lt(out.length, sizeof text);
    memcpy(text, out.data, out.length);
    text[out.length] = '\0';
    ldtap_buffer_free(&out);
    return text;
}

static const struct ldtap_instrument drained = {"ldtap.records.drained",
                                                "Records read from the rings.",
                                                "{record}",
                                                LDTAP_INSTRUMENT_COUNTER,
                                                true,
                                                NULL,
                                                0};

Test(prometheus, counter_series_share_one_help_and_type) {
    struct fake_point points[2] = {0};
    add_string(&points[0], "reason", "ring_full");
    points[0].point.int_value = 7;
    add_string(&points[1], "reason", "too_large");
    points[1].point.int_value = 0;
    cr_assert_str_eq(render(&drained, points, 2),
                     "# HELP ldtap_records_drained_total Records read from the rings.\n"
                     "# TYPE ldtap_records_drained_total counter\n"
                     "ldtap_records_drained_total{reason=\"ring_full\"} 7\n"
                     "ldtap_records_drained_total{reason=\"too_large\"} 0\n");
}

Test(prometheus, gauges_and_updown_counters_are_gauges) {
    struct ldtap_instrument busy = {
        "ldtap.service.busy_fraction", "Busy.", "1", LDTAP_INSTRUMENT_GAUGE, false, NULL, 0};
    struct fake_point point = {0};
    point.point.value = 0.25;
    cr_assert_str_eq(render(&busy, &point, 1), "# HELP ldtap_service_busy_fraction_ratio Busy.\n"
                                               "# TYPE ldtap_service_busy_fraction_ratio gauge\n"
                                               "ldtap_service_busy_fraction_ratio 0.25\n");
    struct ldtap_instrument memory = {
        "process.memory.usage", "RSS.", "By", LDTAP_INSTRUMENT_UPDOWN_COUNTER, true, NULL, 0};
    point.point.int_value = -3;
    cr_assert_str_eq(render(&memory, &point, 1), "# HELP process_memory_usage_bytes RSS.\n"
                                                 "# TYPE process_memory_usage_bytes gauge\n"
                                                 "process_memory_usage_bytes -3\n");
}

Test(prometheus, histograms_have_cumulative_buckets_sum_and_count) {
    static const double bounds[] = {0.005, 0.1, 1};
    struct ldtap_instrument duration = {
        "http.server.request.duration", "Duration.", "s", LDTAP_INSTRUMENT_HISTOGRAM, false, bounds, 3};
    uint64_t buckets[4] = {1, 2, 0, 3};
    struct fake_point point = {0};
    add_string(&point, "http.route", "/users/{id}");
    add_int(&point, "http.response.status_code", 200);
    point.point.count = 6;
    point.point.sum = 12.5;
    point.point.bucket_counts = buckets;
    const char *expected = "# HELP http_server_request_duration_seconds Duration.\n"
                           "# TYPE http_server_request_duration_seconds histogram\n"
                           "http_server_request_duration_seconds_bucket{http_route=\"/users/"
                           "{id}\",http_response_status_code=\"200\","
                           "le=\"0.005\"} 1\n"
                           "http_server_request_duration_seconds_bucket{http_route=\"/users/"
                           "{id}\",http_response_status_code=\"200\","
                           "le=\"0.1\"} 3\n"
                           "http_server_request_duration_seconds_bucket{http_route=\"/users/"
                           "{id}\",http_response_status_code=\"200\","
                           "le=\"1\"} 3\n"
                           "http_server_request_duration_seconds_bucket{http_route=\"/users/"
                           "{id}\",http_response_status_code=\"200\","
                           "le=\"+Inf\"} 6\n"
                           "http_server_request_duration_seconds_sum{http_route=\"/users/"
                           "{id}\",http_response_status_code=\"200\"} 12.5\n"
                           "http_server_request_duration_seconds_count{http_route=\"/users/"
                           "{id}\",http_response_status_code=\"200\"} 6\n";
    cr_assert_str_eq(render(&duration, &point, 1), expected);
}

Test(prometheus, label_values_and_help_are_escaped) {
    struct ldtap_instrument odd = {
        "odd", "line one\nback\\slash \"quoted\"", "", LDTAP_INSTRUMENT_GAUGE, true, NULL, 0};
    struct fake_point point = {0};
    add_string(&point, "path",
               "a\\b\"c\nd\xff"
               "e");
    point.point.int_value = 1;
    cr_assert_str_eq(render(&odd, &point, 1), "# HELP odd line one\\nback\\\\slash \"quoted\"\n"
                                              "# TYPE odd gauge\n"
                                              "odd{path=\"a\\\\b\\\"c\\nd\xEF\xBF\xBD"
                                              "e\"} 1\n");
}

Test(prometheus, colliding_label_names_are_joined) {
    struct fake_point point = {0};
    add_string(&point, "a.b", "one");
    add_string(&point, "a_b", "two");
    point.point.int_value = 2;
    const char *text = render(&drained, &point, 1);
    cr_assert(strstr(text, "ldtap_records_drained_total{a_b=\"one;two\"} 2\n"), "%s", text);
}

Test(prometheus, resource_gives_job_service_pid_and_target_info) {
    struct ldtap_resource *resource = ldtap_resource_new();
    ldtap_resource_add_string(resource, "service.name", "shop", 4);
    ldtap_resource_add_int(resource, "process.pid", 4242);
    ldtap_resource_add_string(resource, "host.name", "box", 3);
    struct ldtap_instrument memory = {
        "process.memory.usage", "RSS.", "By", LDTAP_INSTRUMENT_UPDOWN_COUNTER, true, NULL, 0};
    struct fake_point points[2] = {0};
    points[0].point.resource = resource;
    points[0].point.int_value = 1000;
    points[1].point.resource = resource;
    points[1].point.int_value = 2000;
    add_string(&points[1], "process.role", "worker");
    const char *text = render(&memory, points, 2);
    cr_assert(
        strstr(text, "process_memory_usage_bytes{job=\"shop\",service_name=\"shop\",pid=\"4242\"} 1000\n"),
        "%s", text);
    cr_assert(
        strstr(text, "{job=\"shop\",service_name=\"shop\",pid=\"4242\",process_role=\"worker\"} 2000\n"),
        "%s", text);
    cr_assert(
        strstr(text,
               "# TYPE target_info gauge\n"
               "target_info{job=\"shop\",service_name=\"shop\",process_pid=\"4242\",host_name=\"box\"} 1\n"),
        "%s", text);
    /* One target_info sample per resource, however many points it has. */
    cr_assert_null(strstr(strstr(text, "target_info{") + 1, "target_info{"));
    ldtap_resource_release(resource);
}

Test(prometheus, doubles_read_back_exactly) {
    struct ldtap_instrument ratio = {"x", "", "", LDTAP_INSTRUMENT_GAUGE, false, NULL, 0};
    struct fake_point point = {0};
    point.point.value = 0.1 + 0.2;
    cr_assert(strstr(render(&ratio, &point, 1), "\nx 0.30000000000000004\n"));
    point.point.value = 1.0 / 0.0;
    cr_assert(strstr(render(&ratio, &point, 1), "\nx +Inf\n"));
}

/* ---- through the real store ---- */

static void add_server_span(struct ldtap_metrics *metrics, struct ldtap_resource *resource, const char *route,
                            int64_t status, uint64_t nanoseconds) {
    static struct ldtap_span span;
    memset(&span, 0, sizeof span);
    span.kind = 2; /* server */
    span.start_time_ns = 1700000000000000000ull;
    span.end_time_ns = span.start_time_ns + nanoseconds;
    span.resource = resource;
    ldtap_span_add_string(&span, "http.request.method", "GET", 3);
    ldtap_span_add_string(&span, "http.route", route, strlen(route));
    ldtap_span_add_int(&span, "http.response.status_code", status);
    ldtap_metrics_add_span(metrics, "shop", &span);
}

/* Every family's HELP and TYPE appear exactly once, before its samples. */
static void assert_families_once(const char *text) {
    for (const char *type = strstr(text, "# TYPE "); type; type = strstr(type + 1, "# TYPE ")) {
        char name[256] = "";
        sscanf(type + 7, "%255s", name);
        char needle[300];
        snprintf(needle, sizeof needle, "# TYPE %s ", name);
        cr_assert_null(strstr(type + 1, needle), "TYPE of %s twice", name);
        snprintf(needle, sizeof needle, "# HELP %s ", name);
        cr_assert_not_null(strstr(text, needle), "no HELP for %s", name);
    }
}

Test(prometheus, store_histograms_render_with_exact_counts) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(1000);
    cr_assert_not_null(metrics);
    struct ldtap_resource *resource = ldtap_resource_new();
    ldtap_resource_add_string(resource, "service.name", "shop", 4);
    for (int i = 0; i < 7; i++) {
        add_server_span(metrics, resource, "/users/{id}", 200, 3000000); /* 3 ms */
    }
    add_server_span(metrics, resource, "/users/{id}", 503, 2000000000); /* 2 s */
    struct ldtap_buffer out;
    ldtap_buffer_init(&out);
    cr_assert(ldtap_prometheus_render(metrics, &out));
    ldtap_buffer_append_byte(&out, '\0');
    const char *text = (const char *)out.data;
    cr_assert(strstr(text, "# TYPE http_server_request_duration_seconds histogram\n"), "%s", text);
    const char *ok_count = strstr(text, "http_server_request_duration_seconds_count{");
    cr_assert_not_null(ok_count, "%s", text);
    cr_assert(strstr(text, "http_route=\"/users/{id}\",http_response_status_code=\"200\"} 7\n"), "%s", text);
    cr_assert(strstr(text, "http_response_status_code=\"503\",le=\"2.5\"} 1\n"), "%s", text);
    cr_assert(strstr(text, "http_response_status_code=\"503\",le=\"1\"} 0\n"), "%s", text);
    cr_assert(strstr(text, "service_name=\"shop\""), "%s", text);
    assert_families_once(text);
    ldtap_buffer_free(&out);
    ldtap_resource_release(resource);
    ldtap_metrics_free(metrics);
}
