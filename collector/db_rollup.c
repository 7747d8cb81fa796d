/* Per-request database rollups: an open-addressing table (linear probing, backward-shift
 * deletion) from parent span id to query count and time, bounded in size and age. */
#include "db_rollup.h"

#include <stdlib.h>
#include <string.h>

#include "ldtap_ring_abi.h"

/* Twice the entries: probes stay short at a load factor of one half. */
#define SLOT_COUNT (2u * LDTAP_DB_ROLLUP_MAX_ENTRIES)
#define SLOT_MASK (SLOT_COUNT - 1u)
#define SWEEP_INTERVAL_NS (60ull * 1000000000)

_Static_assert((SLOT_COUNT & SLOT_MASK) == 0, "slot count must be a power of two");

struct entry {
    uint64_t key; /* the parent span id's bytes; 0: empty (a parent id is never all zero) */
    uint64_t last_seen_ns;
    uint64_t duration_ns;
    uint64_t count;
};

struct ldtap_db_rollup {
    uint32_t used;
    uint64_t evictions;
    uint64_t last_sweep_ns;
    struct entry slots[SLOT_COUNT];
};

struct ldtap_db_rollup *ldtap_db_rollup_new(void) {
    return calloc(1, sizeof(struct ldtap_db_rollup));
}

void ldtap_db_rollup_free(struct ldtap_db_rollup *rollup) {
    free(rollup);
}

uint64_t ldtap_db_rollup_evictions(const struct ldtap_db_rollup *rollup) {
    return rollup ? rollup->evictions : 0;
}

static uint64_t key_of(const uint8_t span_id[8]) {
    uint64_t key;
    memcpy(&key, span_id, sizeof key);
    return key;
}

/* Span ids are random but come from a hostile ring: mix anyway. */
static size_t home_slot(uint64_t key) {
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & SLOT_MASK;
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t find_slot(const struct ldtap_db_rollup *rollup, uint64_t key) {
    size_t slot = home_slot(key);
    while (rollup->slots[slot].key != 0 && rollup->slots[slot].key != key) {
        slot = (slot + 1) & SLOT_MASK;
    }
    return slot;
}

/* Empties `slot` and moves later entries of its probe run back so lookups still find them. */
static void remove_slot(struct ldtap_db_rollup *rollup, size_t slot) {
    size_t hole = slot;
    size_t next = slot;
    for (;;) {
        rollup->slots[hole].key = 0;
        for (;;) {
            next = (next + 1) & SLOT_MASK;
            if (rollup->slots[next].key == 0) {
                rollup->used--;
                return;
            }
            size_t home = home_slot(rollup->slots[next].key);
            /* The entry may fill the hole unless its home lies cyclically in (hole, next]. */
            bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
            if (!stays) {
                break;
            }
        }
        rollup->slots[hole] = rollup->slots[next];
        hole = next;
    }
}

static void sweep_aged(struct ldtap_db_rollup *rollup, uint64_t now_ns) {
    rollup->last_sweep_ns = now_ns;
    for (size_t slot = 0; slot < SLOT_COUNT;) {
        const struct entry *entry = &rollup->slots[slot];
        if (entry->key != 0 && now_ns - entry->last_seen_ns >= LDTAP_DB_ROLLUP_MAX_AGE_NS &&
            now_ns >= entry->last_seen_ns) {
            remove_slot(rollup, slot);
            rollup->evictions++;
            continue; /* another entry may have moved into this slot */
        }
        slot++;
    }
}

static void evict_stalest(struct ldtap_db_rollup *rollup) {
    size_t stalest = SLOT_COUNT;
    for (size_t slot = 0; slot < SLOT_COUNT; slot++) {
        if (rollup->slots[slot].key != 0 &&
            (stalest == SLOT_COUNT ||
             rollup->slots[slot].last_seen_ns < rollup->slots[stalest].last_seen_ns)) {
            stalest = slot;
        }
    }
    if (stalest < SLOT_COUNT) {
        remove_slot(rollup, stalest);
        rollup->evictions++;
    }
}

static void add_query(struct ldtap_db_rollup *rollup, uint64_t parent, uint64_t duration_ns,
                      uint64_t now_ns) {
    size_t slot = find_slot(rollup, parent);
    if (rollup->slots[slot].key == 0) {
        if (rollup->used >= LDTAP_DB_ROLLUP_MAX_ENTRIES) {
            sweep_aged(rollup, now_ns);
            if (rollup->used >= LDTAP_DB_ROLLUP_MAX_ENTRIES) {
                evict_stalest(rollup);
            }
            slot = find_slot(rollup, parent); /* removals moved entries */
        }
        rollup->slots[slot] = (struct entry){.key = parent};
        rollup->used++;
    }
    struct entry *entry = &rollup->slots[slot];
    entry->last_seen_ns = now_ns;
    entry->count++;
    entry->duration_ns += duration_ns;
}

static void attach_rollup(struct ldtap_db_rollup *rollup, struct ldtap_span *span) {
    size_t slot = find_slot(rollup, key_of(span->span_id));
    const struct entry *entry = &rollup->slots[slot];
    if (entry->key == 0) {
        return;
    }
    ldtap_span_add_int(span, "ldtap.db.query_count",
                       entry->count > INT64_MAX ? INT64_MAX : (int64_t)entry->count);
    ldtap_span_add_double(span, "ldtap.db.duration", (double)entry->duration_ns / 1e9);
    remove_slot(rollup, slot);
}

void ldtap_db_rollup_observe(struct ldtap_db_rollup *rollup, struct ldtap_span *span, uint64_t now_ns) {
    if (rollup == NULL || span == NULL) {
        return;
    }
    if (now_ns - rollup->last_sweep_ns >= SWEEP_INTERVAL_NS) {
        sweep_aged(rollup, now_ns);
    }
    uint64_t parent = key_of(span->parent_span_id);
    if (span->kind == LDTAP_SPAN_KIND_CLIENT && parent != 0 && ldtap_span_find(span, "db.system.name")) {
        uint64_t duration_ns =
            span->end_time_ns > span->start_time_ns ? span->end_time_ns - span->start_time_ns : 0;
        add_query(rollup, parent, duration_ns, now_ns);
    } else if (span->kind == LDTAP_SPAN_KIND_SERVER && key_of(span->span_id) != 0) {
        attach_rollup(rollup, span);
    }
}
