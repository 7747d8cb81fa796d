/* The contract shared by the database wire-protocol framers (pgwire.h, mysql_wire.h, resp.h)
 * and the small pieces they have in common: events, statement copy, reply FIFO, prepared table. */
#ifndef LDTAP_WIRE_FRAMER_H
#define LDTAP_WIRE_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * How the shim drives a wire framer (one state struct per connection, both directions):
 *
 *   init(state, statement_buffer, capacity);       once, when the connection is recognised
 *   for every read/write that moved bytes:
 *       do {
 *           event = feed(state, direction, bytes, length, &consumed);
 *           bytes += consumed; length -= consumed;
 *           act on event;                           (see below)
 *       } while (event != LDTAP_WIRE_NEED_MORE && event is not STOP/GIVE_UP);
 *
 * Feed the bytes in the order they crossed the socket: client bytes when the client wrote
 * them, server bytes when the client read them. Keep calling until NEED_MORE even when
 * `length` has reached 0: one server message can finish several queries (a failed
 * pipeline, an aborted MULTI), and each is reported by its own call.
 *
 *   QUERY_BEGIN     the client finished sending a statement; `wire.query` describes it
 *                   (its text pointer is valid until the next feed call: copy it).
 *   QUERY_COMPLETE  the oldest begun query finished; `wire.result` has its outcome.
 *                   Queries complete in the order they began, each exactly once
 *                   (`sequence` numbers match), unless the framer stops or gives up.
 *   STOP            nothing more to frame, for a reason that is not an error
 *                   (`wire.stop_reason`): TLS negotiated, pub/sub, replication, cancel.
 *                   Queries begun and not completed are abandoned.
 *   GIVE_UP         malformed, unexpected or beyond limits: stop tracking, count it.
 *
 * After STOP or GIVE_UP every further call returns the same event and consumes nothing.
 */

enum ldtap_wire_direction {
    LDTAP_WIRE_FROM_CLIENT = 0, /* bytes the client sent (the traced program's writes) */
    LDTAP_WIRE_FROM_SERVER = 1, /* bytes the server sent (the traced program's reads) */
};

enum ldtap_wire_event {
    LDTAP_WIRE_NEED_MORE = 0,      /* every byte consumed, nothing to report */
    LDTAP_WIRE_QUERY_BEGIN = 1,    /* see above */
    LDTAP_WIRE_QUERY_COMPLETE = 2, /* see above */
    LDTAP_WIRE_STOP = 3,           /* see above */
    LDTAP_WIRE_GIVE_UP = -1,       /* see above */
};

enum ldtap_wire_stop_reason {
    LDTAP_WIRE_STOP_NONE = 0,
    LDTAP_WIRE_STOP_ENCRYPTED = 1,   /* TLS or GSSAPI encryption accepted: bytes are opaque */
    LDTAP_WIRE_STOP_PUBSUB = 2,      /* Redis SUBSCRIBE/MONITOR/CLIENT REPLY: pushes, not replies */
    LDTAP_WIRE_STOP_NOT_QUERIES = 3, /* cancel request, replication, protocol switch */
    LDTAP_WIRE_STOP_CLOSED = 4,      /* the client said goodbye (Terminate, COM_QUIT, QUIT) */
};

/* What a recogniser says about the first bytes of a connection. */
enum ldtap_wire_recognition {
    LDTAP_WIRE_NOT_RECOGNISED = 0,
    LDTAP_WIRE_RECOGNISED = 1,
    LDTAP_WIRE_NEED_MORE_BYTES = 2, /* a prefix that could still be this protocol */
};

#define LDTAP_WIRE_PENDING_MAX 128u      /* commands sent and not yet answered; more: GIVE_UP */
#define LDTAP_WIRE_NAMESPACE_MAX 64u     /* database name bytes kept (PostgreSQL's NAMEDATALEN) */
#define LDTAP_WIRE_PREPARED_MAX 16u      /* prepared statements remembered per connection */
#define LDTAP_WIRE_PREPARED_TEXT_MAX 256u /* head of a prepared statement's text kept */

/* The caller-owned buffer a statement's head is copied into (simple queries, the unnamed
 * PostgreSQL statement, Redis commands). `full_length` counts every byte offered, kept or
 * not, saturating at UINT32_MAX. */
struct ldtap_wire_text {
    uint8_t *bytes;
    uint16_t capacity;
    uint16_t length;
    uint32_t full_length;
};

/* Set at QUERY_BEGIN. */
struct ldtap_wire_query {
    const uint8_t *text;  /* statement head: caller's buffer or the prepared table; may be NULL
                             with text_length 0 when the text is unknown */
    uint32_t full_length; /* the statement's real length: larger than text_length means cut */
    uint16_t text_length;
    uint16_t flags;       /* enum ldtap_db_flag: PREPARED, TRANSACTION_BATCH */
    uint32_t sequence;    /* 1 for the connection's first query, then +1 */
};

/* Set at QUERY_COMPLETE. */
struct ldtap_wire_result {
    int64_t rows;          /* rows returned or affected; -1 unknown */
    uint32_t sequence;     /* which query: matches ldtap_wire_query.sequence */
    uint32_t error_code;   /* MySQL error number; 0 otherwise */
    uint16_t flags;        /* enum ldtap_db_flag: ERROR, PREPARED, TRANSACTION_BATCH */
    char status_code[8];   /* SQLSTATE or Redis error prefix (cut at 7), NUL-terminated */
};

/* Commands awaiting their replies, oldest first. Item values are the framer's own
 * (never 0); LDTAP_WIRE_ITEM_SPAN marks those that began a query. */
