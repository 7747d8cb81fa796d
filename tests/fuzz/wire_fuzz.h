/* libFuzzer driver shared by the wire framers' harnesses: decodes a conversation from the
 * input, feeds it whole and in random pieces, checks invariants and that both feeds agree. */
#ifndef LDTAP_FUZZ_WIRE_H
#define LDTAP_FUZZ_WIRE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire_framer.h"

/* Input layout: [capacity][seed 3 bytes] then segments [direction bit | length << 1][bytes]. */
enum { WIRE_FUZZ_HEADER = 4, WIRE_FUZZ_STATE_BYTES = 8192, WIRE_FUZZ_EVENTS_MAX = 4096 };

#define REQUIRE(condition)                                                                         \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #condition, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef void wire_fuzz_init(void *state, uint8_t *buffer, uint16_t capacity);
typedef enum ldtap_wire_event wire_fuzz_feed(void *state, enum ldtap_wire_direction direction,
                                             const uint8_t *bytes, size_t length, size_t *consumed);

struct wire_observation {
    uint32_t hash;
    uint32_t events;
    int final_event;
};

struct wire_feed {
    _Alignas(16) uint8_t state[WIRE_FUZZ_STATE_BYTES];
    uint8_t buffer[LDTAP_WIRE_PREPARED_TEXT_MAX * 8];
    uint16_t capacity;
    bool stopped;
    struct wire_observation seen;
};

static uint32_t wire_hash(uint32_t hash, const void *data, size_t length) {
    const uint8_t *bytes = data;
    for (size_t i = 0; i < length; i++) {
        hash = (hash ^ bytes[i]) * 16777619u;
    }
    return hash;
}

static void wire_check_event(struct wire_feed *feed, enum ldtap_wire_event event) {
    const struct ldtap_wire_common *wire = (const struct ldtap_wire_common *)feed->state;
    REQUIRE(wire->completed <= wire->begun);
    REQUIRE(wire->namespace_length <= LDTAP_WIRE_NAMESPACE_MAX);
    REQUIRE(wire->pending.count <= LDTAP_WIRE_PENDING_MAX);
    feed->seen.events++;
    feed->seen.hash = wire_hash(feed->seen.hash, &event, sizeof event);
    switch (event) {
    case LDTAP_WIRE_QUERY_BEGIN: {
        const struct ldtap_wire_query *query = &wire->query;
        REQUIRE(query->sequence == wire->begun);
        REQUIRE(query->text_length <= query->full_length);
        REQUIRE(query->text_length == 0 || query->text != NULL);
        REQUIRE(query->text_length <= feed->capacity || query->text_length <= LDTAP_WIRE_PREPARED_TEXT_MAX);
        feed->seen.hash = wire_hash(feed->seen.hash, query->text, query->text_length);
        feed->seen.hash = wire_hash(feed->seen.hash, &query->full_length, sizeof query->full_length);
        feed->seen.hash = wire_hash(feed->seen.hash, &query->flags, sizeof query->flags);
        break;
    }
    case LDTAP_WIRE_QUERY_COMPLETE: {
        const struct ldtap_wire_result *result = &wire->result;
        REQUIRE(result->sequence == wire->completed);
        REQUIRE(result->rows >= -1);
        feed->seen.hash = wire_hash(feed->seen.hash, &result->rows, sizeof result->rows);
        feed->seen.hash = wire_hash(feed->seen.hash, &result->flags, sizeof result->flags);
        feed->seen.hash = wire_hash(feed->seen.hash, &result->error_code, sizeof result->error_code);
        feed->seen.hash = wire_hash(feed->seen.hash, result->status_code, sizeof result->status_code);
        break;
    }
    case LDTAP_WIRE_STOP:
    case LDTAP_WIRE_GIVE_UP:
        feed->stopped = true;
        feed->seen.final_event = event;
        break;
    case LDTAP_WIRE_NEED_MORE:
        break;
    default:
        REQUIRE(!"unknown event");
    }
}

static void wire_feed_piece(struct wire_feed *feed, wire_fuzz_feed *frame, enum ldtap_wire_direction direction,
                            const uint8_t *bytes, size_t length) {
    unsigned calls_without_progress = 0;
    while (!feed->stopped && feed->seen.events < WIRE_FUZZ_EVENTS_MAX) {
        size_t consumed = SIZE_MAX;
        enum ldtap_wire_event event = frame(feed->state, direction, bytes, length, &consumed);
        REQUIRE(consumed <= length);
        REQUIRE(event != LDTAP_WIRE_NEED_MORE || consumed == length);
        calls_without_progress = consumed == 0 ? calls_without_progress + 1 : 0;
        REQUIRE(calls_without_progress < LDTAP_WIRE_PENDING_MAX + 4);
        bytes += consumed;
        length -= consumed;
        if (event != LDTAP_WIRE_NEED_MORE) {
            wire_check_event(feed, event);
        }
        if (feed->stopped) {
            size_t again = 1;
            REQUIRE(frame(feed->state, direction, bytes, length, &again) == event && again == 0);
        }
        if (event == LDTAP_WIRE_NEED_MORE) {
            return;
        }
    }
}

static uint32_t wire_next_random(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static void wire_run(struct wire_feed *feed, wire_fuzz_init *init, wire_fuzz_feed *frame, const uint8_t *data,
                     size_t size, uint32_t seed) {
    memset(&feed->seen, 0, sizeof feed->seen);
    feed->stopped = false;
    init(feed->state, feed->buffer, feed->capacity);
    uint32_t random = seed | 1u;
    size_t offset = 0;
    while (offset < size && !feed->stopped && feed->seen.events < WIRE_FUZZ_EVENTS_MAX) {
        enum ldtap_wire_direction direction = (data[offset] & 1) ? LDTAP_WIRE_FROM_SERVER : LDTAP_WIRE_FROM_CLIENT;
        size_t length = data[offset] >> 1;
        offset++;
        if (length > size - offset) {
            length = size - offset;
        }
        for (size_t at = 0; at < length;) {
            size_t piece = length - at;
            if (seed != 0) {
                piece = 1 + wire_next_random(&random) % piece;
            }
            wire_feed_piece(feed, frame, direction, data + offset + at, piece);
            at += piece;
        }
        offset += length;
    }
}

static int wire_fuzz_one(wire_fuzz_init *init, wire_fuzz_feed *frame, const uint8_t *data, size_t size) {
    static struct wire_feed whole;
    static struct wire_feed pieces;
    if (size < WIRE_FUZZ_HEADER) {
        return 0;
    }
    uint16_t capacity = (uint16_t)(data[0] * 8);
    uint32_t seed = (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
    whole.capacity = pieces.capacity = capacity;
    wire_run(&whole, init, frame, data + WIRE_FUZZ_HEADER, size - WIRE_FUZZ_HEADER, 0);
    wire_run(&pieces, init, frame, data + WIRE_FUZZ_HEADER, size - WIRE_FUZZ_HEADER, seed);
    if (whole.seen.events < WIRE_FUZZ_EVENTS_MAX && pieces.seen.events < WIRE_FUZZ_EVENTS_MAX) {
        REQUIRE(memcmp(&whole.seen, &pieces.seen, sizeof whole.seen) == 0);
    }
    return 0;
}

#endif
