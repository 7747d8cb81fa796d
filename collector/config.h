/* The collector's configuration: OpenTelemetry environment variables first, LDTAP_* for
 * what OpenTelemetry has no name for, command-line flags over both; every value validated. */
#ifndef LDTAP_CONFIG_H
#define LDTAP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "exporter.h"
#include "log_exporter.h"
#include "metrics_exporter.h"

#ifndef LDTAP_VERSION
#define LDTAP_VERSION "0.1.0"
#endif

#define LDTAP_DEFAULT_OUTPUT "./ldtap-traces.jsonl"
#define LDTAP_DEFAULT_EXPORT_DEADLINE_MS 10000u
#define LDTAP_DEFAULT_SLOW_QUERY_MS 500u
/* The collector's niceness (priority.c): unchanged by default. At 10, nginx saturating
 * two CPUs with wrk lost half its spans to a full ring (the collector starved). */
#define LDTAP_DEFAULT_COLLECTOR_NICE 0u
#define LDTAP_DEFAULT_METRIC_EXPORT_INTERVAL_MS 60000u
#define LDTAP_DEFAULT_METRIC_EXPORT_TIMEOUT_MS 30000u
#define LDTAP_DEFAULT_PROMETHEUS_HOST "localhost"
#define LDTAP_DEFAULT_PROMETHEUS_PORT 9464u

enum ldtap_command { LDTAP_COMMAND_RUN, LDTAP_COMMAND_COLLECT };

enum ldtap_sampler_kind {
    LDTAP_SAMPLER_ALWAYS_ON,
    LDTAP_SAMPLER_ALWAYS_OFF,
    LDTAP_SAMPLER_TRACEIDRATIO,
    LDTAP_SAMPLER_PARENTBASED_ALWAYS_ON,
    LDTAP_SAMPLER_PARENTBASED_ALWAYS_OFF,
    LDTAP_SAMPLER_PARENTBASED_TRACEIDRATIO,
};

/* Strings are heap copies owned by the configuration (NULL when not set). */
struct ldtap_config {
    char *service_name;        /* OTEL_SERVICE_NAME / --service-name; NULL: per-process default */
    char *resource_attributes; /* OTEL_RESOURCE_ATTRIBUTES, validated, still encoded */
    char *traces_url;          /* full traces URL; NULL: write output_path */
    char *output_path;         /* LDTAP_OUTPUT / --output */
    char **headers;            /* "Name: value" lines, NULL-terminated; never NULL */
    enum ldtap_otlp_protocol protocol;
    bool gzip;
    uint32_t timeout_ms;
    uint32_t schedule_delay_ms;
    uint32_t max_queue_spans;
    uint32_t max_batch_spans;
    uint32_t export_deadline_ms; /* LDTAP_EXPORT_DEADLINE_MS: bound on the flush at exit */
    bool db_raw_statements;      /* LDTAP_DB_RAW_STATEMENTS / --db-raw-statements: literals kept */
    uint32_t slow_query_ms;      /* LDTAP_SLOW_QUERY_MS / --slow-query-ms; 0: off */
    uint32_t collector_nice;     /* LDTAP_COLLECTOR_NICE / --nice: niceness of every collector thread */
    enum ldtap_sampler_kind sampler;
    double sampler_ratio; /* OTEL_TRACES_SAMPLER_ARG for the *traceidratio samplers */
    bool export_enabled;  /* OTEL_TRACES_EXPORTER=otlp (true) or none */
    bool sdk_disabled;    /* OTEL_SDK_DISABLED=true */
    char *routes;         /* LDTAP_ROUTES / --routes */
    uint32_t max_routes;  /* LDTAP_MAX_ROUTES / --max-routes */
    uint64_t ring_size;   /* LDTAP_RING_SIZE / --ring-size in bytes; 0: the shim's default */
    char *run_dir;        /* LDTAP_RUN_DIR / --run-dir: base directory of rings */
    char *shim_path;      /* LDTAP_SHIM / --shim */
    char *heap_profile_dir; /* LDTAP_HEAP_PROFILE / --heap-profile: pprof + SVG files; NULL: none */
    /* Metrics exporters: OTEL_METRICS_EXPORTER, --prometheus HOST:PORT, --no-prometheus. */
    bool prometheus_enabled;       /* serve GET /metrics */
    char *prometheus_host;         /* OTEL_EXPORTER_PROMETHEUS_HOST; never NULL after a load */
    uint16_t prometheus_port;      /* OTEL_EXPORTER_PROMETHEUS_PORT */
    bool prometheus_port_explicit; /* a port the user chose: failing to bind it is an error */
    bool metrics_otlp_enabled;     /* OTLP metrics: listed (or the variable unset) and metrics_url set */
    /* OTLP metrics: OTEL_EXPORTER_OTLP_METRICS_* over the generic OTEL_EXPORTER_OTLP_*. */
    char *metrics_url;                 /* full /v1/metrics URL; NULL: no endpoint configured */
    char **metrics_headers;            /* "Name: value" lines, NULL-terminated; never NULL */
    enum ldtap_otlp_protocol metrics_protocol;
    bool metrics_gzip;
    uint32_t metrics_timeout_ms;        /* per request */
    uint32_t metric_export_interval_ms; /* OTEL_METRIC_EXPORT_INTERVAL */
    uint32_t metric_export_timeout_ms;  /* OTEL_METRIC_EXPORT_TIMEOUT */
    enum ldtap_metrics_temporality metrics_temporality;
    /* OTLP logs: OTEL_LOGS_EXPORTER, OTEL_EXPORTER_OTLP_LOGS_* over OTEL_EXPORTER_OTLP_*. */
    bool logs_enabled;    /* otlp (default): to logs_url, or to output_path without one */
    char *logs_url;       /* full /v1/logs URL; NULL: no endpoint configured */
    char **logs_headers;  /* "Name: value" lines, NULL-terminated; never NULL */
    enum ldtap_otlp_protocol logs_protocol;
    bool logs_gzip;
    uint32_t logs_timeout_ms;
    char *capture_logs;   /* LDTAP_CAPTURE_LOGS / --capture-logs, validated; for the child */
    char *log_files;      /* LDTAP_LOG_FILES / --log-files, validated; for the child */
    bool no_summary;      /* --no-summary */
    bool quiet;           /* --quiet: no summary, no warnings */
    bool all_users;       /* --all-users (collect, root only) */
    bool help;            /* --help / -h was given */
};

