/* Clock, thread and retry plumbing shared by exporter.c (spans), log_exporter.c and
 * metrics_exporter.c. */
#include "export_common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Retries of one request stop this long after its first attempt. */
#define RETRY_WINDOW_MS (5u * 60u * 1000u)
#define BACKOFF_INITIAL_MS 1000u
#define BACKOFF_MAX_MS 30000u
#define RETRY_MIN_DELAY_MS 100u
#define MESSAGE_BYTES 256

bool ldtap_monotonic_cond_init(pthread_cond_t *condition) {
    pthread_condattr_t attributes;
    if (pthread_condattr_init(&attributes) != 0) {
        return false;
    }
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    bool ok = pthread_cond_init(condition, &attributes) == 0;
    pthread_condattr_destroy(&attributes);
    return ok;
}

void ldtap_cond_wait_until(pthread_cond_t *condition, pthread_mutex_t *lock, uint64_t when_ns) {
    if (when_ns == 0) {
        pthread_cond_wait(condition, lock);
        return;
    }
    struct timespec until = {.tv_sec = (time_t)(when_ns / 1000000000ull), .tv_nsec = (long)(when_ns % 1000000000ull)};
    pthread_cond_timedwait(condition, lock, &until);
}

/* Under the owner's lock, sleeps until `wake_ns` unless the owner's deadline falls first
 * (re-read after every wake). False means give up; true counts the retry. */
static bool wait_to_retry(struct ldtap_delivery *delivery, uint64_t wake_ns) {
    bool keep_going = true;
    pthread_mutex_lock(delivery->lock);
    while (keep_going && ldtap_monotonic_ns() < wake_ns) {
        uint64_t deadline_ns = delivery->deadline_locked(delivery->owner);
        keep_going = !deadline_ns || wake_ns < deadline_ns;
        if (keep_going) {
            ldtap_cond_wait_until(delivery->wake, delivery->lock, wake_ns);
        }
    }
    *delivery->retried_requests += keep_going;
    pthread_mutex_unlock(delivery->lock);
    return keep_going;
}

static uint64_t current_deadline(struct ldtap_delivery *delivery) {
    pthread_mutex_lock(delivery->lock);
    uint64_t deadline_ns = delivery->deadline_locked(delivery->owner);
    pthread_mutex_unlock(delivery->lock);
    return deadline_ns;
}

void ldtap_delivery_failed(struct ldtap_delivery *delivery, const char *message) {
    pthread_mutex_lock(delivery->lock);
    (*delivery->failed_requests)++;
    snprintf(delivery->last_error, delivery->last_error_size, "%s", message);
    pthread_mutex_unlock(delivery->lock);
}

unsigned int ldtap_jitter_seed(const void *owner) {
    return (unsigned)ldtap_monotonic_ns() ^ (unsigned)(uintptr_t)owner;
}

int ldtap_start_export_thread(pthread_t *thread, void *(*run)(void *), void *argument) {
    sigset_t all_signals, previous;
    sigfillset(&all_signals);
    pthread_sigmask(SIG_SETMASK, &all_signals, &previous);
    int failed = pthread_create(thread, NULL, run, argument);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return failed;
}

static uint64_t backoff_ms(unsigned int *jitter_seed, unsigned attempt) {
    uint64_t delay = BACKOFF_INITIAL_MS;
    for (unsigned i = 0; i < attempt && delay < BACKOFF_MAX_MS; i++) {
        delay *= 2;
    }
    if (delay > BACKOFF_MAX_MS) {
        delay = BACKOFF_MAX_MS;
    }
    /* +-20% jitter so many collectors restarted together do not retry in step. */
    double factor = 0.8 + 0.4 * ((double)rand_r(jitter_seed) / RAND_MAX);
    return (uint64_t)((double)delay * factor);
}

bool ldtap_deliver(struct ldtap_delivery *delivery, const uint8_t *body, size_t length) {
    uint64_t first_attempt_ns = ldtap_monotonic_ns();
    char message[MESSAGE_BYTES];
    for (unsigned attempt = 0;; attempt++) {
        uint32_t timeout_ms = delivery->timeout_ms;
        uint64_t deadline_ns = current_deadline(delivery);
        if (deadline_ns) {
            uint64_t now = ldtap_monotonic_ns();
            if (now >= deadline_ns) {
                ldtap_delivery_failed(delivery, "deadline reached before the request could be sent");
                return false;
            }
            uint64_t left_ms = (deadline_ns - now + LDTAP_NS_PER_MS - 1) / LDTAP_NS_PER_MS;
            if (left_ms < timeout_ms) {
                timeout_ms = (uint32_t)left_ms;
            }
        }
        int64_t retry_after_ms;
        enum ldtap_send_result result = ldtap_transport_send(delivery->transport, body, length, timeout_ms,
                                                             &retry_after_ms, message, sizeof message);
        if (result == LDTAP_SEND_OK) {
            return true;
        }
        ldtap_delivery_failed(delivery, message);
        if (result == LDTAP_SEND_FATAL) {
            return false;
        }
        uint64_t delay_ms =
            retry_after_ms >= 0 ? (uint64_t)retry_after_ms : backoff_ms(&delivery->jitter_seed, attempt);
        if (delay_ms < RETRY_MIN_DELAY_MS) {
            delay_ms = RETRY_MIN_DELAY_MS; /* "Retry-After: 0" must not become a busy loop */
        }
        uint64_t wake_ns = ldtap_monotonic_ns() + delay_ms * LDTAP_NS_PER_MS;
        if (wake_ns > first_attempt_ns + RETRY_WINDOW_MS * LDTAP_NS_PER_MS ||
            !wait_to_retry(delivery, wake_ns)) {
            return false; /* the owner's last error keeps the final failure */
        }
    }
}
