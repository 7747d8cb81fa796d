/* The span exporter: a bounded queue filled by the drain loop and one background thread
 * that batches, encodes, and delivers with retries (see exporter.h for the contract).
 * The queue is a ring of span copies; the batch being exported stays in its slots until
 * it is resolved, so in-flight spans count against max_queue_spans and are never copied
 * twice. Invariant once stopped: enqueued = exported + dropped_after_retries. */
#include "exporter.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buffer.h"
#include "export_transport.h"
#include "otlp_json.h"
#include "otlp_protobuf.h"

#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_MAX_QUEUE_SPANS 2048u
#define DEFAULT_MAX_BATCH_SPANS 512u
#define DEFAULT_SCHEDULE_DELAY_MS 5000u
/* Retries of one batch stop this long after its first attempt. */
#define RETRY_WINDOW_MS (5u * 60u * 1000u)
#define BACKOFF_INITIAL_MS 1000u
#define BACKOFF_MAX_MS 30000u
#define RETRY_MIN_DELAY_MS 100u
#define NS_PER_MS 1000000ull

struct ldtap_exporter {
    struct ldtap_transport *transport;
    enum ldtap_otlp_protocol protocol;
    uint32_t timeout_ms;
    uint32_t max_batch_spans;
    uint32_t schedule_delay_ms;

    pthread_mutex_t lock;     /* guards everything down to `stats` */
    pthread_cond_t wake;      /* the thread: a full batch, a flush, a stop */
    pthread_cond_t progress;  /* flush callers: done_sequence moved */
    struct ldtap_span *slots; /* ring of `capacity` spans */
    uint32_t capacity;
    uint32_t head;              /* oldest queued span */
    uint32_t count;             /* queued spans, the in-flight batch included */
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
    unsigned int jitter_seed;
};

static uint64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* Waits on `condition` until `when_ns` at the latest (0: no limit). */
static void wait_until(pthread_cond_t *condition, pthread_mutex_t *lock, uint64_t when_ns) {
    if (when_ns == 0) {
        pthread_cond_wait(condition, lock);
        return;
    }
    struct timespec until = {.tv_sec = (time_t)(when_ns / 1000000000ull), .tv_nsec = (long)(when_ns % 1000000000ull)};
    pthread_cond_timedwait(condition, lock, &until);
}

static void set_last_error_locked(struct ldtap_exporter *exporter, const char *message) {
    snprintf(exporter->stats.last_error, sizeof exporter->stats.last_error, "%s", message);
}

