/* Criterion tests for the metric store (collector/metrics*.c): histogram buckets at their
 * boundaries, exact counts, attribute sets, the series bound, collection order, process
 * roles, busy fractions, retirement of a gone process's series, and self health. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "metrics.h"

#define MAX_POINTS 256

/* Copies of collected points, enough to check them after the visit. */
struct captured {
    char name[64];
    const struct ldtap_resource *resource;
    char attributes[256]; /* "key=value;" in order */
    double value;
    int64_t int_value;
    uint64_t count;
    double sum, min, max;
    uint64_t buckets[16];
    uint32_t bucket_count;
};

struct capture {
    size_t count;
    struct captured points[MAX_POINTS];
};

static void capture_point(void *context, const struct ldtap_instrument *instrument,
                          const struct ldtap_metric_point *point) {
    struct capture *capture = context;
    cr_assert_lt(capture->count, MAX_POINTS);
    struct captured *out = &capture->points[capture->count++];
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", instrument->name);
    out->resource = point->resource;
    for (uint16_t i = 0; i < point->attribute_count; i++) {
        const struct ldtap_attribute *attribute = &point->attributes[i];
        size_t used = strlen(out->attributes);
        if (attribute->type == LDTAP_VALUE_STRING) {
            snprintf(out->attributes + used, sizeof out->attributes - used, "%s=%.*s;", attribute->key,
                     (int)attribute->string_length, point->text + attribute->string_offset);
        } else {
            snprintf(out->attributes + used, sizeof out->attributes - used, "%s=%lld;", attribute->key,
                     (long long)attribute->int_value);
        }
    }
    out->value = point->value;
    out->int_value = point->int_value;
    out->count = point->count;
    out->sum = point->sum;
    out->min = point->min;
    out->max = point->max;
    if (instrument->kind == LDTAP_INSTRUMENT_HISTOGRAM) {
        cr_assert_leq(instrument->bound_count + 1, 16);
        out->bucket_count = instrument->bound_count + 1;
        memcpy(out->buckets, point->bucket_counts, out->bucket_count * sizeof *out->buckets);
    }
}

static struct capture *collect(struct ldtap_metrics *metrics) {
    struct capture *capture = calloc(1, sizeof *capture);
    ldtap_metrics_collect(metrics, capture_point, capture);
    return capture;
}

/* The first point of `name` whose attributes contain `attributes` (NULL: any). */
static const struct captured *find(const struct capture *capture, const char *name, const char *attributes) {
    for (size_t i = 0; i < capture->count; i++) {
        if (strcmp(capture->points[i].name, name) == 0 &&
            (!attributes || strstr(capture->points[i].attributes, attributes))) {
            return &capture->points[i];
        }
    }
    return NULL;
}

static size_t count_named(const struct capture *capture, const char *name) {
    size_t count = 0;
    for (size_t i = 0; i < capture->count; i++) {
        count += strcmp(capture->points[i].name, name) == 0;
    }
    return count;
}

static struct ldtap_resource *process_resource(const char *service, int pid) {
    struct ldtap_resource *resource = ldtap_resource_new();
    ldtap_resource_add_string(resource, "service.name", service, strlen(service));
    ldtap_resource_add_int(resource, "process.pid", pid);
    ldtap_resource_add_string(resource, "host.name", "testhost", 8);
    ldtap_resource_add_string(resource, "telemetry.sdk.name", "ldtap", 5);
    return resource;
}

static void server_span(struct ldtap_span *span, struct ldtap_resource *resource, const char *route, int status,
                        uint64_t duration_ns) {
    memset(span, 0, sizeof *span);
    span->kind = 2;
    span->resource = resource;
    span->start_time_ns = 1000000000000ull;
    span->end_time_ns = span->start_time_ns + duration_ns;
    ldtap_span_add_string(span, "http.request.method", "GET", 3);
    ldtap_span_add_string(span, "url.path", "/orders/17", 10);
    ldtap_span_add_string(span, "url.scheme", "http", 4);
    ldtap_span_add_string(span, "http.route", route, strlen(route));
    ldtap_span_add_string(span, "network.protocol.version", "1.1", 3);
    if (status) {
        ldtap_span_add_int(span, "http.response.status_code", status);
    }
    if (status >= 500) {
        char code[16];
        snprintf(code, sizeof code, "%d", status);
        ldtap_span_add_string(span, "error.type", code, strlen(code));
    }
}

