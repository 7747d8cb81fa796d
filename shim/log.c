/* Log and traceback capture: configuration, the pool of per-thread assembly areas (mmap'd,
 * never our allocator), the per-process line budget, and writing LDTAP_RECORD_LOG records.
 * Runs inside write hooks on log streams only; never on an untracked descriptor. */
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "connection.h"
#include "fd_table.h"
#include "log_lines.h"
#include "process.h"
#include "span.h"
#include "thread.h"

/* Log streams one thread assembles at once (stderr, stdout, a log file); a write to one
 * more ends the least recently written one's pending lines. */
#define THREAD_STREAMS 2
/* Threads assembling at once; a thread beyond them is not captured until one exits. */
#define POOL_AREAS 128
#define POOL_WORDS (POOL_AREAS / 64)
#define LOG_FILES_MAX 8
/* Open descriptors of LDTAP_LOG_FILES files remembered at once (for their path). */
#define FILE_FDS_MAX 32
/* Line budget: a generic cell rate algorithm over one atomic "theoretical arrival time",
 * so threads need no lock: each line moves it one interval on; a line that would move it
 * further than the burst window ahead of now is dropped. */
#define LINE_INTERVAL_NS (1000000000ull / LDTAP_LOG_LINES_PER_SECOND)
#define LINE_BURST 200ull
/* How long after a request finished a traceback may still be its report (see
 * request_context). Well within the collector's hold of an error span waiting for its
 * report (LDTAP_EXCEPTION_JOIN_HOLD_NS, 3 s), so a report tied here still finds its span. */
#define ANSWERED_WINDOW_NS (500ull * 1000000)

struct log_stream {
    int fd; /* -1: unused */
    uint64_t last_use;
    uint16_t context_flags; /* of the open block: LDTAP_LOG_FLAG_UNPARENTED_ASYNC */
    uint8_t trace_id[16];   /* the request served when the open block began */
    uint8_t span_id[8];
    struct ldtap_log_lines lines;
};

struct log_area {
    uint64_t use_clock;
    struct log_stream streams[THREAD_STREAMS];
};

bool ldtap_log_files_named;
static bool capture_stdout;
static bool capture_stderr;
static char log_file_paths[LOG_FILES_MAX][LDTAP_LOG_PATH_MAX];
static uint16_t log_file_path_lengths[LOG_FILES_MAX];
static unsigned log_file_count;
/* Each entry: (path index << 32) | (fd + 1); 0 when free. */
static uint64_t file_fds[FILE_FDS_MAX];

static struct log_area *pool[POOL_AREAS]; /* mapped on first claim, kept for reuse */
static uint64_t pool_busy[POOL_WORDS];
static uint64_t line_arrival_ns; /* the rate limiter's theoretical arrival time */

/* The last server span that finished on a thread (see request_context). */
struct answered_request {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint64_t end_ns;   /* the span's end (CLOCK_REALTIME); 0: none */
    uint64_t activity; /* ldtap_log_activity when it finished */
    uint16_t status_code;
    bool alone;   /* no other request was served on the thread while it was in flight */
    bool claimed; /* a traceback was tied to it already */
};

LDTAP_THREAD_LOCAL uint64_t ldtap_log_activity;
static LDTAP_THREAD_LOCAL struct answered_request last_answered;
static LDTAP_THREAD_LOCAL struct log_area *thread_area;
static LDTAP_THREAD_LOCAL unsigned thread_area_index;

/* ---- configuration ---- */

/* Calls `item(text, length)` for each non-empty comma-separated item of `list`. */
static void for_each_item(const char *list, void (*item)(const char *text, size_t length)) {
    while (list != NULL && *list != '\0') {
        const char *comma = strchr(list, ',');
        size_t length = comma != NULL ? (size_t)(comma - list) : strlen(list);
        if (length > 0)
            item(list, length);
        list = comma != NULL ? comma + 1 : NULL;
    }
}

static bool item_is(const char *text, size_t length, const char *word) {
    return length == strlen(word) && memcmp(text, word, length) == 0;
}

static void capture_item(const char *text, size_t length) {
    if (item_is(text, length, "stdout"))
        capture_stdout = true;
    else if (item_is(text, length, "stderr"))
        capture_stderr = true;
}

/* An absolute path that fits a record; anything else is ignored. */
static void log_file_item(const char *text, size_t length) {
    if (text[0] != '/' || length >= LDTAP_LOG_PATH_MAX || log_file_count == LOG_FILES_MAX)
        return;
    memcpy(log_file_paths[log_file_count], text, length);
    log_file_paths[log_file_count][length] = '\0';
    log_file_path_lengths[log_file_count++] = (uint16_t)length;
}

