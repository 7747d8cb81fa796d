/* The OTLP logs export thread (see log_exporter.h): a ring of entry pointers under one
 * lock; the thread takes a batch out, encodes and delivers it with ldtap_deliver, so the
 * retry policy and transport are the span exporter's. */
#include "log_exporter.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "export_common.h"
#include "export_transport.h"
#include "otlp_logs.h"

#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_MAX_QUEUE 512u
#define DEFAULT_MAX_BATCH 128u
#define DEFAULT_SCHEDULE_DELAY_MS 1000u

struct ldtap_log_exporter {
    bool json; /* http/json, or the file (always OTLP-JSON) */
    uint32_t max_batch;
    uint32_t schedule_delay_ms;

    pthread_mutex_t lock; /* guards everything down to `stats` */
    pthread_cond_t wake;  /* the thread: a full batch, a stop, a retry cut short */
    struct ldtap_log_entry **slots;
    uint32_t capacity, head, count;
    bool stopping;
    uint64_t stop_deadline_ns; /* monotonic; set with stopping */
    struct ldtap_log_export_stats stats;

    /* Touched only by the export thread. */
    pthread_t thread;
    struct ldtap_log_entry **batch;
    struct ldtap_buffer body;
    struct ldtap_delivery delivery;
};

static void set_last_error_locked(struct ldtap_log_exporter *exporter, const char *message) {
    snprintf(exporter->stats.last_error, sizeof exporter->stats.last_error, "%s", message);
}

static void free_entry(struct ldtap_log_entry *entry) {
    ldtap_resource_release(entry->resource);
    ldtap_claim_settle(&entry->claim); /* delivered or given up: the ring may reuse it */
    free(entry);
}

/* Only a stop sets a deadline. */
static uint64_t deadline_locked(const void *owner) {
    const struct ldtap_log_exporter *exporter = owner;
    return exporter->stopping ? exporter->stop_deadline_ns : 0;
}

/* ---- the thread ---- */

static bool export_batch(struct ldtap_log_exporter *exporter, uint32_t count) {
    const struct ldtap_log_entry *const *entries = (const struct ldtap_log_entry *const *)exporter->batch;
    ldtap_buffer_reset(&exporter->body);
    bool encoded = exporter->json ? ldtap_otlp_logs_json_encode(&exporter->body, entries, count)
                                  : ldtap_otlp_logs_protobuf_encode(&exporter->body, entries, count);
    if (!encoded) {
        ldtap_delivery_failed(&exporter->delivery, "out of memory while encoding logs");
        return false;
    }
    return ldtap_deliver(&exporter->delivery, exporter->body.data, exporter->body.length);
}

static void *export_thread(void *argument) {
    struct ldtap_log_exporter *exporter = argument;
    pthread_mutex_lock(&exporter->lock);
    uint64_t next_export_ns = ldtap_monotonic_ns() + exporter->schedule_delay_ms * LDTAP_NS_PER_MS;
    for (;;) {
        uint64_t now = ldtap_monotonic_ns();
        if (exporter->stopping && (exporter->count == 0 || now >= exporter->stop_deadline_ns)) {
            break;
        }
        if (exporter->count < exporter->max_batch && !exporter->stopping && now < next_export_ns) {
            ldtap_cond_wait_until(&exporter->wake, &exporter->lock, next_export_ns);
            continue;
        }
        uint32_t taken = exporter->count < exporter->max_batch ? exporter->count : exporter->max_batch;
        for (uint32_t i = 0; i < taken; i++) {
            exporter->batch[i] = exporter->slots[(exporter->head + i) % exporter->capacity];
        }
        exporter->head = (exporter->head + taken) % exporter->capacity;
        exporter->count -= taken;
        pthread_mutex_unlock(&exporter->lock);
        bool accepted = taken == 0 || export_batch(exporter, taken);
        for (uint32_t i = 0; i < taken; i++) {
            free_entry(exporter->batch[i]);
        }
        pthread_mutex_lock(&exporter->lock);
        *(accepted ? &exporter->stats.exported : &exporter->stats.dropped_after_retries) += taken;
        next_export_ns = ldtap_monotonic_ns() + exporter->schedule_delay_ms * LDTAP_NS_PER_MS;
    }
    /* The stop deadline passed with entries still queued. */
    if (exporter->count) {
        char message[96];
        snprintf(message, sizeof message, "stop deadline reached with %u log records unsent", exporter->count);
        set_last_error_locked(exporter, message);
    }
    while (exporter->count) {
        free_entry(exporter->slots[exporter->head]);
        exporter->head = (exporter->head + 1) % exporter->capacity;
        exporter->count--;
        exporter->stats.dropped_after_retries++;
    }
    pthread_mutex_unlock(&exporter->lock);
    return NULL;
}

