/* HTTP/1.x exchanges on a traced connection: feeds the bytes each hook moved through the
 * request and response framers and turns each request/response pair into a span. */
#include <stddef.h>
#include <string.h>

#include "connection.h"
#include "process.h"
#include "saturation.h"
#include "shim.h"
#include "span.h"
#include "thread.h"

/* Process-wide exchange numbering, so a serial names one exchange of one connection. */
static uint64_t next_serial = 1;

/* The last head framed whole on this thread, per direction (request, response): servers
 * and clients repeat their heads, and a repeated head is then not scanned again. Thread
 * local, so no two threads share one; a signal handler never frames (see LDTAP_RECORD). */
static LDTAP_THREAD_LOCAL struct ldtap_http_head_memo head_memos[2];

/* Framer events that consume nothing in a row before we suspect a framer bug and give up
 * rather than loop inside the program's read(). */
#define STALLED_EVENTS_MAX 4

static struct ldtap_exchange *newest_slot(struct ldtap_connection *connection) {
    return &connection->exchanges[(connection->oldest + connection->count) % LDTAP_PIPELINE_MAX];
}

static struct ldtap_exchange *oldest_exchange(struct ldtap_connection *connection) {
    return &connection->exchanges[connection->oldest];
}

/* The exchange whose request the request parser is framing (the last one begun). */
static struct ldtap_exchange *newest_exchange(struct ldtap_connection *connection) {
    return &connection->exchanges[(connection->oldest + connection->count - 1) % LDTAP_PIPELINE_MAX];
}

static void on_request_begin(struct ldtap_connection *connection) {
    struct ldtap_exchange *exchange = newest_slot(connection);
    connection->count++;
    exchange->serial = __atomic_fetch_add(&next_serial, 1, __ATOMIC_RELAXED);
    if (connection->count == 1) /* nothing else in flight: everything before is over */
        __atomic_store_n(&connection->finished_below, exchange->serial, __ATOMIC_RELEASE);
    exchange->head_request = false;
    exchange->tunnel_request = false;
    exchange->request_complete = false;
    exchange->crash_reported = false;
    exchange->request_head_copied = false;
    exchange->heads_adjoin = false;
    /* ldtap_span_begin fills the span part itself, the endpoints follow: clear the rest. */
    exchange->record.endpoints = connection->endpoints;
    memset(&exchange->record.request_body_bytes, 0,
           sizeof(exchange->record) - offsetof(struct ldtap_http_span_record, request_body_bytes));
    uint64_t now = ldtap_monotonic_ns(); /* one clock read: span start and busy period */
    ldtap_span_begin_at(&exchange->record.span, connection->kind, ldtap_realtime_at(now));
    if (connection->kind == LDTAP_SPAN_KIND_SERVER)
        ldtap_requests_started(1, now);
}

static void on_request_head(struct ldtap_connection *connection) {
    struct ldtap_exchange *exchange = newest_exchange(connection);
    const struct ldtap_http_parser *parser = &connection->request_parser;
    exchange->head_request = parser->method_is_head;
    exchange->tunnel_request = parser->method_is_connect;
    exchange->request_head_length = parser->head.length; /* framing the body leaves it be */
    exchange->request_head_copied = true;
    if (connection->kind != LDTAP_SPAN_KIND_SERVER)
        return;
    ldtap_span_continue_trace(&exchange->record.span, parser->traceparent, parser->traceparent_length);
    ldtap_span_serve(&exchange->record.span, &connection->finished_below, exchange->serial);
}

/* The request parser is bound to the newest exchange until its message completes. */
static void record_request(struct ldtap_exchange *exchange, const struct ldtap_http_parser *parser) {
    exchange->record.request_body_bytes = parser->body_bytes;
    exchange->record.request_head_length = parser->head.length;
    if (parser->head.truncated)
        exchange->record.span.flags |= LDTAP_SPAN_FLAG_REQUEST_HEAD_TRUNCATED;
}

static void on_request_complete(struct ldtap_connection *connection) {
    struct ldtap_exchange *exchange = newest_exchange(connection);
    record_request(exchange, &connection->request_parser);
    exchange->request_complete = true;
    connection->request_parser_ready = false;
}

