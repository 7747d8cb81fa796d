/* The OTLP metrics export thread (see metrics_exporter.h). Each export: collect a snapshot
 * under the store's lock, apply the temporality preference, encode, deliver with retries
 * bounded by the export timeout. Delta state only advances when a request is accepted. */
#include "metrics_exporter.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "export_common.h"
#include "export_transport.h"
#include "otlp_metrics_json.h"
#include "otlp_metrics_protobuf.h"

#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_INTERVAL_MS 60000u
#define DEFAULT_EXPORT_TIMEOUT_MS 30000u

struct ldtap_metrics_exporter {
    struct ldtap_metrics *metrics;
    enum ldtap_otlp_protocol protocol;
    enum ldtap_metrics_temporality temporality;
    uint32_t interval_ms;
    uint32_t export_timeout_ms;

    pthread_mutex_t lock; /* guards everything down to `stats` */
    pthread_cond_t wake;  /* the thread: an export asked for, a stop */
    pthread_cond_t done;  /* export_now callers: completed moved */
    uint64_t requested;   /* exports asked for by export_now */
    uint64_t completed;   /* of those, how many the thread has finished */
    bool stopping;
    uint64_t stop_deadline_ns;   /* monotonic; set with stopping */
    uint64_t export_deadline_ns; /* monotonic end of the export in progress; 0 none */
    struct ldtap_metrics_export_stats stats;

    /* Touched only by the export thread. */
    pthread_t thread;
    struct ldtap_metrics_snapshot snapshot;
    struct ldtap_delta_state delivered; /* cumulative values of the last accepted export */
    struct ldtap_buffer body;
    struct ldtap_delivery delivery;
};

static void set_last_error_locked(struct ldtap_metrics_exporter *exporter, const char *message) {
    snprintf(exporter->stats.last_error, sizeof exporter->stats.last_error, "%s", message);
}

static uint64_t deadline_locked(const void *owner) {
    const struct ldtap_metrics_exporter *exporter = owner;
    uint64_t deadline_ns = exporter->export_deadline_ns;
    if (exporter->stopping && (!deadline_ns || exporter->stop_deadline_ns < deadline_ns)) {
        deadline_ns = exporter->stop_deadline_ns;
    }
    return deadline_ns;
}

/* ---- one export ---- */

static bool encode(struct ldtap_metrics_exporter *exporter) {
    ldtap_buffer_reset(&exporter->body);
    return exporter->protocol == LDTAP_OTLP_HTTP_JSON
               ? ldtap_otlp_metrics_json_encode(&exporter->body, &exporter->snapshot)
               : ldtap_otlp_metrics_protobuf_encode(&exporter->body, &exporter->snapshot);
}

static bool deliver(struct ldtap_metrics_exporter *exporter) {
    pthread_mutex_lock(&exporter->lock);
    exporter->export_deadline_ns = ldtap_monotonic_ns() + exporter->export_timeout_ms * LDTAP_NS_PER_MS;
    pthread_mutex_unlock(&exporter->lock);
    bool accepted = ldtap_deliver(&exporter->delivery, exporter->body.data, exporter->body.length);
    pthread_mutex_lock(&exporter->lock);
    exporter->export_deadline_ns = 0;
    pthread_mutex_unlock(&exporter->lock);
    return accepted;
}

static void export_once(struct ldtap_metrics_exporter *exporter) {
    struct ldtap_metrics_snapshot *snapshot = &exporter->snapshot;
    struct ldtap_delta_state next = {0};
    const char *problem = NULL;
    ldtap_metrics_collect(exporter->metrics, ldtap_metrics_snapshot_visit, snapshot);
    ldtap_metrics_snapshot_order(snapshot);
    /* A partial snapshot would make the missing series look new next time (delta) or
     * vanish (cumulative): skip the export rather than send it. */
    if (snapshot->failed ||
        !ldtap_metrics_snapshot_apply_temporality(snapshot, exporter->temporality, &exporter->delivered, &next)) {
        problem = "out of memory while collecting metrics";
    } else if (snapshot->count > 0 && !encode(exporter)) {
        problem = "out of memory while encoding metrics";
    }
    size_t points = snapshot->count;
    bool accepted = !problem && (points == 0 || deliver(exporter));
    if (accepted) {
        ldtap_delta_state_free(&exporter->delivered);
        exporter->delivered = next;
    } else {
        ldtap_delta_state_free(&next);
    }
    ldtap_metrics_snapshot_clear(snapshot);
    pthread_mutex_lock(&exporter->lock);
    if (problem) {
        set_last_error_locked(exporter, problem);
    }
    if (accepted && points > 0) {
        exporter->stats.exports++;
        exporter->stats.exported_points += points;
    } else if (!accepted) {
        exporter->stats.failed_exports++;
    }
    pthread_mutex_unlock(&exporter->lock);
}

