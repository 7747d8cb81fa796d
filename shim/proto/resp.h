/* Incremental Redis protocol (RESP2 and RESP3) framer for the shim: one query per command,
 * replies paired with commands in order. Contract and driving loop: wire_framer.h.
 * Pure code: no allocation, no libc interposition. */
#ifndef LDTAP_RESP_H
#define LDTAP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire_framer.h"

/*
 * What becomes a query (span): every command, sent as an array of bulk strings or as an
 * inline line. Its text is the command and its arguments separated by spaces, cut at the
 * statement buffer's capacity (AUTH and HELLO: the command name only, never the password).
 * A reply completes the oldest command: rows = the element count of an array, set, map
 * (pairs) or push reply, else -1; an error reply ('-' or RESP3 '!') sets ERROR and its
 * first word ("ERR", "WRONGTYPE" cut to "WRONGTY": 7 bytes) as status_code. RESP3 push frames ('>')
 * and attributes ('|') are never replies. Pipelined commands are answered in order.
 *
 * MULTI … EXEC: MULTI, each queued command, and EXEC (or DISCARD) are spans flagged
 * TRANSACTION_BATCH. A queued command's "+QUEUED" does not complete it; it completes when
 * EXEC is answered, with its own element of EXEC's array (error or not), just before EXEC
 * itself. When the transaction is discarded, aborted (-EXECABORT: the queued commands get
 * ERROR and that status) or not run (WATCH: a null reply), the queued commands complete
 * at that reply too. A command refused while queueing gets ERROR.
 *
 * SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, MONITOR → STOP (PUBSUB): the connection then carries
 * messages that answer no command. CLIENT REPLY → STOP (NOT_QUERIES): replies may vanish.
 * Commands still unanswered at STOP are abandoned.
 *
 * Limits (GIVE_UP beyond): nesting LDTAP_RESP_DEPTH_MAX, 2^20 arguments per command,
 * 2^30 elements per aggregate, 1 GiB bulk strings, 64 KiB lines and inline commands,
 * LDTAP_WIRE_PENDING_MAX unanswered commands.
 */

#define LDTAP_RESP_DEPTH_MAX 32u

/* A "<digits>\r\n" being read, after a type byte. */
struct ldtap_resp_number {
    int64_t value;
    uint8_t digits;
    bool negative;
    bool line_feed_next; /* the CR was seen */
};

struct ldtap_resp_client {
    struct ldtap_resp_number number;
    uint64_t bulk_left;      /* bytes of the current argument still to come */
    uint32_t arguments_left; /* including the current one */
    uint32_t argument_index;
    uint32_t line_length;    /* inline command bytes so far */
    uint8_t phase;
    uint8_t command_length;
    uint8_t subcommand_length;
    bool redacted;           /* AUTH/HELLO: arguments are not copied */
    bool in_multi;           /* MULTI sent, EXEC or DISCARD not yet */
    bool word_ended;         /* inline: a blank follows the current word */
    char command[16];        /* first argument, upper case, cut at 16 bytes */
    char subcommand[8];      /* second argument, upper case, cut at 8 bytes */
};

struct ldtap_resp_server {
    struct ldtap_resp_number number;
    uint64_t bulk_left;
    uint32_t line_length;
    uint32_t remaining[LDTAP_RESP_DEPTH_MAX]; /* elements left per open aggregate; top bit: attribute */
    int64_t unit_rows;        /* the reply (or EXEC element) being read */
    int64_t exec_rows;        /* element count of the top-level reply */
    uint8_t depth;
    uint8_t phase;
    uint8_t type;             /* of the value being read */
    uint8_t awaiting_exec;    /* commands at the FIFO head answered QUEUED */
    uint8_t error_length;
    bool unit_error;
    bool capturing_error;     /* still inside the error's first word */
    bool top_is_push;
    bool exec_array;          /* reading EXEC's array: its elements complete queued commands */
    uint8_t error_word[8];
};

/* Per-connection state: about 630 bytes. */
struct ldtap_resp {
    struct ldtap_wire_common wire;
    struct ldtap_resp_client client;
    struct ldtap_resp_server server;
};

void ldtap_resp_init(struct ldtap_resp *state, uint8_t *statement_buffer, uint16_t capacity);

/* hot: frames `length` bytes that went in `direction`; see wire_framer.h. */
enum ldtap_wire_event ldtap_resp_feed(struct ldtap_resp *state, enum ldtap_wire_direction direction,
                                      const uint8_t *bytes, size_t length, size_t *consumed);

/* Looks at the first bytes a client sent: "*<n>\r\n$" or an inline PING, AUTH, HELLO,
 * ECHO, SELECT or INFO. */
enum ldtap_wire_recognition ldtap_resp_recognise(const uint8_t *bytes, size_t length);

#endif
