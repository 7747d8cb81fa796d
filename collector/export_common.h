/* What the span and metrics exporter threads share: the monotonic clock, timed condition
 * waits, threads that never take the process's signals, and the retry policy for one
 * encoded request (exponential backoff with jitter, Retry-After, a retry window). */
#ifndef LDTAP_EXPORT_COMMON_H
#define LDTAP_EXPORT_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export_transport.h"

#define LDTAP_NS_PER_MS 1000000ull

uint64_t ldtap_monotonic_ns(void);
/* A condition variable whose timed waits use CLOCK_MONOTONIC, so a wall-clock step cannot
 * stall an exporter. False on failure. */
bool ldtap_monotonic_cond_init(pthread_cond_t *condition);
/* Waits on `condition` until `when_ns` (monotonic) at the latest; 0: no limit. */
void ldtap_cond_wait_until(pthread_cond_t *condition, pthread_mutex_t *lock, uint64_t when_ns);
/* pthread_create with every signal blocked in the thread (ldtap run forwards signals to
 * CMD and must be the one to get them). Returns pthread_create's error. */
int ldtap_start_export_thread(pthread_t *thread, void *(*run)(void *), void *argument);

/* Bodies for the ldtap_delivery hooks below, shared by exporters whose stats are of
 * different types: each passes its own lock, condition and counters. */
/* Under `lock`, sleeps on `wake` until `wake_ns` unless the owner's deadline (read by
 * `deadline_locked` with the lock held, 0: none) falls first; a stop arriving during the
 * wait can bring the deadline forward, so it is read again after every wake. False means
 * give up; true counts the retry in *retried_requests. */
bool ldtap_wait_to_retry(pthread_mutex_t *lock, pthread_cond_t *wake, uint64_t wake_ns,
                         uint64_t (*deadline_locked)(const void *owner), const void *owner,
                         uint64_t *retried_requests);
/* Under `lock`, counts one failed attempt and keeps `message` as the last error. */
void ldtap_record_failure(pthread_mutex_t *lock, uint64_t *failed_requests, char *last_error,
                          size_t last_error_size, const char *message);

/* One request's delivery, with hooks into its owner (which holds the lock and stats). */
struct ldtap_delivery {
    struct ldtap_transport *transport;
    uint32_t timeout_ms;       /* per attempt, cut to what the deadline leaves */
    unsigned int *jitter_seed; /* rand_r state, touched only by the owner's thread */
    void *owner;
    /* The monotonic deadline in force now (a flush, a stop, an export timeout); 0: none. */
    uint64_t (*deadline_ns)(void *owner);
    /* Sleeps until `wake_ns` unless a deadline falls first or cuts the wait: false means
     * give up. Counts the retry when it returns true. */
    bool (*wait_to_retry)(void *owner, uint64_t wake_ns);
    /* One attempt failed with `message`. */
    void (*failed)(void *owner, const char *message);
};

/* Sends `body`, retrying 429/502/503/504 and network errors (honouring Retry-After) for at
 * most five minutes after the first attempt; true when it was accepted. */
bool ldtap_deliver(const struct ldtap_delivery *delivery, const uint8_t *body, size_t length);

#endif
