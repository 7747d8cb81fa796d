/* Incremental HTTP/1.x framer used inside the shim: finds where requests and responses
 * begin and end in a byte stream split at arbitrary points, and copies a bounded,
 * privacy-filtered head. A pure function over caller-owned buffers: no allocation, no
 * libc interposition, no global state. Full parsing of the head happens in the collector. */
#ifndef LDTAP_HTTP1_FRAMER_H
#define LDTAP_HTTP1_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ldtap_http_direction { LDTAP_HTTP_REQUEST = 0, LDTAP_HTTP_RESPONSE = 1 };

/* What one call to ldtap_http_frame stopped at. The caller acts on the event, then calls
 * again with the rest of the buffer (buf + consumed). */
enum ldtap_http_event {
    LDTAP_HTTP_NEED_MORE = 0,        /* every byte consumed; the message is not complete */
    LDTAP_HTTP_MESSAGE_BEGIN = 1,    /* the first byte of a new message was seen (not consumed) */
    LDTAP_HTTP_HEAD_COMPLETE = 2,    /* the blank line ending the head was consumed */
    LDTAP_HTTP_MESSAGE_COMPLETE = 3, /* the last byte of the message was consumed */
    LDTAP_HTTP_GIVE_UP = -1          /* not HTTP/1.x, malformed or beyond limits: stop tracking */
};

/* Limits past which the framer gives up rather than guess. */
#define LDTAP_HTTP_MAX_HEAD_BYTES (64u * 1024u) /* whole head, request or response */
#define LDTAP_HTTP_TRACEPARENT_BYTES 55u        /* version 00: 2+1+32+1+16+1+2 */

/* Allow-listed head bytes copied for the collector: the start line (request target cut
 * at '?' or '#') and the headers host, user-agent, content-type, content-length and
 * traceparent, each line ending "\r\n", truncated (never overflowing) at `capacity`. */
struct ldtap_http_head_copy {
    uint8_t *bytes;    /* caller-owned */
    uint16_t capacity; /* bytes available at `bytes` */
    uint16_t length;   /* bytes copied so far */
    bool truncated;    /* something allow-listed did not fit */
};

/* Parse state of one direction of one connection. Treat as opaque outside the framer;
 * it is a plain struct so the shim can embed it in its per-connection table. */
struct ldtap_http_parser {
    uint8_t direction;         /* enum ldtap_http_direction */
    uint8_t phase;             /* internal: where in the message the framer is */
    uint8_t header_kind;       /* internal: which known header the current line carries */
    uint8_t value_length;      /* internal: bytes in `value` (traceparent: blanks pending) */
    uint16_t flags;            /* internal */
    uint16_t line_length;      /* internal: bytes of the current token or value seen so far */
    uint16_t status_code;      /* response: parsed status code */
    uint16_t head_line_start;  /* internal: head copy length where the current line began */
    uint8_t version_minor;     /* 0 or 1, from the start line */
    uint8_t method_is_head;    /* request: method was HEAD */
    uint8_t method_is_connect; /* request: method was CONNECT; response: the caller may set it
                                  after begin so that a 2xx to CONNECT has no body */
    uint8_t expect_continue;   /* request: "Expect: 100-continue" */
    uint8_t connection_close;  /* "Connection: close" (or HTTP/1.0 without keep-alive) */
    uint8_t upgrade;           /* "Upgrade:" header present */
    uint8_t no_body;           /* response: caller says no body (reply to HEAD) */
    uint8_t traceparent_length;
    uint32_t head_bytes;       /* bytes of the head so far (limit check) */
    uint32_t section_bytes;    /* internal: bytes of the current chunk-size line or trailers */
    uint64_t content_length;   /* from Content-Length, or UINT64_MAX when absent */
    uint64_t body_remaining;   /* internal: bytes left in the body or current chunk */
    uint64_t body_bytes;       /* body bytes seen (chunk payload only, without framing) */
    char line_start[48];       /* internal: the method, or the start of the header name */
    char value[64];            /* internal: one list element of a framing header value, or
                                  the traceparent value being read */
    char traceparent[LDTAP_HTTP_TRACEPARENT_BYTES + 1]; /* raw header value, NUL-terminated */
    struct ldtap_http_head_copy head;
};

/* What a head framed whole in one buffer said (the fast path's result); its allow-listed
 * copy went to the parser's buffer. */
struct ldtap_http_fast_head {
    size_t length;               /* bytes of the head, through the blank line */
    uint64_t content_length;     /* UINT64_MAX when absent */
    uint16_t copy_length;        /* bytes of the allow-listed copy */
    uint16_t status_code;        /* response */
    uint16_t traceparent_offset; /* of the value to keep, from the head's first byte */
    uint8_t traceparent_length;  /* 0: none, or invalid */
    bool has_traceparent;        /* a traceparent header was there (valid or not) */
    uint8_t version_minor;
    bool method_is_head;         /* request */
    bool method_is_connect;      /* request */
    bool expect_continue;
    bool connection_close;       /* "Connection: close" seen */
    bool keep_alive;             /* "Connection: keep-alive" seen */
    bool upgrade;
    bool transfer_encoding;      /* a non-empty Transfer-Encoding */
    bool chunked_last;           /* ... whose last coding is "chunked" */
};

