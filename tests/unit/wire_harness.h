/* Test driver shared by the wire framers' unit tests: feeds a scripted conversation whole,
 * split at every byte and one byte at a time, and checks that every feed logs the same. */
#ifndef LDTAP_TEST_WIRE_HARNESS_H
#define LDTAP_TEST_WIRE_HARNESS_H

#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "wire_framer.h"

enum { LOG_MAX = 24, LOG_TEXT_MAX = 600, STATE_BYTES = 8192 };

typedef void wire_init_fn(void *state, uint8_t *buffer, uint16_t capacity);
typedef enum ldtap_wire_event wire_feed_fn(void *state, enum ldtap_wire_direction direction,
                                           const uint8_t *bytes, size_t length, size_t *consumed);

struct chunk {
    enum ldtap_wire_direction direction;
    const char *bytes;
    size_t length;
};

#define CLIENT(literal) {LDTAP_WIRE_FROM_CLIENT, literal, sizeof literal - 1}
#define SERVER(literal) {LDTAP_WIRE_FROM_SERVER, literal, sizeof literal - 1}
#define CHUNKS(...) ((const struct chunk[]){__VA_ARGS__}), (sizeof((const struct chunk[]){__VA_ARGS__}) / sizeof(struct chunk))

/* Everything observed, compared byte for byte between feeds. */
struct wire_log {
    char events[LOG_MAX * 2 + 1]; /* B begin, C complete, S stop, G give up */
    size_t event_count;
    char texts[LOG_MAX][LOG_TEXT_MAX + 1];
    struct ldtap_wire_query queries[LOG_MAX]; /* text pointer cleared */
    struct ldtap_wire_result results[LOG_MAX];
    size_t query_count;
    size_t result_count;
    uint8_t stop_reason;
    char namespace_[LDTAP_WIRE_NAMESPACE_MAX + 1];
};

struct wire_driver {
    wire_init_fn *init;
    wire_feed_fn *feed;
    uint16_t capacity;
    _Alignas(16) uint8_t state[STATE_BYTES];
    uint8_t buffer[LDTAP_WIRE_PREPARED_TEXT_MAX * 8];
    bool stopped;
};

static void log_event(struct wire_driver *driver, struct wire_log *log, enum ldtap_wire_event event) {
    const struct ldtap_wire_common *wire = (const struct ldtap_wire_common *)driver->state;
    cr_assert_lt(log->event_count, LOG_MAX * 2);
    switch (event) {
    case LDTAP_WIRE_QUERY_BEGIN:
        log->events[log->event_count++] = 'B';
        if (log->query_count < LOG_MAX) {
            struct ldtap_wire_query query = wire->query;
            cr_assert_leq(query.text_length, LOG_TEXT_MAX);
            cr_assert(query.text_length == 0 || query.text != NULL);
            if (query.text_length > 0) {
                memcpy(log->texts[log->query_count], query.text, query.text_length);
            }
            query.text = NULL;
            log->queries[log->query_count++] = query;
        }
        break;
    case LDTAP_WIRE_QUERY_COMPLETE:
        log->events[log->event_count++] = 'C';
        if (log->result_count < LOG_MAX) {
            log->results[log->result_count++] = wire->result;
        }
        break;
    case LDTAP_WIRE_STOP:
        log->events[log->event_count++] = 'S';
        log->stop_reason = wire->stop_reason;
        driver->stopped = true;
        break;
    case LDTAP_WIRE_GIVE_UP:
        log->events[log->event_count++] = 'G';
        driver->stopped = true;
        break;
    case LDTAP_WIRE_NEED_MORE:
        break;
    }
}

