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
 * The one exception to "per-user directory": a shared directory, root-owned with mode
 * LDTAP_RING_SHARED_DIRECTORY_MODE (`ldtap run` as root makes its run directory so).
 * Root's processes put their rings in it directly; a process of any other effective uid
 * puts its ring in `uid-<euid>/`, a 0700 subdirectory of its own that it creates. The
 * collector reads such rings only for processes it can prove it started (see
 * collector/ring_owner.c).
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

/* Others may create entries in a shared directory but not list it; the sticky bit keeps
 * them from removing or renaming anyone else's entries. */
#define LDTAP_RING_SHARED_DIRECTORY_MODE 01733u
/* A process's subdirectory in a shared directory: the prefix, then its effective uid in
 * decimal ("uid-65534"). */
#define LDTAP_RING_USER_SUBDIRECTORY_PREFIX "uid-"

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
    /* Log lines (LDTAP_RECORD_LOG kind LINE) not recorded: over the per-process rate
     * limit (LDTAP_LOG_LINES_PER_SECOND) or dropped because the ring was full. */
    uint64_t dropped_log_lines;       /* [P] */
    /* Fatal signals seen after LDTAP_CRASH_RECORDS_MAX crash records: counted, not recorded. */
    uint64_t suppressed_crashes;      /* [P] */
    /* Heap counters (issue 5), written by the malloc-family hooks. Each thread counts in
     * thread-local variables and folds its deltas in here with relaxed atomic adds every
     * 256 KiB requested or 4096 frees, at thread exit, at process exit and before fork,
     * so a reader sees counts that lag each live thread by at most that much. Until the
     * process has a ring (the first span or heap sample creates it) the folded values
     * wait in the process and are added at creation. All heap counters stay zero while
     * the heap hooks are off (LDTAP_HEAP_SAMPLE_BYTES invalid).
     *   heap_live_bytes = bytes in use as the allocator itself reports them (glibc:
     *   mallinfo2's uordblks + hblkhd, its per-thread caches included; jemalloc:
     *   stats.allocated; tcmalloc: generic.current_allocated_bytes), stored (not added)
     *   by a fold every 100 ms or 4 MiB requested (for at most 1% of the time) and at
     *   process exit; 0 when the allocator has no
     *   statistics the shim knows. No hook sizes the blocks it sees. */
    int64_t heap_live_bytes;          /* [P] see above */
    uint64_t heap_allocations;        /* [P] allocation calls (a realloc counts one free + one allocation; a
                                       * failed call under 256 KiB is counted too) */
    uint64_t heap_frees;              /* [P] blocks released by free/realloc (free(NULL) not counted) */
    uint64_t heap_allocated_bytes;    /* [P] requested bytes, cumulative: the allocation rate in bytes */
    /* Anonymous private mappings made by the program through mmap/mremap and removed by
     * munmap/mremap (Python's obmalloc arenas, other allocators' chunks). Mappings made
     * inside libc (glibc malloc's large blocks, thread stacks) are not seen: those are
     * already in heap_live_bytes or are not heap. Tracked mappings are remembered in a
     * bounded table; a mapping that did not fit is not counted (anon_mmap_untracked).
     * Updated immediately (mmap is not a hot path), not folded. */
    int64_t anon_mmap_bytes;          /* [P] live bytes of tracked anonymous private mappings */
    uint64_t anon_mmap_untracked;     /* [P] anonymous mappings not counted: table full */
    /* Sampling (LDTAP_RECORD_HEAP_*): the mean sampling interval the shim uses, so the
     * collector need not trust its own environment (0: sampling off; 1: every allocation). */
    uint64_t heap_sample_interval;    /* [P] bytes */
    uint64_t heap_samples;            /* [P] HEAP_SAMPLE records attempted (dropped ones included) */
    uint64_t heap_samples_deferred;   /* [P] samples moved to a later allocation: sampled-address table bucket full */
    uint64_t heap_stack_table_resets; /* [P] times the table of sent stacks was cleared (stacks are then re-sent) */
    uint64_t reserved_producer[10];   /* [P] zero; room for later counters */

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
    /* The process received a fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) on the
     * thread serving this request: the span ends at the signal, as an error; the matching
     * LDTAP_RECORD_CRASH record carries the same trace and span id. Never retracted, even
     * if the program's own handler recovers. */
    LDTAP_SPAN_FLAG_CRASHED = 1u << 6,
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

