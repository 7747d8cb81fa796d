/* The span exporter: a bounded queue filled by the drain loop and one background thread
 * that batches, encodes, and delivers with retries (see exporter.h for the contract).
 * The queue is a ring of span copies; the batch being exported stays in its slots until
 * it is resolved, so in-flight spans count against max_queue_spans and are never copied
 * twice. Invariant once stopped: enqueued = exported + dropped_after_retries. */
#include "exporter.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buffer.h"
#include "export_common.h"
#include "export_transport.h"
#include "otlp_json.h"
#include "otlp_protobuf.h"

#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_MAX_QUEUE_SPANS 2048u
#define DEFAULT_MAX_BATCH_SPANS 512u
#define DEFAULT_SCHEDULE_DELAY_MS 5000u
/* File mode: how long an enqueue waits for room before it drops (see enqueue). */
#define FILE_ROOM_WAIT_MS 1000u
/* Claims settled per take of a ledger's lock when a batch retires. */
#define SETTLE_GROUP 64u

struct ldtap_exporter {
    enum ldtap_otlp_protocol protocol;
    uint32_t max_batch_spans;
    uint32_t schedule_delay_ms;
    bool to_file; /* a local file: its writes do not stall the way a network backend can */

    pthread_mutex_t lock;     /* guards everything down to `stats` */
    pthread_cond_t wake;      /* the thread: a full batch, a flush, a stop */
    pthread_cond_t progress;  /* flush callers: done_sequence moved */
    struct ldtap_span *slots; /* ring of `capacity` spans */
    /* Per slot: true when the span holds a reference to its resource; false when it
     * borrows the reference of the span queued just before it, which has the same one.
     * A process's spans come in runs, and a reference per span was a contended atomic
     * on every enqueue. The oldest queued span of a run always holds the reference. */
    bool *holds_resource;
    uint32_t capacity;
    uint32_t head;              /* oldest queued span */
    uint32_t count;             /* queued spans, the in-flight batch included */
    bool full;                  /* count >= capacity, also read without the lock (is_full) */
    uint64_t enqueued_sequence; /* spans ever accepted */
    uint64_t done_sequence;     /* spans ever exported or dropped: the sequence of `head` */
    uint64_t flush_target;      /* flushes wait for done_sequence to reach this */
    uint64_t deadline_ns;       /* CLOCK_MONOTONIC; 0 none. Past it, flushed spans are dropped */
    bool stopping;
    struct ldtap_export_stats stats;

    /* Touched only by the export thread. */
    pthread_t thread;
    const struct ldtap_span **batch;
    struct ldtap_buffer body;
    struct ldtap_delivery delivery;
};

static void set_last_error_locked(struct ldtap_exporter *exporter, const char *message) {
    snprintf(exporter->stats.last_error, sizeof exporter->stats.last_error, "%s", message);
}

/* Releases the `count` oldest queued spans as resolved. Called with the lock held. */
static void retire_spans_locked(struct ldtap_exporter *exporter, uint32_t count, bool exported) {
    /* A batch is mostly one process's spans: one release per run of a resource, and
     * claims settled in groups, each group under one take of its ledger's lock. */
    struct ldtap_resource *run_resource = NULL;
    int run_references = 0;
    struct ldtap_claim *claims[SETTLE_GROUP] = {0};
    size_t claim_count = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t index = (exporter->head + i) % exporter->capacity;
        struct ldtap_span *span = &exporter->slots[index];
        if (span->resource != run_resource) {
            ldtap_resource_release_many(run_resource, run_references);
            run_resource = span->resource;
            run_references = 0;
        }
        run_references += exporter->holds_resource[index];
        ldtap_span_events_release(span->events);
        span->resource = NULL;
        span->events = NULL;
        claims[claim_count++] = &span->claim; /* delivered or given up: the ring may reuse it */
        if (claim_count == SETTLE_GROUP) {
            ldtap_claims_settle(claims, claim_count);
            claim_count = 0;
        }
    }
    ldtap_claims_settle(claims, claim_count);
    /* The first span left may borrow from the last one retired: it takes the reference. */
    uint32_t next = (exporter->head + count) % exporter->capacity;
    if (count > 0 && count < exporter->count && !exporter->holds_resource[next]) {
        exporter->holds_resource[next] = true;
        run_references--;
    }
    ldtap_resource_release_many(run_resource, run_references);
    exporter->head = next;
    exporter->count -= count;
    __atomic_store_n(&exporter->full, exporter->count >= exporter->capacity, __ATOMIC_RELAXED);
    exporter->done_sequence += count;
    if (exported) {
        exporter->stats.exported_spans += count;
    } else {
        exporter->stats.dropped_after_retries += count;
    }
    if (exporter->done_sequence >= exporter->flush_target && !exporter->stopping) {
        exporter->deadline_ns = 0;
    }
    pthread_cond_broadcast(&exporter->progress);
}

