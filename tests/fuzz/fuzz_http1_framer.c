/* libFuzzer harness for the HTTP/1.x framer: feeds the input to a request and a response
 * parser whole, in random pieces, whole through a head memo (that outlives the input, so
 * heads of earlier inputs are recalled too) and in random pieces beginning each message with
 * ldtap_http_begin_whole_head; checks invariants and that all feeds agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1_framer.h"

/* Input layout: [options][seed 3 bytes][stream...]. */
enum { HEADER_BYTES = 4, MAX_EVENTS = 256, MAX_HEAD = 300 };

#define REQUIRE(condition)                                                                         \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #condition, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Everything a feed observed, compared byte for byte between feeds. */
struct observation {
    char events[MAX_EVENTS];
    size_t event_count;
    uint64_t body_bytes_sum;
    uint64_t status_sum;
    uint32_t head_hash;
    uint32_t traceparent_hash;
    uint32_t flag_hash;
};

struct feed {
    struct ldtap_http_parser parser;
    uint8_t head[MAX_HEAD];
    enum ldtap_http_direction direction;
    bool no_body;
    bool connect;
    uint16_t head_capacity;
    bool stopped;
    struct ldtap_http_head_memo *memo; /* NULL: framed without one */
    bool begin_whole;                  /* each message starts with ldtap_http_begin_whole_head */
    bool fresh;                        /* begun, no byte of the message framed yet */
    struct observation seen;
};

static uint32_t hash_bytes(uint32_t hash, const void *data, size_t length) {
    const uint8_t *bytes = data;
    for (size_t i = 0; i < length; i++) {
        hash = (hash ^ bytes[i]) * 16777619u;
    }
    return hash;
}

/* An empty value is copied as "name:". */
static const char *const copied_names[] = {"host:", "user-agent:", "content-type:", "content-length:",
                                           "traceparent:"};

/* A line still being copied (the head is unfinished) may hold only part of its name. */
static bool starts_with_copied_name(const uint8_t *line, size_t length, bool complete) {
    for (size_t i = 0; i < sizeof copied_names / sizeof copied_names[0]; i++) {
        size_t name_length = strlen(copied_names[i]);
        size_t compared = !complete && length < name_length ? length : name_length;
        if (length >= compared && memcmp(line, copied_names[i], compared) == 0) {
            return true;
        }
    }
    return false;
}

/* Privacy: after the start line, only allow-listed header lines, complete once the head is. */
static void check_head_copy(const struct feed *feed, bool head_finished) {
    const struct ldtap_http_head_copy *head = &feed->parser.head;
    REQUIRE(head->length <= head->capacity);
    REQUIRE(head->capacity == feed->head_capacity);
    const uint8_t *end = head->bytes + head->length;
    const uint8_t *line_end = memchr(head->bytes, '\n', head->length);
    if (line_end == NULL) {
        return; /* a start line cut short */
    }
    for (const uint8_t *line = line_end + 1; line < end;) {
        const uint8_t *next = memchr(line, '\n', (size_t)(end - line));
        bool complete = next != NULL;
        REQUIRE(complete || !head_finished);
        REQUIRE(!complete || next[-1] == '\r');
        REQUIRE(starts_with_copied_name(line, (size_t)((complete ? next : end) - line), complete));
        line = complete ? next + 1 : end;
    }
}

static void record(struct feed *feed, char event) {
    const struct ldtap_http_parser *parser = &feed->parser;
    struct observation *seen = &feed->seen;
    REQUIRE(seen->event_count < MAX_EVENTS);
    seen->events[seen->event_count++] = event;
    check_head_copy(feed, event == 'H' || event == 'C');
    REQUIRE(parser->traceparent_length <= LDTAP_HTTP_TRACEPARENT_BYTES);
    REQUIRE(parser->traceparent[parser->traceparent_length] == '\0');
    REQUIRE(parser->head_bytes <= LDTAP_HTTP_MAX_HEAD_BYTES);
    if (event == 'H' || event == 'C') {
        seen->body_bytes_sum += parser->body_bytes;
        seen->status_sum += parser->status_code;
        seen->head_hash = hash_bytes(seen->head_hash, parser->head.bytes, parser->head.length);
        seen->head_hash = hash_bytes(seen->head_hash, &parser->head.truncated, 1);
        seen->traceparent_hash = hash_bytes(seen->traceparent_hash, parser->traceparent, parser->traceparent_length);
        uint8_t flags[] = {parser->version_minor,    parser->method_is_head, parser->method_is_connect,
                           parser->expect_continue,  parser->connection_close, parser->upgrade,
                           ldtap_http_response_is_interim(parser)};
        seen->flag_hash = hash_bytes(seen->flag_hash, flags, sizeof flags);
        seen->flag_hash = hash_bytes(seen->flag_hash, &parser->content_length, sizeof parser->content_length);
    }
}

static void begin(struct feed *feed) {
    ldtap_http_parser_begin(&feed->parser, feed->direction, feed->no_body, feed->head, feed->head_capacity);
    feed->parser.method_is_connect = feed->direction == LDTAP_HTTP_RESPONSE && feed->connect;
    /* begin_whole_head begins a response with method_is_connect 0: not for those. */
    feed->fresh = feed->begin_whole && !feed->parser.method_is_connect;
}

static void handle(struct feed *feed, enum ldtap_http_event event) {
    switch (event) {
    case LDTAP_HTTP_MESSAGE_BEGIN: record(feed, 'B'); break;
    case LDTAP_HTTP_HEAD_COMPLETE: record(feed, 'H'); break;
    case LDTAP_HTTP_MESSAGE_COMPLETE:
        record(feed, 'C');
        begin(feed);
        break;
    case LDTAP_HTTP_GIVE_UP:
        record(feed, 'G');
        feed->stopped = true;
        break;
    case LDTAP_HTTP_NEED_MORE: break;
    default: REQUIRE(!"unknown event");
    }
}

