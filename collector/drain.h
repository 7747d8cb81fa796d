/* Draining the rings of one directory: attach each ring found, turn its records into
 * spans for the summary and the exporter, and retire it once its process is gone and
 * it is empty. */
#ifndef LDTAP_DRAIN_H
#define LDTAP_DRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode_db.h"
#include "exporter.h"
#include "heap_state.h"
#include "log_exporter.h"
#include "metrics.h"
#include "resource.h"
#include "route.h"
#include "sampler.h"
#include "summary.h"

struct ldtap_drain_options {
    const char *directory;
    bool all_users;               /* false: rings of other uids are ignored */
    bool quiet;                   /* no warnings about corrupt rings */
    struct ldtap_resource_defaults resource_defaults;
    struct ldtap_exporter *exporter; /* NULL: export disabled */
    struct ldtap_route_table *routes;
    const struct ldtap_sampler *sampler;
    struct ldtap_summary *summary;
    struct ldtap_metrics *metrics; /* NULL: no metrics */
    struct ldtap_db_decode_options database;
    struct ldtap_heap *heap; /* heap records (MODULE_MAP, HEAP_*); NULL: they are ignored */
    struct ldtap_log_exporter *log_exporter; /* NULL: LOG records only feed span events */
};

struct ldtap_drain;

/* Watches the directory and attaches the rings already there. NULL with a sentence in
 * `error`. The options' pointers must outlive the drain. */
struct ldtap_drain *ldtap_drain_create(const struct ldtap_drain_options *options, char *error, size_t error_size);

/* The descriptor to poll: readable when a ring may have appeared. */
int ldtap_drain_poll_fd(const struct ldtap_drain *drain);

/* One pass: pick up new rings, drain what is committed in each, retire rings whose
 * process is gone and whose data is consumed. Never blocks. Returns the records taken
 * (at most a bounded share per ring: more may be waiting when it is not 0). */
size_t ldtap_drain_step(struct ldtap_drain *drain);

/* Drains until every ring of a dead process is empty, giving rings of live processes
 * up to `grace_ms` to finish (a live process that keeps writing is left as it is).
 * Returns true when nothing was left behind. */
bool ldtap_drain_finish(struct ldtap_drain *drain, uint32_t grace_ms);

/* Adds the drain's counters (spans, sampling, the rings' drop counters) to `totals`. */
void ldtap_drain_totals(const struct ldtap_drain *drain, struct ldtap_summary_totals *totals);

/* Detaches every ring (files of live processes stay) and frees. */
void ldtap_drain_destroy(struct ldtap_drain *drain);

#endif
