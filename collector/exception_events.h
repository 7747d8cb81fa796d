/* Several exception reports for one server span combined into one event block: a Python
 * chain's parts into one `exception` event for the exception that propagated, separate
 * failures into one event each. */
#ifndef LDTAP_EXCEPTION_EVENTS_H
#define LDTAP_EXCEPTION_EVENTS_H

#include "span.h"

/*
 * Combines `earlier` (the span's events so far) with `later` (one report: an `exception`
 * event), taking over both references, and returns the span's new block.
 *
 * When `later`'s exception.stacktrace starts with Python's chaining line (the shim's
 * CHAINED record: the block before it is its cause or context), it continues `earlier`'s
 * last exception: that event becomes `later`'s type, message and time, with the two
 * stack traces joined as Python printed them ("…\n\nThe above exception was…"). Otherwise
 * `later` is appended as one more event. The later report's text is kept whole where the
 * block's room allows: earlier stack traces are cut first, a joined one loses its oldest
 * lines. Out of memory, or no event slot left: `earlier` unchanged.
 */
struct ldtap_span_events *ldtap_exception_events_combine(struct ldtap_span_events *earlier,
                                                         struct ldtap_span_events *later);

#endif