/* The deadline has passed: what flush (or stop: everything) asked for is dropped. */
static void drop_past_deadline_locked(struct ldtap_exporter *exporter) {
    uint64_t wanted = exporter->stopping ? exporter->enqueued_sequence : exporter->flush_target;
    uint32_t drop = 0;
    if (wanted > exporter->done_sequence) {
        uint64_t owed = wanted - exporter->done_sequence;
        drop = owed < exporter->count ? (uint32_t)owed : exporter->count;
    }
    if (drop) {
        char message[96];
        snprintf(message, sizeof message, "flush deadline reached with %u spans unsent", drop);
        set_last_error_locked(exporter, message);
    }
    retire_spans_locked(exporter, drop, false);
    exporter->deadline_ns = 0;
}

/* A flush or a stop sets the deadline (see request_flush_locked). */
static uint64_t deadline_locked(const void *owner) {
    const struct ldtap_exporter *exporter = owner;
    return exporter->deadline_ns;
}

static bool export_batch(struct ldtap_exporter *exporter, uint32_t count) {
    const struct ldtap_span *const *spans = exporter->batch;
    ldtap_buffer_reset(&exporter->body);
    bool json = exporter->protocol == LDTAP_OTLP_HTTP_JSON || exporter->to_file;
    bool encoded = json ? ldtap_otlp_json_encode(&exporter->body, spans, count)
                        : ldtap_otlp_protobuf_encode(&exporter->body, spans, count);
    if (!encoded) {
        ldtap_delivery_failed(&exporter->delivery, "out of memory while encoding a batch");
        return false;
    }
    return ldtap_deliver(&exporter->delivery, exporter->body.data, exporter->body.length);
}

static void *export_thread(void *argument) {
    struct ldtap_exporter *exporter = argument;
    pthread_mutex_lock(&exporter->lock);
    uint64_t next_export_ns = ldtap_monotonic_ns() + exporter->schedule_delay_ms * LDTAP_NS_PER_MS;
    for (;;) {
        uint64_t now = ldtap_monotonic_ns();
        if (exporter->deadline_ns && now >= exporter->deadline_ns) {
            drop_past_deadline_locked(exporter);
        }
        if (exporter->count == 0) {
            if (exporter->stopping) {
                break;
            }
            if (now >= next_export_ns) {
                next_export_ns = now + exporter->schedule_delay_ms * LDTAP_NS_PER_MS;
            }
            /* Timed, because enqueue only signals a full batch. */
            ldtap_cond_wait_until(&exporter->wake, &exporter->lock, next_export_ns);
            continue;
        }
        bool urgent = exporter->count >= exporter->max_batch_spans || exporter->stopping ||
                      exporter->flush_target > exporter->done_sequence;
        if (!urgent && now < next_export_ns) {
            ldtap_cond_wait_until(&exporter->wake, &exporter->lock, next_export_ns);
            continue;
        }
        uint32_t count =
            exporter->count < exporter->max_batch_spans ? exporter->count : exporter->max_batch_spans;
        for (uint32_t i = 0; i < count; i++) {
            exporter->batch[i] = &exporter->slots[(exporter->head + i) % exporter->capacity];
        }
        pthread_mutex_unlock(&exporter->lock);
        bool exported = export_batch(exporter, count);
        pthread_mutex_lock(&exporter->lock);
        retire_spans_locked(exporter, count, exported);
        next_export_ns = ldtap_monotonic_ns() + exporter->schedule_delay_ms * LDTAP_NS_PER_MS;
    }
    pthread_mutex_unlock(&exporter->lock);
    return NULL;
}

static uint32_t or_default(uint32_t value, uint32_t fallback) {
    return value ? value : fallback;
}

