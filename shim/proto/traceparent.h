/* W3C Trace Context `traceparent` header parsing and formatting (version 00 and forward
 * compatible future versions), as a pure function usable by the shim and the collector. */
#ifndef LDTAP_TRACEPARENT_H
#define LDTAP_TRACEPARENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ldtap_trace_context {
    uint8_t trace_id[16];
    uint8_t parent_span_id[8];
    uint8_t trace_flags; /* bit 0: sampled */
};

/* Parses a header value (leading/trailing spaces and tabs tolerated). Returns false for
 * anything the specification says to ignore: wrong lengths, upper-case or non-hex digits,
 * version ff, an all-zero trace id or span id, version 00 with trailing data. */
bool ldtap_traceparent_parse(const char *value, size_t length, struct ldtap_trace_context *context);

/* Writes "00-<trace>-<span>-<flags>" (55 characters) plus a NUL into `out` (>= 56 bytes). */
void ldtap_traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags,
                              char out[56]);

#endif
