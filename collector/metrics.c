/* The metric store: the instrument table, series keyed by (instrument, resource,
 * attribute set) in a bounded hash map, and collection for the readers.
 *
 * Instruments. Names, units and boundaries follow the OpenTelemetry semantic conventions;
 * the ldtap.* ones are ldtap's own, for what the conventions have no name for.
 *
 *   name                                kind       unit               attributes
 *   http.server.request.duration        histogram  s                  [server]
 *   http.server.request.body.size       histogram  By                 [server]
 *   http.server.response.body.size      histogram  By                 [server]
 *   http.client.request.duration        histogram  s                  [client]
 *   http.client.request.body.size       histogram  By                 [client]
 *   http.client.response.body.size      histogram  By                 [client]
 *   db.client.operation.duration        histogram  s                  [database]
 *   http.server.active_requests         updown     {request}          [role]
 *   process.memory.usage                updown     By                 [role] (resident set)
 *   process.memory.virtual              updown     By                 [role]
 *   process.cpu.time                    counter    s                  [role], cpu.mode: user, system
 *   process.thread.count                updown     {thread}           [role]
 *   process.unix.file_descriptor.count  updown     {file_descriptor}  [role]
 *   process.uptime                      gauge      s                  [role]
 *   ldtap.worker.busy.time              counter    s                  [role]
 *   ldtap.worker.busy_fraction          gauge      1                  [role]
 *   ldtap.service.busy_fraction         gauge      1                  none (service resource)
 *   ldtap.listen.accept_queue           gauge      {connection}       server.port
 *   ldtap.records.drained               counter    {record}           none (collector resource)
 *   ldtap.records.dropped               counter    {record}           reason: ring_full, too_large,
 *                                                                     invalid, uncommitted
 *   ldtap.rings.attached                updown     {ring}             none
 *   ldtap.rings.corrupt                 counter    {ring}             none
 *   ldtap.spans.exported                counter    {span}             none
 *   ldtap.spans.dropped                 counter    {span}             reason: queue_full, after_retries
 *   ldtap.export.failures               counter    {request}          none
 *   ldtap.metrics.series_dropped        counter    {series}           none
 *
 *   [server]   http.request.method, url.scheme, http.route, http.response.status_code,
 *              network.protocol.version, error.type
 *   [client]   http.request.method, server.address, server.port, http.response.status_code,
 *              network.protocol.version, error.type
 *   [database] db.system.name, db.operation.name, db.collection.name, db.response.status_code,
 *              server.address, server.port, error.type
 *   [role]     ldtap.process.role: "master" for a process whose children are traced too
 *              (gunicorn's arbiter), else "worker"
 *
 * What the ldtap.* ones mean: worker.busy.time is the time the process had at least one
 * server request in flight (ring header); worker.busy_fraction is its increase over the
 * last sampling interval (about 1 s) divided by that interval; service.busy_fraction is
 * the mean over the service's live workers, so near 1 means all workers are busy;
 * listen.accept_queue is the number of connections the kernel accepted on a listening
 * socket of the process that wait for accept() (/proc/net/tcp rx_queue of a LISTEN row),
 * i.e. requests waiting for a free worker; the rest is ldtap's own health.
 *
 * Resources: span metrics use one resource per service (service.name, host.name,
 * telemetry.sdk.* and the first process's user attributes); process and worker metrics
 * the process's own resource (process.pid, process.parent_pid, ...); health metrics a
 * resource for the collector (service.name "ldtap").
 */
#include "clock.h"
#include "metrics_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "resource.h"

/* A retiring series nobody collects (no reader configured) is freed after this. */
#define RETIRE_WITHOUT_COLLECTION_NS (5ull * 60 * 1000000000ull)

