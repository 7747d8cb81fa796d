/* Configuration loading: one table of settings (environment variable, flag, help), raw
 * values gathered env-first then flags, then each value validated into struct ldtap_config. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ldtap_ring_abi.h"
#include "route.h"

enum setting {
    SETTING_SERVICE_NAME,
    SETTING_RESOURCE_ATTRIBUTES,
    SETTING_ENDPOINT,
    SETTING_TRACES_ENDPOINT,
    SETTING_HEADERS,
    SETTING_TRACES_HEADERS,
    SETTING_PROTOCOL,
    SETTING_TRACES_PROTOCOL,
    SETTING_COMPRESSION,
    SETTING_TRACES_COMPRESSION,
    SETTING_TIMEOUT,
    SETTING_TRACES_TIMEOUT,
    SETTING_SCHEDULE_DELAY,
    SETTING_MAX_QUEUE_SIZE,
    SETTING_MAX_EXPORT_BATCH_SIZE,
    SETTING_SAMPLER,
    SETTING_SAMPLER_ARG,
    SETTING_TRACES_EXPORTER,
    SETTING_SDK_DISABLED,
    SETTING_METRICS_EXPORTER,
    SETTING_PROMETHEUS,
    SETTING_NO_PROMETHEUS,
    SETTING_PROMETHEUS_HOST,
    SETTING_PROMETHEUS_PORT,
    SETTING_METRICS_ENDPOINT,
    SETTING_METRICS_HEADERS,
    SETTING_METRICS_PROTOCOL,
    SETTING_METRICS_COMPRESSION,
    SETTING_METRICS_TIMEOUT,
    SETTING_METRIC_EXPORT_INTERVAL,
    SETTING_METRIC_EXPORT_TIMEOUT,
    SETTING_METRICS_TEMPORALITY,
    SETTING_LOGS_EXPORTER,
    SETTING_LOGS_ENDPOINT,
    SETTING_LOGS_HEADERS,
    SETTING_LOGS_PROTOCOL,
    SETTING_LOGS_COMPRESSION,
    SETTING_LOGS_TIMEOUT,
    SETTING_OUTPUT,
    SETTING_ROUTES,
    SETTING_MAX_ROUTES,
    SETTING_RING_SIZE,
    SETTING_RUN_DIR,
    SETTING_HEAP_PROFILE,
    SETTING_HEAP_SAMPLE_BYTES,
    SETTING_SHIM,
    SETTING_EXPORT_DEADLINE,
    SETTING_DB_RAW_STATEMENTS,
    SETTING_SLOW_QUERY_MS,
    SETTING_COLLECTOR_NICE,
    SETTING_CAPTURE_LOGS,
    SETTING_LOG_FILES,
    SETTING_NO_SUMMARY,
    SETTING_QUIET,
    SETTING_ALL_USERS,
    SETTING_HELP,
    SETTING_COUNT
};

#define FOR_RUN 1u
#define FOR_COLLECT 2u
#define FOR_BOTH (FOR_RUN | FOR_COLLECT)

/* Flags mirror a variable when both exist; a flag without a value is a switch. */
static const struct setting_definition {
    const char *variable;   /* NULL: flag only */
    const char *flag;       /* NULL: environment only */
    char short_flag;        /* 0: none */
    const char *value_name; /* NULL: the flag is a switch */
    unsigned commands;
    const char *help;
} settings[SETTING_COUNT] = {
    [SETTING_SERVICE_NAME] = {"OTEL_SERVICE_NAME", "--service-name", 0, "NAME", FOR_BOTH,
                              "service.name of every span (run: default basename of CMD; collect: each process's own)"},
    [SETTING_RESOURCE_ATTRIBUTES] = {"OTEL_RESOURCE_ATTRIBUTES", NULL, 0, NULL, FOR_BOTH,
                                     "extra resource attributes, k=v,k2=v2 (percent-encoded)"},
    [SETTING_ENDPOINT] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "--endpoint", 0, "URL", FOR_BOTH,
                          "OTLP/HTTP base URL; traces go to URL/v1/traces (the flag beats every variable)"},
    [SETTING_TRACES_ENDPOINT] = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", NULL, 0, NULL, FOR_BOTH,
                                 "full traces URL, used as-is"},
    [SETTING_HEADERS] = {"OTEL_EXPORTER_OTLP_HEADERS", NULL, 0, NULL, FOR_BOTH,
                         "request headers, k=v,k2=v2 (percent-encoded)"},
    [SETTING_TRACES_HEADERS] = {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", NULL, 0, NULL, FOR_BOTH,
                                "traces request headers; a name here replaces the same name above"},
    [SETTING_PROTOCOL] = {"OTEL_EXPORTER_OTLP_PROTOCOL", "--protocol", 0, "PROTOCOL", FOR_BOTH,
                          "http/protobuf (default) or http/json, for traces, metrics and logs (the flag beats "
                          "every variable)"},
    [SETTING_TRACES_PROTOCOL] = {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", NULL, 0, NULL, FOR_BOTH,
                                 "http/protobuf or http/json, for traces"},
    [SETTING_COMPRESSION] = {"OTEL_EXPORTER_OTLP_COMPRESSION", NULL, 0, NULL, FOR_BOTH, "gzip (default) or none"},
    [SETTING_TRACES_COMPRESSION] = {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", NULL, 0, NULL, FOR_BOTH,
                                    "gzip or none, for traces"},
    [SETTING_TIMEOUT] = {"OTEL_EXPORTER_OTLP_TIMEOUT", NULL, 0, NULL, FOR_BOTH,
                         "milliseconds per export request (default 10000)"},
    [SETTING_TRACES_TIMEOUT] = {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", NULL, 0, NULL, FOR_BOTH,
                                "milliseconds per traces export request"},
    [SETTING_SCHEDULE_DELAY] = {"OTEL_BSP_SCHEDULE_DELAY", NULL, 0, NULL, FOR_BOTH,
                                "milliseconds between batch exports (default 5000)"},
    [SETTING_MAX_QUEUE_SIZE] = {"OTEL_BSP_MAX_QUEUE_SIZE", NULL, 0, NULL, FOR_BOTH,
                                "spans waiting for export before new ones are dropped (default 2048)"},
    [SETTING_MAX_EXPORT_BATCH_SIZE] = {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", NULL, 0, NULL, FOR_BOTH,
                                       "spans per export request (default 512, at most the queue size)"},
    [SETTING_SAMPLER] = {"OTEL_TRACES_SAMPLER", NULL, 0, NULL, FOR_BOTH,
                         "always_on (default), always_off, traceidratio, parentbased_always_on, "
                         "parentbased_always_off, parentbased_traceidratio"},
    [SETTING_SAMPLER_ARG] = {"OTEL_TRACES_SAMPLER_ARG", NULL, 0, NULL, FOR_BOTH,
                             "ratio 0..1 for the traceidratio samplers (default 1)"},
    [SETTING_TRACES_EXPORTER] = {"OTEL_TRACES_EXPORTER", NULL, 0, NULL, FOR_BOTH,
                                 "otlp (default) or none (summary only)"},
    [SETTING_SDK_DISABLED] = {"OTEL_SDK_DISABLED", NULL, 0, NULL, FOR_BOTH,
                              "true: run CMD untraced / collect nothing"},
    [SETTING_METRICS_EXPORTER] = {"OTEL_METRICS_EXPORTER", NULL, 0, NULL, FOR_BOTH,
                                  "comma-separated: prometheus, otlp, none (default: prometheus, plus otlp "
                                  "when an OTLP endpoint is set)"},
    [SETTING_PROMETHEUS] = {NULL, "--prometheus", 0, "HOST:PORT", FOR_BOTH,
                            "serve Prometheus metrics at http://HOST:PORT/metrics (default localhost:9464; "
                            "if that default port is taken: a warning, no endpoint)"},
    [SETTING_NO_PROMETHEUS] = {NULL, "--no-prometheus", 0, NULL, FOR_BOTH, "do not serve Prometheus metrics"},
    [SETTING_PROMETHEUS_HOST] = {"OTEL_EXPORTER_PROMETHEUS_HOST", NULL, 0, NULL, FOR_BOTH,
                                 "address the Prometheus endpoint binds (default localhost, i.e. 127.0.0.1)"},
    [SETTING_PROMETHEUS_PORT] = {"OTEL_EXPORTER_PROMETHEUS_PORT", NULL, 0, NULL, FOR_BOTH,
                                 "port of the Prometheus endpoint (default 9464)"},
    [SETTING_METRICS_ENDPOINT] = {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", NULL, 0, NULL, FOR_BOTH,
                                  "full OTLP metrics URL, used as-is (default: the OTLP endpoint + /v1/metrics)"},
    [SETTING_METRICS_HEADERS] = {"OTEL_EXPORTER_OTLP_METRICS_HEADERS", NULL, 0, NULL, FOR_BOTH,
                                 "metrics request headers; a name here replaces the same name of "
                                 "OTEL_EXPORTER_OTLP_HEADERS"},
    [SETTING_METRICS_PROTOCOL] = {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", NULL, 0, NULL, FOR_BOTH,
                                  "http/protobuf or http/json, for metrics"},
    [SETTING_METRICS_COMPRESSION] = {"OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", NULL, 0, NULL, FOR_BOTH,
                                     "gzip or none, for metrics"},
    [SETTING_METRICS_TIMEOUT] = {"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", NULL, 0, NULL, FOR_BOTH,
                                 "milliseconds per metrics export request"},
    [SETTING_METRIC_EXPORT_INTERVAL] = {"OTEL_METRIC_EXPORT_INTERVAL", NULL, 0, NULL, FOR_BOTH,
                                        "milliseconds between OTLP metrics exports (default 60000)"},
    [SETTING_METRIC_EXPORT_TIMEOUT] = {"OTEL_METRIC_EXPORT_TIMEOUT", NULL, 0, NULL, FOR_BOTH,
                                       "milliseconds one OTLP metrics export may take, retries included "
                                       "(default 30000)"},
    [SETTING_METRICS_TEMPORALITY] = {"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", NULL, 0, NULL, FOR_BOTH,
                                     "cumulative (default), delta (counters and histograms as deltas) or "
                                     "lowmemory (histograms as deltas)"},
    [SETTING_LOGS_EXPORTER] = {"OTEL_LOGS_EXPORTER", NULL, 0, NULL, FOR_BOTH,
                               "otlp (default: log records and tracebacks to the OTLP endpoint + /v1/logs, or "
                               "as ExportLogsServiceRequest lines to the traces output file) or none"},
    [SETTING_LOGS_ENDPOINT] = {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", NULL, 0, NULL, FOR_BOTH,
                               "full OTLP logs URL, used as-is (default: the OTLP endpoint + /v1/logs)"},
    [SETTING_LOGS_HEADERS] = {"OTEL_EXPORTER_OTLP_LOGS_HEADERS", NULL, 0, NULL, FOR_BOTH,
                              "logs request headers; a name here replaces the same name of "
                              "OTEL_EXPORTER_OTLP_HEADERS"},
    [SETTING_LOGS_PROTOCOL] = {"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", NULL, 0, NULL, FOR_BOTH,
                               "http/protobuf or http/json, for logs"},
    [SETTING_LOGS_COMPRESSION] = {"OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", NULL, 0, NULL, FOR_BOTH,
                                  "gzip or none, for logs"},
    [SETTING_LOGS_TIMEOUT] = {"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", NULL, 0, NULL, FOR_BOTH,
                              "milliseconds per logs export request"},
    [SETTING_OUTPUT] = {"LDTAP_OUTPUT", "--output", 'o', "FILE", FOR_BOTH,
                        "OTLP-JSON lines file used when no endpoint is set (default " LDTAP_DEFAULT_OUTPUT ")"},
    [SETTING_ROUTES] = {"LDTAP_ROUTES", "--routes", 0, "PATTERNS", FOR_BOTH,
                        "http.route patterns, comma-separated: /users/{id},/static/*"},
    [SETTING_MAX_ROUTES] = {"LDTAP_MAX_ROUTES", "--max-routes", 0, "N", FOR_BOTH,
                            "distinct routes kept per service before the overflow bucket (default 1000)"},
    [SETTING_RING_SIZE] = {"LDTAP_RING_SIZE", "--ring-size", 0, "BYTES", FOR_RUN,
                           "ring data size per process: a power of two, 64K..1G (K/M/G suffix)"},
    [SETTING_RUN_DIR] = {"LDTAP_RUN_DIR", "--run-dir", 0, "DIR", FOR_BOTH,
                         "base ring directory (default $XDG_RUNTIME_DIR/ldtap or /dev/shm/ldtap-UID)"},
    [SETTING_HEAP_PROFILE] = {"LDTAP_HEAP_PROFILE", "--heap-profile", 0, "DIR", FOR_BOTH,
                              "write each process's heap profile (DIR/heap-SERVICE-PID-N.pb.gz, pprof) and "
                              "live-heap flame graph (.svg) every 30 s and at exit; DIR is created if missing"},
    [SETTING_HEAP_SAMPLE_BYTES] = {"LDTAP_HEAP_SAMPLE_BYTES", NULL, 0, NULL, FOR_BOTH,
                                   "mean bytes allocated between heap samples (default 524288; 0: no "
                                   "sampling; 1: every allocation); read by each traced process"},
    [SETTING_SHIM] = {"LDTAP_SHIM", "--shim", 0, "PATH", FOR_RUN,
                      "libldtap.so to preload (default: next to the ldtap binary)"},
    [SETTING_EXPORT_DEADLINE] = {"LDTAP_EXPORT_DEADLINE_MS", "--export-deadline", 0, "MS", FOR_BOTH,
                                 "milliseconds allowed for the final export at exit (default 10000)"},
    [SETTING_DB_RAW_STATEMENTS] = {"LDTAP_DB_RAW_STATEMENTS", "--db-raw-statements", 0, NULL, FOR_BOTH,
                                   "true: db.query.text keeps literals (default false: they become ?)"},
    [SETTING_SLOW_QUERY_MS] = {"LDTAP_SLOW_QUERY_MS", "--slow-query-ms", 0, "MS", FOR_BOTH,
                               "database spans this long or longer get ldtap.db.slow (default 500; 0: off)"},
    [SETTING_COLLECTOR_NICE] = {"LDTAP_COLLECTOR_NICE", "--nice", 0, "N", FOR_BOTH,
                                "niceness of the collector's threads, 0..19 (default 0): higher lets the "
                                "traced program run first when CPUs are short, at the risk of a full ring"},
    [SETTING_CAPTURE_LOGS] = {"LDTAP_CAPTURE_LOGS", "--capture-logs", 0, "STREAMS", FOR_RUN,
                              "stdout, stderr or stdout,stderr: every line written there becomes a log "
                              "record with the trace and span of the request in flight (tracebacks on "
                              "stderr are always captured)"},
    [SETTING_LOG_FILES] = {"LDTAP_LOG_FILES", "--log-files", 0, "PATHS", FOR_RUN,
                           "absolute paths of log files, comma-separated, whose lines and tracebacks are "
                           "captured like those of stderr"},
    [SETTING_NO_SUMMARY] = {NULL, "--no-summary", 0, NULL, FOR_BOTH, "do not print the summary at exit"},
    [SETTING_QUIET] = {NULL, "--quiet", 'q', NULL, FOR_BOTH, "no summary and no warnings"},
    [SETTING_ALL_USERS] = {NULL, "--all-users", 0, NULL, FOR_COLLECT,
                           "drain rings of every user, not only yours (root only)"},
    [SETTING_HELP] = {NULL, "--help", 'h', NULL, FOR_BOTH, "show this help"},
};

