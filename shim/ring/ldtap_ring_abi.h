/* The shared-memory ring ABI: the bytes a traced process writes and the collector reads.
 * This header is the contract between libldtap.so and the ldtap collector; change it only
 * together with LDTAP_RING_ABI_VERSION. */
#ifndef LDTAP_RING_ABI_H
#define LDTAP_RING_ABI_H

#include <stdint.h>

/*
 * File layout: one file per process, `<pid>-<start_time_ns>.ring`, mode 0600, in a 0700
 * per-user directory. It holds a struct ldtap_ring_header (LDTAP_RING_HEADER_SIZE bytes)
 * followed by a data area of `data_size` bytes (a power of two).
 *
 * Producers (any thread of the traced process) and the one consumer (the collector, which
 * holds flock(LOCK_EX) on the file while attached) share two monotonic byte counters:
 *   head: bytes reserved so far, advanced by producers with one compare-and-swap;
 *   tail: bytes consumed so far, advanced by the consumer.
 * A position p maps to data[p & (data_size - 1)]. Records are 8-byte aligned and may wrap
 * around the end of the data area (payload copies are split in two); a record header
 * never wraps because it is 8 bytes at an 8-aligned offset.
 *
 * Why one multi-producer ring rather than per-thread sub-rings: gunicorn/uvicorn workers
 * write one record per finished span (not per syscall), so contention is rare; a single
 * ring keeps the collector's discovery and ordering trivial and keeps memory per process
 * fixed whatever the thread count. Reserve is one CAS on `head`, commit one release store.
 *
 * Protocol for one record (producer):
 *   1. load tail (acquire); if head + length - tail > data_size: count a drop, return.
 *   2. CAS head from h to h + length (relaxed is not enough for the reader's view of
 *      the record header: the header store below is what the reader synchronises on).
 *   3. store the record header word with state RESERVED and the length (relaxed): from
 *      here on the reader can skip the record if its writer dies.
 *   4. copy the payload.
 *   5. store the header word with state COMMITTED (release): pairs with the reader's
 *      acquire load of the same word.
 * Consumer: at tail, if tail < head, load the header word (acquire):
 *   COMMITTED -> copy out, validate, zero the record's bytes, advance tail (release:
 *               pairs with the producer's acquire load of tail in step 1, so a producer
 *               never writes into bytes the reader has not finished zeroing);
 *   RESERVED  -> wait; if the writer process is gone, or the record stays uncommitted
 *               for LDTAP_RING_STALL_NS, skip it by its length and count it;
 *   zero      -> a writer is between steps 2 and 3: wait; if the process is gone the
 *               rest of [tail, head) cannot be framed: count it as abandoned, skip all.
 * Everything the reader finds is validated (lengths, types, sizes) before use: the ring
 * is writable by the traced process and therefore hostile input.
 */

#define LDTAP_RING_MAGIC 0x474e52504154444cULL /* the bytes "LDTAPRNG" read little-endian */
#define LDTAP_RING_ABI_VERSION 1u
#define LDTAP_RING_HEADER_SIZE 4096u
#define LDTAP_RING_MIN_DATA_SIZE (64u * 1024u)
#define LDTAP_RING_MAX_DATA_SIZE (1024u * 1024u * 1024u)
#define LDTAP_RING_DEFAULT_DATA_SIZE (4u * 1024u * 1024u)
/* Largest record (header included) a producer may write or a reader accepts. */
#define LDTAP_RECORD_MAX_BYTES (16u * 1024u)
/* An uncommitted record older than this is skipped even if its writer still lives. */
#define LDTAP_RING_STALL_NS (10ull * 1000 * 1000 * 1000)

#define LDTAP_IDENTITY_TEXT_BYTES 1024u
#define LDTAP_NAME_BYTES 128u

/* Header word of every record: bits 0..23 total length in bytes (header included,
 * multiple of 8), bits 24..31 state, bits 32..47 record type, bits 48..63 zero. */
#define LDTAP_RECORD_STATE_RESERVED 0x52u  /* 'R' */
#define LDTAP_RECORD_STATE_COMMITTED 0x43u /* 'C' */
#define LDTAP_RECORD_HEADER_BYTES 8u

static inline uint64_t ldtap_record_word(uint32_t length, uint32_t state, uint32_t type) {
    return (uint64_t)(length & 0xffffffu) | ((uint64_t)(state & 0xffu) << 24) |
           ((uint64_t)(type & 0xffffu) << 32);
}
static inline uint32_t ldtap_record_word_length(uint64_t word) { return (uint32_t)(word & 0xffffffu); }
static inline uint32_t ldtap_record_word_state(uint64_t word) { return (uint32_t)((word >> 24) & 0xffu); }
static inline uint32_t ldtap_record_word_type(uint64_t word) { return (uint32_t)((word >> 32) & 0xffffu); }