static const double duration_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                         0.5,   0.75, 1,     2.5,  5,     7.5, 10};
static const double size_bounds[] = {0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000};
static const double db_duration_bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
#define COUNT_OF(array) (uint32_t)(sizeof(array) / sizeof((array)[0]))
#define HISTOGRAM(bounds) LDTAP_INSTRUMENT_HISTOGRAM, false, bounds, COUNT_OF(bounds)
#define SUM_INT LDTAP_INSTRUMENT_COUNTER, true, NULL, 0
#define SUM_DOUBLE LDTAP_INSTRUMENT_COUNTER, false, NULL, 0
#define UPDOWN_INT LDTAP_INSTRUMENT_UPDOWN_COUNTER, true, NULL, 0
#define GAUGE_INT LDTAP_INSTRUMENT_GAUGE, true, NULL, 0
#define GAUGE_DOUBLE LDTAP_INSTRUMENT_GAUGE, false, NULL, 0

static const struct ldtap_instrument instruments[LDTAP_METRIC_COUNT] = {
    [LDTAP_METRIC_HTTP_SERVER_DURATION] = {"http.server.request.duration", "Duration of HTTP server requests.", "s",
                                           HISTOGRAM(duration_bounds)},
    [LDTAP_METRIC_HTTP_SERVER_REQUEST_BODY] = {"http.server.request.body.size",
                                               "Size of HTTP server request bodies.", "By", HISTOGRAM(size_bounds)},
    [LDTAP_METRIC_HTTP_SERVER_RESPONSE_BODY] = {"http.server.response.body.size",
                                                "Size of HTTP server response bodies.", "By", HISTOGRAM(size_bounds)},
    [LDTAP_METRIC_HTTP_CLIENT_DURATION] = {"http.client.request.duration", "Duration of HTTP client requests.", "s",
                                           HISTOGRAM(duration_bounds)},
    [LDTAP_METRIC_HTTP_CLIENT_REQUEST_BODY] = {"http.client.request.body.size",
                                               "Size of HTTP client request bodies.", "By", HISTOGRAM(size_bounds)},
    [LDTAP_METRIC_HTTP_CLIENT_RESPONSE_BODY] = {"http.client.response.body.size",
                                                "Size of HTTP client response bodies.", "By", HISTOGRAM(size_bounds)},
    [LDTAP_METRIC_DB_CLIENT_DURATION] = {"db.client.operation.duration", "Duration of database client operations.",
                                         "s", HISTOGRAM(db_duration_bounds)},
    [LDTAP_METRIC_HTTP_SERVER_ACTIVE] = {"http.server.active_requests", "Number of active HTTP server requests.",
                                         "{request}", UPDOWN_INT},
    [LDTAP_METRIC_PROCESS_MEMORY_USAGE] = {"process.memory.usage", "The amount of physical memory in use.", "By",
                                           UPDOWN_INT},
    [LDTAP_METRIC_PROCESS_MEMORY_VIRTUAL] = {"process.memory.virtual", "The amount of committed virtual memory.",
                                             "By", UPDOWN_INT},
    [LDTAP_METRIC_PROCESS_CPU_TIME] = {"process.cpu.time", "Total CPU seconds broken down by different states.", "s",
                                       SUM_DOUBLE},
    [LDTAP_METRIC_PROCESS_THREADS] = {"process.thread.count", "Process threads count.", "{thread}", UPDOWN_INT},
    [LDTAP_METRIC_PROCESS_DESCRIPTORS] = {"process.unix.file_descriptor.count",
                                          "Number of unix file descriptors in use by the process.",
                                          "{file_descriptor}", UPDOWN_INT},
    [LDTAP_METRIC_PROCESS_UPTIME] = {"process.uptime", "The time the process has been running.", "s",
                                     GAUGE_DOUBLE},
    /* Heap metrics (issue 5), from the ring header's counters; not OpenTelemetry
     * conventions (there are none for a malloc heap), named to sit beside process.memory.*. */
    [LDTAP_METRIC_PROCESS_HEAP_USAGE] = {"process.heap.usage",
                                         "Bytes in use as the allocator itself counts them (glibc: mallinfo2), "
                                         "read every 100 ms or 4 MiB allocated.",
                                         "By",
                                         UPDOWN_INT},
    [LDTAP_METRIC_PROCESS_HEAP_ALLOCATIONS] = {"process.heap.allocations",
                                               "Blocks allocated through the malloc family.", "{allocation}",
                                               SUM_INT},
    [LDTAP_METRIC_PROCESS_HEAP_FREES] = {"process.heap.frees", "Blocks released through free or realloc.",
                                         "{free}", SUM_INT},
    [LDTAP_METRIC_PROCESS_HEAP_ALLOCATED] = {"process.heap.allocated",
                                             "Bytes requested from the malloc family, cumulative.",
                                             "By", SUM_INT},
    [LDTAP_METRIC_PROCESS_HEAP_MMAP_USAGE] = {"process.heap.mmap.usage",
                                              "Live bytes of anonymous private mappings the program made itself "
                                              "(Python arenas, other allocators' chunks).",
                                              "By", UPDOWN_INT},
    [LDTAP_METRIC_WORKER_BUSY_TIME] = {"ldtap.worker.busy.time",
                                       "Time during which the process had at least one server request in flight.",
                                       "s", SUM_DOUBLE},
    [LDTAP_METRIC_WORKER_BUSY_FRACTION] = {"ldtap.worker.busy_fraction",
                                           "Share of the last sampling interval the process was busy serving.", "1",
                                           GAUGE_DOUBLE},
    [LDTAP_METRIC_SERVICE_BUSY_FRACTION] = {"ldtap.service.busy_fraction",
                                            "Mean busy fraction of the service's workers; 1 means all are busy.",
                                            "1", GAUGE_DOUBLE},
    [LDTAP_METRIC_LISTEN_ACCEPT_QUEUE] = {"ldtap.listen.accept_queue",
                                          "Connections waiting in a listening socket's accept queue.",
                                          "{connection}", GAUGE_INT},
    [LDTAP_METRIC_RECORDS_DRAINED] = {"ldtap.records.drained", "Records read from the rings.", "{record}",
                                      SUM_INT},
    [LDTAP_METRIC_RECORDS_DROPPED] = {"ldtap.records.dropped", "Records lost, by reason.", "{record}", SUM_INT},
    [LDTAP_METRIC_RINGS_ATTACHED] = {"ldtap.rings.attached", "Rings being drained.", "{ring}", UPDOWN_INT},
    [LDTAP_METRIC_RINGS_CORRUPT] = {"ldtap.rings.corrupt", "Rings skipped as corrupt.", "{ring}", SUM_INT},
    [LDTAP_METRIC_SPANS_EXPORTED] = {"ldtap.spans.exported", "Spans delivered to the trace exporter's destination.",
                                     "{span}", SUM_INT},
    [LDTAP_METRIC_SPANS_DROPPED] = {"ldtap.spans.dropped", "Spans the exporter lost, by reason.", "{span}", SUM_INT},
    [LDTAP_METRIC_EXPORT_FAILURES] = {"ldtap.export.failures", "Failed export requests.", "{request}", SUM_INT},
    [LDTAP_METRIC_SERIES_DROPPED] = {"ldtap.metrics.series_dropped",
                                     "Measurements not stored because the series limit was reached.", "{series}",
                                     SUM_INT},
};