void ldtap_exchange_finish(struct ldtap_connection *connection, uint16_t extra_flags) {
    struct ldtap_exchange *exchange = oldest_exchange(connection);
    struct ldtap_http_span_record *record = &exchange->record;
    if (!exchange->request_complete)
        record_request(exchange, &connection->request_parser);
    if (connection->response_parser_ready) {
        const struct ldtap_http_parser *response = &connection->response_parser;
        record->status_code = response->status_code;
        record->response_body_bytes = response->body_bytes;
        record->response_head_length = response->head.length;
    }
    record->span.flags |= extra_flags;
    uint64_t now = ldtap_monotonic_ns(); /* one clock read: span end and busy period */
    record->span.end_time_ns = ldtap_realtime_at(now);
    if (!exchange->crash_reported)
        ldtap_span_write_http(record, exchange->heads,
                              exchange->heads_adjoin ? exchange->heads + exchange->request_head_length
                                                     : connection->response_head);
    if (connection->kind == LDTAP_SPAN_KIND_SERVER)
        ldtap_requests_finished(1, now);
    /* Release: a thread remembering this span as served sees it finished after this. */
    __atomic_store_n(&connection->finished_below, exchange->serial + 1, __ATOMIC_RELEASE);
    connection->oldest = (uint8_t)((connection->oldest + 1) % LDTAP_PIPELINE_MAX);
    connection->count--;
    connection->response_parser_ready = false;
}

/* Async-signal-safe: the exchange may be mid-update on this thread (the signal arrived
 * inside the shim) or another, so work on a copy; connection memory is never unmapped,
 * so the worst a race gives is an odd span, never a fault. */
void ldtap_exchange_end_crashed(const struct ldtap_span_common *live, uint64_t serial) {
    struct ldtap_exchange *exchange =
        (struct ldtap_exchange *)((uintptr_t)live - offsetof(struct ldtap_exchange, record.span));
    if (__atomic_load_n(&exchange->serial, __ATOMIC_RELAXED) != serial || exchange->crash_reported)
        return;
    struct ldtap_http_span_record record = exchange->record;
    record.span.flags |= LDTAP_SPAN_FLAG_CRASHED | LDTAP_SPAN_FLAG_NO_RESPONSE;
    record.span.end_time_ns = ldtap_now_ns();
    if (record.request_head_length > LDTAP_HTTP_REQUEST_HEAD_MAX)
        record.request_head_length = 0;
    record.response_head_length = 0; /* no response was framed, whatever is under way */
    exchange->crash_reported = true;
    ldtap_span_write_http(&record, exchange->heads, exchange->heads); /* 0 bytes of response */
}

/* The final response of the oldest exchange was framed. */
static enum ldtap_feed_result on_response_complete(struct ldtap_connection *connection) {
    const struct ldtap_http_parser *response = &connection->response_parser;
    if (ldtap_http_response_is_interim(response)) {
        connection->response_parser_ready = false; /* 100 Continue: the real one follows */
        return LDTAP_FEED_CONTINUE;
    }
    const struct ldtap_exchange *exchange = oldest_exchange(connection);
    bool request_complete = exchange->request_complete;
    bool switched = response->status_code == 101 ||
                    (exchange->tunnel_request && response->status_code / 100 == 2);
    ldtap_exchange_finish(connection, 0);
    if (switched)
        return LDTAP_FEED_STOP;
    /* An early answer (413, 401 …) while the request body is still coming: the request
     * framer is now ahead of the exchange queue; stop rather than mismatch spans. */
    return request_complete ? LDTAP_FEED_CONTINUE : LDTAP_FEED_STOP;
}

/* The steps a framer event of the message going `request`'s way calls for. Inlined: the
 * memo's common case takes two per message. */
static inline __attribute__((always_inline)) enum ldtap_feed_result
on_event(struct ldtap_connection *connection, bool request, enum ldtap_http_event event) {
    struct ldtap_http_parser *parser = request ? &connection->request_parser : &connection->response_parser;
    if (event == LDTAP_HTTP_NEED_MORE)
        return LDTAP_FEED_CONTINUE;
    if (event == LDTAP_HTTP_MESSAGE_BEGIN) {
        if (request)
            on_request_begin(connection);
        return LDTAP_FEED_CONTINUE;
    }
    if (event == LDTAP_HTTP_HEAD_COMPLETE) {
        if (request)
            on_request_head(connection);
        /* A message without a body (a GET, a Content-Length: 0 or 204 response) is
         * complete with its head: finish it now, not when the next bytes or the close
         * arrive (a keep-alive connection's next message would find it unfinished). */
        if (!ldtap_http_head_ends_message(parser))
            return LDTAP_FEED_CONTINUE;
    } else if (event != LDTAP_HTTP_MESSAGE_COMPLETE) {
        return LDTAP_FEED_GIVE_UP;
    }
    if (request) {
        on_request_complete(connection);
        return LDTAP_FEED_CONTINUE;
    }
    return on_response_complete(connection);
}