enum ldtap_record_type {
    LDTAP_RECORD_HTTP_SPAN = 1, /* struct ldtap_http_span_record + heads */
    LDTAP_RECORD_DB_SPAN = 2,   /* struct ldtap_db_span_record + statement + namespace */
    LDTAP_RECORD_MODULE_MAP = 3,  /* a loaded object's path and address ranges (issue 5) */
    LDTAP_RECORD_HEAP_STACK = 4,  /* a distinct sampled allocation stack, sent once (issue 5) */
    LDTAP_RECORD_HEAP_SAMPLE = 5, /* a sampled allocation: address, size, weight, stack id */
    LDTAP_RECORD_HEAP_FREE = 6,   /* a sampled allocation was freed */
    LDTAP_RECORD_CRASH = 7,       /* a fatal signal with its stack (issue 6) */
    LDTAP_RECORD_LOG = 8,         /* a captured log line or traceback (issue 6) */
    /* 9.. reserved */
};
/* Types a reader accepts (others are counted in invalid_records); room for those above. */
#define LDTAP_RECORD_TYPE_MIN 1u
#define LDTAP_RECORD_TYPE_MAX 255u

/* Who writes each field: [P] producers (traced process), [C] consumer (collector). */
struct ldtap_ring_header {
    uint64_t magic;                   /* [P] LDTAP_RING_MAGIC, written last at creation */
    uint32_t abi_version;             /* [P] LDTAP_RING_ABI_VERSION */
    uint32_t header_size;             /* [P] LDTAP_RING_HEADER_SIZE */
    uint64_t data_size;               /* [P] power of two */
    int32_t pid;                      /* [P] */
    int32_t parent_pid;               /* [P] */
    uint64_t start_time_ns;           /* [P] CLOCK_REALTIME when the ring was created */
    uint64_t process_start_ticks;     /* [P] /proc/<pid>/stat field 22: tells pid reuse */
    char executable_name[LDTAP_NAME_BYTES]; /* [P] NUL-terminated basename of /proc/self/exe */
    char service_name[LDTAP_NAME_BYTES];    /* [P] OTEL_SERVICE_NAME as seen by the process, or "" */
    char command_line[LDTAP_IDENTITY_TEXT_BYTES]; /* [P] argv joined by spaces, truncated */
    char resource_attributes[LDTAP_IDENTITY_TEXT_BYTES]; /* [P] OTEL_RESOURCE_ATTRIBUTES or "" */

    /* Producer counters, on their own cache lines away from the consumer's. */
    _Alignas(64) uint64_t head;       /* [P] bytes reserved (CAS) */
    uint64_t committed_records;       /* [P] records committed */
    uint64_t dropped_ring_full;       /* [P] records dropped because the ring had no room */
    uint64_t dropped_too_large;       /* [P] records larger than LDTAP_RECORD_MAX_BYTES */
    uint64_t shim_errors;             /* [P] internal errors (shim disabled itself if > 0) */
    uint64_t unparented_async_spans;  /* [P] client spans left unparented: thread had several requests in flight */
    uint64_t abandoned_connections;   /* [P] connections the framers gave up on */
    int64_t in_flight_requests;       /* [P] server requests started and not yet finished */
    /* Worker saturation: CLOCK_MONOTONIC nanoseconds during which at least one server
     * request was in flight, summed over finished busy periods; the current period began
     * at busy_since_ns when in_flight_requests > 0. Busy so far = busy_time_ns +
     * (in_flight_requests > 0 ? now - busy_since_ns : 0). */
    uint64_t busy_time_ns;            /* [P] */
    uint64_t busy_since_ns;           /* [P] */
    uint64_t reserved_producer[22];   /* [P] zero; room for later counters (heap stats …) */

    _Alignas(64) uint64_t tail;       /* [C] bytes consumed */
    uint64_t consumed_records;        /* [C] */
    uint64_t skipped_uncommitted;     /* [C] reserved records skipped (writer died or stalled) */
    uint64_t abandoned_bytes;         /* [C] bytes skipped because no record could be framed */
    uint64_t invalid_records;         /* [C] committed records that failed validation */
    uint64_t reserved_consumer[8];
};

_Static_assert(sizeof(struct ldtap_ring_header) <= LDTAP_RING_HEADER_SIZE, "ring header too large");

/* OTLP span kinds, numerically equal to opentelemetry.proto.trace.v1.Span.SpanKind. */
enum ldtap_span_kind { LDTAP_SPAN_KIND_SERVER = 2, LDTAP_SPAN_KIND_CLIENT = 3 };