/* ---- lifecycle ---- */

static uint32_t or_default(uint32_t value, uint32_t fallback) {
    return value ? value : fallback;
}

static void free_exporter(struct ldtap_log_exporter *exporter) {
    ldtap_transport_close(exporter->delivery.transport);
    ldtap_buffer_free(&exporter->body);
    free(exporter->slots);
    free(exporter->batch);
    pthread_mutex_destroy(&exporter->lock);
    pthread_cond_destroy(&exporter->wake);
    free(exporter);
}

struct ldtap_log_exporter *ldtap_log_exporter_start(const struct ldtap_log_exporter_config *config, char *error,
                                                    size_t error_size) {
    struct ldtap_log_exporter *exporter = calloc(1, sizeof *exporter);
    if (!exporter || pthread_mutex_init(&exporter->lock, NULL) != 0 || !ldtap_monotonic_cond_init(&exporter->wake)) {
        snprintf(error, error_size, "cannot start the logs exporter: out of memory");
        free(exporter);
        return NULL;
    }
    exporter->delivery = LDTAP_DELIVERY_OF(exporter, or_default(config->timeout_ms, DEFAULT_TIMEOUT_MS), deadline_locked);
    exporter->capacity = or_default(config->max_queue, DEFAULT_MAX_QUEUE);
    exporter->max_batch = or_default(config->max_batch, DEFAULT_MAX_BATCH);
    exporter->max_batch = exporter->max_batch < exporter->capacity ? exporter->max_batch : exporter->capacity;
    exporter->schedule_delay_ms = or_default(config->schedule_delay_ms, DEFAULT_SCHEDULE_DELAY_MS);
    ldtap_buffer_init(&exporter->body);
    exporter->slots = calloc(exporter->capacity, sizeof *exporter->slots);
    exporter->batch = calloc(exporter->max_batch, sizeof *exporter->batch);
    struct ldtap_exporter_config transport_config = {
        .traces_url = config->url, /* the transport posts to whatever URL it is given */
        .file_path = config->file_path,
        .protocol = config->protocol,
        .gzip = config->gzip,
        .headers = config->headers,
    };
    if (!exporter->slots || !exporter->batch) {
        snprintf(error, error_size, "cannot start the logs exporter: out of memory");
        free_exporter(exporter);
        return NULL;
    }
    exporter->delivery.transport = ldtap_transport_open(&transport_config, error, error_size);
    if (!exporter->delivery.transport) {
        free_exporter(exporter);
        return NULL;
    }
    exporter->json = config->protocol == LDTAP_OTLP_HTTP_JSON || ldtap_transport_is_file(exporter->delivery.transport);
    int failed = ldtap_start_export_thread(&exporter->thread, export_thread, exporter);
    if (failed) {
        snprintf(error, error_size, "cannot start the logs exporter thread: %s", strerror(failed));
        free_exporter(exporter);
        return NULL;
    }
    return exporter;
}

bool ldtap_log_exporter_enqueue(struct ldtap_log_exporter *exporter, struct ldtap_log_entry *entry) {
    struct ldtap_log_entry *copy = malloc(sizeof *copy);
    pthread_mutex_lock(&exporter->lock);
    bool room = copy && exporter->count < exporter->capacity && !exporter->stopping;
    if (room) {
        memcpy(copy, entry, sizeof *copy);
        ldtap_resource_retain(copy->resource);
        entry->claim = (struct ldtap_claim){0}; /* the copy's now */
        exporter->slots[(exporter->head + exporter->count) % exporter->capacity] = copy;
        exporter->count++;
        exporter->stats.enqueued++;
        if (exporter->count >= exporter->max_batch) {
            pthread_cond_signal(&exporter->wake);
        }
    } else {
        exporter->stats.dropped_queue_full++;
    }
    pthread_mutex_unlock(&exporter->lock);
    ldtap_claim_settle(&entry->claim); /* no-op once the copy took it */
    if (!room) {
        free(copy);
    }
    return room;
}

void ldtap_log_exporter_stop(struct ldtap_log_exporter *exporter, uint32_t deadline_ms,
                             struct ldtap_log_export_stats *stats) {
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
