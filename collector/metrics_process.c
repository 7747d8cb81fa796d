/* Per-process and self-health metrics: what /proc and the ring header say about each
 * traced process (memory, CPU, saturation, accept queues), its role, and ldtap's own
 * counters; plus the per-process memory history the exit summary reports. */
#include "metrics_store.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "process_stats.h"

/* Gone processes are remembered for the summary; past this many the oldest are forgotten. */
#define MAX_PROCESSES 1024
/* A shorter interval would make the busy fraction jumpy; the drain samples about each second. */
#define MIN_BUSY_INTERVAL_NS 200000000ull

struct ldtap_metric_process {
    int32_t pid, parent_pid;
    uint64_t start_ticks;
    struct ldtap_resource *resource; /* one reference */
    struct ldtap_metric_service *service;
    bool alive, is_master, role_known;
    bool rebased; /* the memory baseline was retaken once start-up was over (see below) */
    bool has_memory;
    uint64_t rss_first, rss_last;
    /* Where the samples started to fall, while they fall: if the process then exits, the
     * fall was its teardown (an interpreter freeing everything), and its last RSS is this. */
    uint64_t rss_before_fall;
    uint64_t start_unix_ns; /* 0 until /proc gave the uptime */
    bool has_busy_baseline, has_busy_fraction;
    uint64_t busy_ns, busy_sampled_ns;
    double busy_fraction;
    uint64_t dropped_ring_full, dropped_too_large;
    struct ldtap_metric_process *next; /* oldest first */
};

static void forget(struct ldtap_metrics *metrics, struct ldtap_metric_process *process) {
    metrics->evicted_dropped_ring_full += process->dropped_ring_full;
    metrics->evicted_dropped_too_large += process->dropped_too_large;
    ldtap_resource_release(process->resource);
    free(process);
    metrics->process_count--;
}

void ldtap_metrics_free_processes(struct ldtap_metrics *metrics) {
    while (metrics->processes) {
        struct ldtap_metric_process *process = metrics->processes;
        metrics->processes = process->next;
        forget(metrics, process);
    }
}

static struct ldtap_metric_process *find_process(struct ldtap_metrics *metrics,
                                                 const struct ldtap_process_sample *sample) {
    struct ldtap_metric_process **link = &metrics->processes, **oldest_gone = NULL;
    for (; *link; link = &(*link)->next) {
        if ((*link)->pid == sample->pid && (*link)->start_ticks == sample->process_start_ticks) {
            return *link;
        }
        if (!(*link)->alive && !oldest_gone) {
            oldest_gone = link;
        }
    }
    if (metrics->process_count >= MAX_PROCESSES) {
        if (!oldest_gone) {
            return NULL;
        }
        struct ldtap_metric_process *victim = *oldest_gone;
        *oldest_gone = victim->next;
        if (link == &victim->next) {
            link = oldest_gone; /* the victim was the last: the tail moved */
        }
        forget(metrics, victim);
    }
    struct ldtap_metric_process *process = calloc(1, sizeof *process);
    const char *service_name = sample->service_name ? sample->service_name : "";
    struct ldtap_metric_service *service = ldtap_metrics_service(metrics, service_name, sample->resource);
    if (!process || !service || !sample->resource) {
        free(process);
        return NULL;
    }
    process->pid = sample->pid;
    process->parent_pid = sample->parent_pid;
    process->start_ticks = sample->process_start_ticks;
    process->resource = sample->resource;
    ldtap_resource_retain(sample->resource);
    process->service = service;
    process->alive = true;
    *link = process;
    metrics->process_count++;
    return process;
}

/* A master's children are traced processes too: a parent of another live process. */
static bool has_traced_children(const struct ldtap_metrics *metrics, const struct ldtap_metric_process *parent) {
    for (const struct ldtap_metric_process *process = metrics->processes; process; process = process->next) {
        if (process != parent && process->alive && process->parent_pid == parent->pid) {
            return true;
        }
    }
    return false;
}