Test(metrics, duration_buckets_are_upper_inclusive) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(100);
    struct ldtap_resource *resource = process_resource("shop", 10);
    struct ldtap_span span;
    /* 5 ms is the first bound: it lands in the first bucket (le 0.005), a hair more in the next. */
    const uint64_t durations[] = {5000000, 5000001, 10000000, 10000000000ull, 10000000001ull, 0};
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        server_span(&span, resource, "/orders/{id}", 200, durations[i]);
        ldtap_metrics_add_span(metrics, "shop", &span);
    }
    struct capture *capture = collect(metrics);
    const struct captured *point = find(capture, "http.server.request.duration", NULL);
    cr_assert_not_null(point);
    cr_assert_eq(point->bucket_count, 15);
    cr_assert_eq(point->buckets[0], 2, "0 s and 0.005 s are le 0.005");
    cr_assert_eq(point->buckets[1], 2, "0.005000001 s and 0.01 s are le 0.01");
    cr_assert_eq(point->buckets[13], 1, "10 s is le 10");
    cr_assert_eq(point->buckets[14], 1, "past 10 s: +Inf");
    cr_assert_eq(point->count, 6);
    cr_assert_float_eq(point->min, 0.0, 1e-12);
    cr_assert_float_eq(point->max, 10.000000001, 1e-9);
    free(capture);
    ldtap_resource_release(resource);
    ldtap_metrics_free(metrics);
}

Test(metrics, body_size_buckets_start_at_zero) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(100);
    struct ldtap_resource *resource = process_resource("shop", 10);
    struct ldtap_span span;
    const int64_t sizes[] = {0, 1, 5, 10000, 10001};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        server_span(&span, resource, "/upload", 200, 1000);
        ldtap_span_add_int(&span, "http.request.body.size", sizes[i]);
        ldtap_span_add_int(&span, "http.response.body.size", 2 * sizes[i]);
        ldtap_metrics_add_span(metrics, "shop", &span);
    }
    struct capture *capture = collect(metrics);
    const struct captured *request = find(capture, "http.server.request.body.size", NULL);
    cr_assert_not_null(request);
    cr_assert_eq(request->bucket_count, 16);
    cr_assert_eq(request->buckets[0], 1, "0 bytes: le 0");
    cr_assert_eq(request->buckets[1], 2, "1 and 5 bytes: le 5");
    cr_assert_eq(request->buckets[14], 1, "10000: le 10000");
    cr_assert_eq(request->buckets[15], 1, "10001: +Inf");
    cr_assert_float_eq(request->sum, 20007.0, 1e-9);
    const struct captured *response = find(capture, "http.server.response.body.size", NULL);
    cr_assert_not_null(response);
    cr_assert_eq(response->count, 5);
    free(capture);
    ldtap_resource_release(resource);
    ldtap_metrics_free(metrics);
}

Test(metrics, counts_are_exact_per_attribute_set) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(100);
    struct ldtap_resource *worker_a = process_resource("shop", 10), *worker_b = process_resource("shop", 11);
    struct ldtap_span span;
    for (int i = 0; i < 1000; i++) {
        /* Two workers of one service share its series: the resource is per service. */
        server_span(&span, i % 2 ? worker_a : worker_b, "/orders/{id}", i % 10 == 0 ? 503 : 200, 2000000);
        ldtap_metrics_add_span(metrics, "shop", &span);
    }
    struct capture *capture = collect(metrics);
    cr_assert_eq(count_named(capture, "http.server.request.duration"), 2, "one series per status code");
    const struct captured *ok = find(capture, "http.server.request.duration", "http.response.status_code=200;");
    const struct captured *failed = find(capture, "http.server.request.duration", "http.response.status_code=503;");
    cr_assert_not_null(ok);
    cr_assert_not_null(failed);
    cr_assert_eq(ok->count, 900);
    cr_assert_eq(failed->count, 100);
    cr_assert_float_eq(ok->sum, 900 * 0.002, 1e-9);
    cr_assert_str_eq(ok->attributes, "http.request.method=GET;url.scheme=http;http.route=/orders/{id};"
                                     "http.response.status_code=200;network.protocol.version=1.1;");
    cr_assert(strstr(failed->attributes, "error.type=503;"));
    cr_assert_null(strstr(ok->attributes, "url.path"), "url.path would make a series per request");
    cr_assert_eq(ok->resource, failed->resource);
    cr_assert_neq(ok->resource, worker_a, "span metrics use the service resource, not a process's");
    free(capture);
    ldtap_resource_release(worker_a);
    ldtap_resource_release(worker_b);
    ldtap_metrics_free(metrics);
}

