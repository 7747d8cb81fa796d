/* The collector's configuration: OpenTelemetry environment variables first, LDTAP_* for
 * what OpenTelemetry has no name for, command-line flags over both; every value validated. */
#ifndef LDTAP_CONFIG_H
#define LDTAP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "exporter.h"

#ifndef LDTAP_VERSION
#define LDTAP_VERSION "0.1.0"
#endif

#define LDTAP_DEFAULT_OUTPUT "./ldtap-traces.jsonl"
#define LDTAP_DEFAULT_EXPORT_DEADLINE_MS 10000u

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
    enum ldtap_sampler_kind sampler;
    double sampler_ratio; /* OTEL_TRACES_SAMPLER_ARG for the *traceidratio samplers */
    bool export_enabled;  /* OTEL_TRACES_EXPORTER=otlp (true) or none */
    bool sdk_disabled;    /* OTEL_SDK_DISABLED=true */
    char *routes;         /* LDTAP_ROUTES / --routes */
    uint32_t max_routes;  /* LDTAP_MAX_ROUTES / --max-routes */
    uint64_t ring_size;   /* LDTAP_RING_SIZE / --ring-size in bytes; 0: the shim's default */
    char *run_dir;        /* LDTAP_RUN_DIR / --run-dir: base directory of rings */
    char *shim_path;      /* LDTAP_SHIM / --shim */
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

/* The traces URL for an OTLP base endpoint: base + "/v1/traces" with exactly one slash
 * between. Returns a heap string, or NULL when out of memory. */
char *ldtap_traces_url_from_base(const char *base);

#endif