struct metric_series {
    uint64_t id;
    uint64_t hash;
    enum ldtap_metric_id instrument;
    bool retiring;
    uint64_t retired_at_ns; /* monotonic */
    struct ldtap_resource *resource; /* one reference */
    uint16_t key_length;
    uint16_t attribute_count;
    struct ldtap_attribute *attributes;
    char *key; /* the encoded attribute set, also the attributes' text */
    uint64_t start_time_ns, time_ns;
    double value;
    int64_t int_value;
    uint64_t count;
    double sum, min, max;
    uint64_t *buckets;
    struct metric_series *next; /* the instrument's series in creation order */
};

/* ---- attribute sets ---- */

static bool append_key(struct ldtap_metric_attributes *set, const void *bytes, size_t length) {
    if (set->overflow || length > sizeof set->key - set->used) {
        set->overflow = true;
        return false;
    }
    memcpy(set->key + set->used, bytes, length);
    set->used = (uint16_t)(set->used + length);
    return true;
}

static struct ldtap_attribute *begin_attribute(struct ldtap_metric_attributes *set, const char *key, uint8_t type) {
    if (set->count >= LDTAP_METRIC_MAX_ATTRIBUTES) {
        set->overflow = true;
        return NULL;
    }
    if (!append_key(set, key, strlen(key) + 1) || !append_key(set, &type, 1)) {
        return NULL;
    }
    struct ldtap_attribute *attribute = &set->attributes[set->count];
    memset(attribute, 0, sizeof *attribute);
    attribute->key = key;
    attribute->type = type;
    return attribute;
}

