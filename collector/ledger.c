/* The delivery ledger (see ledger.h): a queue of pinned record positions per ring, settled
 * from the exporter threads and released from the drain thread, under one lock. */
#include "ledger.h"

#include <pthread.h>
#include <stdlib.h>

#define INITIAL_CAPACITY 256u

struct pin {
    uint64_t position;
    bool settled;
};

struct ldtap_ledger {
    pthread_mutex_t lock;             /* guards everything below, and the reader */
    struct ldtap_ring_reader *reader; /* NULL once closed */
    uint64_t references;              /* the ring's (until closed) + one per claim out */
    struct pin *pins;                 /* circular, `capacity` a power of two */
    uint32_t capacity;
    uint32_t first; /* index of the oldest pin */
    uint32_t count;
    uint64_t first_sequence; /* sequence of the oldest pin; older claims are waived */
    uint64_t waived;
};

struct ldtap_ledger *ldtap_ledger_new(struct ldtap_ring_reader *reader) {
    struct ldtap_ledger *ledger = calloc(1, sizeof *ledger);
    if (!ledger || pthread_mutex_init(&ledger->lock, NULL) != 0) {
        free(ledger);
        return NULL;
    }
    ledger->reader = reader;
    ledger->references = 1;
    reader->defer_release = true;
    return ledger;
}

static struct pin *pin_at(struct ldtap_ledger *ledger, uint64_t sequence) {
    return &ledger->pins[(ledger->first + (sequence - ledger->first_sequence)) & (ledger->capacity - 1)];
}

static void drop_oldest_locked(struct ldtap_ledger *ledger) {
    ledger->first = (ledger->first + 1) & (ledger->capacity - 1);
    ledger->first_sequence++;
    ledger->count--;
}

/* Gives producers everything before the oldest unsettled pin (all that was read, if none). */
static void release_locked(struct ldtap_ledger *ledger) {
    while (ledger->count && ledger->pins[ledger->first].settled) {
        drop_oldest_locked(ledger);
    }
    struct ldtap_ring_reader *reader = ledger->reader;
    if (reader) {
        ldtap_ring_reader_release(reader, ledger->count ? ledger->pins[ledger->first].position
                                                        : reader->read_position);
    }
}

/* Past half the ring held back, producers would soon find it full: the oldest pins let go
 * until a quarter is held. Their spans are still queued for delivery. */
static void relieve_pressure_locked(struct ldtap_ledger *ledger) {
    struct ldtap_ring_reader *reader = ledger->reader;
    if (!ledger->count || reader->read_position - reader->tail <= reader->data_size / 2) {
        return;
    }
    uint64_t keep_from = reader->read_position - reader->data_size / 4;
    while (ledger->count && ledger->pins[ledger->first].position < keep_from) {
        ledger->waived += !ledger->pins[ledger->first].settled;
        drop_oldest_locked(ledger);
    }
    release_locked(ledger);
}

static bool grow_locked(struct ldtap_ledger *ledger) {
    uint32_t capacity = ledger->capacity ? ledger->capacity * 2 : INITIAL_CAPACITY;
    struct pin *pins = malloc(capacity * sizeof *pins);
    if (!pins) {
        return false;
    }
    for (uint32_t i = 0; i < ledger->count; i++) {
        pins[i] = ledger->pins[(ledger->first + i) & (ledger->capacity - 1)];
    }
    free(ledger->pins);
    ledger->pins = pins;
    ledger->capacity = capacity;
    ledger->first = 0;
    return true;
}

static struct ldtap_claim pin_locked(struct ldtap_ledger *ledger, uint64_t position) {
    if (ledger->count == ledger->capacity && !grow_locked(ledger)) {
        return (struct ldtap_claim){0};
    }
    uint64_t sequence = ledger->first_sequence + ledger->count;
    ledger->count++;
    *pin_at(ledger, sequence) = (struct pin){.position = position, .settled = false};
    ledger->references++;
    return (struct ldtap_claim){ledger, sequence};
}

enum ldtap_ring_read_status ldtap_ledger_next(struct ldtap_ledger *ledger, struct ldtap_ring_record *record,
                                              bool writer_alive, uint64_t now_ns, struct ldtap_claim *claim) {
    *claim = (struct ldtap_claim){0};
    pthread_mutex_lock(&ledger->lock);
    enum ldtap_ring_read_status status = LDTAP_RING_READ_CORRUPT;
    if (ledger->reader) {
        status = ldtap_ring_reader_next(ledger->reader, record, writer_alive, now_ns);
        if (status == LDTAP_RING_READ_RECORD) {
            *claim = pin_locked(ledger, record->position);
        }
        if (status != LDTAP_RING_READ_CORRUPT) {
            release_locked(ledger); /* skipped records, or one that could not be pinned */
            relieve_pressure_locked(ledger);
        }
    }
    pthread_mutex_unlock(&ledger->lock);
    return status;
}