/* A value before validation and where it came from, for error messages. */
struct raw_value {
    const char *text;
    const char *source;
    bool from_flag;
};

static void set_error(char *error, size_t error_size, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, error_size, format, arguments);
    va_end(arguments);
}

static bool parse_unsigned(const char *text, uint64_t maximum, uint64_t *result) {
    if (!isdigit((unsigned char)text[0])) {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || value > maximum) {
        return false;
    }
    *result = value;
    return true;
}

static bool parse_positive_u32(const struct raw_value *raw, uint32_t *result, const char *unit, char *error,
                               size_t error_size) {
    uint64_t value = 0;
    if (!parse_unsigned(raw->text, UINT32_MAX, &value) || value == 0) {
        set_error(error, error_size, "%s: '%s' is not valid; use a positive whole number of %s", raw->source,
                  raw->text, unit);
        return false;
    }
    *result = (uint32_t)value;
    return true;
}

/* Bytes with an optional K, M or G suffix (powers of 1024). */
static bool parse_ring_size(const struct raw_value *raw, uint64_t *result, char *error, size_t error_size) {
    char digits[32];
    size_t length = strlen(raw->text);
    uint64_t multiplier = 1;
    if (length > 0 && length < sizeof digits) {
        memcpy(digits, raw->text, length + 1);
        char suffix = (char)toupper((unsigned char)digits[length - 1]);
        multiplier = suffix == 'K' ? 1024u : suffix == 'M' ? 1024u * 1024u : suffix == 'G' ? 1024u * 1024u * 1024u : 1;
        if (multiplier != 1) {
            digits[length - 1] = '\0';
        }
    }
    uint64_t value = 0;
    bool valid = length > 0 && length < sizeof digits && parse_unsigned(digits, UINT32_MAX, &value);
    value *= multiplier;
    if (!valid || value < LDTAP_RING_MIN_DATA_SIZE || value > LDTAP_RING_MAX_DATA_SIZE || (value & (value - 1))) {
        set_error(error, error_size, "%s: '%s' is not valid; use a power of two from 64K to 1G (bytes, or a K, M or G suffix)",
                  raw->source, raw->text);
        return false;
    }
    *result = value;
    return true;
}

