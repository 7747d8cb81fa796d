/* Incremental PostgreSQL frontend/backend protocol (v3) framer for the shim: finds where each
 * statement is sent and answered on a connection and reports one query per statement.
 * Contract and driving loop: wire_framer.h. Pure code: no allocation, no libc interposition. */
#ifndef LDTAP_PGWIRE_H
#define LDTAP_PGWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire_framer.h"

/*
 * What becomes a query (span):
 * - a simple Query message: one span for the whole string, even when it holds several
 *   statements separated by ';' (the server answers them as one unit ending in
 *   ReadyForQuery). rows = the last CommandComplete's count; an ErrorResponse sets ERROR
 *   and SQLSTATE (the server skips the remaining statements). It completes at ReadyForQuery.
 * - each Execute of the extended protocol: its text is the SQL of the statement bound to
 *   the portal (Parse → Bind → Execute). Named statements are remembered (the
 *   LDTAP_WIRE_PREPARED_MAX most recently used, LDTAP_WIRE_PREPARED_TEXT_MAX bytes of text
 *   each) and their Executes carry the PREPARED flag; the unnamed statement's text is kept
 *   whole in the caller's statement buffer. An Execute of a statement prepared before we
 *   watched, or evicted, has PREPARED and no text. It completes at CommandComplete,
 *   EmptyQueryResponse, PortalSuspended (rows = DataRows seen) or ErrorResponse. Pipelined
 *   Executes before one Sync are answered in order; after an error the server skips the
 *   rest of the batch: those Executes complete at ReadyForQuery with ERROR and no SQLSTATE.
 * - COPY: the span is the COPY statement's; CopyData passes untouched.
 * - Parse, Bind, Describe, Close, Sync, Flush, FunctionCall make no span.
 * db.namespace: the startup parameter `database` (or `user`, its default), in wire.namespace.
 * An SSLRequest or GSSENCRequest that the server accepts → STOP (ENCRYPTED); refused ('N')
 * → the plaintext startup that follows is framed. If the shim later sees the decrypted
 * stream (SSL_read/SSL_write hooks), it can re-init the framer and feed that: it begins
 * with the StartupMessage. CancelRequest, replication (CopyBoth) → STOP (NOT_QUERIES).
 */

/* One direction's position in its message stream. */
struct ldtap_pgwire_stream {
    uint32_t remaining;      /* body bytes left in the current message */
    uint32_t field_position; /* bytes seen of the current C string */
    uint64_t hash;           /* of the current name field */
    uint8_t header[8];       /* type and length (or startup length and code) being collected */
    uint8_t header_length;
    uint8_t type;            /* current message type; 0 for startup-style messages */
    uint8_t field;           /* index of the C string being read */
    uint8_t fields_wanted;   /* C strings to inspect at the start of the body; the rest is skipped */
    bool in_body;
};

/* Per-connection state: about 4.8 KiB, most of it the prepared-statement table. */
struct ldtap_pgwire {
    struct ldtap_wire_common wire; /* what the caller reads: query, result, namespace */
    struct ldtap_wire_prepared_table prepared;
    struct ldtap_pgwire_stream client;
    struct ldtap_pgwire_stream server;
    struct ldtap_wire_result current; /* outcome so far of the oldest unanswered query */
    uint64_t parse_key;               /* statement name of the Parse being read; 0 unnamed */
    uint64_t portal_key;              /* portal named by the Bind or Execute being read */
    uint64_t bind_statement_key;      /* statement named by the Bind being read */
    uint64_t unnamed_portal_statement;
    uint64_t named_portal_key;        /* the last named portal bound, and its statement */
    uint64_t named_portal_statement;
    uint64_t tag_number;              /* CommandComplete: the number after the last space */
    int64_t data_rows;                /* DataRows answering the oldest query */
    int8_t parse_slot;                /* prepared entry the Parse's text goes to; -1 caller buffer */
    uint8_t phase;
    uint8_t startup_parameter;        /* which parameter the startup value belongs to */
    uint8_t name_length;              /* bytes of the startup parameter name matched */
    char name[9];                     /* startup parameter name, lower case, cut at 8 */
    uint8_t error_field_length;
    uint8_t error_field[6];           /* 'C' and the SQLSTATE of the ErrorResponse being read */
    bool tag_digits;                  /* the tag's last word so far is a number */
    bool unnamed_valid;               /* the caller's buffer holds the unnamed statement */
    bool unnamed_portal_bound;
    bool namespace_from_database;
    bool close_statement;             /* the Close being read names a statement */
};

/* Begins framing a connection whose client is about to send its first message. The
 * statement buffer (caller-owned, for example LDTAP_DB_STATEMENT_MAX bytes) must outlive
 * `state`. */
void ldtap_pgwire_init(struct ldtap_pgwire *state, uint8_t *statement_buffer, uint16_t capacity);

/* hot: frames `length` bytes that went in `direction`; see wire_framer.h. */
enum ldtap_wire_event ldtap_pgwire_feed(struct ldtap_pgwire *state, enum ldtap_wire_direction direction,
                                        const uint8_t *bytes, size_t length, size_t *consumed);

/* Looks at the first bytes a client sent: StartupMessage (protocol 3.x), SSLRequest,
 * GSSENCRequest or CancelRequest. */
enum ldtap_wire_recognition ldtap_pgwire_recognise(const uint8_t *bytes, size_t length);

#endif
