/* Span ids, per-thread "currently serving" list for parent/child links, and the span
 * record writer. */
#include "span.h"

#include <stdbool.h>
#include <string.h>

#include "log.h"
#include "modules.h"
#include "process.h"
#include "shim.h"
#include "thread.h"
#include "traceparent.h"

/* More server requests in flight on one thread than this are not told apart: client
 * spans are left unparented until the thread is down to one again. */
#define SERVED_MAX 4

struct served_span {
    const uint64_t *finished_below; /* the serving connection's watermark */
    const struct ldtap_span_common *live; /* the span as its exchange fills it in */
    uint64_t serial;
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint16_t inherited_flags; /* the caller's sampling decision, passed on to children */
    bool overlapped; /* another request was served on this thread while it was in flight */
};

/* Server spans this thread started and has not seen finish (asyncio: several). */
static LDTAP_THREAD_LOCAL struct served_span served[SERVED_MAX];
static LDTAP_THREAD_LOCAL unsigned served_count;
/* Set when a request in flight was not remembered (list full): parents are ambiguous. */
static LDTAP_THREAD_LOCAL bool served_overflow;

/* Forgets finished exchanges. The watermark may be raised by another thread (a request
 * read here, answered there), hence the acquire load. */
static __attribute__((noinline)) void prune_served_list(void) {
    unsigned kept = 0;
    for (unsigned i = 0; i < served_count; i++)
        if (served[i].serial >= __atomic_load_n(served[i].finished_below, __ATOMIC_ACQUIRE))
            served[kept++] = served[i];
    served_count = kept;
    if (kept == 0)
        served_overflow = false;
}

/* hot: most threads that make client spans (workers between requests, scripts) serve none. */
static inline void prune_served(void) {
    if (served_count != 0)
        prune_served_list();
}

void ldtap_span_begin(struct ldtap_span_common *span, enum ldtap_span_kind kind) {
    ldtap_span_begin_at(span, kind, ldtap_now_ns());
}

void ldtap_span_begin_at(struct ldtap_span_common *span, enum ldtap_span_kind kind, uint64_t start_ns) {
    ldtap_log_note_activity();
    if (kind != LDTAP_SPAN_KIND_CLIENT) {
        /* A new trace unless the request head names the caller's (ldtap_span_continue_trace,
         * which replaces it): both ids from one pass over the generator. */
        *span = (struct ldtap_span_common){.start_time_ns = start_ns, .thread_id = ldtap_thread_id(),
                                           .kind = (uint16_t)kind};
        ldtap_random_span_and_trace_id(span->span_id, span->trace_id);
        return;
    }
    memset(span, 0, sizeof(*span));
    span->start_time_ns = start_ns;
    span->kind = (uint16_t)kind;
    span->thread_id = ldtap_thread_id();
    prune_served();
    if (served_count == 1 && !served_overflow) {
        ldtap_random_span_id(span->span_id);
        memcpy(span->trace_id, served[0].trace_id, sizeof(span->trace_id));
        memcpy(span->parent_span_id, served[0].span_id, sizeof(span->parent_span_id));
        span->flags |= served[0].inherited_flags;
        return;
    }
    ldtap_random_span_and_trace_id(span->span_id, span->trace_id);
    if (served_count > 1 || served_overflow) {
        span->flags |= LDTAP_SPAN_FLAG_UNPARENTED_ASYNC;
        LDTAP_COUNT(unparented_async_spans, 1);
    }
}

void ldtap_span_continue_trace(struct ldtap_span_common *span, const char *traceparent,
                               size_t length) {
    struct ldtap_trace_context context;
    if (length > 0 && ldtap_traceparent_parse(traceparent, length, &context)) {
        memcpy(span->trace_id, context.trace_id, sizeof(span->trace_id));
        memcpy(span->parent_span_id, context.parent_span_id, sizeof(span->parent_span_id));
        span->flags |= LDTAP_SPAN_FLAG_REMOTE_PARENT | LDTAP_SPAN_FLAG_UPSTREAM_DECISION;
        if (context.trace_flags & 1)
            span->flags |= LDTAP_SPAN_FLAG_SAMPLED;
    }
}

