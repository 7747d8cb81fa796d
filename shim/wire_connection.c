/* Database wire protocols on a traced client connection: drives its framer (pgwire, MySQL,
 * RESP) as wire_framer.h describes and writes one DB span record per answered query. */
#include <string.h>

#include "connection.h"
#include "db_span.h"
#include "span.h"

/* Framer events in a row that consume nothing before we suspect a framer bug and give
 * up rather than loop inside the program's read(): one server message may finish every
 * query in flight, each reported by its own call. */
#define IDLE_EVENTS_MAX (LDTAP_WIRE_PENDING_MAX + 4u)

static struct ldtap_wire_common *common_of(struct ldtap_wire_connection *wire) {
    switch (wire->system) {
    case LDTAP_DB_POSTGRESQL:
        return &wire->framer.pg.wire;
    case LDTAP_DB_REDIS:
        return &wire->framer.resp.wire;
    default:
        return &wire->framer.mysql.wire;
    }
}

void ldtap_wire_connection_start(struct ldtap_connection *connection, enum ldtap_db_system system) {
    struct ldtap_wire_connection *wire = &connection->wire;
    wire->system = (uint16_t)system;
    wire->oldest = 0;
    wire->count = 0;
    wire->text_start = 0;
    wire->text_used = 0;
    switch (system) {
    case LDTAP_DB_POSTGRESQL:
        ldtap_pgwire_init(&wire->framer.pg, wire->statement, sizeof(wire->statement));
        break;
    case LDTAP_DB_REDIS:
        ldtap_resp_init(&wire->framer.resp, wire->statement, sizeof(wire->statement));
        break;
    default:
        ldtap_mysql_init(&wire->framer.mysql, wire->statement, sizeof(wire->statement));
        break;
    }
    connection->protocol = LDTAP_PROTOCOL_WIRE;
}

/* hot */
static enum ldtap_wire_event feed_framer(struct ldtap_wire_connection *wire, enum ldtap_wire_direction direction,
                                         const uint8_t *bytes, size_t length, size_t *consumed) {
    switch (wire->system) {
    case LDTAP_DB_POSTGRESQL:
        return ldtap_pgwire_feed(&wire->framer.pg, direction, bytes, length, consumed);
    case LDTAP_DB_REDIS:
        return ldtap_resp_feed(&wire->framer.resp, direction, bytes, length, consumed);
    default:
        return ldtap_mysql_feed(&wire->framer.mysql, direction, bytes, length, consumed);
    }
}

/* The text ring: `length` bytes at `start`, wrapping at its end. */
static size_t before_wrap(size_t start, size_t length) {
    return LDTAP_WIRE_TEXT_BYTES - start < length ? LDTAP_WIRE_TEXT_BYTES - start : length;
}

static void text_store(uint8_t *ring, size_t start, const uint8_t *from, size_t length) {
    size_t first = before_wrap(start, length);
    memcpy(ring + start, from, first);
    memcpy(ring, from + first, length - first);
}

static void text_load(const uint8_t *ring, size_t start, char *to, size_t length) {
    size_t first = before_wrap(start, length);
    memcpy(to, ring + start, first);
    memcpy(to + first, ring, length - first);
}

/* QUERY_BEGIN: the client span starts now (child of the request this thread serves) and
 * the statement head is kept, as much of it as the text ring has room for. */
static bool on_query_begin(struct ldtap_wire_connection *wire) {
    if (wire->count == LDTAP_WIRE_SPANS_MAX)
        return false;
    const struct ldtap_wire_query *query = &common_of(wire)->query;
    struct ldtap_wire_span_slot *slot = &wire->slots[(wire->oldest + wire->count) % LDTAP_WIRE_SPANS_MAX];
    ldtap_span_begin(&slot->span, LDTAP_SPAN_KIND_CLIENT);
    slot->sequence = query->sequence;
    slot->full_length = query->full_length;
    slot->flags = query->flags;
    size_t room = LDTAP_WIRE_TEXT_BYTES - wire->text_used;
    size_t wanted = query->text != NULL ? query->text_length : 0;
    if (wanted > LDTAP_DB_STATEMENT_MAX)
        wanted = LDTAP_DB_STATEMENT_MAX;
    slot->text_length = (uint16_t)(wanted < room ? wanted : room);
    slot->text_start = (uint16_t)((wire->text_start + wire->text_used) % LDTAP_WIRE_TEXT_BYTES);
    text_store(wire->text, slot->text_start, query->text, slot->text_length);
    wire->text_used = (uint16_t)(wire->text_used + slot->text_length);
    wire->count++;
    return true;
}