/* ldtap.service.busy_fraction: the mean over the service's live workers. */
static void update_service_busy(struct ldtap_metrics *metrics, struct ldtap_metric_service *service) {
    double total = 0;
    uint32_t workers = 0;
    for (const struct ldtap_metric_process *process = metrics->processes; process; process = process->next) {
        if (process->service == service && process->alive && !process->is_master && process->has_busy_fraction) {
            total += process->busy_fraction;
            workers++;
        }
    }
    if (workers == 0) {
        return;
    }
    double mean = total / workers;
    struct ldtap_metric_attributes none = {0};
    ldtap_metrics_set(metrics, LDTAP_METRIC_SERVICE_BUSY_FRACTION, service->resource, &none, mean, 0);
    if (!service->has_busy_fraction || mean > service->busy_fraction_max) {
        service->busy_fraction_max = mean;
    }
    service->has_busy_fraction = true;
}

static void role_attributes(struct ldtap_metric_attributes *set, const struct ldtap_metric_process *process) {
    memset(set, 0, sizeof *set);
    const char *role = process->is_master ? "master" : "worker";
    ldtap_metric_attributes_string(set, "ldtap.process.role", role, strlen(role));
}

static void update_busy(struct ldtap_metrics *metrics, struct ldtap_metric_process *process,
                        const struct ldtap_process_sample *sample, uint64_t sampled_ns) {
    struct ldtap_metric_attributes set;
    role_attributes(&set, process);
    if (process->has_busy_baseline && sampled_ns >= process->busy_sampled_ns + MIN_BUSY_INTERVAL_NS) {
        if (sample->busy_time_ns >= process->busy_ns) {
            double fraction =
                (double)(sample->busy_time_ns - process->busy_ns) / (double)(sampled_ns - process->busy_sampled_ns);
            process->busy_fraction = fraction > 1 ? 1 : fraction; /* clock skew between reads */
            process->has_busy_fraction = true;
            ldtap_metrics_set(metrics, LDTAP_METRIC_WORKER_BUSY_FRACTION, process->resource, &set,
                              process->busy_fraction, 0);
        }
        process->has_busy_baseline = false; /* take the new baseline below */
    }
    if (!process->has_busy_baseline) {
        process->busy_ns = sample->busy_time_ns;
        process->busy_sampled_ns = sampled_ns;
        process->has_busy_baseline = true;
    }
    ldtap_metrics_set(metrics, LDTAP_METRIC_WORKER_BUSY_TIME, process->resource, &set,
                      (double)sample->busy_time_ns / 1e9, process->start_unix_ns);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_HTTP_SERVER_ACTIVE, process->resource, &set,
                          sample->in_flight_requests > 0 ? sample->in_flight_requests : 0, 0);
}

static void update_heap(struct ldtap_metrics *metrics, const struct ldtap_metric_process *process,
                        const struct ldtap_process_sample *sample) {
    if (!sample->has_heap) {
        return;
    }
    struct ldtap_metric_attributes set;
    role_attributes(&set, process);
    struct ldtap_resource *resource = process->resource;
    /* Per-thread deltas are folded separately, so a moment's sum can dip below zero. */
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_PROCESS_HEAP_USAGE, resource, &set,
                          sample->heap_live_bytes > 0 ? sample->heap_live_bytes : 0, 0);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_PROCESS_HEAP_MMAP_USAGE, resource, &set,
                          sample->anon_mmap_bytes > 0 ? sample->anon_mmap_bytes : 0, 0);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_PROCESS_HEAP_ALLOCATIONS, resource, &set,
                          (int64_t)sample->heap_allocations, process->start_unix_ns);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_PROCESS_HEAP_FREES, resource, &set, (int64_t)sample->heap_frees,
                          process->start_unix_ns);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_PROCESS_HEAP_ALLOCATED, resource, &set,
                          (int64_t)sample->heap_allocated_bytes, process->start_unix_ns);
}

