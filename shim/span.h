/* Span identity and trace context: ids, the server span a thread is serving (parent of
 * its client spans), and writing finished HTTP spans to the ring. */
#ifndef LDTAP_SPAN_H
#define LDTAP_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldtap_ring.h"
#include "ldtap_ring_abi.h"

/* Starts a span now on this thread. A client span joins the trace of the one server
 * span this thread is serving, as its child; with none it starts a trace, and with
 * several (asyncio) it starts one flagged LDTAP_SPAN_FLAG_UNPARENTED_ASYNC. A server span
 * starts a trace, which its request head may replace (ldtap_span_continue_trace). */
void ldtap_span_begin(struct ldtap_span_common *span, enum ldtap_span_kind kind);
/* The same with the start time (CLOCK_REALTIME) the caller read already. */
void ldtap_span_begin_at(struct ldtap_span_common *span, enum ldtap_span_kind kind, uint64_t start_ns);

/* Server span, once its request head is read: continue the caller's trace from a valid
 * `traceparent` value (length 0: none), else keep the trace it began with. */
void ldtap_span_continue_trace(struct ldtap_span_common *span, const char *traceparent,
                               size_t length);

/* This thread serves `span` until the exchange numbered `serial` finishes, which its
 * connection announces by raising *finished_below above it (connection memory is never
 * unmapped, so the pointer stays valid even after the connection is gone). */
void ldtap_span_serve(const struct ldtap_span_common *span, const uint64_t *finished_below,
                      uint64_t serial);

/* The trace and span id of the one request this thread serves (all zero when none or
 * several); false when several are in flight (asyncio) and no parent can be named. */
bool ldtap_span_current(uint8_t trace_id[16], uint8_t span_id[8]);

/* Signal handlers only: the server spans this thread is serving and have not finished,
 * as pointers to the live spans inside their exchanges, with their serials. */
unsigned ldtap_span_serving_now(const struct ldtap_span_common **live, uint64_t *serials,
                                unsigned max);

/* Writes one span record of `type` from `parts` to this process's ring, then the first
 * module map if none was written yet. The one writer of span records (HTTP and DB). */
void ldtap_span_record_write(uint32_t type, const struct ldtap_ring_part *parts, int part_count);

/* Writes one LDTAP_RECORD_HTTP_SPAN record: `record` then both head copies, in one copy
 * when they follow it in memory. */
void ldtap_span_write_http(const struct ldtap_http_span_record *record,
                           const uint8_t *request_head, const uint8_t *response_head);

/* In a forked child: the parent's requests are not being served by this process. */
void ldtap_span_reset_thread_after_fork(void);

#endif
