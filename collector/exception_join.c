/* Exception and crash reports joined to their server spans (see exception_join.h). Both
 * tables are small fixed arrays searched linearly: at most a few hundred compares per
 * server span, no hashing, no allocation except a held span's copy. */
#include "exception_join.h"

#include "exception_events.h"
#include "ldtap_ring_abi.h"

#include <stdlib.h>
#include <string.h>

/* First member of both tables' entries, so one search finds the oldest of either. */
struct age {
    uint64_t key; /* the span id's bytes; 0: free slot (span ids are never zero) */
    uint64_t since_ns;
};

struct pending_report {
    struct age age;
    struct ldtap_span_events *events;
};

struct held_span {
    struct age age;
    uint16_t record_flags;
    struct ldtap_span *span; /* a copy holding references on resource and events */
};

struct ldtap_exception_join {
    struct pending_report pending[LDTAP_EXCEPTION_JOIN_MAX_PENDING];
    struct held_span held[LDTAP_EXCEPTION_JOIN_MAX_HELD];
    uint64_t dropped;
};

static uint64_t key_of(const uint8_t span_id[8]) {
    uint64_t key;
    memcpy(&key, span_id, sizeof key);
    return key;
}

struct ldtap_exception_join *ldtap_exception_join_new(void) {
    return calloc(1, sizeof(struct ldtap_exception_join));
}

static void drop_pending(struct ldtap_exception_join *join, struct pending_report *report) {
    ldtap_span_events_release(report->events);
    *report = (struct pending_report){0};
    join->dropped++;
}

static void free_held(struct held_span *held) {
    ldtap_resource_release(held->span->resource);
    ldtap_span_events_release(held->span->events);
    free(held->span);
    *held = (struct held_span){0};
}

void ldtap_exception_join_free(struct ldtap_exception_join *join) {
    if (!join) {
        return;
    }
    for (size_t i = 0; i < LDTAP_EXCEPTION_JOIN_MAX_PENDING; i++) {
        ldtap_span_events_release(join->pending[i].events);
    }
    for (size_t i = 0; i < LDTAP_EXCEPTION_JOIN_MAX_HELD; i++) {
        if (join->held[i].age.key) {
            ldtap_claim_settle(&join->held[i].span->claim); /* never to be exported now */
            free_held(&join->held[i]);
        }
    }
    free(join);
}

uint64_t ldtap_exception_join_dropped(const struct ldtap_exception_join *join) {
    return join ? join->dropped : 0;
}

/* The span takes the report's reference; a report it has already is combined with it. */
static void attach(struct ldtap_span *span, struct ldtap_span_events *events) {
    span->events = ldtap_exception_events_combine(span->events, events);
    span->status_code = LDTAP_STATUS_ERROR;
}

/* Hands a held span to the sink, then forgets it (the sink copies what it keeps). */
static void emit_held(struct held_span *held, ldtap_span_sink *sink, void *context) {
    sink(context, held->span, held->record_flags);
    free_held(held);
}

/* The slot of the oldest entry of a table whose entries start with a struct age, or of a
 * free one (key 0) when there is one. */
static size_t oldest_or_free(const void *table, size_t entry_size, size_t count) {
    size_t result = 0;
    const struct age *oldest = table;
    for (size_t slot = 0; slot < count; slot++) {
        const struct age *entry = (const void *)((const char *)table + slot * entry_size);
        if (entry->key == 0) {
            return slot;
        }
        if (entry->since_ns < oldest->since_ns) {
            oldest = entry;
            result = slot;
        }
    }
    return result;
}

static bool hold(struct ldtap_exception_join *join, const struct ldtap_span *span, uint16_t record_flags,
                 uint64_t now_ns, ldtap_span_sink *sink, void *context) {
    struct ldtap_span *copy = malloc(sizeof *copy);
    if (!copy) {
        return false; /* out of memory: the span goes on without a report */
    }
    size_t slot = oldest_or_free(join->held, sizeof join->held[0], LDTAP_EXCEPTION_JOIN_MAX_HELD);
    if (join->held[slot].age.key) {
        emit_held(&join->held[slot], sink, context);
    }
    memcpy(copy, span, sizeof *copy);
    ldtap_resource_retain(copy->resource);
    ldtap_span_events_retain(copy->events);
    join->held[slot] = (struct held_span){{key_of(span->span_id), now_ns}, record_flags, copy};
    return true;
}

bool ldtap_exception_join_span(struct ldtap_exception_join *join, struct ldtap_span *span,
                               uint16_t record_flags, uint64_t now_ns, ldtap_span_sink *sink, void *context) {
    uint64_t key = key_of(span->span_id);
    if (!join || key == 0 || span->kind != LDTAP_SPAN_KIND_SERVER) {
        return false;
    }
    for (size_t i = 0; i < LDTAP_EXCEPTION_JOIN_MAX_PENDING; i++) {
        if (join->pending[i].age.key == key) {
            attach(span, join->pending[i].events);
            join->pending[i] = (struct pending_report){0};
            return false;
        }
    }
    return span->status_code == LDTAP_STATUS_ERROR && hold(join, span, record_flags, now_ns, sink, context);
}

void ldtap_exception_join_report(struct ldtap_exception_join *join, const uint8_t span_id[8],
                                 struct ldtap_span_events *events, uint64_t now_ns) {
    uint64_t key = key_of(span_id);
    if (!join || key == 0) {
        ldtap_span_events_release(events);
        return;
    }
    /* A held span keeps waiting until its hold is up: a chain's later parts (the
     * exception that propagated) may still come. */
    for (size_t i = 0; i < LDTAP_EXCEPTION_JOIN_MAX_HELD; i++) {
        struct held_span *held = &join->held[i];
        if (held->age.key == key) {
            attach(held->span, events);
            return;
        }
    }
    for (size_t i = 0; i < LDTAP_EXCEPTION_JOIN_MAX_PENDING; i++) {
        if (join->pending[i].age.key == key) {
            join->pending[i].events = ldtap_exception_events_combine(join->pending[i].events, events);
            return;
        }
    }
    size_t slot = oldest_or_free(join->pending, sizeof join->pending[0], LDTAP_EXCEPTION_JOIN_MAX_PENDING);
    if (join->pending[slot].age.key) {
        drop_pending(join, &join->pending[slot]);
    }
    join->pending[slot] = (struct pending_report){{key, now_ns}, events};
}

void ldtap_exception_join_expire(struct ldtap_exception_join *join, uint64_t now_ns, bool everything,
                                 ldtap_span_sink *sink, void *context) {
    if (!join) {
        return;
    }
    for (size_t i = 0; i < LDTAP_EXCEPTION_JOIN_MAX_HELD; i++) {
        struct held_span *held = &join->held[i];
        if (held->age.key && (everything || now_ns - held->age.since_ns >= LDTAP_EXCEPTION_JOIN_HOLD_NS)) {
            emit_held(held, sink, context);
        }
    }
    for (size_t i = 0; i < LDTAP_EXCEPTION_JOIN_MAX_PENDING; i++) {
        struct pending_report *report = &join->pending[i];
        if (report->age.key &&
            (everything || now_ns - report->age.since_ns >= LDTAP_EXCEPTION_JOIN_MAX_AGE_NS)) {
            drop_pending(join, report);
        }
    }
}