static bool check_attribute(const char *key, const char *value, void *context, char *error, size_t error_size) {
    (void)key, (void)value, (void)context, (void)error, (void)error_size;
    return true;
}

/* ---- gathering raw values ---- */

static void read_environment(struct raw_value raw[SETTING_COUNT]) {
    for (int i = 0; i < SETTING_COUNT; i++) {
        const char *text = settings[i].variable ? getenv(settings[i].variable) : NULL;
        /* OpenTelemetry treats an empty variable as unset. */
        if (text && text[0] != '\0') {
            raw[i] = (struct raw_value){text, settings[i].variable, false};
        }
    }
}

static int find_flag(const char *argument, enum ldtap_command command, size_t *name_length) {
    unsigned mask = command == LDTAP_COMMAND_RUN ? FOR_RUN : FOR_COLLECT;
    for (int i = 0; i < SETTING_COUNT; i++) {
        const struct setting_definition *definition = &settings[i];
        if (!definition->flag || !(definition->commands & mask)) {
            continue;
        }
        size_t length = strlen(definition->flag);
        bool long_match = strncmp(argument, definition->flag, length) == 0 &&
                          (argument[length] == '\0' || (argument[length] == '=' && definition->value_name));
        bool short_match = definition->short_flag && argument[0] == '-' && argument[1] == definition->short_flag &&
                           argument[2] == '\0';
        if (long_match || short_match) {
            *name_length = long_match ? length : 2;
            return i;
        }
    }
    return -1;
}

static int read_flags(struct raw_value raw[SETTING_COUNT], enum ldtap_command command, int argc, char **argv,
                      int *command_index, char *error, size_t error_size) {
    int index = 0;
    while (index < argc) {
        const char *argument = argv[index];
        if (strcmp(argument, "--") == 0) {
            index++;
            break;
        }
        if (argument[0] != '-' || argument[1] == '\0') {
            if (command == LDTAP_COMMAND_RUN) {
                break;
            }
            set_error(error, error_size, "collect: unexpected argument '%s'; see 'ldtap help collect'", argument);
            return -1;
        }
        size_t name_length = 0;
        int which = find_flag(argument, command, &name_length);
        if (which < 0) {
            set_error(error, error_size, "%s: unknown option '%s'; see 'ldtap help %s'",
                      command == LDTAP_COMMAND_RUN ? "run" : "collect", argument,
                      command == LDTAP_COMMAND_RUN ? "run" : "collect");
            return -1;
        }
        const char *value = "true";
        if (settings[which].value_name) {
            if (argument[name_length] == '=') {
                value = argument + name_length + 1;
            } else if (index + 1 < argc) {
                value = argv[++index];
            } else {
                set_error(error, error_size, "%s needs a value: %s %s", settings[which].flag, settings[which].flag,
                          settings[which].value_name);
                return -1;
            }
        }
        raw[which] = (struct raw_value){value, settings[which].flag, true};
        index++;
    }
    if (command_index) {
        *command_index = index;
    }
    return 0;
}