/* Writes the oldest query's span with `result` (NULL: no answer came) and forgets it. */
static void finish_oldest(struct ldtap_connection *connection, const struct ldtap_wire_result *result) {
    struct ldtap_wire_connection *wire = &connection->wire;
    const struct ldtap_wire_common *common = common_of(wire);
    struct ldtap_wire_span_slot *slot = &wire->slots[wire->oldest];
    struct ldtap_db_span span; /* on the stack: one record's worth, written right away */
    struct ldtap_db_span_record *record = &span.record;
    memset(record, 0, sizeof(*record));
    record->span = slot->span;
    record->endpoints = connection->endpoints;
    record->system = wire->system == LDTAP_DB_MYSQL && wire->framer.mysql.mariadb ? LDTAP_DB_MARIADB : wire->system;
    record->source = LDTAP_DB_SOURCE_WIRE;
    record->flags = slot->flags;
    record->rows = -1;
    record->statement_full_length = slot->full_length;
    record->statement_length = slot->text_length;
    text_load(wire->text, slot->text_start, span.statement, slot->text_length);
    if (result != NULL) {
        record->flags |= result->flags;
        record->rows = result->rows;
        record->error_code = result->error_code;
        memcpy(record->status_code, result->status_code, sizeof(record->status_code));
    } else {
        record->span.flags |= LDTAP_SPAN_FLAG_NO_RESPONSE;
    }
    ldtap_db_span_write(&span, common->namespace, common->namespace_length);
    wire->text_start = (uint16_t)((slot->text_start + slot->text_length) % LDTAP_WIRE_TEXT_BYTES);
    wire->text_used = (uint16_t)(wire->text_used - slot->text_length);
    wire->oldest = (uint8_t)((wire->oldest + 1) % LDTAP_WIRE_SPANS_MAX);
    wire->count--;
}

/* QUERY_COMPLETE: answers the oldest query; any other order means we lost track. */
static bool on_query_complete(struct ldtap_connection *connection) {
    struct ldtap_wire_connection *wire = &connection->wire;
    const struct ldtap_wire_result *result = &common_of(wire)->result;
    if (wire->count == 0 || wire->slots[wire->oldest].sequence != result->sequence)
        return false;
    finish_oldest(connection, result);
    return true;
}

/* hot */
enum ldtap_feed_result ldtap_wire_connection_feed(struct ldtap_connection *connection, enum ldtap_flow flow,
                                                  const uint8_t *bytes, size_t length) {
    struct ldtap_wire_connection *wire = &connection->wire;
    enum ldtap_wire_direction direction = flow == LDTAP_OUTBOUND ? LDTAP_WIRE_FROM_CLIENT : LDTAP_WIRE_FROM_SERVER;
    /* Until NEED_MORE even once every byte is consumed (see wire_framer.h). */
    for (unsigned idle = 0; idle <= IDLE_EVENTS_MAX;) {
        size_t consumed = 0;
        enum ldtap_wire_event event = feed_framer(wire, direction, bytes, length, &consumed);
        if (consumed > length)
            return LDTAP_FEED_GIVE_UP;
        bytes += consumed;
        length -= consumed;
        idle = consumed == 0 ? idle + 1 : 0;
        switch (event) {
        case LDTAP_WIRE_NEED_MORE:
            return LDTAP_FEED_CONTINUE;
        case LDTAP_WIRE_QUERY_BEGIN:
            if (!on_query_begin(wire))
                return LDTAP_FEED_GIVE_UP;
            break;
        case LDTAP_WIRE_QUERY_COMPLETE:
            if (!on_query_complete(connection))
                return LDTAP_FEED_GIVE_UP;
            break;
        case LDTAP_WIRE_STOP:
            return LDTAP_FEED_STOP;
        case LDTAP_WIRE_GIVE_UP:
        default:
            return LDTAP_FEED_GIVE_UP;
        }
    }
    return LDTAP_FEED_GIVE_UP;
}

void ldtap_wire_connection_close(struct ldtap_connection *connection) {
    while (connection->wire.count > 0)
        finish_oldest(connection, NULL);
}