static void update_from_proc(struct ldtap_metrics *metrics, struct ldtap_metric_process *process,
                             const struct ldtap_process_stats *stats) {
    if (!process->has_memory) {
        process->rss_first = stats->rss_bytes;
        process->has_memory = true;
        uint64_t now = ldtap_realtime_ns();
        uint64_t uptime_ns = (uint64_t)(stats->uptime_seconds * 1e9);
        process->start_unix_ns = uptime_ns < now ? now - uptime_ns : 0;
    }
    if (stats->rss_bytes >= process->rss_last) {
        process->rss_before_fall = 0;
    } else if (process->rss_before_fall == 0) {
        process->rss_before_fall = process->rss_last;
    }
    process->rss_last = stats->rss_bytes;
    struct ldtap_metric_attributes set;
    role_attributes(&set, process);
    struct ldtap_resource *resource = process->resource;
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_PROCESS_MEMORY_USAGE, resource, &set, (int64_t)stats->rss_bytes, 0);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_PROCESS_MEMORY_VIRTUAL, resource, &set,
                          (int64_t)stats->virtual_bytes, 0);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_PROCESS_THREADS, resource, &set, stats->threads, 0);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_PROCESS_DESCRIPTORS, resource, &set, stats->open_descriptors, 0);
    ldtap_metrics_set(metrics, LDTAP_METRIC_PROCESS_UPTIME, resource, &set, stats->uptime_seconds, 0);
    struct ldtap_metric_attributes mode = set;
    ldtap_metric_attributes_string(&mode, "cpu.mode", "user", 4);
    ldtap_metrics_set(metrics, LDTAP_METRIC_PROCESS_CPU_TIME, resource, &mode, stats->user_seconds,
                      process->start_unix_ns);
    mode = set;
    ldtap_metric_attributes_string(&mode, "cpu.mode", "system", 6);
    ldtap_metrics_set(metrics, LDTAP_METRIC_PROCESS_CPU_TIME, resource, &mode, stats->system_seconds,
                      process->start_unix_ns);
    for (uint32_t i = 0; i < stats->listen_count; i++) {
        const struct ldtap_listen_socket *socket = &stats->listen[i];
        struct ldtap_metric_attributes port = {0};
        ldtap_metric_attributes_int(&port, "server.port", socket->port);
        ldtap_metrics_set_int(metrics, LDTAP_METRIC_LISTEN_ACCEPT_QUEUE, resource, &port, socket->accept_queue, 0);
        if ((int64_t)socket->accept_queue > process->service->accept_queue_max) {
            process->service->accept_queue_max = socket->accept_queue;
        }
    }
}

void ldtap_metrics_update_process(struct ldtap_metrics *metrics, const struct ldtap_process_sample *sample,
                                  bool alive) {
    if (!metrics || !sample) {
        return;
    }
    /* /proc is read before taking the lock: readers never wait on the file system. */
    struct ldtap_process_stats stats;
    bool has_stats = alive && ldtap_process_stats_read(sample->pid, sample->process_start_ticks, &stats);
    uint64_t sampled_ns = sample->sampled_at_ns ? sample->sampled_at_ns : ldtap_monotonic_ns();

    pthread_mutex_lock(&metrics->lock);
    ldtap_metrics_purge_uncollected(metrics);
    struct ldtap_metric_process *process = find_process(metrics, sample);
    if (!process) {
        pthread_mutex_unlock(&metrics->lock);
        return;
    }
    process->dropped_ring_full = sample->dropped_ring_full;
    process->dropped_too_large = sample->dropped_too_large;
    if (!alive) {
        if (process->alive) {
            process->alive = false;
            /* Its life is what the summary compares, not the frees of its exit. */
            process->rss_last = process->rss_before_fall ? process->rss_before_fall : process->rss_last;
            ldtap_metrics_retire_resource(metrics, process->resource);
            update_service_busy(metrics, process->service);
        }
        pthread_mutex_unlock(&metrics->lock);
        return;
    }
    bool is_master = has_traced_children(metrics, process);
    if (process->role_known && is_master != process->is_master) {
        /* The role is an attribute: the old role's series end, the new ones begin. */
        ldtap_metrics_retire_resource(metrics, process->resource);
    }
    process->is_master = is_master;
    process->role_known = true;
    if (has_stats) {
        update_from_proc(metrics, process, &stats);
        /* Start-up is no growth: a pre-fork master imports and configures before it forks
         * its workers, and a worker warms up (lazy imports, caches) on its first requests.
         * Growth is measured from the first sample after the first fork, or after the first
         * request served, or every process would look like a leak. Served, not begun: the
         * demo's Flask worker grew by 10 MiB during its first request, after a baseline
         * taken while that request was in flight. */
        if (!process->rebased && (is_master || sample->has_served)) {
            process->rss_first = stats.rss_bytes;
            process->rebased = true;
        }
    }
    update_busy(metrics, process, sample, sampled_ns);
    update_heap(metrics, process, sample);
    update_service_busy(metrics, process->service);
    pthread_mutex_unlock(&metrics->lock);
}