/* ---- heap profiling (issue 5) ----
 *
 * The shim samples allocations by bytes: each thread counts down an exponentially
 * distributed number of bytes (mean header.heap_sample_interval = T); the allocation that
 * crosses zero is sampled. The bytes counted are requested bytes, so a block of s
 * bytes is sampled with probability p = 1 - exp(-s / T), and its record carries
 * weight_bytes = s / p: summing the weights of sampled blocks estimates the requested
 * bytes of all blocks without bias (T = 1: every allocation is sampled, weight_bytes =
 * s). The record's `size` is the requested size too.
 *
 * Ordering: a HEAP_STACK record is committed before the first HEAP_SAMPLE naming its id
 * is reserved, and a HEAP_FREE record is reserved before the block is handed back to the
 * allocator, so a HEAP_SAMPLE for the same address reused later always follows the
 * HEAP_FREE in ring order. Records may still be dropped (ring full): the collector must
 * tolerate a sample whose stack it never saw (unknown site), a free of an address it
 * does not hold (ignore it) and a stack sent twice (same id, same pcs).
 */

/* A process's loaded objects, one record per object, as dl_iterate_phdr reports them.
 * The shim writes a complete snapshot (a "generation") at start and again whenever the
 * set of loaded objects changed (dlopen/dlclose), before its next HEAP_STACK record.
 * Generation g is complete when module_count records carry it; an object of generation
 * g-1 missing from g was unloaded by time_ns of g. To symbolize a pc taken at time t,
 * use the newest generation with time_ns <= t (falling back to any generation whose
 * segments contain the pc when records were dropped). */
enum ldtap_module_flag {
    LDTAP_MODULE_FLAG_MAIN_PROGRAM = 1u << 0, /* the executable; path is /proc/self/exe's target */
    LDTAP_MODULE_FLAG_NO_FILE = 1u << 1,      /* linux-vdso and the like: nothing on disk */
    LDTAP_MODULE_FLAG_PATH_TRUNCATED = 1u << 2,
};

/* One PT_LOAD segment as mapped: [start, start + size) in the process's address space. */
struct ldtap_module_segment {
    uint64_t start;       /* load_bias + p_vaddr */
    uint64_t size;        /* p_memsz */
    uint64_t file_offset; /* p_offset */
    uint32_t flags;       /* p_flags: PF_X 1, PF_W 2, PF_R 4 */
    uint32_t padding;
};

_Static_assert(sizeof(struct ldtap_module_segment) == 32, "module segment layout is ABI");

/* LDTAP_RECORD_MODULE_MAP payload, followed by segment_count struct ldtap_module_segment,
 * then build_id_length bytes of GNU build id (the NT_GNU_BUILD_ID note's descriptor; 0
 * bytes if the object has none), then path_length bytes of path (no NUL). A pc inside a
 * segment has ELF virtual address pc - load_bias, the address .symtab/.dynsym and DWARF
 * use. */
struct ldtap_module_map_record {
    uint64_t load_bias;       /* dlpi_addr */
    uint64_t time_ns;         /* CLOCK_REALTIME of the snapshot, equal across a generation */
    uint32_t generation;      /* 1 at start, +1 per snapshot */
    uint16_t module_index;    /* 0..module_count-1, in dl_iterate_phdr order */
    uint16_t module_count;    /* objects in this generation */
    uint16_t segment_count;   /* <= LDTAP_MODULE_MAX_SEGMENTS */
    uint16_t build_id_length; /* <= LDTAP_MODULE_BUILD_ID_MAX */
    uint16_t path_length;     /* <= LDTAP_MODULE_PATH_MAX */
    uint16_t flags;           /* enum ldtap_module_flag */
};