Test(metrics, service_resource_drops_process_attributes) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(100);
    struct ldtap_resource *resource = process_resource("shop", 10);
    struct ldtap_span span;
    server_span(&span, resource, "/", 200, 1000);
    ldtap_metrics_add_span(metrics, "shop", &span);
    struct capture *capture = collect(metrics);
    const struct ldtap_resource *service = capture->points[0].resource;
    bool has_service = false, has_host = false, has_pid = false;
    for (uint16_t i = 0; i < service->attribute_count; i++) {
        has_service |= strcmp(service->attributes[i].key, "service.name") == 0;
        has_host |= strcmp(service->attributes[i].key, "host.name") == 0;
        has_pid |= strcmp(service->attributes[i].key, "process.pid") == 0;
    }
    cr_assert(has_service && has_host);
    cr_assert_not(has_pid);
    free(capture);
    ldtap_resource_release(resource);
    ldtap_metrics_free(metrics);
}

Test(metrics, client_and_database_spans) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(100);
    struct ldtap_resource *resource = process_resource("shop", 10);
    struct ldtap_span span = {0};
    span.kind = 3;
    span.resource = resource;
    span.end_time_ns = 30000000;
    ldtap_span_add_string(&span, "http.request.method", "POST", 4);
    ldtap_span_add_string(&span, "server.address", "api.example", 11);
    ldtap_span_add_int(&span, "server.port", 443);
    ldtap_span_add_int(&span, "http.response.status_code", 201);
    ldtap_span_add_string(&span, "url.full", "https://api.example/x", 21);
    ldtap_metrics_add_span(metrics, "shop", &span);

    memset(&span, 0, sizeof span);
    span.kind = 3;
    span.resource = resource;
    span.end_time_ns = 2000000;
    ldtap_span_add_string(&span, "db.system.name", "postgresql", 10);
    ldtap_span_add_string(&span, "db.operation.name", "SELECT", 6);
    ldtap_span_add_string(&span, "db.collection.name", "orders", 6);
    ldtap_span_add_string(&span, "db.query.text", "SELECT * FROM orders WHERE id = ?", 33);
    ldtap_metrics_add_span(metrics, "shop", &span);

    struct capture *capture = collect(metrics);
    const struct captured *client = find(capture, "http.client.request.duration", NULL);
    cr_assert_not_null(client);
    cr_assert_str_eq(client->attributes, "http.request.method=POST;server.address=api.example;server.port=443;"
                                         "http.response.status_code=201;");
    const struct captured *database = find(capture, "db.client.operation.duration", NULL);
    cr_assert_not_null(database);
    cr_assert_str_eq(database->attributes,
                     "db.system.name=postgresql;db.operation.name=SELECT;db.collection.name=orders;");
    cr_assert_eq(database->bucket_count, 10, "db boundaries: 0.001 .. 10, nine of them");
    cr_assert_eq(database->buckets[1], 1, "2 ms: le 0.005");
    cr_assert_null(find(capture, "http.client.request.duration", "db."));
    free(capture);
    ldtap_resource_release(resource);
    ldtap_metrics_free(metrics);
}

Test(metrics, series_bound_drops_and_counts) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(3);
    struct ldtap_resource *resource = process_resource("shop", 10);
    struct ldtap_span span;
    for (int round = 0; round < 2; round++) {
        for (int route = 0; route < 5; route++) {
            char name[16];
            snprintf(name, sizeof name, "/r%d", route);
            server_span(&span, resource, name, 200, 1000);
            ldtap_metrics_add_span(metrics, "shop", &span);
        }
    }
    struct capture *capture = collect(metrics);
    cr_assert_eq(capture->count, 3);
    cr_assert_eq(ldtap_metrics_dropped_series(metrics), 4, "two refused routes, twice each");
    for (size_t i = 0; i < capture->count; i++) {
        cr_assert_eq(capture->points[i].count, 2, "the admitted series still count exactly");
    }
    free(capture);
    ldtap_resource_release(resource);
    ldtap_metrics_free(metrics);
}

