/* What the span, logs and metrics exporter threads share: the monotonic clock, timed condition
 * waits, threads that never take the process's signals, and the retry policy for one
 * encoded request (exponential backoff with jitter, Retry-After, a retry window). */
#ifndef LDTAP_EXPORT_COMMON_H
#define LDTAP_EXPORT_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "export_transport.h"

#define LDTAP_NS_PER_MS 1000000ull

/* A condition variable whose timed waits use CLOCK_MONOTONIC, so a wall-clock step cannot
 * stall an exporter. False on failure. */
bool ldtap_monotonic_cond_init(pthread_cond_t *condition);
/* Waits on `condition` until `when_ns` (monotonic) at the latest; 0: no limit. */
void ldtap_cond_wait_until(pthread_cond_t *condition, pthread_mutex_t *lock, uint64_t when_ns);
/* pthread_create with every signal blocked in the thread (ldtap run forwards signals to
 * CMD and must be the one to get them). Returns pthread_create's error. */
int ldtap_start_export_thread(pthread_t *thread, void *(*run)(void *), void *argument);

/* One exporter's delivery of encoded requests: its transport and retry state, and where
 * in the owner (under the owner's lock) deadlines are read and failures are counted.
 * Filled once when the exporter starts; used only by its export thread. */
struct ldtap_delivery {
    struct ldtap_transport *transport;
    uint32_t timeout_ms;      /* per attempt, cut to what the deadline leaves */
    unsigned int jitter_seed; /* rand_r state */
    pthread_mutex_t *lock;    /* the owner's: guards everything the members below reach */
    pthread_cond_t *wake;     /* signalled by the owner to cut a retry wait short */
    const void *owner;
    /* The monotonic deadline in force now (a flush, a stop, an export timeout); 0: none.
     * Called with `lock` held; read again after every wake, since a stop can bring it
     * forward. */
    uint64_t (*deadline_locked)(const void *owner);
    uint64_t *failed_requests;  /* attempts that failed, retried or not */
    uint64_t *retried_requests; /* retries actually waited for */
    char *last_error;
    size_t last_error_size;
};

/* The delivery of an exporter struct whose members are named lock, wake and stats (with
 * failed_requests, retried_requests and last_error[]): every exporter fills it alike. */
#define LDTAP_DELIVERY_OF(exporter, timeout, deadline_hook)                                          \
    ((struct ldtap_delivery){                                                                        \
        .timeout_ms = (timeout),                                                                     \
        .jitter_seed = ldtap_jitter_seed(exporter),                                                  \
        .lock = &(exporter)->lock,                                                                   \
        .wake = &(exporter)->wake,                                                                   \
        .owner = (exporter),                                                                         \
        .deadline_locked = (deadline_hook),                                                          \
        .failed_requests = &(exporter)->stats.failed_requests,                                       \
        .retried_requests = &(exporter)->stats.retried_requests,                                     \
        .last_error = (exporter)->stats.last_error,                                                  \
        .last_error_size = sizeof (exporter)->stats.last_error,                                      \
    })

/* A jitter seed that differs between exporters and runs. */
unsigned int ldtap_jitter_seed(const void *owner);

/* Under the owner's lock, counts one failed attempt and keeps `message` as the last error. */
void ldtap_delivery_failed(struct ldtap_delivery *delivery, const char *message);

/* Sends `body`, retrying 429/502/503/504 and network errors (honouring Retry-After) for at
 * most five minutes after the first attempt and never past the owner's deadline; true
 * when it was accepted. */
bool ldtap_deliver(struct ldtap_delivery *delivery, const uint8_t *body, size_t length);

#endif