_Static_assert(sizeof(struct ldtap_module_map_record) == 32, "module map record layout is ABI");

#define LDTAP_MODULE_MAX_SEGMENTS 16u
#define LDTAP_MODULE_BUILD_ID_MAX 64u
#define LDTAP_MODULE_PATH_MAX 1024u

enum ldtap_stack_flag {
    LDTAP_STACK_FLAG_TRUNCATED = 1u << 0, /* deeper than LDTAP_STACK_MAX_FRAMES */
    /* pcs[0] is the exact instruction (from a signal context) rather than a return
     * address; otherwise every pc is a return address and a symbolizer looks up pc - 1
     * to land inside the call instruction. */
    LDTAP_STACK_FLAG_FIRST_IS_EXACT = 1u << 1,
};

/* LDTAP_RECORD_HEAP_STACK payload, followed by frame_count uint64_t pcs, innermost
 * first: pcs[0] is the return address in the code that called the allocation function
 * (the shim's own frames are left out). Sent once per distinct stack per process, again
 * after a table reset (header.heap_stack_table_resets). stack_id is a 64-bit hash of the
 * pcs, never 0; ids belong to one process (a forked child re-sends the stacks it uses). */
struct ldtap_heap_stack_record {
    uint64_t stack_id;
    uint32_t frame_count; /* 1..LDTAP_STACK_MAX_FRAMES */
    uint32_t flags;       /* enum ldtap_stack_flag */
};

_Static_assert(sizeof(struct ldtap_heap_stack_record) == 16, "heap stack record layout is ABI");

#define LDTAP_STACK_MAX_FRAMES 64u

/* Which function made a sampled block. */
enum ldtap_heap_function {
    LDTAP_HEAP_MALLOC = 1,
    LDTAP_HEAP_CALLOC = 2,
    LDTAP_HEAP_REALLOC = 3, /* reallocarray too */
    LDTAP_HEAP_ALIGNED = 4, /* posix_memalign, aligned_alloc, memalign, valloc, pvalloc */
};

/* LDTAP_RECORD_HEAP_SAMPLE payload: one sampled allocation, live until a HEAP_FREE with
 * the same address follows (realloc of a sampled block writes HEAP_FREE for the old
 * address; the new block is sampled or not on its own). */
struct ldtap_heap_sample_record {
    uint64_t address;      /* the block returned to the program */
    uint64_t size;         /* requested bytes */
    uint64_t weight_bytes; /* unbiased estimate of the usable bytes this sample stands for (>= size) */
    uint64_t stack_id;     /* a HEAP_STACK record's id; 0: no stack could be captured */
    uint64_t time_ns;      /* CLOCK_REALTIME */
    uint32_t thread_id;    /* kernel tid */
    uint16_t function;     /* enum ldtap_heap_function */
    uint16_t padding;
};

_Static_assert(sizeof(struct ldtap_heap_sample_record) == 48, "heap sample record layout is ABI");

/* LDTAP_RECORD_HEAP_FREE payload: a sampled block was freed (or moved by realloc). */
struct ldtap_heap_free_record {
    uint64_t address;
    uint64_t time_ns;   /* CLOCK_REALTIME */
    uint32_t thread_id; /* kernel tid */
    uint32_t padding;
};

_Static_assert(sizeof(struct ldtap_heap_free_record) == 24, "heap free record layout is ABI");

enum ldtap_crash_flag {
    /* The program had its own handler for the signal: it runs after this record is
     * written, and may recover (a JVM or a runtime probing memory) or exit its own way. */
    LDTAP_CRASH_FLAG_PROGRAM_HANDLER = 1u << 0,
    LDTAP_CRASH_FLAG_STACK_TRUNCATED = 1u << 1, /* more frames than LDTAP_CRASH_FRAMES_MAX */
    /* The thread had several requests in flight (asyncio): trace_id/span_id name the
     * first one only; every one of them was ended with LDTAP_SPAN_FLAG_CRASHED. */
    LDTAP_CRASH_FLAG_SEVERAL_REQUESTS = 1u << 2,
    /* The handler ran on the thread's own stack (no alternate stack could be set up):
     * a stack overflow on that thread cannot be reported. */
    LDTAP_CRASH_FLAG_NO_ALTERNATE_STACK = 1u << 3,
};