static bool init_sync(struct ldtap_exporter *exporter) {
    return pthread_mutex_init(&exporter->lock, NULL) == 0 && ldtap_monotonic_cond_init(&exporter->wake) &&
           ldtap_monotonic_cond_init(&exporter->progress);
}

static void free_exporter(struct ldtap_exporter *exporter) {
    ldtap_transport_close(exporter->delivery.transport);
    ldtap_buffer_free(&exporter->body);
    free(exporter->batch);
    free(exporter->slots);
    free(exporter->holds_resource);
    free(exporter);
}

struct ldtap_exporter *ldtap_exporter_start(const struct ldtap_exporter_config *config, char *error,
                                            size_t error_size) {
    struct ldtap_exporter *exporter = calloc(1, sizeof *exporter);
    if (!exporter || !init_sync(exporter)) {
        snprintf(error, error_size, "cannot start the span exporter: out of memory");
        free(exporter);
        return NULL;
    }
    exporter->protocol = config->protocol;
    exporter->delivery =
        LDTAP_DELIVERY_OF(exporter, or_default(config->timeout_ms, DEFAULT_TIMEOUT_MS), deadline_locked);
    exporter->capacity = or_default(config->max_queue_spans, DEFAULT_MAX_QUEUE_SPANS);
    exporter->max_batch_spans = or_default(config->max_batch_spans, DEFAULT_MAX_BATCH_SPANS);
    /* As the OTel batch processor does: a batch never exceeds the queue. */
    if (exporter->max_batch_spans > exporter->capacity) {
        exporter->max_batch_spans = exporter->capacity;
    }
    exporter->schedule_delay_ms = or_default(config->schedule_delay_ms, DEFAULT_SCHEDULE_DELAY_MS);
    ldtap_buffer_init(&exporter->body);
    exporter->slots = calloc(exporter->capacity, sizeof *exporter->slots);
    exporter->holds_resource = calloc(exporter->capacity, sizeof *exporter->holds_resource);
    exporter->batch = calloc(exporter->max_batch_spans, sizeof *exporter->batch);
    if (!exporter->slots || !exporter->holds_resource || !exporter->batch) {
        snprintf(error, error_size, "cannot allocate a span queue of %u spans", exporter->capacity);
        free_exporter(exporter);
        return NULL;
    }
    exporter->delivery.transport = ldtap_transport_open(config, error, error_size);
    if (!exporter->delivery.transport) {
        free_exporter(exporter);
        return NULL;
    }
    exporter->to_file = ldtap_transport_is_file(exporter->delivery.transport);
    int failed = ldtap_start_export_thread(&exporter->thread, export_thread, exporter);
    if (failed) {
        snprintf(error, error_size, "cannot start the span exporter thread: %s", strerror(failed));
        free_exporter(exporter);
        return NULL;
    }
    return exporter;
}

/* Only a span's used attributes and text are ever read, and most of its 3 KB is spare room:
 * copying the used parts alone halves what the export thread, on another CPU, must then
 * pull from this one's cache (the slot is written here and read there). */
static void copy_used_parts(struct ldtap_span *slot, const struct ldtap_span *span) {
    uint16_t attribute_count =
        span->attribute_count < LDTAP_SPAN_MAX_ATTRIBUTES ? span->attribute_count : LDTAP_SPAN_MAX_ATTRIBUTES;
    size_t text_used = span->text_used < sizeof span->text ? span->text_used : sizeof span->text;
    memcpy(slot, span, offsetof(struct ldtap_span, attributes));
    memcpy(slot->attributes, span->attributes, attribute_count * sizeof *span->attributes);
    memcpy(slot->text, span->text, text_used);
}

