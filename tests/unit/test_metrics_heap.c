/* Criterion tests for the process.heap.* metrics (collector/metrics_process.c): what the
 * drain copies from a ring header's heap counters becomes five series per process, with
 * the right kinds, units and values, the process resource and role, a start time on the
 * counters; nothing when the heap hooks are off; a negative momentary sum shown as zero;
 * gone processes' series removed; the Prometheus names. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer.h"
#include "metrics.h"
#include "prometheus.h"

#define HEAP_SERIES 5
#define MAX_POINTS 128

struct heap_point {
    const struct ldtap_instrument *instrument;
    const struct ldtap_resource *resource;
    char attributes[128];
    int64_t value;
    uint64_t start_time_ns;
};

struct heap_points {
    size_t count;
    struct heap_point points[MAX_POINTS];
};

static void keep_heap_point(void *context, const struct ldtap_instrument *instrument,
                            const struct ldtap_metric_point *point) {
    struct heap_points *points = context;
    if (strncmp(instrument->name, "process.heap.", 13) != 0) {
        return;
    }
    cr_assert_lt(points->count, MAX_POINTS);
    struct heap_point *out = &points->points[points->count++];
    memset(out, 0, sizeof *out);
    out->instrument = instrument;
    out->resource = point->resource;
    out->value = point->int_value;
    out->start_time_ns = point->start_time_ns;
    for (uint16_t i = 0; i < point->attribute_count; i++) {
        const struct ldtap_attribute *attribute = &point->attributes[i];
        size_t used = strlen(out->attributes);
        if (attribute->type == LDTAP_VALUE_STRING) {
            snprintf(out->attributes + used, sizeof out->attributes - used, "%s=%.*s;", attribute->key,
                     (int)attribute->string_length, point->text + attribute->string_offset);
        }
    }
}

static struct heap_points collect_heap(struct ldtap_metrics *metrics) {
    struct heap_points points = {0};
    ldtap_metrics_collect(metrics, keep_heap_point, &points);
    return points;
}

static const struct heap_point *named(const struct heap_points *points, const char *name,
                                      const struct ldtap_resource *resource) {
    for (size_t i = 0; i < points->count; i++) {
        if (strcmp(points->points[i].instrument->name, name) == 0 && points->points[i].resource == resource) {
            return &points->points[i];
        }
    }
    return NULL;
}

static struct ldtap_resource *resource_of(int pid) {
    struct ldtap_resource *resource = ldtap_resource_new();
    ldtap_resource_add_string(resource, "service.name", "shop", 4);
    ldtap_resource_add_int(resource, "process.pid", pid);
    return resource;
}

/* A ring header's heap counters as the drain copies them (drain.c, sample_process). */
static struct ldtap_process_sample heap_sample(struct ldtap_resource *resource, int pid, int64_t live,
                                               uint64_t allocations, uint64_t frees, uint64_t allocated,
                                               int64_t mapped) {
    return (struct ldtap_process_sample){
        .pid = pid,
        .parent_pid = getppid(),
        .resource = resource,
        .service_name = "shop",
        .sampled_at_ns = 1000000000ull,
        .has_heap = true,
        .heap_live_bytes = live,
        .heap_allocations = allocations,
        .heap_frees = frees,
        .heap_allocated_bytes = allocated,
        .anon_mmap_bytes = mapped,
    };
}

Test(metrics_heap, header_counters_become_five_series) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(1000);
    struct ldtap_resource *own = resource_of(getpid());
    struct ldtap_process_sample sample = heap_sample(own, getpid(), 12345678, 1000, 900, 99999999, 16 << 20);
    ldtap_metrics_update_process(metrics, &sample, true);
    struct heap_points points = collect_heap(metrics);
    cr_assert_eq(points.count, HEAP_SERIES, "one series per heap metric, got %zu", points.count);

    const struct heap_point *usage = named(&points, "process.heap.usage", own);
    const struct heap_point *allocations = named(&points, "process.heap.allocations", own);
    const struct heap_point *frees = named(&points, "process.heap.frees", own);
    const struct heap_point *allocated = named(&points, "process.heap.allocated", own);
    const struct heap_point *mapped = named(&points, "process.heap.mmap.usage", own);
    cr_assert(usage && allocations && frees && allocated && mapped);
    cr_assert_eq(usage->value, 12345678);
    cr_assert_eq(allocations->value, 1000);
    cr_assert_eq(frees->value, 900);
    cr_assert_eq(allocated->value, 99999999);
    cr_assert_eq(mapped->value, 16 << 20);

    /* Live sizes go up and down; the counts and the allocated bytes only grow. */
    cr_assert_eq(usage->instrument->kind, LDTAP_INSTRUMENT_UPDOWN_COUNTER);
    cr_assert_eq(mapped->instrument->kind, LDTAP_INSTRUMENT_UPDOWN_COUNTER);
    cr_assert_eq(allocations->instrument->kind, LDTAP_INSTRUMENT_COUNTER);
    cr_assert_eq(frees->instrument->kind, LDTAP_INSTRUMENT_COUNTER);
    cr_assert_eq(allocated->instrument->kind, LDTAP_INSTRUMENT_COUNTER);
    cr_assert_str_eq(usage->instrument->unit, "By");
    cr_assert_str_eq(mapped->instrument->unit, "By");
    cr_assert_str_eq(allocated->instrument->unit, "By");
    cr_assert_str_eq(allocations->instrument->unit, "{allocation}");
    cr_assert_str_eq(frees->instrument->unit, "{free}");
    for (size_t i = 0; i < points.count; i++) {
        cr_assert(points.points[i].instrument->is_integer);
        cr_assert_not_null(strstr(points.points[i].attributes, "ldtap.process.role="), "%s has no role",
                           points.points[i].instrument->name);
    }
    /* Counters start when the process started (from /proc: this test process is alive). */
    cr_assert_gt(allocations->start_time_ns, 0);
    cr_assert_eq(allocations->start_time_ns, frees->start_time_ns);
    cr_assert_eq(allocations->start_time_ns, allocated->start_time_ns);

    /* The next sample replaces the values: cumulative counters, not deltas. */
    sample = heap_sample(own, getpid(), 23456789, 1500, 1400, 123456789, 8 << 20);
    ldtap_metrics_update_process(metrics, &sample, true);
    points = collect_heap(metrics);
    cr_assert_eq(points.count, HEAP_SERIES);
    cr_assert_eq(named(&points, "process.heap.usage", own)->value, 23456789);
    cr_assert_eq(named(&points, "process.heap.allocations", own)->value, 1500);
    cr_assert_eq(named(&points, "process.heap.frees", own)->value, 1400);
    cr_assert_eq(named(&points, "process.heap.allocated", own)->value, 123456789);
    cr_assert_eq(named(&points, "process.heap.mmap.usage", own)->value, 8 << 20);
    ldtap_resource_release(own);
    ldtap_metrics_free(metrics);
}

