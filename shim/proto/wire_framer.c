/* Pieces shared by the database wire-protocol framers (contract in wire_framer.h): bounded
 * copies, the FIFO of unanswered commands, event bookkeeping and the prepared-statement table. */
#include "wire_framer.h"

#include <string.h>

#include "ldtap_ring_abi.h"

_Static_assert(LDTAP_WIRE_NAMESPACE_MAX <= LDTAP_DB_NAMESPACE_MAX, "namespace fits the record");
_Static_assert(LDTAP_WIRE_PREPARED_TEXT_MAX <= LDTAP_DB_STATEMENT_MAX, "prepared text fits the record");
_Static_assert(LDTAP_WIRE_PENDING_MAX <= 255, "pending count is a byte");

void ldtap_wire_common_init(struct ldtap_wire_common *wire, uint8_t *statement_buffer, uint16_t capacity) {
    memset(wire, 0, sizeof *wire);
    wire->statement.bytes = statement_buffer;
    wire->statement.capacity = statement_buffer == NULL ? 0 : capacity;
    ldtap_wire_result_reset(&wire->result);
}

void ldtap_wire_text_reset(struct ldtap_wire_text *text) {
    text->length = 0;
    text->full_length = 0;
}

static uint32_t add_saturating(uint32_t total, size_t more) {
    return more >= (size_t)(UINT32_MAX - total) ? UINT32_MAX : total + (uint32_t)more;
}

/* hot */
void ldtap_wire_text_append(struct ldtap_wire_text *text, const uint8_t *bytes, size_t length) {
    text->full_length = add_saturating(text->full_length, length);
    size_t room = (size_t)(text->capacity - text->length);
    size_t taken = length < room ? length : room;
    if (taken > 0) {
        memcpy(text->bytes + text->length, bytes, taken);
        text->length = (uint16_t)(text->length + taken);
    }
}

void ldtap_wire_namespace_reset(struct ldtap_wire_common *wire) {
    wire->namespace_length = 0;
    wire->namespace_truncated = false;
}

void ldtap_wire_namespace_append(struct ldtap_wire_common *wire, const uint8_t *bytes, size_t length) {
    size_t room = LDTAP_WIRE_NAMESPACE_MAX - wire->namespace_length;
    if (length > room) {
        wire->namespace_truncated = true;
        length = room;
    }
    memcpy(wire->namespace + wire->namespace_length, bytes, length);
    wire->namespace_length = (uint8_t)(wire->namespace_length + length);
}

bool ldtap_wire_pending_push(struct ldtap_wire_pending *pending, uint8_t item) {
    if (pending->count >= LDTAP_WIRE_PENDING_MAX || item == 0) {
        return false;
    }
    pending->items[(pending->head + pending->count) % LDTAP_WIRE_PENDING_MAX] = item;
    pending->count++;
    return true;
}

uint8_t ldtap_wire_pending_peek(const struct ldtap_wire_pending *pending, size_t index) {
    if (index >= pending->count) {
        return 0;
    }
    return pending->items[(pending->head + index) % LDTAP_WIRE_PENDING_MAX];
}

uint8_t ldtap_wire_pending_pop(struct ldtap_wire_pending *pending) {
    if (pending->count == 0) {
        return 0;
    }
    uint8_t item = pending->items[pending->head];
    pending->head = (uint8_t)((pending->head + 1) % LDTAP_WIRE_PENDING_MAX);
    pending->count--;
    return item;
}

void ldtap_wire_pending_mark(struct ldtap_wire_pending *pending, size_t index, uint8_t bits) {
    if (index < pending->count) {
        pending->items[(pending->head + index) % LDTAP_WIRE_PENDING_MAX] |= bits;
    }
}

void ldtap_wire_result_reset(struct ldtap_wire_result *result) {
    memset(result, 0, sizeof *result);
    result->rows = -1;
}

void ldtap_wire_result_set_status(struct ldtap_wire_result *result, const uint8_t *bytes, size_t length) {
    /* Always NUL-terminated: readers may treat it as a C string. */
    size_t kept = sizeof result->status_code - 1;
    memset(result->status_code, 0, sizeof result->status_code);
    memcpy(result->status_code, bytes, length < kept ? length : kept);
}

enum ldtap_wire_event ldtap_wire_begin(struct ldtap_wire_common *wire, const uint8_t *text,
                                       uint16_t text_length, uint32_t full_length, uint16_t flags) {
    wire->query.text = text_length > 0 ? text : NULL;
    wire->query.text_length = text_length;
    wire->query.full_length = full_length < text_length ? text_length : full_length;
    wire->query.flags = flags;
    wire->query.sequence = ++wire->begun;
    return LDTAP_WIRE_QUERY_BEGIN;
}