static void *export_thread(void *argument) {
    struct ldtap_metrics_exporter *exporter = argument;
    pthread_mutex_lock(&exporter->lock);
    uint64_t next_export_ns = ldtap_monotonic_ns() + exporter->interval_ms * LDTAP_NS_PER_MS;
    for (;;) {
        bool asked = exporter->stopping || exporter->requested > exporter->completed;
        if (!asked && ldtap_monotonic_ns() < next_export_ns) {
            ldtap_cond_wait_until(&exporter->wake, &exporter->lock, next_export_ns);
            continue;
        }
        bool last = exporter->stopping;
        uint64_t answered = exporter->requested;
        pthread_mutex_unlock(&exporter->lock);
        export_once(exporter);
        pthread_mutex_lock(&exporter->lock);
        exporter->completed = answered;
        pthread_cond_broadcast(&exporter->done);
        next_export_ns = ldtap_monotonic_ns() + exporter->interval_ms * LDTAP_NS_PER_MS;
        if (last) {
            break;
        }
    }
    pthread_mutex_unlock(&exporter->lock);
    return NULL;
}

/* ---- lifecycle ---- */

static uint32_t or_default(uint32_t value, uint32_t fallback) {
    return value ? value : fallback;
}

static void free_exporter(struct ldtap_metrics_exporter *exporter) {
    ldtap_transport_close(exporter->delivery.transport);
    ldtap_buffer_free(&exporter->body);
    ldtap_metrics_snapshot_free(&exporter->snapshot);
    ldtap_delta_state_free(&exporter->delivered);
    pthread_mutex_destroy(&exporter->lock);
    pthread_cond_destroy(&exporter->wake);
    pthread_cond_destroy(&exporter->done);
    free(exporter);
}

struct ldtap_metrics_exporter *ldtap_metrics_exporter_start(const struct ldtap_metrics_exporter_config *config,
                                                            struct ldtap_metrics *metrics, char *error,
                                                            size_t error_size) {
    if (!config->url || !metrics) {
        snprintf(error, error_size, "the OTLP metrics exporter needs a /v1/metrics URL and a metric store");
        return NULL;
    }
    struct ldtap_metrics_exporter *exporter = calloc(1, sizeof *exporter);
    if (!exporter || pthread_mutex_init(&exporter->lock, NULL) != 0 || !ldtap_monotonic_cond_init(&exporter->wake) ||
        !ldtap_monotonic_cond_init(&exporter->done)) {
        snprintf(error, error_size, "cannot start the metrics exporter: out of memory");
        free(exporter);
        return NULL;
    }
    exporter->metrics = metrics;
    exporter->protocol = config->protocol;
    exporter->temporality = config->temporality;
    exporter->delivery = LDTAP_DELIVERY_OF(exporter, or_default(config->timeout_ms, DEFAULT_TIMEOUT_MS), deadline_locked);
    exporter->interval_ms = or_default(config->interval_ms, DEFAULT_INTERVAL_MS);
    exporter->export_timeout_ms = or_default(config->export_timeout_ms, DEFAULT_EXPORT_TIMEOUT_MS);
    ldtap_buffer_init(&exporter->body);
    ldtap_metrics_snapshot_init(&exporter->snapshot);
    struct ldtap_exporter_config transport_config = {
        .traces_url = config->url, /* the transport posts to whatever URL it is given */
        .protocol = config->protocol,
        .gzip = config->gzip,
        .headers = config->headers,
    };
    exporter->delivery.transport = ldtap_transport_open(&transport_config, error, error_size);
    if (!exporter->delivery.transport) {
        free_exporter(exporter);
        return NULL;
    }
    int failed = ldtap_start_export_thread(&exporter->thread, export_thread, exporter);
    if (failed) {
        snprintf(error, error_size, "cannot start the metrics exporter thread: %s", strerror(failed));
        free_exporter(exporter);
        return NULL;
    }
    return exporter;
}

void ldtap_metrics_exporter_export_now(struct ldtap_metrics_exporter *exporter) {
    pthread_mutex_lock(&exporter->lock);
    uint64_t target = ++exporter->requested;
    pthread_cond_signal(&exporter->wake);
    uint64_t give_up_ns = ldtap_monotonic_ns() + (exporter->export_timeout_ms + 1000ull) * LDTAP_NS_PER_MS;
    while (exporter->completed < target && ldtap_monotonic_ns() < give_up_ns) {
        ldtap_cond_wait_until(&exporter->done, &exporter->lock, give_up_ns);
    }
    pthread_mutex_unlock(&exporter->lock);
}

void ldtap_metrics_exporter_get_stats(struct ldtap_metrics_exporter *exporter,
                                      struct ldtap_metrics_export_stats *stats) {
    pthread_mutex_lock(&exporter->lock);
    *stats = exporter->stats;
    pthread_mutex_unlock(&exporter->lock);
}

void ldtap_metrics_exporter_stop(struct ldtap_metrics_exporter *exporter, uint32_t deadline_ms,
                                 struct ldtap_metrics_export_stats *stats) {
    if (!exporter) {
        return;
    }
    pthread_mutex_lock(&exporter->lock);
    exporter->stopping = true;
    exporter->stop_deadline_ns = ldtap_monotonic_ns() + (uint64_t)deadline_ms * LDTAP_NS_PER_MS;
    pthread_cond_signal(&exporter->wake);
    pthread_mutex_unlock(&exporter->lock);
    pthread_join(exporter->thread, NULL);
    if (stats) {
        *stats = exporter->stats;
    }
    free_exporter(exporter);
}