/* ---- validation ---- */

static bool parse_boolean(const struct raw_value *raw, bool *result, char *error, size_t error_size) {
    if (strcasecmp(raw->text, "true") == 0 || strcasecmp(raw->text, "false") == 0) {
        *result = strcasecmp(raw->text, "true") == 0;
        return true;
    }
    set_error(error, error_size, "%s: '%s' is not valid; use true or false", raw->source, raw->text);
    return false;
}

static bool parse_protocol(const struct raw_value *raw, enum ldtap_otlp_protocol *result, char *error,
                           size_t error_size) {
    if (strcmp(raw->text, "http/protobuf") == 0 || strcmp(raw->text, "http/json") == 0) {
        *result = raw->text[5] == 'p' ? LDTAP_OTLP_HTTP_PROTOBUF : LDTAP_OTLP_HTTP_JSON;
        return true;
    }
    set_error(error, error_size, "%s: '%s' is not supported; use http/protobuf or http/json", raw->source, raw->text);
    return false;
}

static bool parse_compression(const struct raw_value *raw, bool *gzip, char *error, size_t error_size) {
    if (strcmp(raw->text, "gzip") == 0 || strcmp(raw->text, "none") == 0) {
        *gzip = raw->text[0] == 'g';
        return true;
    }
    set_error(error, error_size, "%s: '%s' is not supported; use gzip or none", raw->source, raw->text);
    return false;
}

static bool parse_sampler(const struct raw_value *raw, enum ldtap_sampler_kind *result, char *error,
                          size_t error_size) {
    static const char *const names[] = {
        [LDTAP_SAMPLER_ALWAYS_ON] = "always_on",
        [LDTAP_SAMPLER_ALWAYS_OFF] = "always_off",
        [LDTAP_SAMPLER_TRACEIDRATIO] = "traceidratio",
        [LDTAP_SAMPLER_PARENTBASED_ALWAYS_ON] = "parentbased_always_on",
        [LDTAP_SAMPLER_PARENTBASED_ALWAYS_OFF] = "parentbased_always_off",
        [LDTAP_SAMPLER_PARENTBASED_TRACEIDRATIO] = "parentbased_traceidratio",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(raw->text, names[i]) == 0) {
            *result = (enum ldtap_sampler_kind)i;
            return true;
        }
    }
    set_error(error, error_size,
              "%s: '%s' is not supported; use always_on, always_off, traceidratio, parentbased_always_on, "
              "parentbased_always_off or parentbased_traceidratio",
              raw->source, raw->text);
    return false;
}

static bool parse_ratio(const struct raw_value *raw, double *result, char *error, size_t error_size) {
    char *end = NULL;
    errno = 0;
    double value = strtod(raw->text, &end);
    if (errno != 0 || *end != '\0' || end == raw->text || !isfinite(value) || value < 0.0 || value > 1.0 ||
        isspace((unsigned char)raw->text[0])) {
        set_error(error, error_size, "%s: '%s' is not valid; use a number from 0 to 1", raw->source, raw->text);
        return false;
    }
    *result = value;
    return true;
}

static bool check_url(const struct raw_value *raw, char *error, size_t error_size) {
    if (ldtap_url_is_valid(raw->text)) {
        return true;
    }
    set_error(error, error_size, "%s: '%s' is not a valid URL; use http://HOST[:PORT][/PATH] or https://...",
              raw->source, raw->text);
    return false;
}

static char *copy_or_null(const struct raw_value *raw) { return raw->text ? strdup(raw->text) : NULL; }

/* Endpoint precedence: --endpoint, then the traces-specific variable, then the base one. */
static bool load_endpoint(struct ldtap_config *config, const struct raw_value raw[SETTING_COUNT], char *error,
                          size_t error_size) {
    const struct raw_value *base = &raw[SETTING_ENDPOINT];
    const struct raw_value *traces = &raw[SETTING_TRACES_ENDPOINT];
    if ((base->text && !check_url(base, error, error_size)) || (traces->text && !check_url(traces, error, error_size))) {
        return false;
    }
    if (base->text && (base->from_flag || !traces->text)) {
        config->traces_url = ldtap_traces_url_from_base(base->text);
    } else if (traces->text) {
        config->traces_url = strdup(traces->text);
    }
    return true;
}

static bool load_numbers(struct ldtap_config *config, const struct raw_value raw[SETTING_COUNT], char *error,
                         size_t error_size) {
    static const struct {
        enum setting which;
        size_t field;
        const char *unit;
    } numbers[] = {
        {SETTING_TIMEOUT, offsetof(struct ldtap_config, timeout_ms), "milliseconds"},
        {SETTING_TRACES_TIMEOUT, offsetof(struct ldtap_config, timeout_ms), "milliseconds"},
        {SETTING_SCHEDULE_DELAY, offsetof(struct ldtap_config, schedule_delay_ms), "milliseconds"},
        {SETTING_MAX_QUEUE_SIZE, offsetof(struct ldtap_config, max_queue_spans), "spans"},
        {SETTING_MAX_EXPORT_BATCH_SIZE, offsetof(struct ldtap_config, max_batch_spans), "spans"},
        {SETTING_MAX_ROUTES, offsetof(struct ldtap_config, max_routes), "routes"},
        {SETTING_EXPORT_DEADLINE, offsetof(struct ldtap_config, export_deadline_ms), "milliseconds"},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        const struct raw_value *value = &raw[numbers[i].which];
        uint32_t *field = (uint32_t *)((char *)config + numbers[i].field);
        if (value->text && !parse_positive_u32(value, field, numbers[i].unit, error, error_size)) {
            return false;
        }
    }
    if (config->max_batch_spans > config->max_queue_spans) {
        if (raw[SETTING_MAX_EXPORT_BATCH_SIZE].text) {
            set_error(error, error_size, "%s: %u is larger than the queue (OTEL_BSP_MAX_QUEUE_SIZE=%u); use at most %u",
                      raw[SETTING_MAX_EXPORT_BATCH_SIZE].source, config->max_batch_spans, config->max_queue_spans,
                      config->max_queue_spans);
            return false;
        }
        config->max_batch_spans = config->max_queue_spans; /* only the default was too big */
    }
    return true;
}

