/* Joins exception and crash reports to the server span of the request they happened in.
 * Either may come first in a ring: a Flask traceback is written before the 500 response
 * (the span follows it), while uvicorn logs after responding and a crash handler ends the
 * span before writing its crash record. So reports wait for their span, and error spans
 * wait (briefly) for their reports. Several reports for one span are combined
 * (exception_events.h): a Python chain's parts into one event for the exception that
 * propagated. One join per ring, keyed by span id. */
#ifndef LDTAP_EXCEPTION_JOIN_H
#define LDTAP_EXCEPTION_JOIN_H

#include <stdbool.h>
#include <stdint.h>

#include "span.h"

/* Reports waiting for their span; past this the oldest is dropped (counted). */
#define LDTAP_EXCEPTION_JOIN_MAX_PENDING 128
/* A report whose span has not come in this long is dropped (the span was lost or is no
 * server span we decode). */
#define LDTAP_EXCEPTION_JOIN_MAX_AGE_NS (60ull * 1000000000)
/* Error spans held back for a report that may follow; past this the oldest goes on. */
#define LDTAP_EXCEPTION_JOIN_MAX_HELD 64
/* How long an error span is held: a report follows its span within one write or two, the
 * parts of a chained traceback follow each other as closely; but an exception group's
 * block may only end at the thread's next write, and a loaded machine delays both. The
 * shim ties a report written after the response to it only within 0.5 s (shim/log.c):
 * the hold leaves the collector ample time to read what the shim wrote by then. */
#define LDTAP_EXCEPTION_JOIN_HOLD_NS (3000ull * 1000000)

/* Where held spans go when released: the rest of the drain pipeline (sampling, export).
 * `record_flags` are the span record's LDTAP_SPAN_FLAG_* bits, kept for the sampler. */
typedef void ldtap_span_sink(void *context, struct ldtap_span *span, uint16_t record_flags);

struct ldtap_exception_join;

struct ldtap_exception_join *ldtap_exception_join_new(void); /* NULL if out of memory */
/* Releases what waits, without emitting. */
void ldtap_exception_join_free(struct ldtap_exception_join *join);

/* A decoded server span with a span id. Attaches the waiting reports (events and ERROR
 * status) and returns false: the caller passes the span on now. Returns true when the
 * span (an ERROR one with no report yet) was copied and held: the join emits it later
 * through the sink, with what reports came meanwhile. `now_ns` is the monotonic clock. */
bool ldtap_exception_join_span(struct ldtap_exception_join *join, struct ldtap_span *span,
                               uint16_t record_flags, uint64_t now_ns, ldtap_span_sink *sink, void *context);

/* A report for server span `span_id` (taking over the caller's reference on `events`): a
 * held span gets it (and is still emitted when its hold is up); otherwise it waits for
 * the span. A report for a span that has one already is combined with it. Held spans go
 * out through ldtap_exception_join_expire only. */
void ldtap_exception_join_report(struct ldtap_exception_join *join, const uint8_t span_id[8],
                                 struct ldtap_span_events *events, uint64_t now_ns);

/* Emits held spans older than the hold time, or all of them with `everything` (the
 * process is gone and its ring drained), and drops reports past their age. */
void ldtap_exception_join_expire(struct ldtap_exception_join *join, uint64_t now_ns, bool everything,
                                 ldtap_span_sink *sink, void *context);

/* Reports dropped unattached (aged out, or for room) since creation. */
uint64_t ldtap_exception_join_dropped(const struct ldtap_exception_join *join);

#endif
