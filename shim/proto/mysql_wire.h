/* Incremental MySQL/MariaDB client/server protocol framer for the shim: one query per
 * COM_QUERY or COM_STMT_EXECUTE, answered by OK, ERR or a result set. Contract and driving
 * loop: wire_framer.h. Pure code: no allocation, no libc interposition. */
#ifndef LDTAP_MYSQL_WIRE_H
#define LDTAP_MYSQL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire_framer.h"

/*
 * The server speaks first (a v10 greeting); init the framer before the client's first
 * read. What becomes a query (span):
 * - COM_QUERY: its text. rows = rows of the result sets plus affected rows of the OKs
 *   (a multi-statement query or a CALL returning several results is one span).
 * - COM_STMT_EXECUTE (and MariaDB's COM_STMT_BULK_EXECUTE): the text of the statement
 *   prepared under that id, flag PREPARED; statement id -1 (MariaDB "execute direct")
 *   means the statement prepared just before. Statements are remembered from
 *   COM_STMT_PREPARE's answer (LDTAP_WIRE_PREPARED_MAX most recently used,
 *   LDTAP_WIRE_PREPARED_TEXT_MAX bytes each) and forgotten at COM_STMT_CLOSE.
 * - An ERR sets ERROR, error_code (the MySQL error number) and SQLSTATE (status_code).
 * Other commands (PREPARE, PING, INIT_DB, RESET, …) make no span. COM_INIT_DB and the
 * handshake's database set wire.namespace. `mariadb` tells db.system.name.
 * STOP: SSL requested (ENCRYPTED), COM_QUIT (CLOSED), compression or a refused
 * connection (NOT_QUERIES). GIVE_UP: LOCAL INFILE, server-side cursors, COM_FIELD_LIST,
 * COM_STMT_FETCH, COM_BINLOG_DUMP and other commands we do not frame, or bad packets.
 */

/* One direction's position in its packet stream. */
struct ldtap_mysql_stream {
    uint32_t remaining;    /* payload bytes left in the current physical packet */
    uint32_t position;     /* bytes into the current logical packet (saturating) */
    uint8_t header[4];
    uint8_t header_length;
    uint8_t sequence;
    bool in_payload;
    bool continues;        /* the current physical packet is full: the logical one goes on */
    uint8_t head_length;
    uint8_t head[40];      /* first bytes of the logical packet */
};

/* Per-connection state: about 4.7 KiB, most of it the prepared-statement table. */
struct ldtap_mysql {
    struct ldtap_wire_common wire;
    struct ldtap_wire_prepared_table prepared;
    struct ldtap_mysql_stream client;
    struct ldtap_mysql_stream server;
    struct ldtap_wire_result current; /* outcome so far of the oldest unanswered command */
    uint64_t definitions_left;        /* column or parameter definitions still to come */
    uint64_t auth_skip;               /* handshake response: auth data bytes still to skip */
    uint32_t capabilities;            /* the client's, from its handshake response */
    uint32_t prepare_columns;         /* from COM_STMT_PREPARE's OK */
    uint32_t last_prepared;           /* statement id of the last successful prepare */
    uint8_t phase;
    uint8_t response;                 /* where in the answer to the oldest command we are */
    uint8_t handshake_field;          /* handshake response: which field is being read */
    uint8_t auth_length_total;        /* handshake response: bytes of a long auth length */
    uint8_t auth_length_read;
    uint8_t command;                  /* command byte of the client packet being read */
    bool mariadb;                     /* the greeting's version names MariaDB */
    bool buffer_holds_prepare;        /* the statement buffer holds the last prepare's text */
};

void ldtap_mysql_init(struct ldtap_mysql *state, uint8_t *statement_buffer, uint16_t capacity);

/* hot: frames `length` bytes that went in `direction`; see wire_framer.h. */
enum ldtap_wire_event ldtap_mysql_feed(struct ldtap_mysql *state, enum ldtap_wire_direction direction,
                                       const uint8_t *bytes, size_t length, size_t *consumed);

/* Looks at the first bytes the server sent: a protocol v10 greeting in packet 0. */
enum ldtap_wire_recognition ldtap_mysql_recognise(const uint8_t *bytes, size_t length);

#endif