/*
 * LDTAP_RECORD_CRASH payload: one per fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 * SIGABRT, abort() included), written by the shim's signal handler before the signal is
 * handed on: to the program's own handler if it installed one, else to the default action
 * (the exit status and core dump are those the program would have had without ldtap).
 * At most LDTAP_CRASH_RECORDS_MAX per process; later ones only count suppressed_crashes.
 *
 * Followed by frame_count uint64_t program counters, innermost first: [0] is the
 * interrupted instruction (instruction_pointer), the others are return addresses (the
 * collector looks up address - 1 when symbolizing them, against the process's
 * LDTAP_RECORD_MODULE_MAP records). Then stack_bytes_length bytes of the interrupted
 * thread's stack copied from stack_pointer upwards, for a collector-side unwinder (0
 * when the shim unwound the stack itself).
 */
struct ldtap_crash_record {
    uint64_t time_ns;             /* CLOCK_REALTIME when the handler ran */
    uint64_t fault_address;       /* siginfo si_addr for SIGSEGV/SIGBUS/SIGILL/SIGFPE, else 0 */
    uint64_t instruction_pointer; /* from the signal's ucontext; 0 if unknown */
    uint64_t stack_pointer;       /* from the signal's ucontext; 0 if unknown */
    uint64_t frame_pointer;       /* rbp / x29 from the ucontext; 0 if unknown */
    int32_t signal;               /* SIGSEGV … as numbered on this (Linux) host */
    int32_t signal_code;          /* siginfo si_code: SEGV_MAPERR, BUS_ADRALN, SI_TKILL (raise, abort) … */
    int32_t sender_pid;           /* si_pid when sent by kill/raise/abort (si_code <= 0), else 0 */
    uint32_t thread_id;           /* kernel tid of the thread that received the signal */
    uint8_t trace_id[16];         /* the request served on that thread; all zero: none */
    uint8_t span_id[8];           /* that request's server span */
    char thread_name[16];         /* prctl(PR_GET_NAME), NUL-padded */
    uint16_t flags;               /* enum ldtap_crash_flag */
    uint16_t frame_count;         /* <= LDTAP_CRASH_FRAMES_MAX */
    uint32_t stack_bytes_length;  /* <= LDTAP_CRASH_STACK_BYTES_MAX */
};

_Static_assert(sizeof(struct ldtap_crash_record) == 104, "crash record layout is ABI");

#define LDTAP_CRASH_FRAMES_MAX 128u
#define LDTAP_CRASH_STACK_BYTES_MAX 8192u
#define LDTAP_CRASH_RECORDS_MAX 16u

/* Where a captured log record was written. */
enum ldtap_log_stream {
    LDTAP_LOG_STREAM_STDOUT = 1, /* fd 1 */
    LDTAP_LOG_STREAM_STDERR = 2, /* fd 2 */
    LDTAP_LOG_STREAM_FILE = 3,   /* a file named in LDTAP_LOG_FILES; its path follows the text */
};

enum ldtap_log_kind {
    LDTAP_LOG_KIND_LINE = 1,      /* one line (LDTAP_CAPTURE_LOGS): rate-limited */
    LDTAP_LOG_KIND_TRACEBACK = 2, /* a Python "Traceback (most recent call last):" block */
};