Test(metrics_heap, nothing_while_the_heap_hooks_are_off) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(1000);
    struct ldtap_resource *own = resource_of(getpid());
    struct ldtap_process_sample sample = heap_sample(own, getpid(), 5, 5, 5, 5, 5);
    sample.has_heap = false;
    ldtap_metrics_update_process(metrics, &sample, true);
    struct heap_points points = collect_heap(metrics);
    cr_assert_eq(points.count, 0, "no heap series without heap counters, got %zu", points.count);
    ldtap_resource_release(own);
    ldtap_metrics_free(metrics);
}

Test(metrics_heap, a_negative_momentary_sum_reads_zero) {
    /* Threads fold separately: a block freed on one thread before its allocating thread
     * folded makes the header's live bytes dip below zero for a moment. */
    struct ldtap_metrics *metrics = ldtap_metrics_create(1000);
    struct ldtap_resource *own = resource_of(getpid());
    struct ldtap_process_sample sample = heap_sample(own, getpid(), -4096, 10, 11, 4096, -8192);
    ldtap_metrics_update_process(metrics, &sample, true);
    struct heap_points points = collect_heap(metrics);
    cr_assert_eq(named(&points, "process.heap.usage", own)->value, 0);
    cr_assert_eq(named(&points, "process.heap.mmap.usage", own)->value, 0);
    cr_assert_eq(named(&points, "process.heap.frees", own)->value, 11);
    ldtap_resource_release(own);
    ldtap_metrics_free(metrics);
}

Test(metrics_heap, per_process_series_and_their_end) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(1000);
    struct ldtap_resource *own = resource_of(getpid());
    struct ldtap_resource *other = resource_of(getppid());
    struct ldtap_process_sample mine = heap_sample(own, getpid(), 1000, 10, 5, 2000, 0);
    struct ldtap_process_sample theirs = heap_sample(other, getppid(), 7000, 70, 50, 9000, 4096);
    theirs.parent_pid = 1;
    ldtap_metrics_update_process(metrics, &mine, true);
    ldtap_metrics_update_process(metrics, &theirs, true);
    struct heap_points points = collect_heap(metrics);
    cr_assert_eq(points.count, 2 * HEAP_SERIES);
    cr_assert_eq(named(&points, "process.heap.usage", own)->value, 1000);
    cr_assert_eq(named(&points, "process.heap.usage", other)->value, 7000);
    cr_assert_eq(named(&points, "process.heap.mmap.usage", other)->value, 4096);

    /* Gone: its series are reported once more, then removed; the other process's stay. */
    ldtap_metrics_update_process(metrics, &theirs, false);
    points = collect_heap(metrics);
    cr_assert_not_null(named(&points, "process.heap.usage", other));
    points = collect_heap(metrics);
    cr_assert_null(named(&points, "process.heap.usage", other));
    cr_assert_eq(points.count, HEAP_SERIES);
    cr_assert_eq(named(&points, "process.heap.allocations", own)->value, 10);
    ldtap_resource_release(own);
    ldtap_resource_release(other);
    ldtap_metrics_free(metrics);
}

Test(metrics_heap, prometheus_names) {
    struct ldtap_metrics *metrics = ldtap_metrics_create(1000);
    struct ldtap_resource *own = resource_of(getpid());
    struct ldtap_process_sample sample = heap_sample(own, getpid(), 4242, 31, 29, 65536, 1048576);
    ldtap_metrics_update_process(metrics, &sample, true);
    struct ldtap_buffer text;
    ldtap_buffer_init(&text);
    cr_assert(ldtap_prometheus_render(metrics, &text));
    ldtap_buffer_append_byte(&text, 0); /* NUL-terminated for strstr */
    cr_assert(!text.failed);
    const char *page = (const char *)text.data;
    const char *expected[] = {"process_heap_usage_bytes{", "process_heap_allocations_total{",
                              "process_heap_frees_total{", "process_heap_allocated_bytes_total{",
                              "process_heap_mmap_usage_bytes{"};
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
        cr_assert_not_null(strstr(page, expected[i]), "no %s in:\n%s", expected[i], page);
    }
    cr_assert_not_null(strstr(page, "} 4242"), "live bytes value missing:\n%s", page);
    cr_assert_not_null(strstr(page, "} 1048576"), "mapped bytes value missing:\n%s", page);
    ldtap_buffer_free(&text);
    ldtap_resource_release(own);
    ldtap_metrics_free(metrics);
}