static bool load_exporter_choices(struct ldtap_config *config, const struct raw_value raw[SETTING_COUNT],
                                  char *error, size_t error_size) {
    const struct raw_value *value = &raw[SETTING_TRACES_EXPORTER];
    if (value->text) {
        if (strcmp(value->text, "otlp") != 0 && strcmp(value->text, "none") != 0) {
            set_error(error, error_size, "%s: '%s' is not supported; use otlp or none", value->source, value->text);
            return false;
        }
        config->export_enabled = strcmp(value->text, "otlp") == 0;
    }
    for (enum setting which = SETTING_PROTOCOL; which <= SETTING_TRACES_PROTOCOL; which++) {
        bool beaten_by_flag = which == SETTING_TRACES_PROTOCOL && raw[SETTING_PROTOCOL].from_flag;
        if (raw[which].text && !beaten_by_flag && !parse_protocol(&raw[which], &config->protocol, error, error_size)) {
            return false;
        }
    }
    for (enum setting which = SETTING_COMPRESSION; which <= SETTING_TRACES_COMPRESSION; which++) {
        if (raw[which].text && !parse_compression(&raw[which], &config->gzip, error, error_size)) {
            return false;
        }
    }
    config->headers = calloc(1, sizeof(char *));
    for (enum setting which = SETTING_HEADERS; which <= SETTING_TRACES_HEADERS; which++) {
        if (config->headers && raw[which].text &&
            !ldtap_parse_headers(raw[which].text, raw[which].source, &config->headers, error, error_size)) {
            return false;
        }
    }
    if (!config->headers) {
        set_error(error, error_size, "out of memory");
        return false;
    }
    return load_endpoint(config, raw, error, error_size);
}

static bool parse_port(const struct raw_value *raw, const char *text, uint16_t *port, char *error,
                       size_t error_size) {
    uint64_t value = 0;
    if (!parse_unsigned(text, 65535, &value) || value == 0) {
        set_error(error, error_size, "%s: '%s' is not a valid port; use a number from 1 to 65535", raw->source,
                  raw->text);
        return false;
    }
    *port = (uint16_t)value;
    return true;
}

/* A host name or address: no spaces, slashes or brackets (those belong to URLs). */
static bool check_host(const struct raw_value *raw, const char *host, size_t length, char *error,
                       size_t error_size) {
    bool valid = length > 0;
    for (size_t i = 0; i < length && valid; i++) {
        valid = (unsigned char)host[i] > ' ' && host[i] != '/' && host[i] != '[' && host[i] != ']' && host[i] != 0x7f;
    }
    if (!valid) {
        set_error(error, error_size, "%s: '%s' is not a valid host; use a name or address like 127.0.0.1 or ::1",
                  raw->source, raw->text);
    }
    return valid;
}

/* --prometheus HOST:PORT, with IPv6 addresses in brackets: [::1]:9464. */
static bool parse_listen_address(const struct raw_value *raw, struct ldtap_config *config, char *error,
                                 size_t error_size) {
    const char *text = raw->text;
    const char *colon = strrchr(text, ':');
    const char *host = text;
    size_t host_length = colon ? (size_t)(colon - text) : 0;
    if (host_length >= 2 && text[0] == '[' && text[host_length - 1] == ']') {
        host++;
        host_length -= 2;
    }
    if (!colon || (text[0] != '[' && memchr(text, ':', host_length))) {
        set_error(error, error_size, "%s: '%s' is not valid; use HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464",
                  raw->source, text);
        return false;
    }
    if (!check_host(raw, host, host_length, error, error_size) ||
        !parse_port(raw, colon + 1, &config->prometheus_port, error, error_size)) {
        return false;
    }
    free(config->prometheus_host);
    config->prometheus_host = strndup(host, host_length);
    config->prometheus_port_explicit = true;
    return true;
}

/* OTEL_METRICS_EXPORTER: a comma-separated list; "none" stands alone. */
static bool parse_metrics_exporters(const struct raw_value *raw, struct ldtap_config *config, char *error,
                                    size_t error_size) {
    bool prometheus = false, otlp = false, none = false;
    const char *item = raw->text;
    while (*item) {
        size_t length = strcspn(item, ",");
        const char *start = item;
        while (length > 0 && *start == ' ') {
            start++, length--;
        }
        while (length > 0 && start[length - 1] == ' ') {
            length--;
        }
        bool *flag = length == 10 && strncmp(start, "prometheus", 10) == 0 ? &prometheus
                     : length == 4 && strncmp(start, "otlp", 4) == 0       ? &otlp
                     : length == 4 && strncmp(start, "none", 4) == 0       ? &none
                                                                           : NULL;
        if (!flag && length > 0) {
            set_error(error, error_size, "%s: '%.*s' is not supported; use prometheus, otlp or none (comma-separated)",
                      raw->source, (int)length, start);
            return false;
        }
        if (flag) {
            *flag = true;
        }
        item += strcspn(item, ",");
        item += *item == ',';
    }
    if (none && (prometheus || otlp)) {
        set_error(error, error_size, "%s: '%s' mixes none with exporters; use none alone", raw->source, raw->text);
        return false;
    }
    config->prometheus_enabled = prometheus;
    config->metrics_otlp_enabled = otlp;
    return true;
}

static bool load_metrics_settings(struct ldtap_config *config, const struct raw_value raw[SETTING_COUNT],
                                  char *error, size_t error_size) {
    const struct raw_value *exporters = &raw[SETTING_METRICS_EXPORTER];
    const struct raw_value *host = &raw[SETTING_PROMETHEUS_HOST];
    const struct raw_value *port = &raw[SETTING_PROMETHEUS_PORT];
    const struct raw_value *listen = &raw[SETTING_PROMETHEUS];
    config->prometheus_enabled = true;
    /* otlp is listed by default; load_otlp_metrics turns it off when no endpoint is set. */
    config->metrics_otlp_enabled = true;
    if (exporters->text && !parse_metrics_exporters(exporters, config, error, error_size)) {
        return false;
    }
    config->prometheus_host = strdup(host->text ? host->text : LDTAP_DEFAULT_PROMETHEUS_HOST);
    config->prometheus_port = LDTAP_DEFAULT_PROMETHEUS_PORT;
    if (!config->prometheus_host) {
        set_error(error, error_size, "out of memory");
        return false;
    }
    if ((host->text && !check_host(host, host->text, strlen(host->text), error, error_size)) ||
        (port->text && !parse_port(port, port->text, &config->prometheus_port, error, error_size))) {
        return false;
    }
    config->prometheus_port_explicit = port->text != NULL;
    if (listen->text && raw[SETTING_NO_PROMETHEUS].text) {
        set_error(error, error_size, "--prometheus and --no-prometheus contradict each other; use one");
        return false;
    }
    if (listen->text) {
        config->prometheus_enabled = true;
        return parse_listen_address(listen, config, error, error_size);
    }
    if (raw[SETTING_NO_PROMETHEUS].text) {
        config->prometheus_enabled = false;
    }
    return true;
}