void ldtap_metric_attributes_string(struct ldtap_metric_attributes *set, const char *key, const char *value,
                                    size_t length) {
    struct ldtap_attribute *attribute = begin_attribute(set, key, LDTAP_VALUE_STRING);
    uint16_t offset = set->used;
    if (attribute && append_key(set, value, length) && append_key(set, "", 1)) {
        attribute->string_offset = offset;
        attribute->string_length = (uint16_t)length;
        set->count++;
    }
}

void ldtap_metric_attributes_int(struct ldtap_metric_attributes *set, const char *key, int64_t value) {
    struct ldtap_attribute *attribute = begin_attribute(set, key, LDTAP_VALUE_INT);
    if (attribute && append_key(set, &value, sizeof value)) {
        attribute->int_value = value;
        set->count++;
    }
}

/* ---- series table ---- */

static uint64_t series_hash(enum ldtap_metric_id id, const struct ldtap_resource *resource,
                            const struct ldtap_metric_attributes *set) {
    /* Eight key bytes a step: every span looks up two or three series, and a byte-wise
     * hash of their ~150-byte keys was the drain's largest single cost. */
    const uint64_t multiplier = 0x9e3779b97f4a7c15ull;
    uint64_t hash = ((uint64_t)id + 1) * multiplier ^ (uint64_t)(uintptr_t)resource;
    for (uint16_t at = 0; at < set->used; at += 8) {
        uint64_t word = 0;
        memcpy(&word, set->key + at, set->used - at < 8 ? (size_t)(set->used - at) : 8);
        hash = (hash ^ word) * multiplier;
        hash ^= hash >> 29;
    }
    /* Final avalanche: slots are taken from the low bits. */
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdull;
    hash ^= hash >> 33;
    return hash;
}

static bool rebuild_slots(struct ldtap_metrics *metrics, uint32_t capacity) {
    struct metric_series **slots = calloc(capacity, sizeof *slots);
    if (!slots) {
        return false;
    }
    for (int id = 0; id < LDTAP_METRIC_COUNT; id++) {
        for (struct metric_series *series = metrics->first[id]; series; series = series->next) {
            uint32_t slot = (uint32_t)series->hash & (capacity - 1);
            while (slots[slot]) {
                slot = (slot + 1) & (capacity - 1);
            }
            slots[slot] = series;
        }
    }
    free(metrics->slots);
    metrics->slots = slots;
    metrics->slot_capacity = capacity;
    return true;
}

static void free_series(struct metric_series *series) {
    ldtap_resource_release(series->resource);
    free(series);
}