static void mark_standing(int fd) {
    struct ldtap_connection *stale = ldtap_fd_mark_log(fd, true);
    if (stale != NULL)
        ldtap_connection_abandon(stale);
}

void ldtap_log_init(void) {
    for_each_item(getenv("LDTAP_CAPTURE_LOGS"), capture_item);
    for_each_item(getenv("LDTAP_LOG_FILES"), log_file_item);
    mark_standing(2); /* tracebacks on stderr are always looked for */
    if (capture_stdout)
        mark_standing(1);
    __atomic_store_n(&ldtap_log_files_named, log_file_count > 0, __ATOMIC_RELEASE);
}

/* ---- log files ---- */

static void forget_file_fd(int fd) {
    for (unsigned i = 0; i < FILE_FDS_MAX; i++) {
        uint64_t entry = __atomic_load_n(&file_fds[i], __ATOMIC_ACQUIRE);
        if (entry != 0 && (uint32_t)entry == (uint32_t)fd + 1)
            __atomic_compare_exchange_n(&file_fds[i], &entry, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
    }
}

/* The configured path `fd` was opened as, or -1. */
static int file_path_index(int fd) {
    for (unsigned i = 0; i < FILE_FDS_MAX; i++) {
        uint64_t entry = __atomic_load_n(&file_fds[i], __ATOMIC_ACQUIRE);
        if (entry != 0 && (uint32_t)entry == (uint32_t)fd + 1)
            return (int)(entry >> 32);
    }
    return -1;
}

void ldtap_log_opened(int fd, const char *path) {
    if (path == NULL || fd <= 2)
        return;
    forget_file_fd(fd); /* a stale entry: its close went by unseen */
    for (unsigned index = 0; index < log_file_count; index++) {
        if (strcmp(path, log_file_paths[index]) != 0)
            continue;
        uint64_t entry = ((uint64_t)index << 32) | ((uint32_t)fd + 1);
        for (unsigned i = 0; i < FILE_FDS_MAX; i++) {
            uint64_t free_entry = 0;
            if (__atomic_compare_exchange_n(&file_fds[i], &free_entry, entry, false, __ATOMIC_ACQ_REL,
                                            __ATOMIC_RELAXED)) {
                struct ldtap_connection *stale = ldtap_fd_mark_log(fd, false);
                if (stale != NULL)
                    ldtap_connection_abandon(stale);
                return;
            }
        }
        return; /* every entry in use: this descriptor is not captured */
    }
}

/* ---- records ---- */

/* Takes one line from the per-process budget; false when it is spent. `now`: monotonic. */
static bool take_line_budget(uint64_t now) {
    uint64_t arrival = __atomic_load_n(&line_arrival_ns, __ATOMIC_RELAXED);
    for (;;) {
        uint64_t next = (arrival > now ? arrival : now) + LINE_INTERVAL_NS;
        if (next - now > LINE_BURST * LINE_INTERVAL_NS)
            return false;
        if (__atomic_compare_exchange_n(&line_arrival_ns, &arrival, next, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return true;
    }
}

static uint16_t stream_of(int fd) {
    return fd == 1 ? LDTAP_LOG_STREAM_STDOUT : fd == 2 ? LDTAP_LOG_STREAM_STDERR : LDTAP_LOG_STREAM_FILE;
}

/* Returns the ring's verdict: 0 written, -1 dropped (or no ring). */
static int write_record(int fd, uint16_t kind, const struct ldtap_log_piece *piece, uint64_t time_ns,
                        const uint8_t trace_id[16], const uint8_t span_id[8], uint16_t flags) {
    struct ldtap_ring_writer *ring = ldtap_process_ring();
    if (ring == NULL)
        return -1;
    struct ldtap_log_record record;
    memset(&record, 0, sizeof(record));
    record.time_ns = time_ns;
    memcpy(record.trace_id, trace_id, sizeof(record.trace_id));
    memcpy(record.span_id, span_id, sizeof(record.span_id));
    record.thread_id = ldtap_thread_id();
    record.fd = fd;
    record.stream = stream_of(fd);
    record.kind = kind;
    record.flags = (uint16_t)(piece->flags | flags);
    record.text_length = (uint16_t)piece->length;
    record.text_full_length = piece->full_length;
    int path_index = record.stream == LDTAP_LOG_STREAM_FILE ? file_path_index(fd) : -1;
    const char *path = path_index >= 0 ? log_file_paths[path_index] : "";
    record.path_length = path_index >= 0 ? log_file_path_lengths[path_index] : 0;
    struct ldtap_ring_part parts[3] = {
        {&record, sizeof(record)},
        {piece->text, record.text_length},
        {path, record.path_length},
    };
    return ldtap_ring_write(ring, LDTAP_RECORD_LOG, parts, 3);
}

/* ---- which request a log write belongs to ---- */

void ldtap_log_request_finished(const struct ldtap_span_common *span, uint16_t status_code, bool alone) {
    struct answered_request *answered = &last_answered;
    memcpy(answered->trace_id, span->trace_id, sizeof(answered->trace_id));
    memcpy(answered->span_id, span->span_id, sizeof(answered->span_id));
    answered->end_ns = span->end_time_ns;
    answered->activity = ldtap_log_activity;
    answered->status_code = status_code;
    answered->alone = alone;
    answered->claimed = false;
}

/* True while nothing happened on this thread's tracked sockets since its last request
 * finished, and not for long. */
static bool just_answered(const struct answered_request *answered, uint64_t now) {
    if (answered->end_ns == 0 || answered->activity != ldtap_log_activity)
        return false;
    return now >= answered->end_ns && now - answered->end_ns < ANSWERED_WINDOW_NS;
}

/*
 * Which request a line or a traceback written now belongs to: fills the ids (all zero:
 * none) and returns the record flags (UNPARENTED_ASYNC: it cannot be told).
 *
 * A request in flight on this thread owns what the thread writes: the one request, or
 * nobody we could name when there are several (asyncio). Some servers report a failure
 * only after answering it: Starlette's ServerErrorMiddleware sends the 500, re-raises, and
 * uvicorn then logs "Exception in ASGI application" and the traceback, all in one step
 * of the event loop. So a write that comes right after a server span finished on this
 * thread — no byte on any tracked socket of the thread and no span begun in between,
 * within ANSWERED_WINDOW_NS — belongs to that request when
 *   - it was answered 5xx (a report after a success is a later failure, say a background
 *     task, not this response's);
 *   - it was the only request this thread served while it was in flight, and none is in
 *     flight now. Otherwise requests were interleaved on an event loop: the write may come
 *     from any of their tasks, so it is left unparented (flagged), never guessed;
 *   - and, for a traceback, no traceback took it before (one report per failure; a
 *     chained block follows its first part, see on_piece).
 * Anything else written after the request (a 2xx, a later write) belongs to nobody.
 */
static uint16_t request_context(uint8_t trace_id[16], uint8_t span_id[8], bool traceback, uint64_t now) {
    static const uint8_t no_span[8];
    bool named = ldtap_span_current(trace_id, span_id);
    struct answered_request *answered = &last_answered;
    if (!just_answered(answered, now))
        return named ? 0 : LDTAP_LOG_FLAG_UNPARENTED_ASYNC;
    if (!named || memcmp(span_id, no_span, sizeof(no_span)) != 0 || !answered->alone) {
        memset(trace_id, 0, 16);
        memset(span_id, 0, 8);
        return LDTAP_LOG_FLAG_UNPARENTED_ASYNC;
    }
    if (answered->status_code < 500 || answered->claimed)
        return 0;
    memcpy(trace_id, answered->trace_id, 16);
    memcpy(span_id, answered->span_id, 8);
    if (traceback)
        answered->claimed = true;
    return 0;
}

/* The assembler's sink: turns its events into records; `context` is the log_stream. */
static void on_piece(void *context, const struct ldtap_log_piece *piece) {
    struct log_stream *stream = context;
    uint64_t monotonic = ldtap_monotonic_ns(); /* one clock read per piece */
    uint64_t now = ldtap_realtime_at(monotonic);
    if (piece->event == LDTAP_LOG_EVENT_TRACEBACK_BEGIN) {
        /* A chained block reports the same failure as the block before it on this
         * stream: it keeps that block's request. */
        if (!(piece->flags & LDTAP_LOG_FLAG_CHAINED))
            stream->context_flags = request_context(stream->trace_id, stream->span_id, true, now);
    } else if (piece->event == LDTAP_LOG_EVENT_TRACEBACK) {
        write_record(stream->fd, LDTAP_LOG_KIND_TRACEBACK, piece, now, stream->trace_id, stream->span_id,
                     stream->context_flags);
    } else {
        uint8_t trace_id[16], span_id[8];
        if (!take_line_budget(monotonic)) {
            LDTAP_COUNT(dropped_log_lines, 1);
            return;
        }
        uint16_t flags = request_context(trace_id, span_id, false, now);
        if (write_record(stream->fd, LDTAP_LOG_KIND_LINE, piece, now, trace_id, span_id, flags) != 0)
            LDTAP_COUNT(dropped_log_lines, 1);
    }
}

/* ---- per-thread areas ---- */

static void finish_stream(struct log_stream *stream) {
    if (stream->fd >= 0 && ldtap_log_lines_pending(&stream->lines))
        ldtap_log_lines_finish(&stream->lines, on_piece, stream);
    stream->fd = -1;
}

/* This thread's area, claimed from the pool on its first log write; NULL when none. */
static struct log_area *claim_area(void) {
    for (unsigned index = 0; index < POOL_AREAS; index++) {
        uint64_t *word = &pool_busy[index / 64];
        uint64_t bit = 1ull << (index % 64);
        uint64_t busy = __atomic_load_n(word, __ATOMIC_RELAXED);
        if ((busy & bit) || (__atomic_fetch_or(word, bit, __ATOMIC_ACQUIRE) & bit))
            continue;
        struct log_area *area = __atomic_load_n(&pool[index], __ATOMIC_ACQUIRE);
        if (area == NULL) {
            void *mapping =
                mmap(NULL, sizeof(*area), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (mapping == MAP_FAILED) {
                __atomic_fetch_and(word, ~bit, __ATOMIC_RELEASE);
                return NULL;
            }
            area = mapping;
            __atomic_store_n(&pool[index], area, __ATOMIC_RELEASE);
        }
        for (unsigned i = 0; i < THREAD_STREAMS; i++)
            area->streams[i].fd = -1;
        thread_area = area;
        thread_area_index = index;
        return area;
    }
    return NULL;
}

/* The stream slot of `fd` in this thread's area, taking a free or the least recently
 * used slot (whose pending lines end) when it has none. */
static struct log_stream *stream_for(struct log_area *area, int fd) {
    struct log_stream *oldest = &area->streams[0];
    for (unsigned i = 0; i < THREAD_STREAMS; i++) {
        struct log_stream *stream = &area->streams[i];
        if (stream->fd == fd)
            return stream;
        if (stream->fd < 0 || (oldest->fd >= 0 && stream->last_use < oldest->last_use))
            oldest = stream;
    }
    finish_stream(oldest);
    oldest->fd = fd;
    bool lines = fd == 1 ? capture_stdout : fd == 2 ? capture_stderr : true;
    ldtap_log_lines_reset(&oldest->lines, lines);
    return oldest;
}

void ldtap_log_written(int fd, const struct iovec *vector, size_t count, size_t result) {
    struct log_area *area = thread_area != NULL ? thread_area : claim_area();
    if (area == NULL)
        return;
    struct log_stream *stream = stream_for(area, fd);
    stream->last_use = ++area->use_clock;
    for (size_t i = 0; i < count && result > 0; i++) {
        size_t length = vector[i].iov_len < result ? vector[i].iov_len : result;
        ldtap_log_lines_feed(&stream->lines, vector[i].iov_base, length, on_piece, stream);
        result -= length;
    }
}

void ldtap_log_closing(int fd) {
    struct log_area *area = thread_area;
    if (area != NULL)
        for (unsigned i = 0; i < THREAD_STREAMS; i++)
            if (area->streams[i].fd == fd)
                finish_stream(&area->streams[i]);
    if (fd > 2)
        forget_file_fd(fd);
}

/* Ends the pending lines of every stream in this thread's `area`. */
static void finish_thread(struct log_area *area) {
    for (unsigned i = 0; i < THREAD_STREAMS; i++)
        finish_stream(&area->streams[i]);
}

void ldtap_log_thread_exit(void) {
    struct log_area *area = thread_area;
    if (area == NULL)
        return;
    LDTAP_RECORD(if (ldtap_recording()) finish_thread(area), (void)0);
    thread_area = NULL;
    __atomic_fetch_and(&pool_busy[thread_area_index / 64], ~(1ull << (thread_area_index % 64)),
                       __ATOMIC_RELEASE);
}

void ldtap_log_after_fork_child(void) {
    last_answered.end_ns = 0; /* the parent's request, not ours */
    for (unsigned i = 0; i < POOL_WORDS; i++)
        __atomic_store_n(&pool_busy[i], 0, __ATOMIC_RELAXED);
    if (thread_area == NULL)
        return;
    __atomic_fetch_or(&pool_busy[thread_area_index / 64], 1ull << (thread_area_index % 64), __ATOMIC_RELAXED);
    for (unsigned i = 0; i < THREAD_STREAMS; i++)
        thread_area->streams[i].fd = -1;
}

/* The main thread's pending lines at exit (other threads' are lost with the process). */
__attribute__((destructor)) static void finish_at_exit(void) {
    struct log_area *area = thread_area;
    if (area != NULL)
        LDTAP_RECORD(if (ldtap_recording()) finish_thread(area), (void)0);
}