static bool parse_temporality(const struct raw_value *raw, enum ldtap_metrics_temporality *result, char *error,
                              size_t error_size) {
    static const char *const names[] = {
        [LDTAP_TEMPORALITY_CUMULATIVE] = "cumulative",
        [LDTAP_TEMPORALITY_DELTA] = "delta",
        [LDTAP_TEMPORALITY_LOWMEMORY] = "lowmemory",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(raw->text, names[i]) == 0) { /* the spec makes these case-insensitive */
            *result = (enum ldtap_metrics_temporality)i;
            return true;
        }
    }
    set_error(error, error_size, "%s: '%s' is not supported; use cumulative, delta or lowmemory", raw->source,
              raw->text);
    return false;
}

/* Where one signal besides traces goes: its own OTEL_EXPORTER_OTLP_<SIGNAL>_* variables
 * over the generic OTEL_EXPORTER_OTLP_* ones; --endpoint beats both endpoint variables, as
 * it does for traces. */
struct signal_settings {
    enum setting endpoint, protocol, compression, timeout, headers; /* the signal's own */
    const char *path;                                               /* "/v1/metrics" */
    char **url;
    enum ldtap_otlp_protocol *protocol_value;
    bool *gzip;
    uint32_t *timeout_ms;
    char ***header_lines;
};

static bool load_signal(const struct raw_value raw[SETTING_COUNT], const struct signal_settings *signal, char *error,
                        size_t error_size) {
    const struct raw_value *base = &raw[SETTING_ENDPOINT];
    const struct raw_value *endpoint = &raw[signal->endpoint];
    if (endpoint->text && !check_url(endpoint, error, error_size)) {
        return false;
    }
    const enum setting pairs[][2] = {{SETTING_PROTOCOL, signal->protocol},
                                     {SETTING_COMPRESSION, signal->compression},
                                     {SETTING_TIMEOUT, signal->timeout},
                                     {SETTING_HEADERS, signal->headers}};
    for (size_t pair = 0; pair < sizeof pairs / sizeof pairs[0]; pair++) {
        for (size_t i = 0; i < 2; i++) {
            const struct raw_value *value = &raw[pairs[pair][i]];
            if (i == 1 && raw[pairs[pair][0]].from_flag) {
                break; /* a flag for every signal beats each signal's own variable */
            }
            bool ok = !value->text || (pair == 0   ? parse_protocol(value, signal->protocol_value, error, error_size)
                                       : pair == 1 ? parse_compression(value, signal->gzip, error, error_size)
                                       : pair == 2 ? parse_positive_u32(value, signal->timeout_ms, "milliseconds",
                                                                        error, error_size)
                                                   : ldtap_parse_headers(value->text, value->source,
                                                                         signal->header_lines, error, error_size));
            if (!ok) {
                return false;
            }
        }
    }
    if (base->text && (base->from_flag || !endpoint->text)) {
        *signal->url = ldtap_otlp_url_from_base(base->text, signal->path);
    } else if (endpoint->text) {
        *signal->url = strdup(endpoint->text);
    }
    if ((base->text || endpoint->text) && !*signal->url) {
        set_error(error, error_size, "out of memory");
        return false;
    }
    return true;
}

static bool load_otlp_metrics(struct ldtap_config *config, const struct raw_value raw[SETTING_COUNT], char *error,
                              size_t error_size) {
    const struct signal_settings metrics = {
        SETTING_METRICS_ENDPOINT, SETTING_METRICS_PROTOCOL, SETTING_METRICS_COMPRESSION, SETTING_METRICS_TIMEOUT,
        SETTING_METRICS_HEADERS,  "/v1/metrics",            &config->metrics_url,        &config->metrics_protocol,
        &config->metrics_gzip,    &config->metrics_timeout_ms, &config->metrics_headers,
    };
    if (!load_signal(raw, &metrics, error, error_size)) {
        return false;
    }
    const struct raw_value *interval = &raw[SETTING_METRIC_EXPORT_INTERVAL];
    const struct raw_value *timeout = &raw[SETTING_METRIC_EXPORT_TIMEOUT];
    const struct raw_value *temporality = &raw[SETTING_METRICS_TEMPORALITY];
    if ((interval->text &&
         !parse_positive_u32(interval, &config->metric_export_interval_ms, "milliseconds", error, error_size)) ||
        (timeout->text &&
         !parse_positive_u32(timeout, &config->metric_export_timeout_ms, "milliseconds", error, error_size)) ||
        (temporality->text && !parse_temporality(temporality, &config->metrics_temporality, error, error_size))) {
        return false;
    }
    config->metrics_otlp_enabled = config->metrics_otlp_enabled && config->metrics_url != NULL;
    return true;
}

/* Logs follow the metrics rules; with no endpoint they go to the traces output file. */
static bool load_otlp_logs(struct ldtap_config *config, const struct raw_value raw[SETTING_COUNT], char *error,
                           size_t error_size) {
    const struct raw_value *exporter = &raw[SETTING_LOGS_EXPORTER];
    if (exporter->text && strcmp(exporter->text, "otlp") != 0 && strcmp(exporter->text, "none") != 0) {
        set_error(error, error_size, "%s: '%s' is not supported; use otlp or none", exporter->source, exporter->text);
        return false;
    }
    config->logs_enabled = !exporter->text || strcmp(exporter->text, "otlp") == 0;
    const struct signal_settings logs = {
        SETTING_LOGS_ENDPOINT, SETTING_LOGS_PROTOCOL, SETTING_LOGS_COMPRESSION, SETTING_LOGS_TIMEOUT,
        SETTING_LOGS_HEADERS,  "/v1/logs",            &config->logs_url,        &config->logs_protocol,
        &config->logs_gzip,    &config->logs_timeout_ms, &config->logs_headers,
    };
    return load_signal(raw, &logs, error, error_size);
}

/* The shim reads these in every process and ignores what it does not understand: refuse
 * it here instead. Same rules as shim/log.c (no spaces, exact words, absolute paths). */