struct ldtap_wire_pending {
    uint8_t items[LDTAP_WIRE_PENDING_MAX];
    uint8_t head;
    uint8_t count;
};

enum { LDTAP_WIRE_ITEM_SPAN = 0x80u, LDTAP_WIRE_ITEM_FAILED = 0x40u, LDTAP_WIRE_ITEM_KIND = 0x3fu };

/* One remembered prepared statement; key 0 marks a free entry. */
struct ldtap_wire_prepared {
    uint64_t key;         /* hash of a PostgreSQL name, or MySQL statement id + 1 */
    uint32_t full_length;
    uint16_t length;
    uint16_t last_used;   /* table clock at the last use: the least recent is evicted */
    uint8_t text[LDTAP_WIRE_PREPARED_TEXT_MAX];
};

struct ldtap_wire_prepared_table {
    struct ldtap_wire_prepared entries[LDTAP_WIRE_PREPARED_MAX];
    uint16_t clock;
};

/* The part of every framer's state the caller reads. Embedded first as `wire`. */
struct ldtap_wire_common {
    struct ldtap_wire_text statement; /* caller's buffer */
    struct ldtap_wire_query query;
    struct ldtap_wire_result result;
    struct ldtap_wire_result owed_result;   /* internal: template for `owed` completions */
    struct ldtap_wire_result final_result;  /* internal: reported after the owed ones */
    struct ldtap_wire_pending pending;      /* internal */
    uint32_t begun;                         /* queries begun */
    uint32_t completed;                     /* queries completed */
    uint8_t owed;        /* internal: span items at the FIFO head to complete with owed_result */
    uint8_t owed_drop;   /* internal: then non-span items to drop */
    uint8_t owed_final;  /* internal: then one completion with final_result */
    uint8_t stop_reason; /* enum ldtap_wire_stop_reason, once STOP was returned */
    int8_t finished;     /* internal: the event repeated after STOP or GIVE_UP, else 0 */
    uint8_t namespace_length;
    bool namespace_truncated;
    char namespace[LDTAP_WIRE_NAMESPACE_MAX]; /* db.namespace, not NUL-terminated */
};

/* ---- helpers for the framers (not for the shim) ---- */

void ldtap_wire_common_init(struct ldtap_wire_common *wire, uint8_t *statement_buffer, uint16_t capacity);

void ldtap_wire_text_reset(struct ldtap_wire_text *text);
/* hot */
void ldtap_wire_text_append(struct ldtap_wire_text *text, const uint8_t *bytes, size_t length);

void ldtap_wire_namespace_reset(struct ldtap_wire_common *wire);
void ldtap_wire_namespace_append(struct ldtap_wire_common *wire, const uint8_t *bytes, size_t length);

bool ldtap_wire_pending_push(struct ldtap_wire_pending *pending, uint8_t item);
uint8_t ldtap_wire_pending_peek(const struct ldtap_wire_pending *pending, size_t index); /* 0: none */
uint8_t ldtap_wire_pending_pop(struct ldtap_wire_pending *pending);
void ldtap_wire_pending_mark(struct ldtap_wire_pending *pending, size_t index, uint8_t bits);

void ldtap_wire_result_reset(struct ldtap_wire_result *result);
void ldtap_wire_result_set_status(struct ldtap_wire_result *result, const uint8_t *bytes, size_t length);

/* Event makers: fill `wire` and return the event to hand to the caller. */
enum ldtap_wire_event ldtap_wire_begin(struct ldtap_wire_common *wire, const uint8_t *text,
                                       uint16_t text_length, uint32_t full_length, uint16_t flags);
/* Completes the FIFO head (which must be a span item) with `result`. */
enum ldtap_wire_event ldtap_wire_complete(struct ldtap_wire_common *wire, const struct ldtap_wire_result *result);
enum ldtap_wire_event ldtap_wire_give_up(struct ldtap_wire_common *wire);
enum ldtap_wire_event ldtap_wire_stop(struct ldtap_wire_common *wire, enum ldtap_wire_stop_reason reason);

/* The next owed completion (owed, then dropped items, then final), or NEED_MORE when
 * nothing is owed. ldtap_wire_feed_start calls it first in feed. */
enum ldtap_wire_event ldtap_wire_take_owed(struct ldtap_wire_common *wire);
/* hot: what every feed does before framing. Sets *consumed to 0; false, with *event to
 * return, after STOP or GIVE_UP, while a completion is owed, or when `length` is 0; true
 * when the framer should frame the bytes. */
bool ldtap_wire_feed_start(struct ldtap_wire_common *wire, size_t length, size_t *consumed,
                           enum ldtap_wire_event *event);

uint64_t ldtap_wire_hash(uint64_t hash, const uint8_t *bytes, size_t length);
#define LDTAP_WIRE_HASH_SEED 14695981039346656037ull

/* Prepared statements: find touches the entry; claim finds or takes the least recently
 * used entry and empties it; forget frees the entry if present. */
struct ldtap_wire_prepared *ldtap_wire_prepared_find(struct ldtap_wire_prepared_table *table, uint64_t key);
struct ldtap_wire_prepared *ldtap_wire_prepared_claim(struct ldtap_wire_prepared_table *table, uint64_t key);
void ldtap_wire_prepared_forget(struct ldtap_wire_prepared_table *table, uint64_t key);
void ldtap_wire_prepared_append(struct ldtap_wire_prepared *entry, const uint8_t *bytes, size_t length);

#endif
