/* What `ldtap top` shows, computed from two scrapes of the Prometheus endpoint: per route
 * rate, error share and latency quantiles, per worker memory, CPU and busy share, the
 * slowest database operations. Pure: text in, text out, so it is unit-testable. */
#ifndef LDTAP_TOP_VIEW_H
#define LDTAP_TOP_VIEW_H

#include <stddef.h>

#include "buffer.h"

struct ldtap_top_snapshot;

/* Aggregates one scrape taken at `time_seconds` (any monotonic clock). NULL when out of
 * memory. Lines that are not the exposition format are counted, not fatal. */
struct ldtap_top_snapshot *ldtap_top_snapshot_parse(const char *text, size_t length, double time_seconds);
void ldtap_top_snapshot_free(struct ldtap_top_snapshot *snapshot);

/* Prometheus histogram_quantile over upper `bounds` with cumulative `counts` (the +Inf
 * bucket is `total`): linear interpolation inside the bucket holding the rank; NaN when
 * total is 0; the highest finite bound when the rank falls in +Inf. */
double ldtap_top_quantile(double quantile, const double *bounds, const double *counts, size_t bound_count,
                          double total);

/* The screen, `width` columns (at least 80 are assumed) and at most `height` lines, in
 * plain text lines ending in "\n". `previous` may be NULL (no rates yet). `title` is the
 * first line's left part. */
void ldtap_top_render(const struct ldtap_top_snapshot *previous, const struct ldtap_top_snapshot *current,
                      const char *title, int width, int height, struct ldtap_buffer *out);

#endif