/* A message's first bytes through ldtap_http_begin_whole_head: the events it stands for
 * are recorded as the frame calls it replaces would report them. */
static void begin_whole(struct feed *feed, const uint8_t **bytes, size_t *length) {
    feed->fresh = false;
    size_t consumed = SIZE_MAX;
    enum ldtap_http_event event =
        ldtap_http_begin_whole_head(&feed->parser, feed->direction, feed->no_body, feed->head,
                                    feed->head_capacity, *bytes, *length, &consumed, feed->memo);
    REQUIRE(consumed <= *length);
    if (event == LDTAP_HTTP_NEED_MORE) {
        REQUIRE(consumed == 0);
        return;
    }
    REQUIRE(event == LDTAP_HTTP_HEAD_COMPLETE || event == LDTAP_HTTP_GIVE_UP);
    REQUIRE(consumed > 0);
    *bytes += consumed;
    *length -= consumed;
    handle(feed, LDTAP_HTTP_MESSAGE_BEGIN);
    handle(feed, event);
}

static void feed_piece(struct feed *feed, const uint8_t *bytes, size_t length) {
    int calls_without_progress = 0;
    while (!feed->stopped) {
        if (feed->fresh && length > 0) {
            size_t before = length;
            begin_whole(feed, &bytes, &length);
            if (length < before) {
                calls_without_progress = 0;
            }
            continue;
        }
        size_t consumed = SIZE_MAX;
        enum ldtap_http_event event =
            ldtap_http_frame_remembering(&feed->parser, bytes, length, &consumed, feed->memo);
        REQUIRE(consumed <= length);
        REQUIRE(event != LDTAP_HTTP_NEED_MORE || consumed == length);
        calls_without_progress = consumed == 0 ? calls_without_progress + 1 : 0;
        REQUIRE(calls_without_progress < 4);
        bytes += consumed;
        length -= consumed;
        handle(feed, event);
        if (event == LDTAP_HTTP_NEED_MORE || feed->seen.event_count + 4 >= MAX_EVENTS) {
            return;
        }
    }
}

/* xorshift: the piece sizes come from the input, so a crash reproduces exactly. */
static uint32_t next_random(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static void run(struct feed *feed, const uint8_t *stream, size_t length, uint32_t seed) {
    memset(&feed->seen, 0, sizeof feed->seen);
    feed->stopped = false;
    begin(feed);
    uint32_t state = seed | 1u;
    size_t offset = 0;
    do {
        size_t piece = length - offset;
        if (seed != 0 && piece > 0) {
            piece = 1 + next_random(&state) % (piece < 64 ? piece : 64);
        }
        feed_piece(feed, stream + offset, piece);
        offset += piece;
    } while (offset < length && !feed->stopped && feed->seen.event_count + 4 < MAX_EVENTS);
    if (!feed->stopped && offset == length) {
        handle(feed, ldtap_http_frame_close(&feed->parser));
    }
}

static void check_direction(enum ldtap_http_direction direction, uint8_t options, uint32_t seed,
                            const uint8_t *stream, size_t length) {
    static struct feed whole;
    static struct feed pieces;
    static struct feed remembering;
    static struct feed starting;
    static struct ldtap_http_head_memo memos[2];
    static struct ldtap_http_head_memo starting_memos[2];
    struct feed *feeds[] = {&whole, &pieces, &remembering, &starting};
    for (int i = 0; i < 4; i++) {
        feeds[i]->direction = direction;
        feeds[i]->no_body = options & 1;
        feeds[i]->connect = options & 2;
        feeds[i]->head_capacity = (options & 4) ? (uint16_t)(options * 2) % MAX_HEAD : MAX_HEAD;
    }
    remembering.memo = &memos[direction];
    starting.memo = (options & 8) ? &starting_memos[direction] : NULL;
    starting.begin_whole = true;
    run(&whole, stream, length, 0);
    run(&pieces, stream, length, seed);
    /* A feed cut at MAX_EVENTS stops at a split-dependent place; compare only full runs. */
    if (whole.seen.event_count + 4 < MAX_EVENTS && pieces.seen.event_count + 4 < MAX_EVENTS) {
        REQUIRE(memcmp(&whole.seen, &pieces.seen, sizeof whole.seen) == 0);
    }
    /* Twice: the second run finds this input's own last head in the memo. */
    for (int i = 0; i < 2; i++) {
        run(&remembering, stream, length, 0);
        REQUIRE(memcmp(&whole.seen, &remembering.seen, sizeof whole.seen) == 0);
    }
    /* In pieces (a head split over reads is left to the state machine), then whole. */
    run(&starting, stream, length, seed);
    if (whole.seen.event_count + 4 < MAX_EVENTS && starting.seen.event_count + 4 < MAX_EVENTS) {
        REQUIRE(memcmp(&whole.seen, &starting.seen, sizeof whole.seen) == 0);
    }
    run(&starting, stream, length, 0);
    REQUIRE(memcmp(&whole.seen, &starting.seen, sizeof whole.seen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < HEADER_BYTES) {
        return 0;
    }
    uint8_t options = data[0];
    uint32_t seed = (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
    check_direction(LDTAP_HTTP_REQUEST, options, seed, data + HEADER_BYTES, size - HEADER_BYTES);
    check_direction(LDTAP_HTTP_RESPONSE, options, seed, data + HEADER_BYTES, size - HEADER_BYTES);
    return 0;
}