enum ldtap_span_flag {
    LDTAP_SPAN_FLAG_REMOTE_PARENT = 1u << 0,    /* parent came from an incoming traceparent */
    LDTAP_SPAN_FLAG_UNPARENTED_ASYNC = 1u << 1, /* a parent was ambiguous: left unparented */
    LDTAP_SPAN_FLAG_REQUEST_HEAD_TRUNCATED = 1u << 2,
    LDTAP_SPAN_FLAG_NO_RESPONSE = 1u << 3,      /* connection closed before a full response */
    LDTAP_SPAN_FLAG_SAMPLED = 1u << 4,          /* the upstream caller's sampled flag (see below) */
    /* The trace arrived with a traceparent: set on the server span that read it and on the
     * client spans it makes, whose SAMPLED bit then carries the caller's decision so that a
     * parent-based sampler keeps or drops the whole local part of the trace together. */
    LDTAP_SPAN_FLAG_UPSTREAM_DECISION = 1u << 5,
};

/* Common head of every span record. Times are CLOCK_REALTIME nanoseconds. */
struct ldtap_span_common {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_span_id[8]; /* all zero: root span */
    uint64_t start_time_ns;
    uint64_t end_time_ns;
    uint32_t thread_id;
    uint16_t kind;  /* enum ldtap_span_kind */
    uint16_t flags; /* enum ldtap_span_flag */
};

/* Addresses in network byte order as in struct sockaddr_in/in6; IPv4 in the first 4 bytes. */
struct ldtap_net_endpoints {
    uint16_t family; /* AF_INET, AF_INET6, AF_UNIX or 0 if unknown */
    uint16_t peer_port;  /* host byte order */
    uint16_t local_port; /* host byte order */
    uint16_t padding;
    uint8_t peer_address[16];
    uint8_t local_address[16];
};

/*
 * LDTAP_RECORD_HTTP_SPAN payload. Followed by request_head_length bytes of request head
 * then response_head_length bytes of response head. The shim copies only the request
 * line (target cut at '?': query strings never leave the process) and the allow-listed
 * headers (host, user-agent, content-type, content-length, traceparent), each line ending
 * in "\r\n"; the response head holds the status line and allow-listed headers.
 */
struct ldtap_http_span_record {
    struct ldtap_span_common span;
    struct ldtap_net_endpoints endpoints;
    uint64_t request_body_bytes;
    uint64_t response_body_bytes;
    uint16_t status_code; /* 0 if no response was seen */
    uint16_t request_head_length;
    uint16_t response_head_length;
    uint16_t padding;
};

#define LDTAP_HTTP_REQUEST_HEAD_MAX 1024u
#define LDTAP_HTTP_RESPONSE_HEAD_MAX 256u

/* Database systems, by OpenTelemetry db.system.name. */
enum ldtap_db_system {
    LDTAP_DB_SQLITE = 1,
    LDTAP_DB_POSTGRESQL = 2,
    LDTAP_DB_MYSQL = 3,
    LDTAP_DB_MARIADB = 4,
    LDTAP_DB_REDIS = 5,
};

/* Where a database span was seen: a driver's API (libpq, libsqlite3, libmariadb) or the
 * wire protocol on a socket (asyncpg, PyMySQL, redis-py). A connection traced by a driver
 * hook is never traced again on the wire. */
enum ldtap_db_source { LDTAP_DB_SOURCE_DRIVER = 1, LDTAP_DB_SOURCE_WIRE = 2 };

enum ldtap_db_flag {
    LDTAP_DB_FLAG_ERROR = 1u << 0,              /* the server or library reported an error */
    LDTAP_DB_FLAG_PREPARED = 1u << 1,           /* text comes from a remembered prepare */
    LDTAP_DB_FLAG_TRANSACTION_BATCH = 1u << 2,  /* a command queued in MULTI/EXEC or a pipeline */
};

/*
 * LDTAP_RECORD_DB_SPAN payload, followed by statement_length bytes of statement text (the
 * raw head of the statement: SQL, or a Redis command with its arguments separated by
 * spaces; the collector sanitises it, literals never leave the collector unless the user
 * opts in) and namespace_length bytes of database name. For SQLite the namespace is the
 * database file's path; endpoints are zero.
 */
struct ldtap_db_span_record {
    struct ldtap_span_common span; /* kind CLIENT */
    struct ldtap_net_endpoints endpoints;
    uint16_t system; /* enum ldtap_db_system */
    uint16_t source; /* enum ldtap_db_source */
    uint16_t flags;  /* enum ldtap_db_flag */
    uint16_t statement_length;
    uint16_t namespace_length;
    uint16_t padding;
    uint32_t statement_full_length; /* the statement's real length: larger means truncated */
    uint32_t error_code;            /* MySQL errno, SQLite result code, 0: none or SQLSTATE only */
    char status_code[8];            /* SQLSTATE ("23505"), NUL-padded; "" when none */
    int64_t rows;                   /* rows returned or affected; -1 unknown */
};

#define LDTAP_DB_STATEMENT_MAX 2048u
#define LDTAP_DB_NAMESPACE_MAX 256u

#endif
