/* One collector session shared by `ldtap run` and `ldtap collect`: the ring directory,
 * exporter, routes, sampler, summary and drain, and the orderly end (final drain, bounded
 * flush, summary). */
#ifndef LDTAP_SESSION_H
#define LDTAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "drain.h"
#include "heap_state.h"
#include "metrics.h"
#include "metrics_exporter.h"
#include "prometheus_server.h"

struct ldtap_session {
    const struct ldtap_config *config;
    struct ldtap_exporter *exporter; /* NULL when OTEL_TRACES_EXPORTER=none */
    struct ldtap_log_exporter *log_exporter; /* NULL when OTEL_LOGS_EXPORTER=none */
    struct ldtap_route_table *routes;
    struct ldtap_sampler sampler;
    struct ldtap_summary *summary;
    struct ldtap_drain *drain;
    /* Heap profiles and leak suspects, fed by the drain; NULL only if out of memory. */
    struct ldtap_heap *heap;
    /* Metric store fed by the drain; read by the Prometheus endpoint, the OTLP metrics
     * exporter and the summary. NULL only if it could not be allocated. */
    struct ldtap_metrics *metrics;
    /* OTLP metrics export thread; NULL unless metrics_otlp_enabled. Reads `metrics`. */
    struct ldtap_metrics_exporter *metrics_exporter;
    /* GET /metrics from `metrics`; NULL when disabled or its default port was taken. */
    struct ldtap_prometheus_server *prometheus;
    bool rings_busy; /* the last drain round found records: poll again soon */
};

/* The base ring directory: --run-dir / LDTAP_RUN_DIR, else $XDG_RUNTIME_DIR/ldtap, else
 * /dev/shm/ldtap-<uid>. Created 0700 if missing; refused when it is a symlink, not a
 * directory, owned by another user or writable by others. Returns 0, or -1 with a
 * sentence in `error`. */
int ldtap_base_directory(const struct ldtap_config *config, char *path, size_t path_size, char *error,
                         size_t error_size);

/* Starts the exporter and the drain of `directory`. Returns 0, or -1 with a sentence in
 * `error` (everything started is stopped again). */
int ldtap_session_start(struct ldtap_session *session, const struct ldtap_config *config, const char *directory,
                        const char *fallback_service_name, char *error, size_t error_size);

/* One round of the drain loop of `run` and `collect`: waits for a new ring or the poll
 * interval, then drains. Returns early when a signal interrupts the wait. */
void ldtap_session_drain_round(struct ldtap_session *session);

/* Final drain (live processes get `grace_ms`), flush bounded by the configured export
 * deadline, the summary on stderr unless --quiet/--no-summary, then frees everything. */
void ldtap_session_finish(struct ldtap_session *session, uint32_t grace_ms);

#endif
