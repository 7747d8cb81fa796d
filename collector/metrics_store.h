/* Inside the metric store: the instrument ids, attribute sets and series operations that
 * metrics.c implements and metrics_spans.c / metrics_process.c use. Every function here
 * expects the store's lock to be held; the public entry points in metrics.h take it. */
#ifndef LDTAP_METRICS_STORE_H
#define LDTAP_METRICS_STORE_H

#include <pthread.h>

#include "metrics.h"

enum ldtap_metric_id {
    LDTAP_METRIC_HTTP_SERVER_DURATION,
    LDTAP_METRIC_HTTP_SERVER_REQUEST_BODY,
    LDTAP_METRIC_HTTP_SERVER_RESPONSE_BODY,
    LDTAP_METRIC_HTTP_CLIENT_DURATION,
    LDTAP_METRIC_HTTP_CLIENT_REQUEST_BODY,
    LDTAP_METRIC_HTTP_CLIENT_RESPONSE_BODY,
    LDTAP_METRIC_DB_CLIENT_DURATION,
    LDTAP_METRIC_HTTP_SERVER_ACTIVE,
    LDTAP_METRIC_PROCESS_MEMORY_USAGE,
    LDTAP_METRIC_PROCESS_MEMORY_VIRTUAL,
    LDTAP_METRIC_PROCESS_CPU_TIME,
    LDTAP_METRIC_PROCESS_THREADS,
    LDTAP_METRIC_PROCESS_DESCRIPTORS,
    LDTAP_METRIC_PROCESS_UPTIME,
    LDTAP_METRIC_PROCESS_HEAP_USAGE,
    LDTAP_METRIC_PROCESS_HEAP_ALLOCATIONS,
    LDTAP_METRIC_PROCESS_HEAP_FREES,
    LDTAP_METRIC_PROCESS_HEAP_ALLOCATED,
    LDTAP_METRIC_PROCESS_HEAP_MMAP_USAGE,
    LDTAP_METRIC_WORKER_BUSY_TIME,
    LDTAP_METRIC_WORKER_BUSY_FRACTION,
    LDTAP_METRIC_SERVICE_BUSY_FRACTION,
    LDTAP_METRIC_LISTEN_ACCEPT_QUEUE,
    LDTAP_METRIC_RECORDS_DRAINED,
    LDTAP_METRIC_RECORDS_DROPPED,
    LDTAP_METRIC_RINGS_ATTACHED,
    LDTAP_METRIC_RINGS_CORRUPT,
    LDTAP_METRIC_SPANS_EXPORTED,
    LDTAP_METRIC_SPANS_DROPPED,
    LDTAP_METRIC_EXPORT_FAILURES,
    LDTAP_METRIC_SERIES_DROPPED,
    LDTAP_METRIC_COUNT
};

/* An attribute set being built for one measurement. Values (and key names, so that two
 * sets compare with one memcmp) are encoded into `key`, which becomes the series' text. */
#define LDTAP_METRIC_MAX_ATTRIBUTES 8
#define LDTAP_METRIC_KEY_BYTES 1024
struct ldtap_metric_attributes {
    uint16_t count;
    uint16_t used;
    bool overflow; /* something did not fit: the set is incomplete and is not recorded */
    struct ldtap_attribute attributes[LDTAP_METRIC_MAX_ATTRIBUTES];
    char key[LDTAP_METRIC_KEY_BYTES];
};

/* Keys must be string literals (they are kept by pointer). */
void ldtap_metric_attributes_string(struct ldtap_metric_attributes *set, const char *key, const char *value,
                                    size_t length);
void ldtap_metric_attributes_int(struct ldtap_metric_attributes *set, const char *key, int64_t value);

/* A service seen in spans or process samples: its shared resource and saturation peaks. */
struct ldtap_metric_service {
    char name[LDTAP_NAME_BYTES * 2];
    struct ldtap_resource *resource; /* service.name, host.name, telemetry.sdk.*, user attributes */
    bool has_busy_fraction;
    double busy_fraction_max;
    int64_t accept_queue_max; /* -1: no listening socket seen */
    struct ldtap_metric_service *next;
};

struct ldtap_metric_process; /* metrics_process.c */
struct metric_series;        /* metrics.c */

struct ldtap_metrics {
    pthread_mutex_t lock;
    uint32_t max_series;
    uint32_t series_count;
    uint64_t next_series_id;
    uint64_t dropped_series; /* atomic: read without the lock */
    struct metric_series **slots; /* open addressing, power-of-two capacity */
    uint32_t slot_capacity;
    struct metric_series *first[LDTAP_METRIC_COUNT], *last[LDTAP_METRIC_COUNT];
    bool has_retiring;
    struct ldtap_metric_service *services;
    uint32_t service_count;
    struct ldtap_resource *self_resource; /* the collector itself, for ldtap.* health */
    struct ldtap_metric_process *processes;
    uint32_t process_count;
    uint64_t evicted_dropped_ring_full, evicted_dropped_too_large; /* of forgotten processes */
};


/* Records one histogram measurement. */
void ldtap_metrics_record(struct ldtap_metrics *metrics, enum ldtap_metric_id id, struct ldtap_resource *resource,
                          const struct ldtap_metric_attributes *set, double value);
/* Sets a sum's or gauge's current value (double or integer by the instrument). A new
 * series starts accumulating at `start_time_ns` (0: now). */
void ldtap_metrics_set(struct ldtap_metrics *metrics, enum ldtap_metric_id id, struct ldtap_resource *resource,
                       const struct ldtap_metric_attributes *set, double value, uint64_t start_time_ns);
void ldtap_metrics_set_int(struct ldtap_metrics *metrics, enum ldtap_metric_id id, struct ldtap_resource *resource,
                           const struct ldtap_metric_attributes *set, int64_t value, uint64_t start_time_ns);
/* Marks every series of `resource` for removal once a collection has reported them. */
void ldtap_metrics_retire_resource(struct ldtap_metrics *metrics, const struct ldtap_resource *resource);

/* The service named `name`, created on first use from `process_resource` (its attributes
 * minus process.*). NULL when out of memory. */
struct ldtap_metric_service *ldtap_metrics_service(struct ldtap_metrics *metrics, const char *name,
                                                   const struct ldtap_resource *process_resource);

/* Frees retiring series that no collection reported for minutes (no reader configured). */
void ldtap_metrics_purge_uncollected(struct ldtap_metrics *metrics);

/* metrics_process.c: frees the process table. */
void ldtap_metrics_free_processes(struct ldtap_metrics *metrics);

#endif
