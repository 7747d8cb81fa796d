/* Internal to the HTTP/1.x framer: frames the common case of a whole head in one buffer in
 * one pass and writes its allow-listed copy. It declines anything the state machine would
 * reject or treats in a way not mirrored here; the framer then runs the state machine from
 * the head's first byte, so both paths end in the same observable state. */
#ifndef LDTAP_HTTP1_FAST_HEAD_H
#define LDTAP_HTTP1_FAST_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1_framer.h"

/* Bits of ldtap_http_byte_classes: one table load answers every per-byte question both
 * paths ask. */
enum {
    LDTAP_HTTP_BYTE_TOKEN = 1u << 0,        /* RFC 9110 tchar */
    LDTAP_HTTP_BYTE_PLAIN_TARGET = 1u << 1, /* visible (> SP, not DEL, UTF-8 allowed) but '?' and '#' */
    LDTAP_HTTP_BYTE_TARGET = 1u << 2,       /* visible */
    LDTAP_HTTP_BYTE_METHOD = 1u << 3,       /* A-Z, '-', '_' */
};
extern const uint8_t ldtap_http_byte_classes[256];

static inline bool ldtap_http_is_token_byte(uint8_t c) {
    return ldtap_http_byte_classes[c] & LDTAP_HTTP_BYTE_TOKEN;
}

/* True when `bytes` begins with a whole head (at most LDTAP_HTTP_MAX_HEAD_BYTES) that the
 * state machine would accept, in a form this scanner handles, and whose copy fits in
 * `capacity` bytes at `copy`: fills `head` and the copy. False otherwise, having written
 * nothing the caller keeps (the copy buffer may hold scratch bytes). */
bool ldtap_http_fast_head_scan(enum ldtap_http_direction direction, const uint8_t *bytes, size_t length,
                               uint8_t *copy, size_t capacity, struct ldtap_http_fast_head *head);

#endif