enum ldtap_wire_event ldtap_wire_complete(struct ldtap_wire_common *wire, const struct ldtap_wire_result *result) {
    uint8_t item = ldtap_wire_pending_pop(&wire->pending);
    if (!(item & LDTAP_WIRE_ITEM_SPAN) || wire->completed == wire->begun) {
        return ldtap_wire_give_up(wire); /* a framer bug: never pair a reply with nothing */
    }
    wire->result = *result;
    if (item & LDTAP_WIRE_ITEM_FAILED) {
        wire->result.flags |= LDTAP_DB_FLAG_ERROR;
    }
    wire->result.sequence = ++wire->completed;
    return LDTAP_WIRE_QUERY_COMPLETE;
}

enum ldtap_wire_event ldtap_wire_give_up(struct ldtap_wire_common *wire) {
    wire->finished = LDTAP_WIRE_GIVE_UP;
    return LDTAP_WIRE_GIVE_UP;
}

enum ldtap_wire_event ldtap_wire_stop(struct ldtap_wire_common *wire, enum ldtap_wire_stop_reason reason) {
    wire->finished = LDTAP_WIRE_STOP;
    wire->stop_reason = (uint8_t)reason;
    return LDTAP_WIRE_STOP;
}

enum ldtap_wire_event ldtap_wire_take_owed(struct ldtap_wire_common *wire) {
    if (wire->owed > 0) {
        wire->owed--;
        return ldtap_wire_complete(wire, &wire->owed_result);
    }
    while (wire->owed_drop > 0) {
        wire->owed_drop--;
        if (ldtap_wire_pending_pop(&wire->pending) & LDTAP_WIRE_ITEM_SPAN) {
            return ldtap_wire_give_up(wire);
        }
    }
    if (wire->owed_final) {
        wire->owed_final = 0;
        return ldtap_wire_complete(wire, &wire->final_result);
    }
    return LDTAP_WIRE_NEED_MORE;
}

/* hot */
bool ldtap_wire_feed_start(struct ldtap_wire_common *wire, size_t length, size_t *consumed,
                           enum ldtap_wire_event *event) {
    *consumed = 0;
    if (wire->finished) {
        *event = (enum ldtap_wire_event)wire->finished;
        return false;
    }
    *event = ldtap_wire_take_owed(wire);
    return *event == LDTAP_WIRE_NEED_MORE && length > 0;
}

uint64_t ldtap_wire_hash(uint64_t hash, const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length; i++) {
        hash = (hash ^ bytes[i]) * 1099511628211ull;
    }
    return hash;
}

struct ldtap_wire_prepared *ldtap_wire_prepared_find(struct ldtap_wire_prepared_table *table, uint64_t key) {
    if (key == 0) {
        return NULL;
    }
    for (size_t i = 0; i < LDTAP_WIRE_PREPARED_MAX; i++) {
        if (table->entries[i].key == key) {
            table->entries[i].last_used = ++table->clock;
            return &table->entries[i];
        }
    }
    return NULL;
}

struct ldtap_wire_prepared *ldtap_wire_prepared_claim(struct ldtap_wire_prepared_table *table, uint64_t key) {
    struct ldtap_wire_prepared *chosen = ldtap_wire_prepared_find(table, key);
    for (size_t i = 0; chosen == NULL && i < LDTAP_WIRE_PREPARED_MAX; i++) {
        if (table->entries[i].key == 0) {
            chosen = &table->entries[i];
        }
    }
    if (chosen == NULL) {
        chosen = &table->entries[0];
        /* Ages as distances from the clock, so the 16-bit clock may wrap. */
        for (size_t i = 1; i < LDTAP_WIRE_PREPARED_MAX; i++) {
            uint16_t age = (uint16_t)(table->clock - table->entries[i].last_used);
            if (age > (uint16_t)(table->clock - chosen->last_used)) {
                chosen = &table->entries[i];
            }
        }
    }
    chosen->key = key;
    chosen->length = 0;
    chosen->full_length = 0;
    chosen->last_used = ++table->clock;
    return chosen;
}

void ldtap_wire_prepared_forget(struct ldtap_wire_prepared_table *table, uint64_t key) {
    for (size_t i = 0; key != 0 && i < LDTAP_WIRE_PREPARED_MAX; i++) {
        if (table->entries[i].key == key) {
            table->entries[i].key = 0;
        }
    }
}

void ldtap_wire_prepared_append(struct ldtap_wire_prepared *entry, const uint8_t *bytes, size_t length) {
    entry->full_length = add_saturating(entry->full_length, length);
    size_t room = LDTAP_WIRE_PREPARED_TEXT_MAX - entry->length;
    size_t taken = length < room ? length : room;
    memcpy(entry->text + entry->length, bytes, taken);
    entry->length = (uint16_t)(entry->length + taken);
}
