/* State of a client connection speaking a database wire protocol (PostgreSQL, MySQL/MariaDB,
 * Redis): its framer and the spans of its queries in flight. Functions: connection.h. */
#ifndef LDTAP_WIRE_CONNECTION_H
#define LDTAP_WIRE_CONNECTION_H

#include <stdint.h>

#include "ldtap_ring_abi.h"
#include "mysql_wire.h"
#include "pgwire.h"
#include "resp.h"

/* Queries sent and not yet answered that we keep spans for; one more and we give up on the
 * connection (a smaller bound than the framers' LDTAP_WIRE_PENDING_MAX: each costs a slot). */
#define LDTAP_WIRE_SPANS_MAX 32u
/* Statement heads of the queries in flight share this many bytes, oldest first: one query
 * at a time keeps a whole LDTAP_DB_STATEMENT_MAX head; in a pipeline the later ones get
 * what is left (cut heads keep their real length, so the collector marks them truncated). */
#define LDTAP_WIRE_TEXT_BYTES LDTAP_DB_STATEMENT_MAX

/* A query begun (its client span started) and not yet answered. */
struct ldtap_wire_span_slot {
    struct ldtap_span_common span;
    uint32_t sequence;    /* the framer's query number, checked against the completion */
    uint32_t full_length; /* the statement's real length */
    uint16_t text_start;  /* offset of its head in the text ring */
    uint16_t text_length; /* bytes of its head kept there */
    uint16_t flags;       /* enum ldtap_db_flag from the query */
};

struct ldtap_wire_connection {
    union { /* each begins with its struct ldtap_wire_common `wire` */
        struct ldtap_pgwire pg;
        struct ldtap_mysql mysql;
        struct ldtap_resp resp;
    } framer;
    uint16_t system;     /* enum ldtap_db_system: which framer is in use (MYSQL for both) */
    uint8_t oldest;      /* slot of the oldest query in flight */
    uint8_t count;       /* queries in flight */
    uint16_t text_start; /* text ring: where the oldest head begins */
    uint16_t text_used;  /* text ring: bytes held */
    struct ldtap_wire_span_slot slots[LDTAP_WIRE_SPANS_MAX];
    uint8_t statement[LDTAP_DB_STATEMENT_MAX]; /* the framer's statement buffer */
    uint8_t text[LDTAP_WIRE_TEXT_BYTES];       /* heads of the queries in flight */
};

#endif