static bool load_log_capture(struct ldtap_config *config, const struct raw_value raw[SETTING_COUNT], char *error,
                             size_t error_size) {
    const struct raw_value *streams = &raw[SETTING_CAPTURE_LOGS];
    const struct raw_value *files = &raw[SETTING_LOG_FILES];
    for (const char *item = streams->text; item && *item;) {
        size_t length = strcspn(item, ",");
        if (!(length == 6 && (strncmp(item, "stdout", 6) == 0 || strncmp(item, "stderr", 6) == 0)) && length) {
            set_error(error, error_size, "%s: '%.*s' is not supported; use stdout, stderr or stdout,stderr",
                      streams->source, (int)length, item);
            return false;
        }
        item += length + (item[length] == ',');
    }
    for (const char *item = files->text; item && *item;) {
        size_t length = strcspn(item, ",");
        if (length && (item[0] != '/' || length >= LDTAP_LOG_PATH_MAX)) {
            set_error(error, error_size, "%s: '%.*s' is not an absolute path shorter than %u bytes (comma-separated)",
                      files->source, (int)length, item, LDTAP_LOG_PATH_MAX);
            return false;
        }
        item += length + (item[length] == ',');
    }
    config->capture_logs = copy_or_null(streams);
    config->log_files = copy_or_null(files);
    return (!streams->text || config->capture_logs) && (!files->text || config->log_files);
}

static bool load_database_settings(struct ldtap_config *config, const struct raw_value raw[SETTING_COUNT],
                                   char *error, size_t error_size) {
    const struct raw_value *raw_statements = &raw[SETTING_DB_RAW_STATEMENTS];
    if (raw_statements->text && !parse_boolean(raw_statements, &config->db_raw_statements, error, error_size)) {
        return false;
    }
    const struct raw_value *slow = &raw[SETTING_SLOW_QUERY_MS];
    uint64_t slow_ms = 0;
    if (slow->text) {
        if (!parse_unsigned(slow->text, UINT32_MAX, &slow_ms)) {
            set_error(error, error_size, "%s: '%s' is not valid; use a whole number of milliseconds (0: off)",
                      slow->source, slow->text);
            return false;
        }
        config->slow_query_ms = (uint32_t)slow_ms;
    }
    const struct raw_value *nice = &raw[SETTING_COLLECTOR_NICE];
    uint64_t niceness = 0;
    if (nice->text) {
        if (!parse_unsigned(nice->text, 19, &niceness)) {
            set_error(error, error_size, "%s: '%s' is not valid; use a niceness from 0 to 19", nice->source,
                      nice->text);
            return false;
        }
        config->collector_nice = (uint32_t)niceness;
    }
    return true;
}

/* The directory must be usable now, not at the first write 30 s into the run. */
static bool load_heap_profile_directory(struct ldtap_config *config, const struct raw_value *value, char *error,
                                        size_t error_size) {
    if (!value->text) {
        return true;
    }
    struct stat status;
    if (mkdir(value->text, 0755) != 0 && errno != EEXIST) {
        set_error(error, error_size, "%s: cannot create %s: %s; give a directory you can write", value->source,
                  value->text, strerror(errno));
        return false;
    }
    if (stat(value->text, &status) != 0 || !S_ISDIR(status.st_mode) || access(value->text, W_OK | X_OK) != 0) {
        set_error(error, error_size, "%s: %s is not a writable directory", value->source, value->text);
        return false;
    }
    config->heap_profile_dir = strdup(value->text);
    return true;
}

static bool load_ldtap_settings(struct ldtap_config *config, const struct raw_value raw[SETTING_COUNT],
                                char *error, size_t error_size) {
    if (raw[SETTING_RING_SIZE].text && !parse_ring_size(&raw[SETTING_RING_SIZE], &config->ring_size, error, error_size)) {
        return false;
    }
    /* The shim reads it in each process and, on a bad value, silently stops heap
     * sampling: say so here, where a person is looking. Same rule as shim/heap.c. */
    const struct raw_value *sample_bytes = &raw[SETTING_HEAP_SAMPLE_BYTES];
    uint64_t ignored_interval;
    if (sample_bytes->text && !parse_unsigned(sample_bytes->text, 1ull << 40, &ignored_interval)) {
        set_error(error, error_size,
                  "%s: '%s' is not valid; use a whole number of bytes from 0 (no heap sampling) to "
                  "1099511627776, no suffix (1: sample every allocation; default 524288)",
                  sample_bytes->source, sample_bytes->text);
        return false;
    }
    const struct raw_value *routes = &raw[SETTING_ROUTES];
    if (routes->text) {
        char route_error[256] = "";
        struct ldtap_route_table *table = ldtap_route_table_create(routes->text, config->max_routes, route_error,
                                                                   sizeof route_error);
        if (!table) {
            set_error(error, error_size, "%s: %s", routes->source, route_error);
            return false;
        }
        ldtap_route_table_free(table);
    }
    for (enum setting which = SETTING_OUTPUT; which <= SETTING_SHIM; which++) {
        if (raw[which].text && raw[which].text[0] == '\0') {
            set_error(error, error_size, "%s: the value is empty", raw[which].source);
            return false;
        }
    }
    config->output_path = strdup(raw[SETTING_OUTPUT].text ? raw[SETTING_OUTPUT].text : LDTAP_DEFAULT_OUTPUT);
    config->routes = copy_or_null(routes);
    config->run_dir = copy_or_null(&raw[SETTING_RUN_DIR]);
    config->shim_path = copy_or_null(&raw[SETTING_SHIM]);
    if (!load_heap_profile_directory(config, &raw[SETTING_HEAP_PROFILE], error, error_size)) {
        return false;
    }
    return load_database_settings(config, raw, error, error_size);
}