Test(metrics, collect_visits_each_instrument_consecutively) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(1000);
    struct ldtap_resource *resource = process_resource("shop", 10);
    struct ldtap_span span;
    for (int i = 0; i < 40; i++) {
        char route[16];
        snprintf(route, sizeof route, "/r%d", i % 7);
        server_span(&span, resource, route, 200, 1000);
        if (i % 3 == 0) {
            ldtap_span_add_int(&span, "http.response.body.size", i);
        }
        ldtap_metrics_add_span(metrics, "shop", &span);
        struct ldtap_self_sample self = {.records_drained = (uint64_t)i};
        ldtap_metrics_update_self(metrics, &self);
    }
    struct capture *capture = collect(metrics);
    cr_assert_gt(capture->count, 10);
    for (size_t i = 1; i < capture->count; i++) {
        if (strcmp(capture->points[i].name, capture->points[i - 1].name) == 0) {
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            cr_assert_str_neq(capture->points[j].name, capture->points[i].name, "%s visited in two runs",
                              capture->points[i].name);
        }
    }
    free(capture);
    ldtap_resource_release(resource);
    ldtap_metrics_free(metrics);
}

Test(metrics, self_health_counters) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(100);
    struct ldtap_self_sample self = {.records_drained = 120,
                                     .invalid_records = 2,
                                     .skipped_uncommitted = 1,
                                     .rings_attached = 3,
                                     .spans_exported = 100,
                                     .spans_dropped_queue_full = 7,
                                     .export_failures = 4};
    ldtap_metrics_update_self(metrics, &self);
    struct capture *capture = collect(metrics);
    cr_assert_eq(find(capture, "ldtap.records.drained", NULL)->int_value, 120);
    cr_assert_eq(find(capture, "ldtap.records.dropped", "reason=invalid;")->int_value, 2);
    cr_assert_eq(find(capture, "ldtap.records.dropped", "reason=uncommitted;")->int_value, 1);
    cr_assert_eq(find(capture, "ldtap.records.dropped", "reason=ring_full;")->int_value, 0);
    cr_assert_eq(find(capture, "ldtap.rings.attached", NULL)->int_value, 3);
    cr_assert_eq(find(capture, "ldtap.spans.exported", NULL)->int_value, 100);
    cr_assert_eq(find(capture, "ldtap.spans.dropped", "reason=queue_full;")->int_value, 7);
    cr_assert_eq(find(capture, "ldtap.spans.dropped", "reason=after_retries;")->int_value, 0);
    cr_assert_eq(find(capture, "ldtap.export.failures", NULL)->int_value, 4);
    free(capture);
    ldtap_metrics_free(metrics);
}

static struct ldtap_process_sample sample_of(struct ldtap_resource *resource, int pid, int parent,
                                             uint64_t busy_ns, uint64_t at_ns) {
    return (struct ldtap_process_sample){.pid = pid,
                                         .parent_pid = parent,
                                         .resource = resource,
                                         .service_name = "shop",
                                         .in_flight_requests = 1,
                                         .busy_time_ns = busy_ns,
                                         .has_served = busy_ns > 0,
                                         .dropped_ring_full = 5,
                                         .sampled_at_ns = at_ns};
}

Test(metrics, process_metrics_busy_fraction_and_role) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(1000);
    int self = getpid();
    struct ldtap_resource *own = process_resource("shop", self);
    struct ldtap_resource *child = process_resource("shop", 999999);
    uint64_t second = 1000000000ull;
    /* This test process, then a (fake) traced child of it: the test becomes the master. */
    struct ldtap_process_sample parent_sample = sample_of(own, self, getppid(), 0, 10 * second);
    ldtap_metrics_update_process(metrics, &parent_sample, true);
    struct ldtap_process_sample child_sample = sample_of(child, 999999, self, 0, 10 * second);
    ldtap_metrics_update_process(metrics, &child_sample, true);
    child_sample = sample_of(child, 999999, self, second / 2, 11 * second);
    ldtap_metrics_update_process(metrics, &child_sample, true);
    parent_sample = sample_of(own, self, getppid(), 0, 11 * second);
    ldtap_metrics_update_process(metrics, &parent_sample, true);

    struct capture *capture = collect(metrics);
    const struct captured *rss = find(capture, "process.memory.usage", "ldtap.process.role=master;");
    cr_assert_not_null(rss, "the parent of a traced process is a master");
    cr_assert_eq(rss->resource, own);
    cr_assert_gt(rss->int_value, 0);
    cr_assert_not_null(find(capture, "process.cpu.time", "cpu.mode=user;"));
    cr_assert_not_null(find(capture, "process.cpu.time", "cpu.mode=system;"));
    cr_assert_geq(find(capture, "process.thread.count", NULL)->int_value, 1);
    cr_assert_not_null(find(capture, "process.unix.file_descriptor.count", NULL));
    const struct captured *busy = find(capture, "ldtap.worker.busy_fraction", "ldtap.process.role=worker;");
    cr_assert_not_null(busy);
    cr_assert_eq(busy->resource, child);
    cr_assert_float_eq(busy->value, 0.5, 1e-9);
    const struct captured *service = find(capture, "ldtap.service.busy_fraction", NULL);
    cr_assert_not_null(service);
    cr_assert_float_eq(service->value, 0.5, 1e-9, "the master does not serve: only the worker counts");
    cr_assert_eq(find(capture, "http.server.active_requests", "role=worker")->int_value, 1);
    free(capture);

    struct ldtap_self_sample self_sample = {0};
    ldtap_metrics_update_self(metrics, &self_sample);
    capture = collect(metrics);
    cr_assert_eq(find(capture, "ldtap.records.dropped", "reason=ring_full;")->int_value, 10, "5 per process");
    free(capture);

    /* Gone: reported once more, then removed. */
    ldtap_metrics_update_process(metrics, &child_sample, false);
    ldtap_metrics_update_process(metrics, &parent_sample, false);
    capture = collect(metrics);
    cr_assert_not_null(find(capture, "ldtap.worker.busy_fraction", NULL));
    free(capture);
    capture = collect(metrics);
    cr_assert_null(find(capture, "ldtap.worker.busy_fraction", NULL));
    cr_assert_null(find(capture, "process.memory.usage", NULL));
    cr_assert_not_null(find(capture, "ldtap.service.busy_fraction", NULL), "service series stay");
    free(capture);
    ldtap_resource_release(own);
    ldtap_resource_release(child);
    ldtap_metrics_free(metrics);
}