void ldtap_metrics_update_self(struct ldtap_metrics *metrics, const struct ldtap_self_sample *sample) {
    if (!metrics || !sample) {
        return;
    }
    pthread_mutex_lock(&metrics->lock);
    uint64_t ring_full = metrics->evicted_dropped_ring_full, too_large = metrics->evicted_dropped_too_large;
    for (const struct ldtap_metric_process *process = metrics->processes; process; process = process->next) {
        ring_full += process->dropped_ring_full;
        too_large += process->dropped_too_large;
    }
    struct ldtap_resource *self = metrics->self_resource;
    struct ldtap_metric_attributes none = {0};
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_RECORDS_DRAINED, self, &none, (int64_t)sample->records_drained, 0);
    const struct {
        const char *reason;
        uint64_t value;
    } dropped[] = {
        {"ring_full", ring_full},
        {"too_large", too_large},
        {"invalid", sample->invalid_records},
        {"uncommitted", sample->skipped_uncommitted},
    };
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++) {
        struct ldtap_metric_attributes reason = {0};
        ldtap_metric_attributes_string(&reason, "reason", dropped[i].reason, strlen(dropped[i].reason));
        ldtap_metrics_set_int(metrics, LDTAP_METRIC_RECORDS_DROPPED, self, &reason, (int64_t)dropped[i].value, 0);
    }
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_RINGS_ATTACHED, self, &none, (int64_t)sample->rings_attached, 0);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_RINGS_CORRUPT, self, &none, (int64_t)sample->rings_corrupt, 0);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_SPANS_EXPORTED, self, &none, (int64_t)sample->spans_exported, 0);
    struct ldtap_metric_attributes reason = {0};
    ldtap_metric_attributes_string(&reason, "reason", "queue_full", 10);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_SPANS_DROPPED, self, &reason,
                          (int64_t)sample->spans_dropped_queue_full, 0);
    memset(&reason, 0, sizeof reason);
    ldtap_metric_attributes_string(&reason, "reason", "after_retries", 13);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_SPANS_DROPPED, self, &reason,
                          (int64_t)sample->spans_dropped_after_retries, 0);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_EXPORT_FAILURES, self, &none, (int64_t)sample->export_failures, 0);
    ldtap_metrics_set_int(metrics, LDTAP_METRIC_SERIES_DROPPED, self, &none,
                          (int64_t)ldtap_metrics_dropped_series(metrics), 0);
    pthread_mutex_unlock(&metrics->lock);
}

void ldtap_metrics_report(struct ldtap_metrics *metrics, const struct ldtap_metrics_report_visitor *visitor) {
    if (!metrics || !visitor) {
        return;
    }
    pthread_mutex_lock(&metrics->lock);
    for (const struct ldtap_metric_process *process = metrics->processes; process && visitor->process;
         process = process->next) {
        struct ldtap_process_report report = {
            .pid = process->pid,
            .parent_pid = process->parent_pid,
            .service_name = process->service->name,
            .is_master = process->is_master,
            .alive = process->alive,
            .has_memory = process->has_memory,
            .rss_first_bytes = process->rss_first,
            .rss_last_bytes = process->rss_last,
        };
        visitor->process(visitor->context, &report);
    }
    for (const struct ldtap_metric_service *service = metrics->services; service && visitor->service;
         service = service->next) {
        struct ldtap_service_report report = {
            .service_name = service->name,
            .has_busy_fraction = service->has_busy_fraction,
            .busy_fraction_max = service->busy_fraction_max,
            .accept_queue_max = service->accept_queue_max,
        };
        visitor->service(visitor->context, &report);
    }
    pthread_mutex_unlock(&metrics->lock);
}
