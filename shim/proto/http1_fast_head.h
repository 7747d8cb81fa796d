/* Internal to the HTTP/1.x framer: a scanner for the common case of a whole head in one
 * buffer. It only finds and checks where things are; the framer applies the result with
 * the same helpers the state machine uses, so both paths produce identical state. */
#ifndef LDTAP_HTTP1_FAST_HEAD_H
#define LDTAP_HTTP1_FAST_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1_framer.h"

/* RFC 9110 tchar as a 256-bit set, one word per 32 byte values, so a header-name scan
 * costs a shift and a mask per byte:
 *   0x20-0x3f: ! # $ % & ' * + - . 0-9
 *   0x40-0x5f: A-Z ^ _
 *   0x60-0x7f: ` a-z | ~                                                              */
static const uint32_t ldtap_http_token_byte_set[8] = {0, 0x03ff6cfau, 0xc7fffffeu, 0x57ffffffu, 0, 0, 0, 0};

static inline bool ldtap_http_is_token_byte(uint8_t c) {
    return (ldtap_http_token_byte_set[c >> 5] >> (c & 31)) & 1u;
}

/* The headers the framer looks at, in the order of the framer's known_headers table. */
enum ldtap_http_known {
    LDTAP_HTTP_KNOWN_HOST,
    LDTAP_HTTP_KNOWN_USER_AGENT,
    LDTAP_HTTP_KNOWN_CONTENT_TYPE,
    LDTAP_HTTP_KNOWN_CONTENT_LENGTH,
    LDTAP_HTTP_KNOWN_TRACEPARENT,
    LDTAP_HTTP_KNOWN_TRANSFER_ENCODING,
    LDTAP_HTTP_KNOWN_CONNECTION,
    LDTAP_HTTP_KNOWN_EXPECT,
    LDTAP_HTTP_KNOWN_UPGRADE,
    LDTAP_HTTP_KNOWN_COUNT,
    LDTAP_HTTP_KNOWN_NONE = 0xff,
};

/* One header line the framer looks at. */
struct ldtap_http_fast_line {
    const uint8_t *name;    /* `known`'s name in any case */
    const uint8_t *value;   /* just after the colon, leading blanks included */
    const uint8_t *newline; /* the '\n' ending the line */
    uint8_t known;          /* enum ldtap_http_known */
};

/* Past this many known header lines the scanner declines: the state machine copes. */
enum { LDTAP_HTTP_FAST_MAX_LINES = 16 };

struct ldtap_http_fast_head {
    size_t length;             /* bytes of the head, through the blank line */
    size_t start_copy_length;  /* bytes[0..start_copy_length) open the start line's copy */
    const uint8_t *version;    /* request: " HTTP/1.x", the rest of the copy; else NULL */
    uint8_t method_length;     /* request */
    bool target_cut;           /* request: '?' or '#' in the target */
    uint8_t version_minor;
    uint16_t status_code;      /* response */
    const uint8_t *last_name;  /* name of the last header line, NULL if there is none */
    size_t last_name_length;
    uint8_t last_known;        /* enum ldtap_http_known of the last header line */
    uint8_t line_count;        /* known header lines in `lines` */
    struct ldtap_http_fast_line lines[LDTAP_HTTP_FAST_MAX_LINES];
};

/* True when `bytes` begins with a whole head (at most LDTAP_HTTP_MAX_HEAD_BYTES) that the
 * state machine would accept without giving up and without any case the scanner leaves to
 * it; fills `head`. False otherwise, having touched nothing but `head`. */
bool ldtap_http_fast_head_scan(enum ldtap_http_direction direction, const uint8_t *bytes, size_t length,
                               struct ldtap_http_fast_head *head);

#endif
