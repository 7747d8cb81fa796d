/* Criterion tests for collector/config.c: every variable with good and bad values, flag
 * precedence, header and attribute list parsing, URL building. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static struct ldtap_config config;
static char error[1024];

static int load_run(int argc, char **argv, int *command_index) {
    error[0] = '\0';
    return ldtap_config_load(&config, LDTAP_COMMAND_RUN, argc, argv, command_index, error, sizeof error);
}

static int load_env(const char *name, const char *value) {
    setenv(name, value, 1);
    return load_run(0, NULL, NULL);
}

static void teardown(void) { ldtap_config_free(&config); }

TestSuite(config, .fini = teardown);

Test(config, defaults) {
    cr_assert_eq(load_run(0, NULL, NULL), 0, "%s", error);
    cr_assert_eq(config.protocol, LDTAP_OTLP_HTTP_PROTOBUF);
    cr_assert(config.gzip);
    cr_assert_eq(config.timeout_ms, 10000);
    cr_assert_eq(config.schedule_delay_ms, 5000);
    cr_assert_eq(config.max_queue_spans, 2048);
    cr_assert_eq(config.max_batch_spans, 512);
    cr_assert_eq(config.sampler, LDTAP_SAMPLER_ALWAYS_ON);
    cr_assert(config.export_enabled);
    cr_assert_not(config.sdk_disabled);
    cr_assert_null(config.traces_url);
    cr_assert_str_eq(config.output_path, "./ldtap-traces.jsonl");
    cr_assert_null(config.headers[0]);
    cr_assert_eq(config.max_routes, 1000);
    cr_assert_eq(config.ring_size, 0);
}

Test(config, grpc_is_a_clear_error) {
    cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), -1);
    cr_assert_str_eq(error, "OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' is not supported; use http/protobuf or http/json");
}

Test(config, protocols) {
    cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"), 0);
    cr_assert_eq(config.protocol, LDTAP_OTLP_HTTP_JSON);
    ldtap_config_free(&config);
    setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf", 1);
    cr_assert_eq(load_run(0, NULL, NULL), 0);
    cr_assert_eq(config.protocol, LDTAP_OTLP_HTTP_PROTOBUF, "the traces variable wins");
    ldtap_config_free(&config);
    setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf", 1);
    setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf", 1);
    char *argv[] = {"--protocol", "http/json", "cmd"};
    cr_assert_eq(load_run(3, argv, NULL), 0);
    cr_assert_eq(config.protocol, LDTAP_OTLP_HTTP_JSON, "the flag wins");
    cr_assert_eq(config.metrics_protocol, LDTAP_OTLP_HTTP_JSON, "the flag is for every signal");
    cr_assert_eq(config.logs_protocol, LDTAP_OTLP_HTTP_JSON, "the flag is for every signal");
    unsetenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL");
    unsetenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL");
    ldtap_config_free(&config);
    char *bad[] = {"--protocol=grpc"};
    cr_assert_eq(load_run(1, bad, NULL), -1);
    cr_assert(strstr(error, "--protocol: 'grpc'"), "%s", error);
}

Test(config, empty_variable_is_unset) {
    cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_PROTOCOL", ""), 0);
    cr_assert_eq(config.protocol, LDTAP_OTLP_HTTP_PROTOBUF);
}

Test(config, endpoint_gets_one_slash) {
    cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"), 0, "%s", error);
    cr_assert_str_eq(config.traces_url, "http://collector:4318/v1/traces");
    char *url = ldtap_traces_url_from_base("https://h/base//");
    cr_assert_str_eq(url, "https://h/base/v1/traces");
    free(url);
    url = ldtap_traces_url_from_base("http://h:1");
    cr_assert_str_eq(url, "http://h:1/v1/traces");
    free(url);
}

Test(config, traces_endpoint_used_as_is_but_flag_wins) {
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318", 1);
    cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://b/custom"), 0, "%s", error);
    cr_assert_str_eq(config.traces_url, "https://b/custom");
    ldtap_config_free(&config);
    char *argv[] = {"--endpoint", "http://[::1]:9999", "--", "cmd"};
    int index = 0;
    cr_assert_eq(load_run(4, argv, &index), 0, "%s", error);
    cr_assert_str_eq(config.traces_url, "http://[::1]:9999/v1/traces");
    cr_assert_eq(index, 3);
}

Test(config, bad_urls) {
    const char *bad[] = {"localhost:4318", "ftp://h", "http://", "http://:80", "http://h:0", "http://h:99999",
                         "http://h:x", "http://a b", "http://user@h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_ENDPOINT", bad[i]), -1, "%s accepted", bad[i]);
        cr_assert(strstr(error, "OTEL_EXPORTER_OTLP_ENDPOINT: '"), "%s", error);
        ldtap_config_free(&config);
    }
    cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_ENDPOINT", "HTTPS://h.example:443/p?x"), 0);
}

Test(config, headers_are_percent_decoded_and_merged) {
    setenv("OTEL_EXPORTER_OTLP_HEADERS", " api-key = abc%20def , x-Team=a%2Cb,,", 1);
    cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "API-KEY=override"), 0, "%s", error);
    cr_assert_str_eq(config.headers[0], "x-Team: a,b");
    cr_assert_str_eq(config.headers[1], "API-KEY: override");
    cr_assert_null(config.headers[2]);
}

Test(config, malformed_headers) {
    const char *bad[] = {"novalue", "=v", "k=%zz", "k=%4", "bad name=v", "k=a%0Db"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_HEADERS", bad[i]), -1, "%s accepted", bad[i]);
        cr_assert(strncmp(error, "OTEL_EXPORTER_OTLP_HEADERS: ", 28) == 0, "%s", error);
        ldtap_config_free(&config);
    }
}

Test(config, compression_and_exporter) {
    cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_COMPRESSION", "none"), 0);
    cr_assert_not(config.gzip);
    ldtap_config_free(&config);
    cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"), -1);
    cr_assert(strstr(error, "use gzip or none"));
    ldtap_config_free(&config);
    unsetenv("OTEL_EXPORTER_OTLP_COMPRESSION");
    cr_assert_eq(load_env("OTEL_TRACES_EXPORTER", "none"), 0);
    cr_assert_not(config.export_enabled);
    ldtap_config_free(&config);
    cr_assert_eq(load_env("OTEL_TRACES_EXPORTER", "zipkin"), -1);
    cr_assert_str_eq(error, "OTEL_TRACES_EXPORTER: 'zipkin' is not supported; use otlp or none");
}

Test(config, numbers) {
    cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"), 0);
    cr_assert_eq(config.timeout_ms, 2500);
    ldtap_config_free(&config);
    const char *bad[] = {"-1", "abc", "10ms", " 5", "0", "99999999999", "+3", ""};
    const char *variables[] = {"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_QUEUE_SIZE",
                               "LDTAP_MAX_ROUTES", "LDTAP_EXPORT_DEADLINE_MS"};
    for (size_t v = 0; v < sizeof variables / sizeof variables[0]; v++) {
        for (size_t i = 0; i + 1 < sizeof bad / sizeof bad[0]; i++) {
            cr_assert_eq(load_env(variables[v], bad[i]), -1, "%s=%s accepted", variables[v], bad[i]);
            cr_assert(strncmp(error, variables[v], strlen(variables[v])) == 0, "%s", error);
            ldtap_config_free(&config);
        }
        unsetenv(variables[v]);
    }
}

Test(config, batch_size_against_queue) {
    cr_assert_eq(load_env("OTEL_BSP_MAX_QUEUE_SIZE", "100"), 0);
    cr_assert_eq(config.max_batch_spans, 100, "the default batch shrinks to the queue");
    ldtap_config_free(&config);
    cr_assert_eq(load_env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200"), -1);
    cr_assert(strstr(error, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 200 is larger"), "%s", error);
}

Test(config, samplers) {
    cr_assert_eq(load_env("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"), 0);
    cr_assert_eq(config.sampler, LDTAP_SAMPLER_PARENTBASED_TRACEIDRATIO);
    cr_assert_float_eq(config.sampler_ratio, 1.0, 1e-12);
    ldtap_config_free(&config);
    cr_assert_eq(load_env("OTEL_TRACES_SAMPLER_ARG", "0.25"), 0);
    cr_assert_float_eq(config.sampler_ratio, 0.25, 1e-12);
    ldtap_config_free(&config);
    const char *bad[] = {"1.5", "-0.1", "nan", "x", "0.5x", "inf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(load_env("OTEL_TRACES_SAMPLER_ARG", bad[i]), -1, "%s accepted", bad[i]);
        cr_assert(strstr(error, "use a number from 0 to 1"));
        ldtap_config_free(&config);
    }
    unsetenv("OTEL_TRACES_SAMPLER_ARG");
    cr_assert_eq(load_env("OTEL_TRACES_SAMPLER", "jaeger_remote"), -1);
    cr_assert(strstr(error, "OTEL_TRACES_SAMPLER: 'jaeger_remote' is not supported"));
}

Test(config, sdk_disabled) {
    cr_assert_eq(load_env("OTEL_SDK_DISABLED", "TRUE"), 0);
    cr_assert(config.sdk_disabled);
    ldtap_config_free(&config);
    cr_assert_eq(load_env("OTEL_SDK_DISABLED", "yes"), -1);
    cr_assert_str_eq(error, "OTEL_SDK_DISABLED: 'yes' is not valid; use true or false");
}

Test(config, ring_sizes) {
    cr_assert_eq(load_env("LDTAP_RING_SIZE", "8M"), 0, "%s", error);
    cr_assert_eq(config.ring_size, 8u << 20);
    ldtap_config_free(&config);
    cr_assert_eq(load_env("LDTAP_RING_SIZE", "65536"), 0);
    cr_assert_eq(config.ring_size, 65536);
    ldtap_config_free(&config);
    cr_assert_eq(load_env("LDTAP_RING_SIZE", "1g"), 0);
    cr_assert_eq(config.ring_size, 1u << 30);
    ldtap_config_free(&config);
    const char *bad[] = {"3M", "32K", "2G", "-4M", "M", "4MB", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(load_env("LDTAP_RING_SIZE", bad[i]), -1, "%s accepted", bad[i]);
        cr_assert(strstr(error, "LDTAP_RING_SIZE: '"), "%s", error);
        ldtap_config_free(&config);
    }
}

Test(config, flags_override_environment) {
    setenv("OTEL_SERVICE_NAME", "from-env", 1);
    setenv("LDTAP_OUTPUT", "/tmp/env.jsonl", 1);
    setenv("LDTAP_RING_SIZE", "1M", 1);
    char *argv[] = {"--service-name=from-flag", "-o", "/tmp/flag.jsonl", "--ring-size", "128K", "--quiet",
                    "--no-summary", "python3", "--service-name", "ignored"};
    int index = 0;
    cr_assert_eq(load_run(10, argv, &index), 0, "%s", error);
    cr_assert_str_eq(config.service_name, "from-flag");
    cr_assert_str_eq(config.output_path, "/tmp/flag.jsonl");
    cr_assert_eq(config.ring_size, 128u * 1024);
    cr_assert(config.quiet && config.no_summary);
    cr_assert_eq(index, 7, "parsing stops at CMD");
}

Test(config, flag_errors) {
    char *unknown[] = {"--bogus", "cmd"};
    cr_assert_eq(load_run(2, unknown, NULL), -1);
    cr_assert_str_eq(error, "run: unknown option '--bogus'; see 'ldtap help run'");
    ldtap_config_free(&config);
    char *missing[] = {"--endpoint"};
    cr_assert_eq(load_run(1, missing, NULL), -1);
    cr_assert(strstr(error, "--endpoint needs a value"));
    ldtap_config_free(&config);
    char *all_users[] = {"--all-users"};
    cr_assert_eq(load_run(1, all_users, NULL), -1, "--all-users is for collect only");
    ldtap_config_free(&config);
    cr_assert_eq(ldtap_config_load(&config, LDTAP_COMMAND_COLLECT, 1, all_users, NULL, error, sizeof error), 0);
    cr_assert(config.all_users);
    ldtap_config_free(&config);
    char *stray[] = {"cmd"};
    cr_assert_eq(ldtap_config_load(&config, LDTAP_COMMAND_COLLECT, 1, stray, NULL, error, sizeof error), -1);
}

Test(config, resource_attributes_validated) {
    cr_assert_eq(load_env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,team=a%20b"), 0);
    cr_assert_str_eq(config.resource_attributes, "deployment.environment=prod,team=a%20b");
    ldtap_config_free(&config);
    cr_assert_eq(load_env("OTEL_RESOURCE_ATTRIBUTES", "novalue"), -1);
    cr_assert(strstr(error, "OTEL_RESOURCE_ATTRIBUTES: 'novalue' has no '='"), "%s", error);
}

Test(config, routes_validated_by_the_route_table) {
    cr_assert_eq(load_env("LDTAP_ROUTES", "/users/{id},/static/*"), 0, "%s", error);
    cr_assert_str_eq(config.routes, "/users/{id},/static/*");
    ldtap_config_free(&config);
    cr_assert_eq(load_env("LDTAP_ROUTES", "users"), -1);
    cr_assert(strncmp(error, "LDTAP_ROUTES: ", 14) == 0, "%s", error);
}

Test(config, help_flag) {
    char *argv[] = {"-h"};
    cr_assert_eq(load_run(1, argv, NULL), 0);
    cr_assert(config.help);
}

Test(config, exporter_config) {
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", 1);
    cr_assert_eq(load_env("OTEL_EXPORTER_OTLP_HEADERS", "a=b"), 0);
    struct ldtap_exporter_config exporter;
    ldtap_config_exporter(&config, &exporter);
    cr_assert_str_eq(exporter.traces_url, "http://c:4318/v1/traces");
    cr_assert_str_eq(exporter.headers[0], "a: b");
    cr_assert_eq(exporter.max_batch_spans, 512);
}

Test(config, collector_niceness) {
    cr_assert_eq(load_run(0, NULL, NULL), 0, "%s", error);
    cr_assert_eq(config.collector_nice, 0, "default: the collector's priority is left alone");
    ldtap_config_free(&config);
    cr_assert_eq(load_env("LDTAP_COLLECTOR_NICE", "0"), 0, "%s", error);
    cr_assert_eq(config.collector_nice, 0);
    ldtap_config_free(&config);
    cr_assert_eq(load_env("LDTAP_COLLECTOR_NICE", "19"), 0, "%s", error);
    cr_assert_eq(config.collector_nice, 19);
    ldtap_config_free(&config);
    cr_assert_eq(load_env("LDTAP_COLLECTOR_NICE", "20"), -1);
    cr_assert_str_eq(error, "LDTAP_COLLECTOR_NICE: '20' is not valid; use a niceness from 0 to 19");
    ldtap_config_free(&config);
    cr_assert_eq(load_env("LDTAP_COLLECTOR_NICE", "-5"), -1);
    ldtap_config_free(&config);
    unsetenv("LDTAP_COLLECTOR_NICE");
    char *argv[] = {"--nice", "3", "--", "true"};
    int command_index = 0;
    cr_assert_eq(load_run(4, argv, &command_index), 0, "%s", error);
    cr_assert_eq(config.collector_nice, 3);
}