static void feed_piece(struct wire_driver *driver, struct wire_log *log, enum ldtap_wire_direction direction,
                       const uint8_t *bytes, size_t length) {
    int calls_without_progress = 0;
    while (!driver->stopped) {
        size_t consumed = 12345;
        enum ldtap_wire_event event = driver->feed(driver->state, direction, bytes, length, &consumed);
        cr_assert_leq(consumed, length);
        if (event == LDTAP_WIRE_NEED_MORE) {
            cr_assert_eq(consumed, length, "NEED_MORE must consume everything");
        }
        calls_without_progress = consumed == 0 ? calls_without_progress + 1 : 0;
        cr_assert_lt(calls_without_progress, 40, "the framer makes no progress");
        bytes += consumed;
        length -= consumed;
        log_event(driver, log, event);
        if (event == LDTAP_WIRE_NEED_MORE) {
            return;
        }
    }
}

/* Feeds the script; `split` (a global byte offset, 0 for none) cuts one chunk in two and
 * `piece` bounds every feed call's length. */
static void run_script(wire_init_fn *init, wire_feed_fn *feed, uint16_t capacity, const struct chunk *chunks,
                       size_t chunk_count, size_t split, size_t piece, struct wire_log *log) {
    static struct wire_driver driver;
    memset(&driver, 0, sizeof driver);
    memset(log, 0, sizeof *log);
    driver.init = init;
    driver.feed = feed;
    driver.capacity = capacity;
    init(driver.state, driver.buffer, capacity);
    size_t offset = 0;
    for (size_t i = 0; i < chunk_count; i++) {
        const uint8_t *bytes = (const uint8_t *)chunks[i].bytes;
        size_t length = chunks[i].length;
        for (size_t at = 0; at < length;) {
            size_t take = length - at < piece ? length - at : piece;
            if (split > offset + at && split < offset + at + take) {
                take = split - (offset + at);
            }
            feed_piece(&driver, log, chunks[i].direction, bytes + at, take);
            at += take;
        }
        offset += length;
    }
    const struct ldtap_wire_common *wire = (const struct ldtap_wire_common *)driver.state;
    memcpy(log->namespace_, wire->namespace, wire->namespace_length);
}

static size_t script_length(const struct chunk *chunks, size_t chunk_count) {
    size_t total = 0;
    for (size_t i = 0; i < chunk_count; i++) {
        total += chunks[i].length;
    }
    return total;
}

static bool logs_equal(const struct wire_log *a, const struct wire_log *b) {
    if (strcmp(a->events, b->events) != 0 || a->query_count != b->query_count ||
        a->result_count != b->result_count || a->stop_reason != b->stop_reason ||
        strcmp(a->namespace_, b->namespace_) != 0) {
        return false;
    }
    for (size_t i = 0; i < a->query_count; i++) {
        const struct ldtap_wire_query *x = &a->queries[i], *y = &b->queries[i];
        if (strcmp(a->texts[i], b->texts[i]) != 0 || x->full_length != y->full_length ||
            x->text_length != y->text_length || x->flags != y->flags || x->sequence != y->sequence) {
            return false;
        }
    }
    for (size_t i = 0; i < a->result_count; i++) {
        const struct ldtap_wire_result *x = &a->results[i], *y = &b->results[i];
        if (x->rows != y->rows || x->sequence != y->sequence || x->error_code != y->error_code ||
            x->flags != y->flags || memcmp(x->status_code, y->status_code, sizeof x->status_code) != 0) {
            return false;
        }
    }
    return true;
}

/* Frames the script whole, at every split and byte by byte; returns the whole-feed log. */
static void frame_everywhere(wire_init_fn *init, wire_feed_fn *feed, uint16_t capacity,
                             const struct chunk *chunks, size_t chunk_count, struct wire_log *whole) {
    static struct wire_log other;
    run_script(init, feed, capacity, chunks, chunk_count, 0, SIZE_MAX, whole);
    size_t total = script_length(chunks, chunk_count);
    for (size_t split = 1; split < total; split++) {
        run_script(init, feed, capacity, chunks, chunk_count, split, SIZE_MAX, &other);
        cr_assert(logs_equal(whole, &other), "split at %zu: events %s vs %s", split, other.events,
                  whole->events);
    }
    run_script(init, feed, capacity, chunks, chunk_count, 0, 1, &other);
    cr_assert(logs_equal(whole, &other), "byte by byte: events %s vs %s", other.events,
              whole->events);
}

#endif
