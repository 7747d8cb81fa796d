/* Turns an LDTAP_RECORD_DB_SPAN record into a client span following the stable
 * OpenTelemetry database semantic conventions. The record is untrusted: every length is
 * checked first. */
#ifndef LDTAP_DECODE_DB_H
#define LDTAP_DECODE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "span.h"

/* Bytes of db.query.text at most (the rest of the span's attributes need the remainder
 * of its text buffer). */
#define LDTAP_DB_QUERY_TEXT_MAX_BYTES 1200

struct ldtap_statement_cache;

struct ldtap_db_decode_options {
    bool raw_statements;                      /* LDTAP_DB_RAW_STATEMENTS: db.query.text unsanitised */
    uint32_t slow_query_ms;                   /* LDTAP_SLOW_QUERY_MS; 0: nothing is slow */
    struct ldtap_statement_cache *statements; /* descriptions of recent statements; NULL: none */
};

/* What the slow-statement summary needs besides the span. */
struct ldtap_db_statement {
    char text[LDTAP_DB_QUERY_TEXT_MAX_BYTES]; /* sanitised even when raw statements are on */
    bool slow;
};

/* Fills `span` (zeroed by the caller, resource set) and, when not NULL, `statement`.
 * Returns false, leaving both unusable, when the payload is not a valid database span
 * record. */
bool ldtap_decode_db_span(const uint8_t *payload, uint32_t payload_length,
                          const struct ldtap_db_decode_options *options, struct ldtap_span *span,
                          struct ldtap_db_statement *statement);

#endif
