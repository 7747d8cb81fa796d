/* State of one traced TCP connection: its endpoints, then either HTTP (two framers and the
 * pipelined exchanges in flight, each one span) or a database wire protocol. */
#ifndef LDTAP_CONNECTION_H
#define LDTAP_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "http1_framer.h"
#include "ldtap_ring_abi.h"
#include "wire_connection.h"

/* Pipelined requests awaiting their responses; one more and we give up on the connection. */
#define LDTAP_PIPELINE_MAX 8

/* Which way bytes moved through the hooked call. */
enum ldtap_flow { LDTAP_INBOUND = 0, LDTAP_OUTBOUND = 1 };

/* What the caller must do with the connection after feeding it. */
enum ldtap_feed_result {
    LDTAP_FEED_CONTINUE = 0, /* keep tracking */
    LDTAP_FEED_STOP = 1,     /* protocol switched (101, CONNECT tunnel): stop tracking */
    LDTAP_FEED_GIVE_UP = 2,  /* not HTTP/1.x or beyond limits: stop tracking, count it */
};

struct ldtap_exchange {
    uint64_t serial;     /* process-wide, increasing */
    bool head_request;   /* method HEAD: its response has no body */
    bool tunnel_request; /* method CONNECT */
    bool request_complete;
    bool crash_reported;      /* a signal handler already wrote this span (flagged CRASHED) */
    bool request_head_copied; /* the request head's copy is final: request_head_length bytes */
    bool heads_adjoin;        /* the response head's copy follows it in `heads` */
    uint16_t request_head_length;
    struct ldtap_http_span_record record; /* filled in as the exchange progresses */
    /* The request head's copy, then (heads_adjoin) the response head's: the record and both
     * heads are one piece of memory then, which the ring takes in one copy. */
    uint8_t heads[LDTAP_HTTP_REQUEST_HEAD_MAX + LDTAP_HTTP_RESPONSE_HEAD_MAX];
};
_Static_assert(offsetof(struct ldtap_exchange, heads) ==
                   offsetof(struct ldtap_exchange, record) + sizeof(struct ldtap_http_span_record),
               "the heads follow the record");

/* What a connection carries. Accepted ones are HTTP from the start; connected ones are
 * told by their first bytes (classify.c). */
enum ldtap_protocol {
    LDTAP_PROTOCOL_UNKNOWN = 0, /* no byte seen yet, or too few to tell */
    LDTAP_PROTOCOL_HTTP = 1,
    LDTAP_PROTOCOL_WIRE = 2,    /* PostgreSQL, MySQL or Redis: the `wire` member */
};

/* First bytes of a client connection held until they tell its protocol: enough for every
 * recogniser (a PostgreSQL startup header is 8, a RESP array header at most 13). */
#define LDTAP_SNIFF_BYTES 16

struct ldtap_connection {
    uint32_t next_free;         /* pool free-list link: index + 1, 0 ends the list */
    uint16_t kind;              /* SERVER: requests are read; CLIENT: requests are written */
    uint8_t protocol;           /* enum ldtap_protocol */
    uint8_t sniffed_flow;       /* enum ldtap_flow of the bytes in `sniffed` */
    uint8_t sniffed_length;
    uint8_t sniffed[LDTAP_SNIFF_BYTES];
    bool request_parser_ready;  /* request_parser begun for the next exchange slot */
    bool response_parser_ready; /* response_parser begun for the oldest exchange */
    uint8_t oldest;             /* index of the oldest exchange awaiting its response */
    uint8_t count;              /* exchanges begun (first request byte seen), not finished */
    /* Every exchange with a smaller serial is finished. Read by other threads to tell
     * whether a server span they remember is still being served (see span.h). */
    uint64_t finished_below;
    struct ldtap_net_endpoints endpoints;
    /* One protocol per connection: its state overlays the other's. Pages are faulted in
     * only as far as the chosen protocol uses them. */
    union {
        struct {
            struct ldtap_http_parser request_parser;
            struct ldtap_http_parser response_parser;
            uint8_t response_head[LDTAP_HTTP_RESPONSE_HEAD_MAX]; /* when not in the exchange's heads */
            struct ldtap_exchange exchanges[LDTAP_PIPELINE_MAX];
        };
        struct ldtap_wire_connection wire;
    };
};

