/* Per-request database rollups: the number and total time of the database spans under
 * each server span (ldtap.db.query_count, ldtap.db.duration), so that an N+1 query pattern
 * shows on one span. One table per ring: a process commits a request's database spans
 * before the request's own span, and always to its own ring. */
#ifndef LDTAP_DB_ROLLUP_H
#define LDTAP_DB_ROLLUP_H

#include <stdbool.h>
#include <stdint.h>

#include "span.h"

/* Open requests tracked per ring; past this the stalest entry is evicted. */
#define LDTAP_DB_ROLLUP_MAX_ENTRIES 1024
/* An entry whose server span has not come for this long is evicted (its request was
 * dropped, sampled away in the shim, or is not a server span we decode). */
#define LDTAP_DB_ROLLUP_MAX_AGE_NS (10ull * 60 * 1000000000)

struct ldtap_db_rollup;

/* NULL if out of memory. */
struct ldtap_db_rollup *ldtap_db_rollup_new(void);
void ldtap_db_rollup_free(struct ldtap_db_rollup *rollup);

/* Feeds one decoded span; `now_ns` is the collector's monotonic clock. A database client
 * span with a parent is counted under that parent; a server span takes its entry and gets
 * ldtap.db.query_count and ldtap.db.duration (seconds) when it had any queries. */
void ldtap_db_rollup_observe(struct ldtap_db_rollup *rollup, struct ldtap_span *span, uint64_t now_ns);

/* Entries dropped by age or for room, since creation. */
uint64_t ldtap_db_rollup_evictions(const struct ldtap_db_rollup *rollup);

#endif