bool ldtap_exporter_enqueue(struct ldtap_exporter *exporter, struct ldtap_span *span) {
    pthread_mutex_lock(&exporter->lock);
    /* A file takes spans as fast as the thread encodes them, so rather than drop, the
     * drain waits for room (the rings buffer meanwhile): the queue's OTel default size is
     * then no bottleneck. A network backend can stall for seconds, so there a full queue
     * drops, and the drain keeps counting metrics. */
    if (exporter->to_file && exporter->count >= exporter->capacity && !exporter->stopping) {
        uint64_t give_up_ns = ldtap_monotonic_ns() + FILE_ROOM_WAIT_MS * LDTAP_NS_PER_MS;
        pthread_cond_signal(&exporter->wake);
        while (exporter->count >= exporter->capacity && ldtap_monotonic_ns() < give_up_ns) {
            ldtap_cond_wait_until(&exporter->progress, &exporter->lock, give_up_ns);
        }
    }
    if (exporter->count >= exporter->capacity) {
        exporter->stats.dropped_queue_full++;
        pthread_mutex_unlock(&exporter->lock);
        ldtap_claim_settle(&span->claim);
        return false;
    }
    uint32_t index = (exporter->head + exporter->count) % exporter->capacity;
    struct ldtap_span *slot = &exporter->slots[index];
    const struct ldtap_span *previous = &exporter->slots[(index + exporter->capacity - 1) % exporter->capacity];
    bool borrows = exporter->count > 0 && previous->resource == span->resource;
    copy_used_parts(slot, span);
    exporter->holds_resource[index] = !borrows;
    if (!borrows) {
        ldtap_resource_retain(slot->resource);
    }
    ldtap_span_events_retain(slot->events);
    span->claim = (struct ldtap_claim){0}; /* the slot's now */
    exporter->count++;
    __atomic_store_n(&exporter->full, exporter->count >= exporter->capacity, __ATOMIC_RELAXED);
    exporter->enqueued_sequence++;
    exporter->stats.enqueued_spans++;
    if (exporter->count >= exporter->max_batch_spans) {
        pthread_cond_signal(&exporter->wake);
    }
    pthread_mutex_unlock(&exporter->lock);
    return true;
}

bool ldtap_exporter_is_full(struct ldtap_exporter *exporter) {
    return __atomic_load_n(&exporter->full, __ATOMIC_RELAXED);
}

/* Asks the thread to resolve everything enqueued so far by `deadline_ms` from now. With
 * several flushes at once the earliest deadline applies to all of them. */
static uint64_t request_flush_locked(struct ldtap_exporter *exporter, uint32_t deadline_ms) {
    uint64_t deadline_ns = ldtap_monotonic_ns() + (uint64_t)deadline_ms * LDTAP_NS_PER_MS;
    if (exporter->flush_target < exporter->enqueued_sequence) {
        exporter->flush_target = exporter->enqueued_sequence;
    }
    if (exporter->deadline_ns == 0 || deadline_ns < exporter->deadline_ns) {
        exporter->deadline_ns = deadline_ns;
    }
    pthread_cond_signal(&exporter->wake);
    return deadline_ns;
}

void ldtap_exporter_flush(struct ldtap_exporter *exporter, uint32_t deadline_ms) {
    pthread_mutex_lock(&exporter->lock);
    uint64_t target = exporter->enqueued_sequence;
    if (exporter->done_sequence < target) {
        uint64_t deadline_ns = request_flush_locked(exporter, deadline_ms);
        /* The thread resolves the flush by the deadline (a request in flight is cut by its
         * timeout); the extra second only guards against a resolver that ignores it. */
        uint64_t give_up_ns = deadline_ns + 1000 * LDTAP_NS_PER_MS;
        while (exporter->done_sequence < target && ldtap_monotonic_ns() < give_up_ns) {
            ldtap_cond_wait_until(&exporter->progress, &exporter->lock, give_up_ns);
        }
    }
    pthread_mutex_unlock(&exporter->lock);
}

void ldtap_exporter_get_stats(struct ldtap_exporter *exporter, struct ldtap_export_stats *stats) {
    pthread_mutex_lock(&exporter->lock);
    *stats = exporter->stats;
    pthread_mutex_unlock(&exporter->lock);
}

void ldtap_exporter_stop(struct ldtap_exporter *exporter, uint32_t deadline_ms,
                         struct ldtap_export_stats *stats) {
    if (!exporter) {
        return;
    }
    pthread_mutex_lock(&exporter->lock);
    exporter->stopping = true;
    request_flush_locked(exporter, deadline_ms);
    pthread_mutex_unlock(&exporter->lock);
    pthread_join(exporter->thread, NULL);
    if (stats) {
        *stats = exporter->stats;
    }
    pthread_mutex_destroy(&exporter->lock);
    pthread_cond_destroy(&exporter->wake);
    pthread_cond_destroy(&exporter->progress);
    free_exporter(exporter);
}
