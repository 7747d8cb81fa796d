/* Unit tests for the HTTP/1.x framer: every sample is fed whole, split in two at every
 * byte and one byte at a time, and must give the same events, sizes and head copies. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "http1_fast_head.h"
#include "http1_framer.h"

enum { MAX_MESSAGES = 8, MAX_EVENTS = 64, HEAD_CAPACITY = 512 };

/* What the framer reported about one message, snapshotted at each event. */
struct message_result {
    char head[HEAD_CAPACITY + 1];
    uint16_t head_length;
    bool truncated;
    uint16_t status_code;
    uint8_t version_minor;
    uint8_t method_is_head;
    uint8_t method_is_connect;
    uint8_t expect_continue;
    uint8_t connection_close;
    uint8_t upgrade;
    uint8_t interim;
    uint64_t content_length;
    uint64_t body_bytes;
    char traceparent[LDTAP_HTTP_TRACEPARENT_BYTES + 1];
    uint8_t traceparent_length;
};

struct stream_result {
    char events[MAX_EVENTS + 1]; /* B begin, H head complete, C complete, G give up */
    size_t event_count;
    struct message_result messages[MAX_MESSAGES];
    size_t message_count; /* completed messages */
    bool gave_up;
};

struct sample {
    enum ldtap_http_direction direction;
    bool no_body;
    bool close_at_end; /* call ldtap_http_frame_close after the last byte */
    uint16_t head_capacity;
    const char *bytes;
    size_t length;
};

static struct sample request(const char *bytes) {
    return (struct sample){LDTAP_HTTP_REQUEST, false, false, HEAD_CAPACITY, bytes, strlen(bytes)};
}

static struct sample response(const char *bytes) {
    return (struct sample){LDTAP_HTTP_RESPONSE, false, false, HEAD_CAPACITY, bytes, strlen(bytes)};
}

struct feeder {
    const struct sample *sample;
    struct ldtap_http_parser parser;
    uint8_t head_buffer[HEAD_CAPACITY];
    struct stream_result *result;
    bool stopped;
};

static void add_event(struct feeder *feeder, char event) {
    struct stream_result *result = feeder->result;
    cr_assert_lt(result->event_count, MAX_EVENTS);
    result->events[result->event_count++] = event;
}

static void snapshot(struct feeder *feeder) {
    struct stream_result *result = feeder->result;
    if (result->message_count >= MAX_MESSAGES) {
        return;
    }
    const struct ldtap_http_parser *parser = &feeder->parser;
    struct message_result *message = &result->messages[result->message_count];
    memset(message, 0, sizeof *message);
    cr_assert_leq(parser->head.length, parser->head.capacity);
    memcpy(message->head, feeder->head_buffer, parser->head.length);
    message->head_length = parser->head.length;
    message->truncated = parser->head.truncated;
    message->status_code = parser->status_code;
    message->version_minor = parser->version_minor;
    message->method_is_head = parser->method_is_head;
    message->method_is_connect = parser->method_is_connect;
    message->expect_continue = parser->expect_continue;
    message->connection_close = parser->connection_close;
    message->upgrade = parser->upgrade;
    message->interim = ldtap_http_response_is_interim(parser);
    message->content_length = parser->content_length;
    message->body_bytes = parser->body_bytes;
    cr_assert_leq(parser->traceparent_length, LDTAP_HTTP_TRACEPARENT_BYTES);
    cr_assert_eq(parser->traceparent[parser->traceparent_length], '\0');
    memcpy(message->traceparent, parser->traceparent, parser->traceparent_length);
    message->traceparent_length = parser->traceparent_length;
}

static void begin(struct feeder *feeder) {
    ldtap_http_parser_begin(&feeder->parser, feeder->sample->direction, feeder->sample->no_body,
                            feeder->head_buffer, feeder->sample->head_capacity);
}

static void on_event(struct feeder *feeder, enum ldtap_http_event event) {
    switch (event) {
    case LDTAP_HTTP_MESSAGE_BEGIN:
        add_event(feeder, 'B');
        break;
    case LDTAP_HTTP_HEAD_COMPLETE:
        add_event(feeder, 'H');
        snapshot(feeder);
        break;
    case LDTAP_HTTP_MESSAGE_COMPLETE:
        add_event(feeder, 'C');
        snapshot(feeder);
        feeder->result->message_count++;
        begin(feeder);
        break;
    case LDTAP_HTTP_GIVE_UP:
        add_event(feeder, 'G');
        feeder->result->gave_up = true;
        feeder->stopped = true;
        break;
    case LDTAP_HTTP_NEED_MORE:
        break;
    }
}

static void feed_piece(struct feeder *feeder, const uint8_t *bytes, size_t length) {
    int calls_without_progress = 0;
    while (!feeder->stopped) {
        size_t consumed = 12345;
        enum ldtap_http_event event = ldtap_http_frame(&feeder->parser, bytes, length, &consumed);
        cr_assert_leq(consumed, length);
        if (event == LDTAP_HTTP_NEED_MORE) {
            cr_assert_eq(consumed, length, "NEED_MORE must consume everything");
        }
        calls_without_progress = consumed == 0 ? calls_without_progress + 1 : 0;
        cr_assert_lt(calls_without_progress, 4, "the framer makes no progress");
        bytes += consumed;
        length -= consumed;
        on_event(feeder, event);
        if (event == LDTAP_HTTP_NEED_MORE) {
            return;
        }
    }
}