/* Places the framer for the message about to arrive (a new exchange's request, or the
 * oldest exchange's response); when its whole head is at the start of `bytes` (one read
 * holding it all is the common case) frames it in the same pass and takes the steps its
 * events call for. Consumes the head, or nothing: the event loop then frames it. */
static enum ldtap_feed_result start_message(struct ldtap_connection *connection, bool request,
                                            const uint8_t *bytes, size_t length, size_t *consumed) {
    enum ldtap_http_event event;
    if (request) {
        if (connection->count == LDTAP_PIPELINE_MAX)
            return LDTAP_FEED_GIVE_UP;
        event = ldtap_http_begin_whole_head(&connection->request_parser, LDTAP_HTTP_REQUEST, false,
                                            newest_slot(connection)->heads, LDTAP_HTTP_REQUEST_HEAD_MAX, bytes,
                                            length, consumed, &head_memos[LDTAP_HTTP_REQUEST]);
        connection->request_parser_ready = true;
    } else {
        if (connection->count == 0)
            return LDTAP_FEED_GIVE_UP; /* a response to no request: not HTTP as we know it */
        struct ldtap_exchange *exchange = oldest_exchange(connection);
        /* Right after the request head's copy when that one is final (the common case). */
        exchange->heads_adjoin = exchange->request_head_copied;
        uint8_t *head =
            exchange->heads_adjoin ? exchange->heads + exchange->request_head_length : connection->response_head;
        event = ldtap_http_begin_whole_head(&connection->response_parser, LDTAP_HTTP_RESPONSE,
                                            exchange->head_request, head, LDTAP_HTTP_RESPONSE_HEAD_MAX, bytes,
                                            length, consumed, &head_memos[LDTAP_HTTP_RESPONSE]);
        connection->response_parser_ready = true;
    }
    if (event == LDTAP_HTTP_NEED_MORE)
        return LDTAP_FEED_CONTINUE;
    on_event(connection, request, LDTAP_HTTP_MESSAGE_BEGIN);
    return on_event(connection, request, event);
}

/* Frames one piece of the bytes a call moved, `request` saying which way they went. */
static inline enum ldtap_feed_result feed_piece(struct ldtap_connection *connection, bool request,
                                                const uint8_t *bytes, size_t length) {
    struct ldtap_http_parser *parser = request ? &connection->request_parser : &connection->response_parser;
    bool *ready = request ? &connection->request_parser_ready : &connection->response_parser_ready;
    int stalled = 0;
    while (length > 0) {
        size_t consumed = 0;
        enum ldtap_feed_result result;
        if (!*ready) {
            result = start_message(connection, request, bytes, length, &consumed);
        } else {
            enum ldtap_http_event event =
                ldtap_http_frame_remembering(parser, bytes, length, &consumed, &head_memos[parser->direction]);
            if (consumed > length)
                return LDTAP_FEED_GIVE_UP;
            stalled = consumed == 0 ? stalled + 1 : 0;
            if (stalled > STALLED_EVENTS_MAX)
                return LDTAP_FEED_GIVE_UP;
            result = on_event(connection, request, event);
        }
        if (result != LDTAP_FEED_CONTINUE)
            return result;
        bytes += consumed;
        length -= consumed;
    }
    return LDTAP_FEED_CONTINUE;
}

/* hot */
enum ldtap_feed_result ldtap_exchange_feed_vector(struct ldtap_connection *connection, enum ldtap_flow flow,
                                                  const struct iovec *vector, size_t count, size_t length) {
    bool request = (flow == LDTAP_INBOUND) == (connection->kind == LDTAP_SPAN_KIND_SERVER);
    enum ldtap_feed_result outcome = LDTAP_FEED_CONTINUE;
    for (size_t i = 0; i < count && length > 0 && outcome == LDTAP_FEED_CONTINUE; i++) {
        size_t piece = vector[i].iov_len < length ? vector[i].iov_len : length;
        outcome = feed_piece(connection, request, vector[i].iov_base, piece);
        length -= piece;
    }
    return outcome;
}

enum ldtap_feed_result ldtap_exchange_feed(struct ldtap_connection *connection, enum ldtap_flow flow,
                                           const uint8_t *bytes, size_t length) {
    struct iovec whole = {(void *)bytes, length};
    return ldtap_exchange_feed_vector(connection, flow, &whole, 1, length);
}