static void free_ledger(struct ldtap_ledger *ledger) {
    pthread_mutex_destroy(&ledger->lock);
    free(ledger->pins);
    free(ledger);
}

void ldtap_claim_settle(struct ldtap_claim *claim) {
    struct ldtap_ledger *ledger = claim->ledger;
    if (!ledger) {
        return;
    }
    claim->ledger = NULL;
    pthread_mutex_lock(&ledger->lock);
    if (claim->sequence >= ledger->first_sequence) { /* else waived: its pin is gone */
        pin_at(ledger, claim->sequence)->settled = true;
        release_locked(ledger);
    }
    bool last = --ledger->references == 0;
    pthread_mutex_unlock(&ledger->lock);
    if (last) {
        free_ledger(ledger);
    }
}

/* Marks the claims from `*at` that are on `ledger` (or zero) settled, up to the first on
 * another ledger; returns how many references they held. Called with the lock held. */
static uint64_t settle_run_locked(struct ldtap_ledger *ledger, struct ldtap_claim *const *claims, size_t count,
                                  size_t *at) {
    uint64_t settled = 0;
    for (; *at < count && (claims[*at]->ledger == ledger || claims[*at]->ledger == NULL); (*at)++) {
        struct ldtap_claim *claim = claims[*at];
        if (!claim->ledger) {
            continue;
        }
        claim->ledger = NULL;
        if (claim->sequence >= ledger->first_sequence) { /* else waived: its pin is gone */
            pin_at(ledger, claim->sequence)->settled = true;
        }
        settled++;
    }
    return settled;
}

void ldtap_claims_settle(struct ldtap_claim *const *claims, size_t count) {
    size_t at = 0;
    while (at < count) {
        struct ldtap_ledger *ledger = claims[at]->ledger;
        if (!ledger) {
            at++;
            continue;
        }
        pthread_mutex_lock(&ledger->lock);
        uint64_t settled = settle_run_locked(ledger, claims, count, &at);
        release_locked(ledger); /* once for the run: it frees every settled pin at the front */
        ledger->references -= settled;
        bool last = ledger->references == 0;
        pthread_mutex_unlock(&ledger->lock);
        if (last) {
            free_ledger(ledger);
        }
    }
}

bool ldtap_ledger_is_read(struct ldtap_ledger *ledger) {
    pthread_mutex_lock(&ledger->lock);
    bool read = !ledger->reader || ldtap_ring_reader_is_read(ledger->reader);
    pthread_mutex_unlock(&ledger->lock);
    return read;
}

bool ldtap_ledger_is_empty(struct ldtap_ledger *ledger) {
    pthread_mutex_lock(&ledger->lock);
    bool empty = !ledger->reader || ldtap_ring_reader_is_empty(ledger->reader);
    pthread_mutex_unlock(&ledger->lock);
    return empty;
}

uint64_t ldtap_ledger_backlog_bytes(struct ldtap_ledger *ledger, uint64_t *data_size) {
    pthread_mutex_lock(&ledger->lock);
    uint64_t backlog = 0;
    *data_size = 0;
    if (ledger->reader) {
        /* head is the producers' (untrusted): a wrong value only changes when we read. */
        backlog = __atomic_load_n(&ledger->reader->header->head, __ATOMIC_ACQUIRE) - ledger->reader->tail;
        *data_size = ledger->reader->data_size;
    }
    pthread_mutex_unlock(&ledger->lock);
    return backlog;
}

uint64_t ldtap_ledger_waived(struct ldtap_ledger *ledger) {
    pthread_mutex_lock(&ledger->lock);
    uint64_t waived = ledger->waived;
    pthread_mutex_unlock(&ledger->lock);
    return waived;
}

void ldtap_ledger_close(struct ldtap_ledger *ledger) {
    if (!ledger) {
        return;
    }
    pthread_mutex_lock(&ledger->lock);
    if (ledger->reader) {
        ldtap_ring_reader_close(ledger->reader);
        ledger->reader = NULL;
    }
    bool last = --ledger->references == 0;
    pthread_mutex_unlock(&ledger->lock);
    if (last) {
        free_ledger(ledger);
    }
}
