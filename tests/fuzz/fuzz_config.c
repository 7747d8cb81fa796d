/* libFuzzer harness for the collector's configuration (collector/config.c and the list
 * parsers in config_lists.c): fuzzed environment variables and command-line flags, loaded,
 * handed to the exporters' config builders, freed (leaks are caught by LeakSanitizer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Input: byte 0 picks `run` or `collect`; the rest is split at '\n' into items. An item
 * "NAME=value" with a NAME below sets that variable; "$" + one byte + value sets the
 * variable that byte picks (easier for mutations to reach); anything else is one argv
 * entry. The heap profile directory is left out: loading it creates the directory. */
static const char *const variable_names[] = {
    "LDTAP_CAPTURE_LOGS",
    "LDTAP_DB_RAW_STATEMENTS",
    "LDTAP_EXPORT_DEADLINE_MS",
    "LDTAP_HEAP_SAMPLE_BYTES",
    "LDTAP_LOG_FILES",
    "LDTAP_MAX_ROUTES",
    "LDTAP_OUTPUT",
    "LDTAP_RING_SIZE",
    "LDTAP_ROUTES",
    "LDTAP_RUN_DIR",
    "LDTAP_SHIM",
    "LDTAP_SLOW_QUERY_MS",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_PROMETHEUS_HOST",
    "OTEL_EXPORTER_PROMETHEUS_PORT",
    "OTEL_LOGS_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_METRIC_EXPORT_TIMEOUT",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_EXPORTER",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
};
#define VARIABLE_COUNT (sizeof variable_names / sizeof variable_names[0])
#define MAX_ITEMS 64
#define MAX_INPUT 8192

extern char **environ;

/* Item text lives in `storage` (NUL-terminated copies); environ and argv point into it. */
static char storage[MAX_INPUT + MAX_ITEMS * 64];
static char *environment[MAX_ITEMS + 1];
static char *arguments[MAX_ITEMS + 1];

static int known_variable(const char *item, size_t length) {
    for (size_t i = 0; i < VARIABLE_COUNT; i++) {
        size_t name_length = strlen(variable_names[i]);
        if (length > name_length && item[name_length] == '=' &&
            memcmp(item, variable_names[i], name_length) == 0)
            return (int)i;
    }
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size) {
    if (size < 1 || size > MAX_INPUT)
        return 0;
    enum ldtap_command command = input[0] & 1 ? LDTAP_COMMAND_COLLECT : LDTAP_COMMAND_RUN;
    const char *text = (const char *)input + 1;
    size_t remaining = size - 1, used = 0;
    int variable_count = 0, argument_count = 0;
    while (remaining > 0 && variable_count + argument_count < MAX_ITEMS) {
        const char *end = memchr(text, '\n', remaining);
        size_t length = end ? (size_t)(end - text) : remaining;
        char *copy = storage + used;
        if (length >= 2 && text[0] == '$') {
            const char *name = variable_names[(uint8_t)text[1] % VARIABLE_COUNT];
            size_t name_length = strlen(name);
            memcpy(copy, name, name_length);
            copy[name_length] = '=';
            memcpy(copy + name_length + 1, text + 2, length - 2);
            copy[name_length + 1 + length - 2] = '\0';
            used += name_length + length + 1;
            environment[variable_count++] = copy;
        } else {
            memcpy(copy, text, length);
            copy[length] = '\0';
            used += length + 1;
            if (known_variable(copy, length) >= 0)
                environment[variable_count++] = copy;
            else if (strncmp(copy, "--heap-profile", 14) != 0)
                arguments[argument_count++] = copy;
        }
        remaining -= end ? length + 1 : length;
        text += end ? length + 1 : length;
    }
    environment[variable_count] = NULL;
    arguments[argument_count] = NULL;

    char **saved_environment = environ;
    environ = environment;
    struct ldtap_config config;
    char error[1024] = "";
    int command_index = -1;
    int result = ldtap_config_load(&config, command, argument_count, arguments,
                                   command == LDTAP_COMMAND_RUN ? &command_index : NULL, error, sizeof error);
    environ = saved_environment;
    if (result == 0) {
        if (command == LDTAP_COMMAND_RUN && (command_index < 0 || command_index > argument_count))
            abort();
        struct ldtap_exporter_config traces;
        struct ldtap_metrics_exporter_config metrics;
        struct ldtap_log_exporter_config logs;
        ldtap_config_exporter(&config, &traces);
        ldtap_config_metrics_exporter(&config, &metrics);
        ldtap_config_log_exporter(&config, &logs);
    } else if (error[0] == '\0') {
        abort(); /* every refusal must explain itself */
    }
    ldtap_config_free(&config);
    return 0;
}