struct report_capture {
    int processes;
    bool own_seen;
    uint64_t rss_first, rss_last;
    int services;
    double busy_max;
};

static void report_process(void *context, const struct ldtap_process_report *report) {
    struct report_capture *capture = context;
    capture->processes++;
    if (report->pid == getpid()) {
        capture->own_seen = report->has_memory && strcmp(report->service_name, "shop") == 0;
        capture->rss_first = report->rss_first_bytes;
        capture->rss_last = report->rss_last_bytes;
    }
}

static void report_service(void *context, const struct ldtap_service_report *report) {
    struct report_capture *capture = context;
    capture->services++;
    capture->busy_max = report->busy_fraction_max;
}

Test(metrics, report_keeps_first_and_last_rss) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(1000);
    struct ldtap_resource *own = process_resource("shop", getpid());
    /* Already serving (busy): the memory baseline is taken here, after warm-up. */
    struct ldtap_process_sample sample = sample_of(own, getpid(), getppid(), 100000000ull, 1000000000ull);
    ldtap_metrics_update_process(metrics, &sample, true);
    /* 32 MiB more, touched so that it is resident. */
    size_t size = 32u << 20;
    char *block = malloc(size);
    memset(block, 1, size);
    __asm__ volatile("" : : "r"(block) : "memory"); /* the stores must happen */
    sample = sample_of(own, getpid(), getppid(), 1000000000ull, 2000000000ull);
    ldtap_metrics_update_process(metrics, &sample, true);
    struct report_capture capture = {0};
    struct ldtap_metrics_report_visitor visitor = {report_process, report_service, &capture};
    ldtap_metrics_report(metrics, &visitor);
    cr_assert_eq(capture.processes, 1);
    cr_assert(capture.own_seen);
    cr_assert_geq(capture.rss_last, capture.rss_first + (30u << 20), "first %llu, last %llu",
                  (unsigned long long)capture.rss_first, (unsigned long long)capture.rss_last);
    cr_assert_eq(capture.services, 1);
    cr_assert_float_eq(capture.busy_max, 0.9, 1e-9);
    free(block);
    ldtap_resource_release(own);
    ldtap_metrics_free(metrics);
}

/* A worker's first request warms it up (lazy imports, caches): memory it takes while that
 * request is still in flight is start-up, not growth. */