static struct metric_series *new_series(struct ldtap_metrics *metrics, enum ldtap_metric_id id,
                                        struct ldtap_resource *resource, const struct ldtap_metric_attributes *set,
                                        uint64_t hash) {
    const struct ldtap_instrument *instrument = &instruments[id];
    size_t bucket_count = instrument->kind == LDTAP_INSTRUMENT_HISTOGRAM ? instrument->bound_count + 1 : 0;
    /* One block: the series, its buckets, its attributes, its text. */
    size_t size = sizeof(struct metric_series) + bucket_count * sizeof(uint64_t) +
                  set->count * sizeof(struct ldtap_attribute) + set->used + 1;
    struct metric_series *series = calloc(1, size);
    if (!series) {
        return NULL;
    }
    series->buckets = (uint64_t *)(series + 1);
    series->attributes = (struct ldtap_attribute *)(series->buckets + bucket_count);
    series->key = (char *)(series->attributes + set->count);
    memcpy(series->attributes, set->attributes, set->count * sizeof *set->attributes);
    memcpy(series->key, set->key, set->used);
    series->key_length = set->used;
    series->attribute_count = set->count;
    series->id = ++metrics->next_series_id;
    series->hash = hash;
    series->instrument = id;
    series->resource = resource;
    ldtap_resource_retain(resource);
    if (metrics->last[id]) {
        metrics->last[id]->next = series;
    } else {
        metrics->first[id] = series;
    }
    metrics->last[id] = series;
    metrics->series_count++;
    return series;
}

/* The series for (id, resource, set), created if new; NULL when the set is incomplete,
 * the store is full (counted) or memory is short. */