/* Feeds the sample in pieces of at most `piece` bytes, or split once at `split` if nonzero. */
static void run(const struct sample *sample, size_t split, size_t piece, struct stream_result *result) {
    static struct feeder feeder;
    memset(result, 0, sizeof *result);
    memset(&feeder, 0, sizeof feeder);
    feeder.sample = sample;
    feeder.result = result;
    begin(&feeder);
    const uint8_t *bytes = (const uint8_t *)sample->bytes;
    if (split > 0) {
        feed_piece(&feeder, bytes, split);
        feed_piece(&feeder, bytes + split, sample->length - split);
    } else {
        for (size_t offset = 0; offset < sample->length; offset += piece) {
            size_t length = sample->length - offset < piece ? sample->length - offset : piece;
            feed_piece(&feeder, bytes + offset, length);
        }
        if (sample->length == 0) {
            feed_piece(&feeder, bytes, 0);
        }
    }
    if (sample->close_at_end && !feeder.stopped) {
        on_event(&feeder, ldtap_http_frame_close(&feeder.parser));
    }
    if (!feeder.stopped) {
        snapshot(&feeder); /* the message still in progress, if any */
    }
}

static void assert_same(const struct stream_result *expected, const struct stream_result *actual,
                        const char *how, size_t where) {
    cr_assert_str_eq(actual->events, expected->events, "events differ when %s %zu", how, where);
    cr_assert_eq(actual->message_count, expected->message_count, "%s %zu", how, where);
    for (size_t i = 0; i <= expected->message_count && i < MAX_MESSAGES; i++) {
        cr_assert(memcmp(&actual->messages[i], &expected->messages[i], sizeof expected->messages[i]) == 0,
                  "message %zu differs when %s %zu: head \"%s\" vs \"%s\"", i, how, where,
                  actual->messages[i].head, expected->messages[i].head);
    }
}

/* Frames the sample whole, then at every split and byte by byte; returns the whole result. */
static struct stream_result frame_everywhere(struct sample sample) {
    struct stream_result whole;
    struct stream_result other;
    run(&sample, 0, sample.length + 1, &whole);
    for (size_t split = 1; split < sample.length; split++) {
        run(&sample, split, 0, &other);
        assert_same(&whole, &other, "split at", split);
    }
    run(&sample, 0, 1, &other);
    assert_same(&whole, &other, "fed byte by byte, length", sample.length);
    return whole;
}

#define GET_REQUEST                                                                                \
    "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5\r\nAccept: */*\r\n\r\n"
#define OK_RESPONSE_5 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"

Test(http1_framer, simple_get_head_copy) {
    struct stream_result result = frame_everywhere(request(GET_REQUEST));
    cr_assert_str_eq(result.events, "BHC");
    cr_assert_eq(result.message_count, 1);
    cr_assert_str_eq(result.messages[0].head,
                     "GET /index.html HTTP/1.1\r\nhost: example.com\r\nuser-agent: curl/8.5\r\n");
    cr_assert_eq(result.messages[0].body_bytes, 0);
    cr_assert_eq(result.messages[0].version_minor, 1);
    cr_assert_eq(result.messages[0].connection_close, 0);
    cr_assert_eq(result.messages[0].content_length, UINT64_MAX);
}

