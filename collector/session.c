/* The collector session: everything `run` and `collect` share between reading the
 * configuration and printing the summary. */
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export_common.h"

/* Series the metric store keeps (histograms per route x status, process gauges): enough
 * for 1,000 routes x 10 status codes with body sizes, about 20 MB at most. */
#define METRICS_MAX_SERIES 50000
/* Drain poll interval when the last round found nothing, and when it found records. At
 * 5 ms a 4 MiB ring holds 100 times what 40k spans/s write in between. */
#define IDLE_POLL_MS 100
#define BUSY_POLL_MS 5
#define PASS_BUDGET_NS (50ull * 1000000ull)

int ldtap_base_directory(const struct ldtap_config *config, char *path, size_t path_size, char *error,
                         size_t error_size) {
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    int length = config->run_dir ? snprintf(path, path_size, "%s", config->run_dir)
                 : runtime && runtime[0] == '/' ? snprintf(path, path_size, "%s/ldtap", runtime)
                                                 : snprintf(path, path_size, "/dev/shm/ldtap-%u", (unsigned)getuid());
    if (length < 0 || (size_t)length >= path_size) {
        snprintf(error, error_size, "the ring directory path is too long");
        return -1;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(error, error_size, "cannot create the ring directory %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat status;
    if (lstat(path, &status) != 0) {
        snprintf(error, error_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    const char *problem = S_ISLNK(status.st_mode)        ? "is a symbolic link"
                          : !S_ISDIR(status.st_mode)     ? "is not a directory"
                          : status.st_uid != geteuid()   ? "belongs to another user"
                          : (status.st_mode & 0022) != 0 ? "is writable by other users"
                                                         : NULL;
    if (problem) {
        snprintf(error, error_size, "the ring directory %s %s; refusing to use it (set LDTAP_RUN_DIR or --run-dir)",
                 path, problem);
        return -1;
    }
    return 0;
}

/* Serves /metrics once the store exists. The default port is a convenience: a second
 * `ldtap run` finding it taken warns and carries on without an endpoint. A port the user
 * chose is a promise, so failing to bind it stops the start. */
static int start_prometheus(struct ldtap_session *session, char *error, size_t error_size) {
    const struct ldtap_config *config = session->config;
    if (!config->prometheus_enabled || !session->metrics) {
        return 0;
    }
    char detail[256] = "";
    int error_number = 0;
    session->prometheus = ldtap_prometheus_server_start(config->prometheus_host, config->prometheus_port,
                                                        session->metrics, &error_number, detail, sizeof detail);
    if (session->prometheus) {
        return 0;
    }
    if (!config->prometheus_port_explicit && error_number == EADDRINUSE) {
        if (!config->quiet) {
            fprintf(stderr,
                    "ldtap: warning: Prometheus endpoint disabled: port %u is in use (another ldtap?); "
                    "choose one with --prometheus HOST:PORT or OTEL_EXPORTER_PROMETHEUS_PORT\n",
                    (unsigned)config->prometheus_port);
        }
        return 0;
    }
    snprintf(error, error_size, "Prometheus endpoint: %s (set --prometheus HOST:PORT, "
             "OTEL_EXPORTER_PROMETHEUS_HOST/PORT, or --no-prometheus)", detail);
    return -1;
}

static int start_metrics_exporter(struct ldtap_session *session, char *error, size_t error_size) {
    const struct ldtap_config *config = session->config;
    if (!config->metrics_otlp_enabled) {
        return 0;
    }
    struct ldtap_metrics_exporter_config exporter_config;
    ldtap_config_metrics_exporter(config, &exporter_config);
    char detail[256] = "";
    session->metrics_exporter = ldtap_metrics_exporter_start(&exporter_config, session->metrics, detail, sizeof detail);
    if (!session->metrics_exporter) {
        snprintf(error, error_size, "OTLP metrics exporter: %s", detail);
        return -1;
    }
    return 0;
}

/* The final export sees everything the last drain added; it must end before the store is
 * freed. Failures are counted and the last one is reported. */
static void stop_metrics_exporter(struct ldtap_session *session) {
    const struct ldtap_config *config = session->config;
    if (!session->metrics_exporter) {
        return;
    }
    struct ldtap_metrics_export_stats stats = {0};
    ldtap_metrics_exporter_stop(session->metrics_exporter, config->export_deadline_ms, &stats);
    session->metrics_exporter = NULL;
    if (stats.failed_exports && !config->quiet) {
        fprintf(stderr, "ldtap: metrics export: %llu of %llu exports failed; last error: %s\n",
                (unsigned long long)stats.failed_exports,
                (unsigned long long)(stats.failed_exports + stats.exports), stats.last_error);
    }
}

/* Leak-suspect records join the logs pipeline: /v1/logs, or the output file. */
static void enqueue_log_entry(void *context, struct ldtap_log_entry *entry) {
    ldtap_log_exporter_enqueue(context, entry); /* a full queue counts its own drops */
}

int ldtap_session_start(struct ldtap_session *session, const struct ldtap_config *config, const char *directory,
                        const char *fallback_service_name, char *error, size_t error_size) {
    memset(session, 0, sizeof *session);
    session->config = config;
    char detail[256] = "";
    session->summary = ldtap_summary_new();
    session->metrics = ldtap_metrics_create(METRICS_MAX_SERIES);
    session->heap = ldtap_heap_new(&(struct ldtap_heap_options){.profile_directory = config->heap_profile_dir,
                                                                .quiet = config->quiet});
    session->routes = ldtap_route_table_create(config->routes ? config->routes : "", config->max_routes, detail,
                                               sizeof detail);
    if (!session->summary || !session->routes || !session->metrics || !session->heap) {
        snprintf(error, error_size, "%s", session->routes ? "out of memory" : detail);
        goto failed;
    }
    ldtap_sampler_init(&session->sampler, config->sampler, config->sampler_ratio);
    if (config->export_enabled) {
        struct ldtap_exporter_config exporter_config;
        ldtap_config_exporter(config, &exporter_config);
        session->exporter = ldtap_exporter_start(&exporter_config, detail, sizeof detail);
        if (!session->exporter) {
            snprintf(error, error_size, "%s", detail);
            goto failed;
        }
    }
    if (config->logs_enabled) {
        struct ldtap_log_exporter_config log_config;
        ldtap_config_log_exporter(config, &log_config);
        session->log_exporter = ldtap_log_exporter_start(&log_config, detail, sizeof detail);
        if (!session->log_exporter) {
            snprintf(error, error_size, "OTLP logs exporter: %s", detail);
            goto failed;
        }
    }
    struct ldtap_drain_options options = {
        .directory = directory,
        .all_users = config->all_users,
        .quiet = config->quiet,
        .resource_defaults = {.service_name = config->service_name,
                              .resource_attributes = config->resource_attributes,
                              .fallback_service_name = fallback_service_name},
        .exporter = session->exporter,
        .routes = session->routes,
        .sampler = &session->sampler,
        .summary = session->summary,
        .metrics = session->metrics,
        .database = {.raw_statements = config->db_raw_statements, .slow_query_ms = config->slow_query_ms},
        .heap = session->heap,
        .log_exporter = session->log_exporter,
    };
    if (session->log_exporter) {
        ldtap_heap_set_log_sink(session->heap, enqueue_log_entry, session->log_exporter);
    }
    session->drain = ldtap_drain_create(&options, error, error_size);
    if (session->drain && start_prometheus(session, error, error_size) == 0 &&
        start_metrics_exporter(session, error, error_size) == 0) {
        return 0;
    }
    ldtap_prometheus_server_stop(session->prometheus);
    ldtap_drain_destroy(session->drain);
failed:
    ldtap_log_exporter_stop(session->log_exporter, 0, NULL);
    if (session->exporter) {
        ldtap_exporter_stop(session->exporter, 0, &(struct ldtap_export_stats){0});
    }
    ldtap_route_table_free(session->routes);
    ldtap_summary_free(session->summary);
    ldtap_metrics_free(session->metrics);
    ldtap_heap_free(session->heap);
    memset(session, 0, sizeof *session);
    return -1;
}

void ldtap_session_drain_round(struct ldtap_session *session) {
    struct pollfd watch = {.fd = ldtap_drain_poll_fd(session->drain), .events = POLLIN};
    poll(&watch, 1, session->rings_busy ? BUSY_POLL_MS : IDLE_POLL_MS);
    /* Passes repeat while they find records: a step takes a bounded share of each ring,
     * and a ring filling at tens of thousands of records a second must not wait for the
     * next poll. The budget keeps new rings and signals from waiting behind a flood. */
    uint64_t start = ldtap_monotonic_ns(), taken = 0;
    for (size_t found; (found = ldtap_drain_step(session->drain)) > 0;) {
        taken += found;
        if (ldtap_monotonic_ns() - start >= PASS_BUDGET_NS) {
            break;
        }
    }
    session->rings_busy = taken > 0;
}

static void report_process(void *context, const struct ldtap_process_report *report) {
    if (report->has_memory) {
        struct ldtap_summary_memory memory = {report->pid, report->is_master, report->rss_first_bytes,
                                              report->rss_last_bytes};
        ldtap_summary_add_memory(context, report->service_name, &memory);
    }
}

static void report_service(void *context, const struct ldtap_service_report *report) {
    if (report->has_busy_fraction || report->accept_queue_max >= 0) {
        ldtap_summary_add_saturation(context, report->service_name, report->has_busy_fraction,
                                     report->busy_fraction_max, report->accept_queue_max);
    }
}

void ldtap_session_finish(struct ldtap_session *session, uint32_t grace_ms) {
    const struct ldtap_config *config = session->config;
    ldtap_drain_finish(session->drain, grace_ms);
    ldtap_heap_finish(session->heap); /* the last leak snapshot and --heap-profile files */
    /* Before the store is freed: the server thread reads it at every scrape. */
    ldtap_prometheus_server_stop(session->prometheus);
    session->prometheus = NULL;
    stop_metrics_exporter(session);
    struct ldtap_summary_totals totals = {
        .destination = config->traces_url ? config->traces_url : config->output_path,
        .to_file = config->traces_url == NULL,
        .export_disabled = !config->export_enabled,
    };
    if (session->exporter) {
        struct ldtap_export_stats stats = {0};
        ldtap_exporter_stop(session->exporter, config->export_deadline_ms, &stats);
        totals.exported = stats.exported_spans;
        totals.dropped_queue_full = stats.dropped_queue_full;
        totals.dropped_after_retries = stats.dropped_after_retries;
        if (stats.last_error[0] && !config->quiet) {
            fprintf(stderr, "ldtap: export: %s\n", stats.last_error);
        }
    }
    if (session->log_exporter) {
        struct ldtap_log_export_stats stats = {0};
        ldtap_log_exporter_stop(session->log_exporter, config->export_deadline_ms, &stats);
        session->log_exporter = NULL;
        if ((stats.dropped_queue_full || stats.dropped_after_retries) && !config->quiet) {
            fprintf(stderr, "ldtap: logs export: %llu of %llu log records dropped; last error: %s\n",
                    (unsigned long long)(stats.dropped_queue_full + stats.dropped_after_retries),
                    (unsigned long long)(stats.enqueued + stats.dropped_queue_full),
                    stats.last_error[0] ? stats.last_error : "the queue was full");
        }
    }
    ldtap_drain_totals(session->drain, &totals);
    totals.route_overflow = ldtap_route_overflow_count(session->routes);
    struct ldtap_metrics_report_visitor visitor = {report_process, report_service, session->summary};
    ldtap_metrics_report(session->metrics, &visitor);
    if (!config->quiet && !config->no_summary) {
        ldtap_summary_print(session->summary, &totals, stderr);
        ldtap_heap_print_summary(session->heap, stderr);
    }
    ldtap_drain_destroy(session->drain);
    ldtap_heap_free(session->heap);
    ldtap_route_table_free(session->routes);
    ldtap_summary_free(session->summary);
    /* Last: the metric readers (Prometheus, OTLP metrics) are stopped by now. */
    ldtap_metrics_free(session->metrics);
    memset(session, 0, sizeof *session);
}