int ldtap_config_load(struct ldtap_config *config, enum ldtap_command command, int argc, char **argv,
                      int *command_index, char *error, size_t error_size) {
    *config = (struct ldtap_config){
        .protocol = LDTAP_OTLP_HTTP_PROTOBUF,
        .gzip = true,
        .timeout_ms = 10000,
        .schedule_delay_ms = 5000,
        .max_queue_spans = 2048,
        .max_batch_spans = 512,
        .export_deadline_ms = LDTAP_DEFAULT_EXPORT_DEADLINE_MS,
        .slow_query_ms = LDTAP_DEFAULT_SLOW_QUERY_MS,
        .collector_nice = LDTAP_DEFAULT_COLLECTOR_NICE,
        .sampler = LDTAP_SAMPLER_ALWAYS_ON,
        .sampler_ratio = 1.0,
        .export_enabled = true,
        .max_routes = LDTAP_ROUTE_DEFAULT_LIMIT,
        .metrics_protocol = LDTAP_OTLP_HTTP_PROTOBUF,
        .metrics_gzip = true,
        .metrics_timeout_ms = 10000,
        .metric_export_interval_ms = LDTAP_DEFAULT_METRIC_EXPORT_INTERVAL_MS,
        .metric_export_timeout_ms = LDTAP_DEFAULT_METRIC_EXPORT_TIMEOUT_MS,
        .metrics_temporality = LDTAP_TEMPORALITY_CUMULATIVE,
        .metrics_headers = calloc(1, sizeof(char *)),
        .logs_protocol = LDTAP_OTLP_HTTP_PROTOBUF,
        .logs_gzip = true,
        .logs_timeout_ms = 10000,
        .logs_headers = calloc(1, sizeof(char *)),
    };
    if (!config->metrics_headers || !config->logs_headers) {
        set_error(error, error_size, "out of memory");
        return -1;
    }
    struct raw_value raw[SETTING_COUNT] = {{0}};
    read_environment(raw);
    if (read_flags(raw, command, argc, argv, command_index, error, error_size) < 0) {
        return -1;
    }
    if (raw[SETTING_HELP].text) {
        config->help = true;
        return 0;
    }
    config->no_summary = raw[SETTING_NO_SUMMARY].text != NULL;
    config->quiet = raw[SETTING_QUIET].text != NULL;
    config->all_users = raw[SETTING_ALL_USERS].text != NULL;
    if ((raw[SETTING_SDK_DISABLED].text &&
         !parse_boolean(&raw[SETTING_SDK_DISABLED], &config->sdk_disabled, error, error_size)) ||
        (raw[SETTING_SAMPLER].text && !parse_sampler(&raw[SETTING_SAMPLER], &config->sampler, error, error_size)) ||
        (raw[SETTING_SAMPLER_ARG].text &&
         !parse_ratio(&raw[SETTING_SAMPLER_ARG], &config->sampler_ratio, error, error_size)) ||
        !load_numbers(config, raw, error, error_size) || !load_exporter_choices(config, raw, error, error_size) ||
        !load_metrics_settings(config, raw, error, error_size) || !load_otlp_metrics(config, raw, error, error_size) ||
        !load_otlp_logs(config, raw, error, error_size) || !load_log_capture(config, raw, error, error_size) ||
        !load_ldtap_settings(config, raw, error, error_size)) {
        return -1;
    }
    const struct raw_value *attributes = &raw[SETTING_RESOURCE_ATTRIBUTES];
    if (attributes->text &&
        !ldtap_parse_pairs(attributes->text, attributes->source, check_attribute, NULL, error, error_size)) {
        return -1;
    }
    config->resource_attributes = copy_or_null(attributes);
    config->service_name = copy_or_null(&raw[SETTING_SERVICE_NAME]);
    if (!config->output_path) {
        set_error(error, error_size, "out of memory");
        return -1;
    }
    return 0;
}

void ldtap_config_free(struct ldtap_config *config) {
    for (char **line = config->headers; line && *line; line++) {
        free(*line);
    }
    free(config->headers);
    free(config->service_name);
    free(config->resource_attributes);
    free(config->traces_url);
    free(config->output_path);
    free(config->routes);
    free(config->run_dir);
    free(config->heap_profile_dir);
    free(config->shim_path);
    free(config->prometheus_host);
    for (char **line = config->metrics_headers; line && *line; line++) {
        free(*line);
    }
    free(config->metrics_headers);
    free(config->metrics_url);
    for (char **line = config->logs_headers; line && *line; line++) {
        free(*line);
    }
    free(config->logs_headers);
    free(config->logs_url);
    free(config->capture_logs);
    free(config->log_files);
    memset(config, 0, sizeof *config);
}

void ldtap_config_exporter(const struct ldtap_config *config, struct ldtap_exporter_config *exporter) {
    *exporter = (struct ldtap_exporter_config){
        .traces_url = config->traces_url,
        .file_path = config->output_path,
        .protocol = config->protocol,
        .gzip = config->gzip,
        .headers = (const char *const *)config->headers,
        .timeout_ms = config->timeout_ms,
        .max_queue_spans = config->max_queue_spans,
        .max_batch_spans = config->max_batch_spans,
        .schedule_delay_ms = config->schedule_delay_ms,
    };
}

void ldtap_config_metrics_exporter(const struct ldtap_config *config, struct ldtap_metrics_exporter_config *exporter) {
    *exporter = (struct ldtap_metrics_exporter_config){
        .url = config->metrics_url,
        .protocol = config->metrics_protocol,
        .gzip = config->metrics_gzip,
        .headers = (const char *const *)config->metrics_headers,
        .timeout_ms = config->metrics_timeout_ms,
        .interval_ms = config->metric_export_interval_ms,
        .export_timeout_ms = config->metric_export_timeout_ms,
        .temporality = config->metrics_temporality,
    };
}

void ldtap_config_log_exporter(const struct ldtap_config *config, struct ldtap_log_exporter_config *exporter) {
    *exporter = (struct ldtap_log_exporter_config){
        .url = config->logs_url,
        .file_path = config->output_path,
        .protocol = config->logs_protocol,
        .gzip = config->logs_gzip,
        .headers = (const char *const *)config->logs_headers,
        .timeout_ms = config->logs_timeout_ms,
    };
}

/* Prints `text` from column `indent`, wrapped at 80 columns. */
static void print_wrapped(FILE *out, const char *text, int column, int indent) {
    while (*text) {
        int room = 79 - indent;
        int length = (int)strlen(text);
        int cut = length;
        if (length > room) {
            cut = room;
            while (cut > 0 && text[cut] != ' ') {
                cut--;
            }
            cut = cut > 0 ? cut : room;
        }
        fprintf(out, "%*s%.*s\n", column < indent ? indent - column : 0, "", cut, text);
        text += cut;
        text += strspn(text, " ");
        column = 0;
    }
}

void ldtap_config_print_options(enum ldtap_command command, FILE *out) {
    unsigned mask = command == LDTAP_COMMAND_RUN ? FOR_RUN : FOR_COLLECT;
    fputs("Options:\n", out);
    for (int i = 0; i < SETTING_COUNT; i++) {
        const struct setting_definition *definition = &settings[i];
        if (!definition->flag || !(definition->commands & mask)) {
            continue;
        }
        char synopsis[64];
        snprintf(synopsis, sizeof synopsis, "%c%c%c %s %s", definition->short_flag ? '-' : ' ',
                 definition->short_flag ? definition->short_flag : ' ', definition->short_flag ? ',' : ' ',
                 definition->flag, definition->value_name ? definition->value_name : "");
        int column = fprintf(out, "  %s", synopsis);
        if (column > 28) {
            fputc('\n', out);
            column = 0;
        }
        print_wrapped(out, definition->help, column, 30);
        if (definition->variable) {
            fprintf(out, "%30s(env %s)\n", "", definition->variable);
        }
    }
    fputs("\nEnvironment (flags win over variables; an empty variable counts as unset):\n", out);
    for (int i = 0; i < SETTING_COUNT; i++) {
        if (settings[i].variable && !settings[i].flag && (settings[i].commands & mask)) {
            fprintf(out, "  %s\n", settings[i].variable);
            print_wrapped(out, settings[i].help, 0, 6);
        }
    }
}