Test(http1_framer, keep_alive_responses_in_sequence) {
    struct stream_result result = frame_everywhere(response(OK_RESPONSE_5 OK_RESPONSE_5
                                                            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"));
    cr_assert_str_eq(result.events, "BHCBHCBHC");
    cr_assert_eq(result.message_count, 3);
    cr_assert_eq(result.messages[0].status_code, 200);
    cr_assert_eq(result.messages[0].body_bytes, 5);
    cr_assert_str_eq(result.messages[0].head,
                     "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n");
    cr_assert_eq(result.messages[1].body_bytes, 5);
    cr_assert_eq(result.messages[2].status_code, 404);
    cr_assert_eq(result.messages[2].body_bytes, 0);
    cr_assert_eq(result.messages[2].content_length, 0);
}

Test(http1_framer, three_pipelined_requests_in_one_buffer) {
    struct stream_result result = frame_everywhere(request(
        "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
        "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
        "DELETE /c?id=7 HTTP/1.1\r\nHost: h\r\n\r\n"));
    cr_assert_str_eq(result.events, "BHCBHCBHC");
    cr_assert_eq(result.message_count, 3);
    cr_assert_str_eq(result.messages[0].head, "GET /a HTTP/1.1\r\nhost: h\r\n");
    cr_assert_str_eq(result.messages[1].head, "POST /b HTTP/1.1\r\nhost: h\r\ncontent-length: 3\r\n");
    cr_assert_eq(result.messages[1].body_bytes, 3);
    cr_assert_str_eq(result.messages[2].head, "DELETE /c HTTP/1.1\r\nhost: h\r\n");
}

Test(http1_framer, pipelined_message_starts_exactly_after_the_previous) {
    const char *stream = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    struct ldtap_http_parser parser;
    uint8_t head[64];
    size_t consumed;
    ldtap_http_parser_begin(&parser, LDTAP_HTTP_REQUEST, false, head, sizeof head);
    const uint8_t *bytes = (const uint8_t *)stream;
    size_t length = strlen(stream);
    cr_assert_eq(ldtap_http_frame(&parser, bytes, length, &consumed), LDTAP_HTTP_MESSAGE_BEGIN);
    cr_assert_eq(consumed, 0);
    cr_assert_eq(ldtap_http_frame(&parser, bytes, length, &consumed), LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert_eq(consumed, 19);
    cr_assert_eq(ldtap_http_frame(&parser, bytes + 19, length - 19, &consumed), LDTAP_HTTP_MESSAGE_COMPLETE);
    cr_assert_eq(consumed, 0);
    ldtap_http_parser_begin(&parser, LDTAP_HTTP_REQUEST, false, head, sizeof head);
    cr_assert_eq(ldtap_http_frame(&parser, bytes + 19, length - 19, &consumed), LDTAP_HTTP_MESSAGE_BEGIN);
    cr_assert_eq(consumed, 0);
}

Test(http1_framer, content_length_body_larger_than_a_read) {
    static char message[4096];
    int header = snprintf(message, sizeof message, "PUT /upload HTTP/1.1\r\nContent-Length: 1000\r\n\r\n");
    memset(message + header, 'x', 1000);
    message[header + 1000] = '\0';
    struct stream_result result = frame_everywhere(request(message));
    cr_assert_str_eq(result.events, "BHC");
    cr_assert_eq(result.messages[0].body_bytes, 1000);
    cr_assert_eq(result.messages[0].content_length, 1000);
}

Test(http1_framer, chunked_request_with_extensions_and_trailers) {
    struct stream_result result = frame_everywhere(request(
        "POST /stream HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n"
        "A ; another=\"quoted;value\"\r\n0123456789\r\n"
        "0\r\nX-Checksum: abc\r\nX-Other: def\r\n\r\n"
        "GET /next HTTP/1.1\r\n\r\n"));
    cr_assert_str_eq(result.events, "BHCBHC");
    cr_assert_eq(result.messages[0].body_bytes, 15);
    cr_assert_str_eq(result.messages[1].head, "GET /next HTTP/1.1\r\n");
}

Test(http1_framer, chunked_response_with_gzip_then_chunked) {
    struct stream_result result = frame_everywhere(response(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
        "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n"));
    cr_assert_str_eq(result.events, "BHCBHC");
    cr_assert_eq(result.messages[0].body_bytes, 26);
    cr_assert_eq(result.messages[1].body_bytes, 3);
}

Test(http1_framer, connection_close_header) {
    struct stream_result result = frame_everywhere(
        request("GET / HTTP/1.1\r\nConnection: TE, Close\r\n\r\n"));
    cr_assert_eq(result.messages[0].connection_close, 1);
    result = frame_everywhere(request("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"));
    cr_assert_eq(result.messages[0].connection_close, 0);
}

Test(http1_framer, http10_closes_unless_keep_alive) {
    struct stream_result result = frame_everywhere(request("GET /old HTTP/1.0\r\n\r\n"));
    cr_assert_str_eq(result.events, "BHC");
    cr_assert_eq(result.messages[0].version_minor, 0);
    cr_assert_eq(result.messages[0].connection_close, 1);
    cr_assert_str_eq(result.messages[0].head, "GET /old HTTP/1.0\r\n");
    result = frame_everywhere(request("GET /old HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    cr_assert_eq(result.messages[0].connection_close, 0);
}

Test(http1_framer, http10_response_without_length_ends_at_close) {
    struct sample sample = response("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>body</html>");
    sample.close_at_end = true;
    struct stream_result result = frame_everywhere(sample);
    cr_assert_str_eq(result.events, "BHC");
    cr_assert_eq(result.messages[0].body_bytes, 17);
    cr_assert_eq(result.messages[0].connection_close, 1);
}

Test(http1_framer, close_delimited_response_http11) {
    struct sample sample = response("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc");
    struct stream_result open = frame_everywhere(sample);
    cr_assert_str_eq(open.events, "BH", "not complete until the connection closes");
    cr_assert_eq(open.messages[0].body_bytes, 3);
    sample.close_at_end = true;
    struct stream_result closed = frame_everywhere(sample);
    cr_assert_str_eq(closed.events, "BHC");
    cr_assert_eq(closed.messages[0].body_bytes, 3);
}

Test(http1_framer, close_in_the_middle_gives_up_and_close_when_idle_does_nothing) {
    struct sample cut = response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    cut.close_at_end = true;
    cr_assert_str_eq(frame_everywhere(cut).events, "BHG");
    struct sample cut_head = request("GET / HTTP/1.1\r\nHost:");
    cut_head.close_at_end = true;
    cr_assert_str_eq(frame_everywhere(cut_head).events, "BG");
    struct sample idle = request("GET / HTTP/1.1\r\n\r\n");
    idle.close_at_end = true;
    struct stream_result result = frame_everywhere(idle);
    cr_assert_str_eq(result.events, "BHC");
    cr_assert_not(result.gave_up);
}

Test(http1_framer, expect_continue_exchange) {
    /* The client sends the head, waits for 100 Continue, then sends the body. */
    const char *request_head = "PUT /file HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    struct stream_result head_only = frame_everywhere(request(request_head));
    cr_assert_str_eq(head_only.events, "BH");
    cr_assert_eq(head_only.messages[0].expect_continue, 1);

    struct stream_result responses = frame_everywhere(response(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"));
    cr_assert_str_eq(responses.events, "BHCBHC");
    cr_assert_eq(responses.messages[0].status_code, 100);
    cr_assert_eq(responses.messages[0].interim, 1);
    cr_assert_eq(responses.messages[1].status_code, 201);
    cr_assert_eq(responses.messages[1].interim, 0);
    cr_assert_eq(responses.messages[1].body_bytes, 2);

    char whole_request[256];
    snprintf(whole_request, sizeof whole_request, "%sdata", request_head);
    struct stream_result with_body = frame_everywhere(request(whole_request));
    cr_assert_str_eq(with_body.events, "BHC");
    cr_assert_eq(with_body.messages[0].body_bytes, 4);
}

Test(http1_framer, switching_protocols_is_not_interim) {
    struct stream_result result = frame_everywhere(response(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"));
    cr_assert_str_eq(result.events, "BHC");
    cr_assert_eq(result.messages[0].interim, 0);
    cr_assert_eq(result.messages[0].upgrade, 1);
}

Test(http1_framer, head_response_has_no_body_despite_content_length) {
    struct sample sample = response("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
                                    "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
    sample.no_body = true;
    struct stream_result result = frame_everywhere(sample);
    cr_assert_str_eq(result.events, "BHCBHC");
    cr_assert_eq(result.messages[0].body_bytes, 0);
    cr_assert_eq(result.messages[0].content_length, 1234);
}

Test(http1_framer, head_request_is_recognised) {
    struct stream_result result = frame_everywhere(request("HEAD /x HTTP/1.1\r\n\r\n"));
    cr_assert_eq(result.messages[0].method_is_head, 1);
}

Test(http1_framer, no_body_for_204_and_304) {
    struct stream_result result = frame_everywhere(response(
        "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"
        "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"
        "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nz"));
    cr_assert_str_eq(result.events, "BHCBHCBHC");
    cr_assert_eq(result.messages[0].status_code, 204);
    cr_assert_eq(result.messages[1].status_code, 304);
    cr_assert_eq(result.messages[2].body_bytes, 1);
    cr_assert_str_eq(result.messages[2].head, "HTTP/1.1 200\r\ncontent-length: 1\r\n");
}

Test(http1_framer, successful_connect_response_has_no_body) {
    struct ldtap_http_parser parser;
    uint8_t head[128];
    size_t consumed;
    const char *text = "HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x01";
    ldtap_http_parser_begin(&parser, LDTAP_HTTP_RESPONSE, false, head, sizeof head);
    parser.method_is_connect = 1;
    const uint8_t *bytes = (const uint8_t *)text;
    size_t length = strlen(text);
    cr_assert_eq(ldtap_http_frame(&parser, bytes, length, &consumed), LDTAP_HTTP_MESSAGE_BEGIN);
    cr_assert_eq(ldtap_http_frame(&parser, bytes, length, &consumed), LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert_eq(ldtap_http_frame(&parser, bytes + consumed, length - consumed, &consumed),
                 LDTAP_HTTP_MESSAGE_COMPLETE);
    cr_assert_eq(consumed, 0);
    struct stream_result request_result = frame_everywhere(request("CONNECT example.com:443 HTTP/1.1\r\n\r\n"));
    cr_assert_eq(request_result.messages[0].method_is_connect, 1);
    cr_assert_str_eq(request_result.messages[0].head, "CONNECT example.com:443 HTTP/1.1\r\n");
}

Test(http1_framer, query_string_and_secrets_never_copied) {
    struct stream_result result = frame_everywhere(request(
        "POST /login?user=bob&password=hunter2 HTTP/1.1\r\n"
        "Authorization: Bearer secret-token\r\n"
        "Host: shop.example\r\n"
        "Cookie: session=abcdef\r\n"
        "X-Api-Key: k\r\n"
        "Content-Type:   application/json  \r\n"
        "Content-Length: 2\r\n"
        "\r\n{}"));
    const char *head = result.messages[0].head;
    cr_assert_str_eq(head, "POST /login HTTP/1.1\r\nhost: shop.example\r\ncontent-type: application/json\r\n"
                           "content-length: 2\r\n");
    cr_assert_null(strstr(head, "secret"));
    cr_assert_null(strstr(head, "session"));
    cr_assert_null(strstr(head, "hunter2"));
    result = frame_everywhere(request("GET /page#fragment?x HTTP/1.1\r\n\r\n"));
    cr_assert_str_eq(result.messages[0].head, "GET /page HTTP/1.1\r\n");
}

Test(http1_framer, head_copy_truncates_at_capacity) {
    const char *text = "GET /a/rather/long/path HTTP/1.1\r\nHost: example.com\r\nUser-Agent: "
                       "a-very-long-user-agent-string/1.0\r\n\r\n";
    /* Room for the request line and the host line, not the user agent line. */
    struct sample sample = request(text);
    sample.head_capacity = 34 + 19 + 10;
    struct stream_result result = frame_everywhere(sample);
    cr_assert_str_eq(result.events, "BHC");
    cr_assert(result.messages[0].truncated);
    cr_assert_str_eq(result.messages[0].head, "GET /a/rather/long/path HTTP/1.1\r\nhost: example.com\r\n");
    /* A request line that does not fit is kept as far as it goes. */
    sample.head_capacity = 10;
    result = frame_everywhere(sample);
    cr_assert(result.messages[0].truncated);
    cr_assert_eq(result.messages[0].head_length, 10);
    cr_assert_str_eq(result.messages[0].head, "GET /a/rat");
    sample.head_capacity = 0;
    result = frame_everywhere(sample);
    cr_assert_str_eq(result.events, "BHC");
    cr_assert_eq(result.messages[0].head_length, 0);
}

Test(http1_framer, long_uninteresting_headers_are_skipped) {
    static char message[40000];
    int offset = snprintf(message, sizeof message, "GET / HTTP/1.1\r\nCookie: ");
    memset(message + offset, 'c', 30000);
    snprintf(message + offset + 30000, sizeof message - (size_t)offset - 30000,
             "\r\nX-%0200d: y\r\nHost: h\r\n\r\n", 0);
    struct ldtap_http_parser parser;
    uint8_t head[128];
    ldtap_http_parser_begin(&parser, LDTAP_HTTP_REQUEST, false, head, sizeof head);
    const uint8_t *bytes = (const uint8_t *)message;
    size_t length = strlen(message);
    size_t consumed;
    cr_assert_eq(ldtap_http_frame(&parser, bytes, length, &consumed), LDTAP_HTTP_MESSAGE_BEGIN);
    /* Fed in 7-byte pieces: long lines cross many calls. */
    enum ldtap_http_event event = LDTAP_HTTP_NEED_MORE;
    size_t offset_fed = 0;
    while (offset_fed < length && event == LDTAP_HTTP_NEED_MORE) {
        size_t piece = length - offset_fed < 7 ? length - offset_fed : 7;
        event = ldtap_http_frame(&parser, bytes + offset_fed, piece, &consumed);
        offset_fed += consumed;
    }
    cr_assert_eq(event, LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert_eq(offset_fed, length);
    cr_assert_eq(parser.head.length, strlen("GET / HTTP/1.1\r\nhost: h\r\n"));
    cr_assert(memcmp(head, "GET / HTTP/1.1\r\nhost: h\r\n", parser.head.length) == 0);
}

Test(http1_framer, oversized_head_gives_up) {
    static char message[LDTAP_HTTP_MAX_HEAD_BYTES + 200];
    int offset = snprintf(message, sizeof message, "GET / HTTP/1.1\r\nX-Big: ");
    memset(message + offset, 'b', LDTAP_HTTP_MAX_HEAD_BYTES);
    memcpy(message + offset + LDTAP_HTTP_MAX_HEAD_BYTES, "\r\n\r\n", 5);
    struct ldtap_http_parser parser;
    size_t consumed;
    ldtap_http_parser_begin(&parser, LDTAP_HTTP_REQUEST, false, NULL, 0);
    const uint8_t *bytes = (const uint8_t *)message;
    cr_assert_eq(ldtap_http_frame(&parser, bytes, strlen(message), &consumed), LDTAP_HTTP_MESSAGE_BEGIN);
    cr_assert_eq(ldtap_http_frame(&parser, bytes, strlen(message), &consumed), LDTAP_HTTP_GIVE_UP);
    cr_assert_leq(consumed, LDTAP_HTTP_MAX_HEAD_BYTES + 1);
    cr_assert_eq(ldtap_http_frame(&parser, bytes, 1, &consumed), LDTAP_HTTP_GIVE_UP, "give up is final");
    /* The same head at exactly the limit is accepted. */
    size_t exact_fill = LDTAP_HTTP_MAX_HEAD_BYTES - (size_t)offset - 4;
    memcpy(message + offset + exact_fill, "\r\n\r\n", 5);
    ldtap_http_parser_begin(&parser, LDTAP_HTTP_REQUEST, false, NULL, 0);
    cr_assert_eq(ldtap_http_frame(&parser, bytes, strlen(message), &consumed), LDTAP_HTTP_MESSAGE_BEGIN);
    cr_assert_eq(ldtap_http_frame(&parser, bytes, strlen(message), &consumed), LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert_eq(parser.head_bytes, LDTAP_HTTP_MAX_HEAD_BYTES);
}

static void assert_gives_up(enum ldtap_http_direction direction, const char *bytes, size_t length) {
    struct sample sample = {direction, false, false, HEAD_CAPACITY, bytes, length};
    struct stream_result result = frame_everywhere(sample);
    cr_assert(result.gave_up, "expected GIVE_UP, events \"%s\"", result.events);
    cr_assert_eq(result.message_count, 0);
}

static void assert_request_gives_up(const char *text) {
    assert_gives_up(LDTAP_HTTP_REQUEST, text, strlen(text));
}

static void assert_response_gives_up(const char *text) {
    assert_gives_up(LDTAP_HTTP_RESPONSE, text, strlen(text));
}

Test(http1_framer, other_protocols_give_up) {
    static const uint8_t tls_client_hello[] = {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1,
                                               0x03, 0x03, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e};
    assert_gives_up(LDTAP_HTTP_REQUEST, (const char *)tls_client_hello, sizeof tls_client_hello);
    assert_gives_up(LDTAP_HTTP_RESPONSE, (const char *)tls_client_hello, sizeof tls_client_hello);
    static const uint8_t postgres_startup[] = {0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f};
    assert_gives_up(LDTAP_HTTP_REQUEST, (const char *)postgres_startup, sizeof postgres_startup);
    static const uint8_t binary[] = {0xff, 0xfe, 0x00, 0x41, 0x42, 0x0d, 0x0a, 0x0d, 0x0a};
    assert_gives_up(LDTAP_HTTP_REQUEST, (const char *)binary, sizeof binary);
    assert_request_gives_up("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert_request_gives_up("*1\r\n$4\r\nPING\r\n");
    assert_request_gives_up("PING\r\n");
    assert_request_gives_up("SET key value\r\n");
    assert_request_gives_up("get / HTTP/1.1\r\n\r\n");
    assert_request_gives_up("GET / HTTP/2\r\n\r\n");
    assert_request_gives_up("GET  / HTTP/1.1\r\n\r\n");
    assert_request_gives_up("GET /\r\n");
    assert_request_gives_up("GETTINGAVERYLONGMETHOD / HTTP/1.1\r\n\r\n");
    assert_response_gives_up("HTTP/2 200\r\n\r\n");
    assert_response_gives_up("HTTP/1.1 20 OK\r\n\r\n");
    assert_response_gives_up("HTTP/1.1 2000 OK\r\n\r\n");
    assert_response_gives_up("+PONG\r\n");
    assert_response_gives_up("GET / HTTP/1.1\r\n\r\n");
}

Test(http1_framer, malformed_headers_give_up) {
    assert_request_gives_up("GET / HTTP/1.1\r\nHost : h\r\n\r\n");
    assert_request_gives_up("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n");
    assert_request_gives_up("GET / HTTP/1.1\r\nno colon here\r\n\r\n");
    assert_request_gives_up("GET / HTTP/1.1\r\n\rX\r\n");
    assert_request_gives_up("GET / HTTP/1.1\rX\r\n\r\n");
}

Test(http1_framer, bad_content_length_gives_up) {
    assert_request_gives_up("POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n");
    assert_request_gives_up("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
    assert_request_gives_up("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n");
    assert_request_gives_up("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n");
    assert_request_gives_up("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n");
    assert_response_gives_up("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n");
}

Test(http1_framer, conflicting_content_lengths_give_up) {
    assert_request_gives_up("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
    assert_request_gives_up("POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nhello!");
    struct stream_result same = frame_everywhere(
        request("POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5 , 5\r\n\r\nhello"));
    cr_assert_str_eq(same.events, "BHC");
    cr_assert_eq(same.messages[0].body_bytes, 5);
}

Test(http1_framer, transfer_encoding_rules) {
    assert_request_gives_up("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
    assert_request_gives_up("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
    assert_request_gives_up("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
    struct sample gzip_response = response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzzz");
    gzip_response.close_at_end = true;
    struct stream_result result = frame_everywhere(gzip_response);
    cr_assert_str_eq(result.events, "BHC");
    cr_assert_eq(result.messages[0].body_bytes, 4);
}

Test(http1_framer, invalid_chunks_give_up) {
    const char *head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    const char *bodies[] = {
        "zz\r\n",                           /* not hex */
        ";ext\r\n",                         /* no digits */
        "-5\r\n",
        "5\r\nhelloX\r\n",                  /* no CRLF after the data */
        "5 x\r\n",                          /* junk after the size */
        "11111111111111111\r\n",            /* 17 digits: more than 64 bits */
        "5\rX",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        char message[256];
        snprintf(message, sizeof message, "%s%s", head, bodies[i]);
        assert_request_gives_up(message);
    }
    static char overlong[8192];
    int offset = snprintf(overlong, sizeof overlong, "%s5;", head);
    memset(overlong + offset, 'e', 5000);
    memcpy(overlong + offset + 5000, "\r\nhello\r\n0\r\n\r\n", 15);
    assert_request_gives_up(overlong);
}

Test(http1_framer, traceparent_is_captured) {
    struct stream_result result = frame_everywhere(request(
        "GET / HTTP/1.1\r\nTraceParent:  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 \r\n\r\n"));
    cr_assert_str_eq(result.messages[0].traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    cr_assert_eq(result.messages[0].traceparent_length, 55);
    cr_assert_str_eq(result.messages[0].head,
                     "GET / HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n");
}

Test(http1_framer, traceparent_of_a_future_version_keeps_the_first_55_bytes) {
    struct stream_result result = frame_everywhere(request(
        "GET / HTTP/1.1\r\ntraceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what ever\r\n\r\n"));
    cr_assert_str_eq(result.messages[0].traceparent, "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

Test(http1_framer, invalid_traceparent_values_are_dropped) {
    const char *values[] = {
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        "00-4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7-01",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char message[256];
        snprintf(message, sizeof message, "GET / HTTP/1.1\r\ntraceparent: %s\r\n\r\n", values[i]);
        struct stream_result result = frame_everywhere(request(message));
        cr_assert_str_eq(result.events, "BHC");
        cr_assert_eq(result.messages[0].traceparent_length, 0, "value %zu", i);
    }
    struct stream_result repeated = frame_everywhere(request(
        "GET / HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n"));
    cr_assert_eq(repeated.messages[0].traceparent_length, 0);
}

Test(http1_framer, bare_line_feeds_are_tolerated) {
    struct stream_result result = frame_everywhere(request("POST /x HTTP/1.1\nHost: h\nContent-Length: 2\n\nok"));
    cr_assert_str_eq(result.events, "BHC");
    cr_assert_eq(result.messages[0].body_bytes, 2);
    cr_assert_str_eq(result.messages[0].head, "POST /x HTTP/1.1\r\nhost: h\r\ncontent-length: 2\r\n");
}

Test(http1_framer, empty_lines_before_a_request_are_skipped) {
    struct stream_result result = frame_everywhere(request("\r\n\r\nGET / HTTP/1.1\r\n\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"));
    cr_assert_str_eq(result.events, "BHCBHC");
    cr_assert_str_eq(result.messages[1].head, "GET /2 HTTP/1.1\r\n");
}

Test(http1_framer, calling_after_completion_without_begin_gives_up) {
    struct ldtap_http_parser parser;
    size_t consumed;
    ldtap_http_parser_begin(&parser, LDTAP_HTTP_REQUEST, false, NULL, 0);
    const uint8_t *bytes = (const uint8_t *)"GET / HTTP/1.1\r\n\r\n";
    cr_assert_eq(ldtap_http_frame(&parser, bytes, 18, &consumed), LDTAP_HTTP_MESSAGE_BEGIN);
    cr_assert_eq(ldtap_http_frame(&parser, bytes, 18, &consumed), LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert_eq(ldtap_http_frame(&parser, bytes, 0, &consumed), LDTAP_HTTP_MESSAGE_COMPLETE);
    cr_assert_eq(ldtap_http_frame(&parser, bytes, 18, &consumed), LDTAP_HTTP_GIVE_UP);
    cr_assert_eq(ldtap_http_frame(&parser, NULL, 0, &consumed), LDTAP_HTTP_GIVE_UP);
}

/* The fast path's byte classes, against the definitions they were generated from. */
Test(http1_framer, byte_classes_match_their_definitions) {
    const char *separators = "\"(),/:;<=>?@[\\]{}";
    for (int c = 0; c < 256; c++) {
        bool visible = c > ' ' && c != 0x7f;
        bool token = visible && c < 0x7f && strchr(separators, c) == NULL;
        bool plain_target = visible && c != '?' && c != '#';
        bool method = (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
        uint8_t classes = ldtap_http_byte_classes[c];
        cr_assert_eq(ldtap_http_is_token_byte((uint8_t)c), token, "token 0x%02x", c);
        cr_assert_eq((classes & LDTAP_HTTP_BYTE_PLAIN_TARGET) != 0, plain_target, "plain target 0x%02x", c);
        cr_assert_eq((classes & LDTAP_HTTP_BYTE_TARGET) != 0, visible, "target 0x%02x", c);
        cr_assert_eq((classes & LDTAP_HTTP_BYTE_METHOD) != 0, method, "method 0x%02x", c);
    }
}

/* What nginx sends for a static file: one head, one body, the allow-listed copy. */
Test(http1_framer, nginx_static_file_response) {
    struct stream_result result = frame_everywhere(response(
        "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 24 Nov 2026 22:11:00 GMT\r\n"
        "Content-Type: text/html\r\nContent-Length: 5\r\nLast-Modified: Tue, 24 Nov 2026 22:11:00 GMT\r\n"
        "Connection: keep-alive\r\nETag: \"6b060b74-264\"\r\nAccept-Ranges: bytes\r\n\r\nhello"));
    cr_assert_str_eq(result.events, "BHC");
    cr_assert_str_eq(result.messages[0].head, "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 5\r\n");
    cr_assert_eq(result.messages[0].content_length, 5);
    cr_assert_eq(result.messages[0].body_bytes, 5);
    cr_assert_eq(result.messages[0].connection_close, 0);
}

/* Values with blanks and CRs around them, names in any case, a reason that trims away. */
Test(http1_framer, values_are_trimmed_as_copied) {
    struct stream_result result = frame_everywhere(request(
        "GET /a?b HTTP/1.0\r\nHOST:\t h \t\r\nUser-Agent:\r\nCONNECTION:  Keep-Alive \r\n"
        "content-type: a\rb\r\n\r\n"));
    cr_assert_str_eq(result.events, "BHC");
    cr_assert_str_eq(result.messages[0].head, "GET /a HTTP/1.0\r\nhost: h\r\nuser-agent:\r\ncontent-type: a\rb\r\n");
    cr_assert_eq(result.messages[0].connection_close, 0, "HTTP/1.0 with keep-alive stays open");
    struct stream_result reason = frame_everywhere(response("HTTP/1.1 204 \t \r\n\r\n"));
    cr_assert_str_eq(reason.messages[0].head, "HTTP/1.1 204\r\n");
}

/* A head whose copy does not fit is cut as the state machine cuts it, whole or in pieces:
 * here the reason is longer than the room before trimming, not after. */
Test(http1_framer, copy_cut_by_the_untrimmed_length) {
    char text[400];
    snprintf(text, sizeof text, "HTTP/1.1 200 OK%-300s\r\nContent-Length: 0\r\n\r\n", "");
    struct sample sample = response(text);
    sample.head_capacity = 200;
    struct stream_result result = frame_everywhere(sample);
    cr_assert_str_eq(result.events, "BHC");
    cr_assert(result.messages[0].truncated);
    cr_assert_eq(result.messages[0].head_length, 200);
}

Test(http1_framer, head_ends_message_only_without_a_body) {
    struct ldtap_http_parser parser;
    uint8_t head[128];
    size_t consumed;
    const uint8_t *get = (const uint8_t *)"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    ldtap_http_parser_begin(&parser, LDTAP_HTTP_REQUEST, false, head, sizeof head);
    cr_assert_eq(ldtap_http_frame(&parser, get, 27, &consumed), LDTAP_HTTP_MESSAGE_BEGIN);
    cr_assert_eq(ldtap_http_frame(&parser, get, 27, &consumed), LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert(ldtap_http_head_ends_message(&parser));
    const uint8_t *ok = (const uint8_t *)"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    ldtap_http_parser_begin(&parser, LDTAP_HTTP_RESPONSE, false, head, sizeof head);
    cr_assert_eq(ldtap_http_frame(&parser, ok, 40, &consumed), LDTAP_HTTP_MESSAGE_BEGIN);
    cr_assert_eq(ldtap_http_frame(&parser, ok, 40, &consumed), LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert_not(ldtap_http_head_ends_message(&parser));
}

/* Frames `text` whole through `memo` and returns the head copy (NUL-terminated in `head`). */
static enum ldtap_http_event frame_remembering(const char *text, struct ldtap_http_head_memo *memo, char *head,
                                               size_t capacity, struct ldtap_http_parser *parser) {
    size_t consumed;
    ldtap_http_parser_begin(parser, LDTAP_HTTP_RESPONSE, false, (uint8_t *)head, (uint16_t)(capacity - 1));
    const uint8_t *bytes = (const uint8_t *)text;
    cr_assert_eq(ldtap_http_frame_remembering(parser, bytes, strlen(text), &consumed, memo), LDTAP_HTTP_MESSAGE_BEGIN);
    enum ldtap_http_event event = ldtap_http_frame_remembering(parser, bytes, strlen(text), &consumed, memo);
    head[parser->head.length] = '\0';
    return event;
}

Test(http1_framer, a_repeated_head_is_recalled_and_a_changed_one_scanned) {
    static struct ldtap_http_head_memo memo;
    struct ldtap_http_parser parser;
    char head[256];
    const char *first = "HTTP/1.1 200 OK\r\nDate: Mon\r\nContent-Length: 7\r\ntraceparent: 00-ab\r\n\r\n";
    cr_assert_eq(frame_remembering(first, &memo, head, sizeof head, &parser), LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert_eq(memo.raw_length, strlen(first), "a head framed whole is remembered");
    /* Recalled: same result, from a buffer holding different bytes after the head. */
    char again[128];
    snprintf(again, sizeof again, "%sbody!!!", first);
    memset(head, 'x', sizeof head);
    cr_assert_eq(frame_remembering(again, &memo, head, sizeof head, &parser), LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert_str_eq(head, "HTTP/1.1 200 OK\r\ncontent-length: 7\r\ntraceparent: 00-ab\r\n");
    cr_assert_eq(parser.content_length, 7);
    cr_assert_str_eq(parser.traceparent, "00-ab");
    /* One byte changed: scanned again, and remembered instead. */
    const char *changed = "HTTP/1.1 200 OK\r\nDate: Tue\r\nContent-Length: 9\r\n\r\n";
    cr_assert_eq(frame_remembering(changed, &memo, head, sizeof head, &parser), LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert_eq(parser.content_length, 9);
    cr_assert_eq(parser.traceparent_length, 0);
    cr_assert_eq(memo.raw_length, strlen(changed));
    /* A smaller copy buffer than the memo was made for: not recalled (it might not fit). */
    cr_assert_eq(frame_remembering(changed, &memo, head, 30, &parser), LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert(parser.head.truncated);
}

/* Everything about a framed head that callers read, compared between two parsers. */
static void assert_same_head(const struct ldtap_http_parser *expected, const struct ldtap_http_parser *actual) {
    cr_assert_eq(actual->head.length, expected->head.length);
    cr_assert_eq(memcmp(actual->head.bytes, expected->head.bytes, expected->head.length), 0);
    cr_assert_eq(actual->head.truncated, expected->head.truncated);
    cr_assert_eq(actual->content_length, expected->content_length);
    cr_assert_eq(actual->status_code, expected->status_code);
    cr_assert_eq(actual->method_is_head, expected->method_is_head);
    cr_assert_eq(actual->connection_close, expected->connection_close);
    cr_assert_eq(actual->head_bytes, expected->head_bytes);
    cr_assert_str_eq(actual->traceparent, expected->traceparent);
    cr_assert_eq(ldtap_http_head_ends_message(actual), ldtap_http_head_ends_message(expected));
}

Test(http1_framer, a_whole_head_begins_and_frames_in_one_call_as_the_event_loop_does) {
    static struct ldtap_http_head_memo memo;
    const char *text = "GET /a?secret HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\n"
                       "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\nGET /next";
    const uint8_t *bytes = (const uint8_t *)text;
    size_t length = strlen(text), consumed;
    uint8_t expected_head[256], head[256];
    struct ldtap_http_parser expected, parser;
    ldtap_http_parser_begin(&expected, LDTAP_HTTP_REQUEST, false, expected_head, sizeof expected_head);
    cr_assert_eq(ldtap_http_frame(&expected, bytes, length, &consumed), LDTAP_HTTP_MESSAGE_BEGIN);
    cr_assert_eq(ldtap_http_frame(&expected, bytes, length, &consumed), LDTAP_HTTP_HEAD_COMPLETE);
    size_t head_length = consumed;
    /* Scanned the first time, recalled from the memo the second. */
    for (int round = 0; round < 2; round++) {
        memset(head, 'x', sizeof head);
        cr_assert_eq(ldtap_http_begin_whole_head(&parser, LDTAP_HTTP_REQUEST, false, head, sizeof head, bytes,
                                                 length, &consumed, &memo),
                     LDTAP_HTTP_HEAD_COMPLETE);
        cr_assert_eq(consumed, head_length);
        assert_same_head(&expected, &parser);
        cr_assert_eq(memo.raw_length, head_length, "remembered");
    }
    /* The next message frames as usual once this one completes. */
    cr_assert_eq(ldtap_http_frame(&parser, bytes + consumed, length - consumed, &consumed),
                 LDTAP_HTTP_MESSAGE_COMPLETE);
}

Test(http1_framer, a_head_not_whole_at_the_start_is_left_to_the_event_loop) {
    const char *cases[] = {
        "\r\nGET / HTTP/1.1\r\n\r\n",      /* blank lines first: the state machine skips them */
        "GET / HTTP/1.1\r\nHost: h\r\n", /* the rest is still to come */
        "",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t head[64];
        struct ldtap_http_parser parser;
        size_t consumed = 99;
        const uint8_t *bytes = (const uint8_t *)cases[i];
        size_t length = strlen(cases[i]);
        cr_assert_eq(ldtap_http_begin_whole_head(&parser, LDTAP_HTTP_REQUEST, false, head, sizeof head, bytes,
                                                 length, &consumed, NULL),
                     LDTAP_HTTP_NEED_MORE, "case %zu", i);
        cr_assert_eq(consumed, 0);
        if (length > 0) { /* as just begun: the first byte begins the message */
            cr_assert_eq(ldtap_http_frame(&parser, bytes, length, &consumed), LDTAP_HTTP_MESSAGE_BEGIN);
        }
    }
}

Test(http1_framer, a_remembered_response_head_is_not_recalled_for_a_reply_to_head) {
    static struct ldtap_http_head_memo memo;
    const char *text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    uint8_t head[128];
    struct ldtap_http_parser parser;
    size_t consumed;
    cr_assert_eq(ldtap_http_begin_whole_head(&parser, LDTAP_HTTP_RESPONSE, false, head, sizeof head,
                                             (const uint8_t *)text, strlen(text), &consumed, &memo),
                 LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert_not(ldtap_http_head_ends_message(&parser), "a body of 5 bytes follows");
    cr_assert_eq(ldtap_http_begin_whole_head(&parser, LDTAP_HTTP_RESPONSE, true, head, sizeof head,
                                             (const uint8_t *)text, strlen(text), &consumed, &memo),
                 LDTAP_HTTP_HEAD_COMPLETE);
    cr_assert(ldtap_http_head_ends_message(&parser), "the answer to HEAD has no body");
}