void ldtap_span_serve(const struct ldtap_span_common *span, const uint64_t *finished_below,
                      uint64_t serial) {
    prune_served();
    if (served_count == SERVED_MAX) {
        served_overflow = true;
        return;
    }
    for (unsigned i = 0; i < served_count; i++)
        served[i].overlapped = true;
    struct served_span *entry = &served[served_count++];
    entry->overlapped = served_count > 1;
    entry->finished_below = finished_below;
    entry->live = span;
    entry->serial = serial;
    memcpy(entry->trace_id, span->trace_id, sizeof(entry->trace_id));
    memcpy(entry->span_id, span->span_id, sizeof(entry->span_id));
    entry->inherited_flags = span->flags & (LDTAP_SPAN_FLAG_UPSTREAM_DECISION | LDTAP_SPAN_FLAG_SAMPLED);
}

bool ldtap_span_current(uint8_t trace_id[16], uint8_t span_id[8]) {
    prune_served();
    memset(trace_id, 0, 16);
    memset(span_id, 0, 8);
    if (served_count == 1 && !served_overflow) {
        memcpy(trace_id, served[0].trace_id, 16);
        memcpy(span_id, served[0].span_id, 8);
    }
    return served_count <= 1 && !served_overflow;
}

/* Async-signal-safe: reads the list without pruning it (the signal may have interrupted
 * prune_served on this very thread), so it skips finished entries instead. */
unsigned ldtap_span_serving_now(const struct ldtap_span_common **live, uint64_t *serials,
                                unsigned max) {
    unsigned found = 0;
    for (unsigned i = 0; i < served_count && i < SERVED_MAX && found < max; i++) {
        if (served[i].serial < __atomic_load_n(served[i].finished_below, __ATOMIC_ACQUIRE))
            continue;
        live[found] = served[i].live;
        serials[found++] = served[i].serial;
    }
    return found;
}

/* True when this thread served `span` and no other request while it was in flight. */
static bool served_alone(const struct ldtap_span_common *span) {
    for (unsigned i = 0; i < served_count; i++)
        if (served[i].live == span)
            return !served[i].overlapped && !served_overflow;
    return false;
}

void ldtap_span_record_write(uint32_t type, const struct ldtap_ring_part *parts, int part_count) {
    struct ldtap_ring_writer *ring = ldtap_process_ring();
    if (ring == NULL)
        return;
    ldtap_ring_write(ring, type, parts, part_count);
    ldtap_modules_ensure(ring);
}

void ldtap_span_write_http(const struct ldtap_http_span_record *record,
                           const uint8_t *request_head, const uint8_t *response_head) {
    const uint8_t *record_end = (const uint8_t *)(record + 1);
    if (request_head == record_end && response_head == record_end + record->request_head_length) {
        struct ldtap_ring_part whole = {
            record, (uint32_t)(sizeof(*record) + record->request_head_length + record->response_head_length)};
        ldtap_span_record_write(LDTAP_RECORD_HTTP_SPAN, &whole, 1);
    } else {
        struct ldtap_ring_part parts[3] = {
            {record, sizeof(*record)},
            {request_head, record->request_head_length},
            {response_head, record->response_head_length},
        };
        ldtap_span_record_write(LDTAP_RECORD_HTTP_SPAN, parts, 3);
    }
    /* For a traceback the server logs after answering (log.c); not from a crash handler. */
    if (record->span.kind == LDTAP_SPAN_KIND_SERVER && !(record->span.flags & LDTAP_SPAN_FLAG_CRASHED))
        ldtap_log_request_finished(&record->span, record->status_code, served_alone(&record->span));
}

void ldtap_span_reset_thread_after_fork(void) {
    served_count = 0;
    served_overflow = false;
}