Test(metrics, memory_baseline_waits_for_the_first_answered_request) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(1000);
    struct ldtap_resource *own = process_resource("shop", getpid());
    struct ldtap_process_sample sample = sample_of(own, getpid(), getppid(), 100000000ull, 1000000000ull);
    sample.has_served = false; /* busy with its first request, none answered yet */
    ldtap_metrics_update_process(metrics, &sample, true);
    size_t size = 32u << 20;
    char *block = malloc(size);
    memset(block, 1, size);
    __asm__ volatile("" : : "r"(block) : "memory"); /* the stores must happen */
    sample = sample_of(own, getpid(), getppid(), 200000000ull, 2000000000ull); /* answered */
    ldtap_metrics_update_process(metrics, &sample, true);
    struct report_capture capture = {0};
    struct ldtap_metrics_report_visitor visitor = {report_process, report_service, &capture};
    ldtap_metrics_report(metrics, &visitor);
    cr_assert(capture.own_seen);
    cr_assert_lt(capture.rss_last - capture.rss_first, 8u << 20,
                 "the warm-up's 32 MiB are in the baseline: first %llu, last %llu",
                 (unsigned long long)capture.rss_first, (unsigned long long)capture.rss_last);
    free(block);
    ldtap_resource_release(own);
    ldtap_metrics_free(metrics);
}

static void keep_report_of_self(void *context, const struct ldtap_process_report *report) {
    if (report->pid == getpid()) *(struct ldtap_process_report *)context = *report;
}

/* A process whose RSS falls in its last samples and then exits (an interpreter freeing
 * everything at exit) is reported with its RSS before that fall; while it lives, as it is. */
Test(metrics, an_exited_process_reports_its_rss_before_its_teardown) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(1000);
    struct ldtap_resource *own = process_resource("shop", getpid());
    struct ldtap_process_sample sample = sample_of(own, getpid(), getppid(), 100000000ull, 1000000000ull);
    ldtap_metrics_update_process(metrics, &sample, true);
    size_t size = 32u << 20;
    char *block = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(block, MAP_FAILED);
    memset(block, 1, size); /* resident */
    sample = sample_of(own, getpid(), getppid(), 1000000000ull, 2000000000ull);
    ldtap_metrics_update_process(metrics, &sample, true);
    munmap(block, size); /* the teardown */
    sample = sample_of(own, getpid(), getppid(), 1000000000ull, 3000000000ull);
    ldtap_metrics_update_process(metrics, &sample, true);

    struct ldtap_process_report report = {0};
    struct ldtap_metrics_report_visitor visitor = {keep_report_of_self, NULL, &report};
    ldtap_metrics_report(metrics, &visitor);
    cr_assert_lt(report.rss_last_bytes, report.rss_first_bytes + (16u << 20), "alive: the fall is real");
    ldtap_metrics_update_process(metrics, &sample, false);
    ldtap_metrics_report(metrics, &visitor);
    cr_assert_geq(report.rss_last_bytes, report.rss_first_bytes + (30u << 20),
                  "exited: judged before its teardown; first %llu, last %llu",
                  (unsigned long long)report.rss_first_bytes, (unsigned long long)report.rss_last_bytes);
    ldtap_resource_release(own);
    ldtap_metrics_free(metrics);
}

Test(metrics, a_master_memory_baseline_starts_when_it_has_workers) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(1000);
    int self = getpid();
    struct ldtap_resource *own = process_resource("shop", self);
    struct ldtap_resource *child = process_resource("shop", 999998);
    uint64_t second = 1000000000ull;
    struct ldtap_process_sample parent_sample = sample_of(own, self, getppid(), 0, 10 * second);
    ldtap_metrics_update_process(metrics, &parent_sample, true);
    /* Start-up before the fork: 64 MiB touched, as an app import would. */
    size_t start_up = 64u << 20;
    char *imported = malloc(start_up);
    cr_assert_not_null(imported);
    memset(imported, 1, start_up);
    struct ldtap_process_sample child_sample = sample_of(child, 999998, self, 0, 11 * second);
    ldtap_metrics_update_process(metrics, &child_sample, true);
    parent_sample = sample_of(own, self, getppid(), 0, 11 * second);
    ldtap_metrics_update_process(metrics, &parent_sample, true);

    struct ldtap_process_report report = {0};
    struct ldtap_metrics_report_visitor visitor = {keep_report_of_self, NULL, &report};
    ldtap_metrics_report(metrics, &visitor);
    cr_assert(report.is_master);
    cr_assert(report.has_memory);
    cr_assert_geq(report.rss_first_bytes + (1u << 20), report.rss_last_bytes,
                  "the start-up before the fork is no growth: first %llu, last %llu",
                  (unsigned long long)report.rss_first_bytes, (unsigned long long)report.rss_last_bytes);
    cr_assert_gt(report.rss_first_bytes, start_up, "the baseline includes the start-up");
    free(imported);
    ldtap_metrics_free(metrics);
    ldtap_resource_release(own);
    ldtap_resource_release(child);
}