/* Heads (and their copies) longer than this are not remembered by a memo. */
#define LDTAP_HTTP_MEMO_BYTES 384u

/*
 * The last head framed whole in one direction, so that the same bytes framed again are
 * applied without a second scan: a server sends the same head over and over (a static
 * file's, within the second its Date names), a client repeats its request head on a
 * keep-alive connection. The state a head leaves depends on its bytes, the copy's capacity,
 * the direction and the caller's no_body and method_is_connect only (the memo's key), so
 * equal bytes under an equal key give an equal state, which is copied in whole.
 * Caller-owned, never used by two threads at once (the shim keeps one per thread and
 * direction); all zero is empty.
 */
struct ldtap_http_head_memo {
    uint16_t raw_length; /* 0: empty */
    uint32_t key;        /* internal */
    struct ldtap_http_parser parser; /* the state the head left; its buffers but traceparent unused */
    uint8_t raw[LDTAP_HTTP_MEMO_BYTES];
    uint8_t copy[LDTAP_HTTP_MEMO_BYTES];
};

/* Prepares `parser` for the next message in `direction`. For a response, `no_body` is
 * true when it answers a HEAD request. `head_buffer` of `head_capacity` bytes receives the
 * allow-listed head copy; it must outlive the message. */
void ldtap_http_parser_begin(struct ldtap_http_parser *parser, enum ldtap_http_direction direction,
                             bool no_body, uint8_t *head_buffer, uint16_t head_capacity);

/* hot: frames `length` bytes of `bytes`. Sets *consumed to how many bytes were taken
 * before the returned event (MESSAGE_BEGIN consumes nothing but the empty lines RFC 9112
 * allows before a request line). After MESSAGE_COMPLETE the parser must be re-begun
 * before the next message. A response whose length is delimited by connection close
 * completes via ldtap_http_frame_close. */
enum ldtap_http_event ldtap_http_frame(struct ldtap_http_parser *parser, const uint8_t *bytes,
                                       size_t length, size_t *consumed);

/* The same, consulting and refreshing `memo` (may be NULL) when a head starts. */
enum ldtap_http_event ldtap_http_frame_remembering(struct ldtap_http_parser *parser, const uint8_t *bytes,
                                                   size_t length, size_t *consumed,
                                                   struct ldtap_http_head_memo *memo);

/* hot: ldtap_http_parser_begin followed by the calls to ldtap_http_frame_remembering that
 * reach HEAD_COMPLETE, in one pass, for the common case of a message whose whole head is
 * at the start of `bytes` (recalled from `memo`, may be NULL, or scanned). Returns
 * HEAD_COMPLETE, or GIVE_UP, with *consumed the head's length, as those calls would after
 * their MESSAGE_BEGIN; or NEED_MORE having consumed nothing when the head is not taken
 * that way: the parser is then as just begun, for ldtap_http_frame to frame from the start.
 * A response parser begun here has method_is_connect 0. */
enum ldtap_http_event ldtap_http_begin_whole_head(struct ldtap_http_parser *parser,
                                                  enum ldtap_http_direction direction, bool no_body,
                                                  uint8_t *head_buffer, uint16_t head_capacity,
                                                  const uint8_t *bytes, size_t length, size_t *consumed,
                                                  struct ldtap_http_head_memo *memo);

/* The connection was closed by either side: returns MESSAGE_COMPLETE if the message in
 * progress is a response delimited by close, NEED_MORE if no message was in progress,
 * GIVE_UP if a message was cut short. */
enum ldtap_http_event ldtap_http_frame_close(struct ldtap_http_parser *parser);

/* True when the next `length` bytes are body bytes the framer only counts and never looks
 * at: a Content-Length body with at least that many bytes left, or a body delimited by the
 * connection's close. The caller may then feed any bytes of that length (sendfile: the
 * kernel copied them from a file, and reading them back would cost a syscall for nothing). */
bool ldtap_http_counts_only(const struct ldtap_http_parser *parser, uint64_t length);

/* True right after HEAD_COMPLETE when the message has no body: the next call would report
 * MESSAGE_COMPLETE without consuming a byte. The caller may take the message as complete
 * without making that call; it begins the parser again before the next message, as after
 * MESSAGE_COMPLETE. */
bool ldtap_http_head_ends_message(const struct ldtap_http_parser *parser);

/* True when the parsed response is an interim 1xx (100 Continue): the request's final
 * response follows on the same exchange. 101 Switching Protocols is not interim: the
 * caller stops tracking the connection after it. */
bool ldtap_http_response_is_interim(const struct ldtap_http_parser *parser);

#endif