static struct metric_series *find_series(struct ldtap_metrics *metrics, enum ldtap_metric_id id,
                                         struct ldtap_resource *resource, const struct ldtap_metric_attributes *set,
                                         uint64_t start_time_ns) {
    if (set->overflow || !resource) {
        return NULL;
    }
    if ((metrics->series_count + 1) * 2 > metrics->slot_capacity &&
        !rebuild_slots(metrics, metrics->slot_capacity ? metrics->slot_capacity * 2 : 256)) {
        return NULL;
    }
    uint64_t hash = series_hash(id, resource, set);
    uint32_t mask = metrics->slot_capacity - 1;
    uint32_t slot = (uint32_t)hash & mask;
    for (struct metric_series *series; (series = metrics->slots[slot]); slot = (slot + 1) & mask) {
        if (series->hash == hash && series->instrument == id && series->resource == resource &&
            series->key_length == set->used && memcmp(series->key, set->key, set->used) == 0) {
            series->retiring = false; /* measured again: it lives on */
            return series;
        }
    }
    if (metrics->series_count >= metrics->max_series) {
        __atomic_add_fetch(&metrics->dropped_series, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    struct metric_series *series = new_series(metrics, id, resource, set, hash);
    if (series) {
        metrics->slots[slot] = series;
        series->start_time_ns = start_time_ns ? start_time_ns : ldtap_realtime_ns();
    }
    return series;
}

void ldtap_metrics_record(struct ldtap_metrics *metrics, enum ldtap_metric_id id, struct ldtap_resource *resource,
                          const struct ldtap_metric_attributes *set, double value) {
    struct metric_series *series = find_series(metrics, id, resource, set, 0);
    if (!series) {
        return;
    }
    const struct ldtap_instrument *instrument = &instruments[id];
    /* Buckets are upper-inclusive: bucket i counts bounds[i-1] < value <= bounds[i]. */
    uint32_t bucket = 0;
    while (bucket < instrument->bound_count && value > instrument->bounds[bucket]) {
        bucket++;
    }
    series->buckets[bucket]++;
    if (series->count == 0 || value < series->min) {
        series->min = value;
    }
    if (series->count == 0 || value > series->max) {
        series->max = value;
    }
    series->count++;
    series->sum += value;
}

/* Sets both forms of a gauge's value: ldtap_metrics_set and _set_int differ only in which
 * of the two is exact. */
static void set_gauge(struct ldtap_metrics *metrics, enum ldtap_metric_id id, struct ldtap_resource *resource,
                      const struct ldtap_metric_attributes *set, uint64_t start_time_ns, double value,
                      int64_t int_value) {
    struct metric_series *series = find_series(metrics, id, resource, set, start_time_ns);
    if (series) {
        series->value = value;
        series->int_value = int_value;
        series->time_ns = ldtap_realtime_ns();
    }
}

void ldtap_metrics_set(struct ldtap_metrics *metrics, enum ldtap_metric_id id, struct ldtap_resource *resource,
                       const struct ldtap_metric_attributes *set, double value, uint64_t start_time_ns) {
    set_gauge(metrics, id, resource, set, start_time_ns, value, (int64_t)value);
}

void ldtap_metrics_set_int(struct ldtap_metrics *metrics, enum ldtap_metric_id id, struct ldtap_resource *resource,
                           const struct ldtap_metric_attributes *set, int64_t value, uint64_t start_time_ns) {
    set_gauge(metrics, id, resource, set, start_time_ns, (double)value, value);
}

void ldtap_metrics_retire_resource(struct ldtap_metrics *metrics, const struct ldtap_resource *resource) {
    uint64_t now = ldtap_monotonic_ns();
    for (int id = 0; id < LDTAP_METRIC_COUNT; id++) {
        for (struct metric_series *series = metrics->first[id]; series; series = series->next) {
            if (series->resource == resource && !series->retiring) {
                series->retiring = true;
                series->retired_at_ns = now;
                metrics->has_retiring = true;
            }
        }
    }
}

/* Frees retiring series: all of them after a collection reported them (`collected`),
 * otherwise only those nobody collected for RETIRE_WITHOUT_COLLECTION_NS. */
static void purge_retiring(struct ldtap_metrics *metrics, bool collected) {
    if (!metrics->has_retiring) {
        return;
    }
    uint64_t now = ldtap_monotonic_ns();
    bool left = false, freed = false;
    for (int id = 0; id < LDTAP_METRIC_COUNT; id++) {
        struct metric_series **link = &metrics->first[id];
        metrics->last[id] = NULL;
        while (*link) {
            struct metric_series *series = *link;
            if (series->retiring && (collected || now - series->retired_at_ns >= RETIRE_WITHOUT_COLLECTION_NS)) {
                *link = series->next;
                free_series(series);
                metrics->series_count--;
                freed = true;
                continue;
            }
            left |= series->retiring;
            metrics->last[id] = series;
            link = &series->next;
        }
    }
    metrics->has_retiring = left;
    if (freed && !rebuild_slots(metrics, metrics->slot_capacity)) {
        /* Out of memory: the old table holds freed pointers; an empty one is safe. */
        memset(metrics->slots, 0, metrics->slot_capacity * sizeof *metrics->slots);
        rebuild_slots(metrics, metrics->slot_capacity);
    }
}

/* ---- services and the collector's own resource ---- */

struct ldtap_metric_service *ldtap_metrics_service(struct ldtap_metrics *metrics, const char *name,
                                                   const struct ldtap_resource *process_resource) {
    for (struct ldtap_metric_service *service = metrics->services; service; service = service->next) {
        if (strcmp(service->name, name) == 0) {
            return service;
        }
    }
    struct ldtap_metric_service *service = calloc(1, sizeof *service);
    struct ldtap_resource *resource = ldtap_resource_new();
    if (!service || !resource) {
        free(service);
        ldtap_resource_release(resource);
        return NULL;
    }
    snprintf(service->name, sizeof service->name, "%s", name);
    ldtap_resource_add_string(resource, "service.name", service->name, strlen(service->name));
    /* Per-process facts would split a service's series by process: they stay out. */
    for (uint16_t i = 0; process_resource && i < process_resource->attribute_count; i++) {
        const struct ldtap_attribute *attribute = &process_resource->attributes[i];
        if (attribute->type != LDTAP_VALUE_STRING || strncmp(attribute->key, "process.", 8) == 0 ||
            strcmp(attribute->key, "service.name") == 0) {
            continue;
        }
        ldtap_resource_add_string(resource, attribute->key, ldtap_resource_string(process_resource, attribute),
                                  attribute->string_length);
    }
    service->resource = resource;
    service->accept_queue_max = -1;
    service->next = metrics->services;
    metrics->services = service;
    metrics->service_count++;
    return service;
}

static struct ldtap_resource *collector_resource(void) {
    struct ldtap_ring_header header;
    memset(&header, 0, sizeof header);
    header.pid = (int32_t)getpid();
    header.parent_pid = (int32_t)getppid();
    snprintf(header.executable_name, sizeof header.executable_name, "ldtap");
    snprintf(header.command_line, sizeof header.command_line, "ldtap");
    /* service.name "ldtap" whatever OTEL_SERVICE_NAME names the traced programs. */
    struct ldtap_resource_defaults defaults = {.service_name = "ldtap"};
    return ldtap_resource_build(&header, &defaults);
}

/* ---- public entry points ---- */

struct ldtap_metrics *ldtap_metrics_create(uint32_t max_series) {
    struct ldtap_metrics *metrics = calloc(1, sizeof *metrics);
    if (!metrics) {
        return NULL;
    }
    metrics->max_series = max_series;
    metrics->self_resource = collector_resource();
    if (!metrics->self_resource || pthread_mutex_init(&metrics->lock, NULL) != 0) {
        ldtap_resource_release(metrics->self_resource);
        free(metrics);
        return NULL;
    }
    return metrics;
}

void ldtap_metrics_free(struct ldtap_metrics *metrics) {
    if (!metrics) {
        return;
    }
    for (int id = 0; id < LDTAP_METRIC_COUNT; id++) {
        for (struct metric_series *series = metrics->first[id]; series;) {
            struct metric_series *next = series->next;
            free_series(series);
            series = next;
        }
    }
    while (metrics->services) {
        struct ldtap_metric_service *service = metrics->services;
        metrics->services = service->next;
        ldtap_resource_release(service->resource);
        free(service);
    }
    ldtap_metrics_free_processes(metrics);
    ldtap_resource_release(metrics->self_resource);
    pthread_mutex_destroy(&metrics->lock);
    free(metrics->slots);
    free(metrics);
}

void ldtap_metrics_collect(struct ldtap_metrics *metrics, ldtap_metric_visitor visitor, void *context) {
    pthread_mutex_lock(&metrics->lock);
    uint64_t now = ldtap_realtime_ns();
    for (int id = 0; id < LDTAP_METRIC_COUNT; id++) {
        const struct ldtap_instrument *instrument = &instruments[id];
        for (const struct metric_series *series = metrics->first[id]; series; series = series->next) {
            struct ldtap_metric_point point = {
                .series_id = series->id,
                .resource = series->resource,
                .attributes = series->attributes,
                .attribute_count = series->attribute_count,
                .text = series->key,
                .start_time_ns = series->start_time_ns,
                /* Histograms are cumulative up to now; observed values are as of their reading. */
                .time_ns = instrument->kind == LDTAP_INSTRUMENT_HISTOGRAM || !series->time_ns ? now : series->time_ns,
                .value = series->value,
                .int_value = series->int_value,
                .count = series->count,
                .sum = series->sum,
                .min = series->min,
                .max = series->max,
                .bucket_counts = instrument->kind == LDTAP_INSTRUMENT_HISTOGRAM ? series->buckets : NULL,
            };
            visitor(context, instrument, &point);
        }
    }
    purge_retiring(metrics, true);
    pthread_mutex_unlock(&metrics->lock);
}

uint64_t ldtap_metrics_dropped_series(const struct ldtap_metrics *metrics) {
    return __atomic_load_n(&metrics->dropped_series, __ATOMIC_RELAXED);
}

/* For metrics_process.c's periodic work: retiring series nobody collects. */
void ldtap_metrics_purge_uncollected(struct ldtap_metrics *metrics) { purge_retiring(metrics, false); }