/* Maps the connection pool. Returns 0 or -errno. */
int ldtap_connection_pool_init(void);

/* Copies an AF_INET/AF_INET6 address into the ABI's endpoint fields; false (nothing
 * written) for other families. */
bool ldtap_copy_address(const struct sockaddr_storage *address, uint8_t out[16], uint16_t *port);

/* Connection state for socket `fd`, just accepted (SERVER) or connected (CLIENT), or NULL
 * if it is not TCP or the pool is exhausted. `peer` (may be NULL) is the address accept()
 * returned, or the one given to connect(), used while a non-blocking connect is still in
 * progress. */
struct ldtap_connection *ldtap_connection_open(int fd, enum ldtap_span_kind kind,
                                               const struct sockaddr *peer, socklen_t peer_length);

/* Frames bytes that moved through the socket (only bytes actually transferred); a client
 * connection's first bytes choose its protocol first (classify.c). */
enum ldtap_feed_result ldtap_connection_feed(struct ldtap_connection *connection, enum ldtap_flow flow,
                                             const uint8_t *bytes, size_t length);
/* The same for the first `length` bytes of `count` pieces (a readv/writev vector). */
enum ldtap_feed_result ldtap_connection_feed_vector(struct ldtap_connection *connection, enum ldtap_flow flow,
                                                    const struct iovec *vector, size_t count, size_t length);

/* The socket was closed: a close-delimited response completes, other exchanges in flight
 * become spans flagged LDTAP_SPAN_FLAG_NO_RESPONSE; then the state is freed. */
void ldtap_connection_close(struct ldtap_connection *connection);

/* Stops tracking without writing spans (lost sync, framer gave up, fd duplicated). */
void ldtap_connection_abandon(struct ldtap_connection *connection);

/* Exchange bookkeeping shared by connection.c, classify.c and exchange.c. */
enum ldtap_feed_result ldtap_exchange_feed(struct ldtap_connection *connection, enum ldtap_flow flow,
                                           const uint8_t *bytes, size_t length);
enum ldtap_feed_result ldtap_exchange_feed_vector(struct ldtap_connection *connection, enum ldtap_flow flow,
                                                  const struct iovec *vector, size_t count, size_t length);
void ldtap_exchange_finish(struct ldtap_connection *connection, uint16_t extra_flags);
/* Signal handlers only: writes the server span `live` (the record.span of an exchange,
 * still numbered `serial`) as ended now with LDTAP_SPAN_FLAG_CRASHED, from a copy, and
 * marks the exchange so that its normal finish, if the program survives, writes nothing. */
void ldtap_exchange_end_crashed(const struct ldtap_span_common *live, uint64_t serial);
void ldtap_connection_free(struct ldtap_connection *connection);

/* Database wire protocols (wire_connection.c). start: the first bytes said `system`
 * (POSTGRESQL, MYSQL or REDIS); feed: frames the bytes, writing a span per answered query
 * (STOP and GIVE_UP leave the queries in flight unwritten: the connection is abandoned);
 * close: the queries still unanswered are written flagged LDTAP_SPAN_FLAG_NO_RESPONSE
 * with rows -1 (their outcome is unknown, not an error the server reported). */
void ldtap_wire_connection_start(struct ldtap_connection *connection, enum ldtap_db_system system);
enum ldtap_feed_result ldtap_wire_connection_feed(struct ldtap_connection *connection, enum ldtap_flow flow,
                                                  const uint8_t *bytes, size_t length);
void ldtap_wire_connection_close(struct ldtap_connection *connection);

#endif