/* Reads the environment, then the flags in argv[0..argc) (argv[0] is the first option,
 * not the program name), validates everything and fills `config`. For `run`, parsing
 * stops at "--" or the first non-option and `*command_index` is where CMD starts (argc if
 * none). Returns 0, or -1 with a sentence in `error` naming the variable or flag, the
 * value and what is accepted. The caller frees with ldtap_config_free in both cases. */
int ldtap_config_load(struct ldtap_config *config, enum ldtap_command command, int argc, char **argv,
                      int *command_index, char *error, size_t error_size);

void ldtap_config_free(struct ldtap_config *config);

/* Fills the exporter's configuration (pointers into `config`). */
void ldtap_config_exporter(const struct ldtap_config *config, struct ldtap_exporter_config *exporter);

/* Fills the OTLP metrics exporter's configuration (pointers into `config`). */
void ldtap_config_metrics_exporter(const struct ldtap_config *config, struct ldtap_metrics_exporter_config *exporter);

/* Fills the OTLP logs exporter's configuration (pointers into `config`). */
void ldtap_config_log_exporter(const struct ldtap_config *config, struct ldtap_log_exporter_config *exporter);

/* Prints the options shared by `run` and `collect` for --help. */
void ldtap_config_print_options(enum ldtap_command command, FILE *out);

/* Called once per `key=value` member of a comma-separated list; returns false to stop with
 * an error already written by the callback. `key` and `value` are percent-decoded,
 * trimmed and NUL-terminated. */
typedef bool (*ldtap_pair_callback)(const char *key, const char *value, void *context, char *error,
                                    size_t error_size);

/* Parses the W3C-baggage-like `k=v,k2=v2` format of OTEL_RESOURCE_ATTRIBUTES and
 * OTEL_EXPORTER_OTLP_HEADERS: members separated by ',', surrounding spaces ignored, empty
 * members skipped, keys and values percent-decoded. `source` names the variable in errors.
 * Returns false with a sentence in `error` on a member without '=', an empty key or a bad
 * %-escape. */
bool ldtap_parse_pairs(const char *list, const char *source, ldtap_pair_callback callback, void *context,
                       char *error, size_t error_size);

/* Parses an OTEL_EXPORTER_OTLP_HEADERS-style list into "Name: value" lines appended to
 * the NULL-terminated heap array `*lines` (a name already there is replaced, ignoring
 * case). Names must be HTTP tokens; values must not contain line breaks. */
bool ldtap_parse_headers(const char *list, const char *source, char ***lines, char *error, size_t error_size);

/* http:// or https://, a non-empty host, an optional port 1..65535, no spaces or userinfo. */
bool ldtap_url_is_valid(const char *url);

/* The URL of one signal for an OTLP base endpoint: base + `signal_path` ("/v1/traces",
 * "/v1/metrics") with exactly one slash between. A heap string, or NULL when out of memory. */
char *ldtap_otlp_url_from_base(const char *base, const char *signal_path);
/* ldtap_otlp_url_from_base(base, "/v1/traces"). */
char *ldtap_traces_url_from_base(const char *base);

#endif