/* Releases the `count` oldest queued spans as resolved. Called with the lock held. */
static void retire_spans_locked(struct ldtap_exporter *exporter, uint32_t count, bool exported) {
    for (uint32_t i = 0; i < count; i++) {
        struct ldtap_span *span = &exporter->slots[(exporter->head + i) % exporter->capacity];
        ldtap_resource_release(span->resource);
        span->resource = NULL;
    }
    exporter->head = (exporter->head + count) % exporter->capacity;
    exporter->count -= count;
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

static uint64_t backoff_ms(struct ldtap_exporter *exporter, unsigned attempt) {
    uint64_t delay = BACKOFF_INITIAL_MS;
    for (unsigned i = 0; i < attempt && delay < BACKOFF_MAX_MS; i++) {
        delay *= 2;
    }
    if (delay > BACKOFF_MAX_MS) {
        delay = BACKOFF_MAX_MS;
    }
    /* +-20% jitter so many collectors restarted together do not retry in step. */
    double factor = 0.8 + 0.4 * ((double)rand_r(&exporter->jitter_seed) / RAND_MAX);
    return (uint64_t)((double)delay * factor);
}

/* Sleeps until `wake_ns` unless a flush or stop deadline falls first: false means give up. */
static bool backoff_wait(struct ldtap_exporter *exporter, uint64_t wake_ns) {
    bool keep_going = true;
    pthread_mutex_lock(&exporter->lock);
    for (;;) {
        if (exporter->deadline_ns && wake_ns >= exporter->deadline_ns) {
            keep_going = false;
            break;
        }
        if (monotonic_ns() >= wake_ns) {
            break;
        }
        wait_until(&exporter->wake, &exporter->lock, wake_ns);
    }
    if (keep_going) {
        exporter->stats.retried_requests++;
    }
    pthread_mutex_unlock(&exporter->lock);
    return keep_going;
}

static void record_failure(struct ldtap_exporter *exporter, const char *message) {
    pthread_mutex_lock(&exporter->lock);
    exporter->stats.failed_requests++;
    set_last_error_locked(exporter, message);
    pthread_mutex_unlock(&exporter->lock);
}

/* Delivers the encoded body, retrying retryable failures; true when it was accepted. */
static bool deliver(struct ldtap_exporter *exporter) {
    uint64_t first_attempt_ns = monotonic_ns();
    char message[sizeof exporter->stats.last_error];
    for (unsigned attempt = 0;; attempt++) {
        uint32_t timeout_ms = exporter->timeout_ms;
        pthread_mutex_lock(&exporter->lock);
        uint64_t deadline_ns = exporter->deadline_ns;
        pthread_mutex_unlock(&exporter->lock);
        if (deadline_ns) {
            uint64_t now = monotonic_ns();
            if (now >= deadline_ns) {
                record_failure(exporter, "flush deadline reached before the batch could be sent");
                return false;
            }
            uint64_t left_ms = (deadline_ns - now + NS_PER_MS - 1) / NS_PER_MS;
            if (left_ms < timeout_ms) {
                timeout_ms = (uint32_t)left_ms;
            }
        }
        int64_t retry_after_ms;
        enum ldtap_send_result result = ldtap_transport_send(exporter->transport, exporter->body.data,
                                                             exporter->body.length, timeout_ms, &retry_after_ms,
                                                             message, sizeof message);
        if (result == LDTAP_SEND_OK) {
            return true;
        }
        record_failure(exporter, message);
        if (result == LDTAP_SEND_FATAL) {
            return false;
        }
        uint64_t delay_ms = retry_after_ms >= 0 ? (uint64_t)retry_after_ms : backoff_ms(exporter, attempt);
        if (delay_ms < RETRY_MIN_DELAY_MS) {
            delay_ms = RETRY_MIN_DELAY_MS; /* "Retry-After: 0" must not become a busy loop */
        }
        uint64_t wake_ns = monotonic_ns() + delay_ms * NS_PER_MS;
        if (wake_ns > first_attempt_ns + RETRY_WINDOW_MS * NS_PER_MS || !backoff_wait(exporter, wake_ns)) {
            return false; /* last_error keeps the final failure */
        }
    }
}

static bool export_batch(struct ldtap_exporter *exporter, uint32_t count) {
    const struct ldtap_span *const *spans = exporter->batch;
    ldtap_buffer_reset(&exporter->body);
    bool json = exporter->protocol == LDTAP_OTLP_HTTP_JSON || ldtap_transport_is_file(exporter->transport);
    bool encoded = json ? ldtap_otlp_json_encode(&exporter->body, spans, count)
                        : ldtap_otlp_protobuf_encode(&exporter->body, spans, count);
    if (!encoded) {
        record_failure(exporter, "out of memory while encoding a batch");
        return false;
    }
    return deliver(exporter);
}

static void *export_thread(void *argument) {
    struct ldtap_exporter *exporter = argument;
    pthread_mutex_lock(&exporter->lock);
    uint64_t next_export_ns = monotonic_ns() + exporter->schedule_delay_ms * NS_PER_MS;
    for (;;) {
        uint64_t now = monotonic_ns();
        if (exporter->deadline_ns && now >= exporter->deadline_ns) {
            drop_past_deadline_locked(exporter);
        }
        if (exporter->count == 0) {
            if (exporter->stopping) {
                break;
            }
            if (now >= next_export_ns) {
                next_export_ns = now + exporter->schedule_delay_ms * NS_PER_MS;
            }
            /* Timed, because enqueue only signals a full batch. */
            wait_until(&exporter->wake, &exporter->lock, next_export_ns);
            continue;
        }
        bool urgent = exporter->count >= exporter->max_batch_spans || exporter->stopping ||
                      exporter->flush_target > exporter->done_sequence;
        if (!urgent && now < next_export_ns) {
            wait_until(&exporter->wake, &exporter->lock, next_export_ns);
            continue;
        }
        uint32_t count = exporter->count < exporter->max_batch_spans ? exporter->count : exporter->max_batch_spans;
        for (uint32_t i = 0; i < count; i++) {
            exporter->batch[i] = &exporter->slots[(exporter->head + i) % exporter->capacity];
        }
        pthread_mutex_unlock(&exporter->lock);
        bool exported = export_batch(exporter, count);
        pthread_mutex_lock(&exporter->lock);
        retire_spans_locked(exporter, count, exported);
        next_export_ns = monotonic_ns() + exporter->schedule_delay_ms * NS_PER_MS;
    }
    pthread_mutex_unlock(&exporter->lock);
    return NULL;
}

static uint32_t or_default(uint32_t value, uint32_t fallback) {
    return value ? value : fallback;
}

static bool init_sync(struct ldtap_exporter *exporter) {
    pthread_condattr_t attributes;
    if (pthread_condattr_init(&attributes) != 0) {
        return false;
    }
    /* Timed waits use CLOCK_MONOTONIC so a wall-clock step cannot stall a batch. */
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    bool ok = pthread_mutex_init(&exporter->lock, NULL) == 0 &&
              pthread_cond_init(&exporter->wake, &attributes) == 0 &&
              pthread_cond_init(&exporter->progress, &attributes) == 0;
    pthread_condattr_destroy(&attributes);
    return ok;
}

static void free_exporter(struct ldtap_exporter *exporter) {
    ldtap_transport_close(exporter->transport);
    ldtap_buffer_free(&exporter->body);
    free(exporter->batch);
    free(exporter->slots);
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
    exporter->timeout_ms = or_default(config->timeout_ms, DEFAULT_TIMEOUT_MS);
    exporter->capacity = or_default(config->max_queue_spans, DEFAULT_MAX_QUEUE_SPANS);
    exporter->max_batch_spans = or_default(config->max_batch_spans, DEFAULT_MAX_BATCH_SPANS);
    /* As the OTel batch processor does: a batch never exceeds the queue. */
    if (exporter->max_batch_spans > exporter->capacity) {
        exporter->max_batch_spans = exporter->capacity;
    }
    exporter->schedule_delay_ms = or_default(config->schedule_delay_ms, DEFAULT_SCHEDULE_DELAY_MS);
    exporter->jitter_seed = (unsigned)monotonic_ns() ^ (unsigned)(uintptr_t)exporter;
    ldtap_buffer_init(&exporter->body);
    exporter->slots = calloc(exporter->capacity, sizeof *exporter->slots);
    exporter->batch = calloc(exporter->max_batch_spans, sizeof *exporter->batch);
    if (!exporter->slots || !exporter->batch) {
        snprintf(error, error_size, "cannot allocate a span queue of %u spans", exporter->capacity);
        free_exporter(exporter);
        return NULL;
    }
    exporter->transport = ldtap_transport_open(config, error, error_size);
    if (!exporter->transport) {
        free_exporter(exporter);
        return NULL;
    }
    /* The thread must not take the process's signals (ldtap run forwards them to CMD). */
    sigset_t all_signals, previous;
    sigfillset(&all_signals);
    pthread_sigmask(SIG_SETMASK, &all_signals, &previous);
    int failed = pthread_create(&exporter->thread, NULL, export_thread, exporter);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (failed) {
        snprintf(error, error_size, "cannot start the span exporter thread: %s", strerror(failed));
        free_exporter(exporter);
        return NULL;
    }
    return exporter;
}

bool ldtap_exporter_enqueue(struct ldtap_exporter *exporter, const struct ldtap_span *span) {
    pthread_mutex_lock(&exporter->lock);
    if (exporter->count >= exporter->capacity) {
        exporter->stats.dropped_queue_full++;
        pthread_mutex_unlock(&exporter->lock);
        return false;
    }
    struct ldtap_span *slot = &exporter->slots[(exporter->head + exporter->count) % exporter->capacity];
    memcpy(slot, span, sizeof *slot);
    ldtap_resource_retain(slot->resource);
    exporter->count++;
    exporter->enqueued_sequence++;
    exporter->stats.enqueued_spans++;
    if (exporter->count >= exporter->max_batch_spans) {
        pthread_cond_signal(&exporter->wake);
    }
    pthread_mutex_unlock(&exporter->lock);
    return true;
}

/* Asks the thread to resolve everything enqueued so far by `deadline_ms` from now. With
 * several flushes at once the earliest deadline applies to all of them. */
static uint64_t request_flush_locked(struct ldtap_exporter *exporter, uint32_t deadline_ms) {
    uint64_t deadline_ns = monotonic_ns() + (uint64_t)deadline_ms * NS_PER_MS;
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
        uint64_t give_up_ns = deadline_ns + 1000 * NS_PER_MS;
        while (exporter->done_sequence < target && monotonic_ns() < give_up_ns) {
            wait_until(&exporter->progress, &exporter->lock, give_up_ns);
        }
    }
    pthread_mutex_unlock(&exporter->lock);
}

void ldtap_exporter_get_stats(struct ldtap_exporter *exporter, struct ldtap_export_stats *stats) {
    pthread_mutex_lock(&exporter->lock);
    *stats = exporter->stats;
    pthread_mutex_unlock(&exporter->lock);
}

void ldtap_exporter_stop(struct ldtap_exporter *exporter, uint32_t deadline_ms, struct ldtap_export_stats *stats) {
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