enum ldtap_log_flag {
    LDTAP_LOG_FLAG_TRUNCATED = 1u << 0, /* text_full_length > text_length: bytes were left out */
    /* A traceback block that ended before its exception line (the thread wrote something
     * else, the descriptor closed, or the process exited): the last line is a frame. */
    LDTAP_LOG_FLAG_INCOMPLETE = 1u << 1,
    /* Chained exceptions: Python prints the first traceback, a blank line, "During
     * handling of the above exception, another exception occurred:" or "The above
     * exception was the direct cause of the following exception:", a blank line, then the
     * next traceback. Each traceback is its own record; a CHAINED one was introduced by
     * such a marker, which starts its text (then a blank line, then its header): the
     * previous TRACEBACK record of the same thread and fd is its context or cause, and
     * the last record of a chain holds the exception raised last. */
    LDTAP_LOG_FLAG_CHAINED = 1u << 2,
    /* The request could not be told (asyncio: several in flight, or interleaved with the
     * one just answered; see shim/log.c): trace_id/span_id are zero. */
    LDTAP_LOG_FLAG_UNPARENTED_ASYNC = 1u << 3,
};

/*
 * LDTAP_RECORD_LOG payload: a line, or a traceback block, that the program wrote (the
 * shim observes writes, never changes them) to stderr, stdout (only with
 * LDTAP_CAPTURE_LOGS=stdout,…), or a file named in LDTAP_LOG_FILES. Writes are assembled
 * into lines per thread, so a line written in pieces, or tracebacks written concurrently
 * by several threads, come out whole and separate.
 *
 * Followed by text_length bytes of text, then path_length bytes of the file's path (only
 * for LDTAP_LOG_STREAM_FILE). The text has no NUL; lines are separated by '\n' ("\r\n"
 * is kept as written) and the last line's terminator is dropped. A LINE record holds at
 * most LDTAP_LOG_LINE_MAX bytes (the head of a longer line). A TRACEBACK record holds at
 * most LDTAP_LOG_TRACEBACK_MAX bytes: when a block is longer, frame lines from the end
 * of the block are left out (TRUNCATED) but the header line and the final exception line
 * (itself cut at LDTAP_LOG_LINE_MAX) are always kept.
 *
 * A block starts at a line "Traceback (most recent call last):", takes the indented lines
 * after it (frames, source, carets) and ends at the first non-indented line, the
 * exception line: a multi-line exception message keeps only its first line in the block
 * (further lines are ordinary lines). A blank line, the writer's end (thread exit, fd
 * closed, process exit) or 4096 lines (LDTAP_LOG_BLOCK_LINES_MAX,
 * shim/proto/log_lines.h) end a block INCOMPLETE. Lines
 * of a block are not also LINE records; blank lines never are. A 3.11 exception group's
 * block starts at "  + Exception Group Traceback (most recent call last):" (or its
 * "  | Type: msg (N sub-exceptions)" line) and takes every indented line up to the
 * top-level closing line ("    +---…") or the first line that is not indented.
 */
struct ldtap_log_record {
    uint64_t time_ns;          /* CLOCK_REALTIME when the line or block was complete */
    uint8_t trace_id[16];      /* the request served on the writing thread; all zero: none */
    uint8_t span_id[8];        /* that request's server span */
    uint32_t thread_id;        /* kernel tid of the writing thread */
    int32_t fd;                /* the descriptor written to */
    uint16_t stream;           /* enum ldtap_log_stream */
    uint16_t kind;             /* enum ldtap_log_kind */
    uint16_t flags;            /* enum ldtap_log_flag */
    uint16_t text_length;      /* bytes of text following the record */
    uint32_t text_full_length; /* bytes the line or block really had (saturates at UINT32_MAX) */
    uint16_t path_length;      /* bytes of path after the text; 0 unless stream is FILE */
    uint16_t padding;
};

_Static_assert(sizeof(struct ldtap_log_record) == 56, "log record layout is ABI");

#define LDTAP_LOG_LINE_MAX 1024u
#define LDTAP_LOG_TRACEBACK_MAX 8192u
#define LDTAP_LOG_PATH_MAX 256u
/* Per-process budget for LINE records (token bucket, this many per second, bursts up to
 * 200); tracebacks are not rate-limited. */
#define LDTAP_LOG_LINES_PER_SECOND 1000u

#endif
