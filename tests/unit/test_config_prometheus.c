/* Criterion tests for the Prometheus and metrics-exporter settings of collector/config.c:
 * defaults, --prometheus HOST:PORT, --no-prometheus, OTEL_EXPORTER_PROMETHEUS_HOST/PORT,
 * OTEL_METRICS_EXPORTER, and the errors they give. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static struct ldtap_config config;
static char error[1024];

static int load(int argc, char **argv) {
    error[0] = '\0';
    return ldtap_config_load(&config, LDTAP_COMMAND_RUN, argc, argv, NULL, error, sizeof error);
}

static void teardown(void) {
    ldtap_config_free(&config);
}

TestSuite(config_prometheus, .fini = teardown);

Test(config_prometheus, defaults_serve_localhost_9464_leniently) {
    cr_assert_eq(load(0, NULL), 0, "%s", error);
    cr_assert(config.prometheus_enabled);
    cr_assert_str_eq(config.prometheus_host, "localhost");
    cr_assert_eq(config.prometheus_port, 9464);
    cr_assert_not(config.prometheus_port_explicit);
    cr_assert_not(config.metrics_otlp_enabled, "no endpoint: no OTLP metrics");
}

Test(config_prometheus, an_endpoint_turns_otlp_metrics_on_by_default) {
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", 1);
    cr_assert_eq(load(0, NULL), 0, "%s", error);
    cr_assert(config.metrics_otlp_enabled);
    cr_assert(config.prometheus_enabled);
}

Test(config_prometheus, flag_host_port) {
    char *argv[] = {"--prometheus", "0.0.0.0:18001", "cmd"};
    cr_assert_eq(load(3, argv), 0, "%s", error);
    cr_assert(config.prometheus_enabled);
    cr_assert_str_eq(config.prometheus_host, "0.0.0.0");
    cr_assert_eq(config.prometheus_port, 18001);
    cr_assert(config.prometheus_port_explicit);
}

Test(config_prometheus, flag_ipv6_and_equals_form) {
    char *argv[] = {"--prometheus=[::1]:18002", "cmd"};
    cr_assert_eq(load(2, argv), 0, "%s", error);
    cr_assert_str_eq(config.prometheus_host, "::1");
    cr_assert_eq(config.prometheus_port, 18002);
}

Test(config_prometheus, flag_beats_otel_metrics_exporter_none) {
    setenv("OTEL_METRICS_EXPORTER", "none", 1);
    char *argv[] = {"--prometheus", "127.0.0.1:18003", "cmd"};
    cr_assert_eq(load(3, argv), 0, "%s", error);
    cr_assert(config.prometheus_enabled);
}

Test(config_prometheus, environment_host_and_port) {
    setenv("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.2", 1);
    setenv("OTEL_EXPORTER_PROMETHEUS_PORT", "18004", 1);
    cr_assert_eq(load(0, NULL), 0, "%s", error);
    cr_assert_str_eq(config.prometheus_host, "127.0.0.2");
    cr_assert_eq(config.prometheus_port, 18004);
    cr_assert(config.prometheus_port_explicit);
}

Test(config_prometheus, no_prometheus) {
    char *argv[] = {"--no-prometheus", "cmd"};
    cr_assert_eq(load(2, argv), 0, "%s", error);
    cr_assert_not(config.prometheus_enabled);
}

Test(config_prometheus, metrics_exporter_lists) {
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", 1); /* OTLP needs somewhere to go */
    setenv("OTEL_METRICS_EXPORTER", "otlp", 1);
    cr_assert_eq(load(0, NULL), 0, "%s", error);
    cr_assert_not(config.prometheus_enabled);
    cr_assert(config.metrics_otlp_enabled);
    ldtap_config_free(&config);
    setenv("OTEL_METRICS_EXPORTER", " prometheus , otlp ", 1);
    cr_assert_eq(load(0, NULL), 0, "%s", error);
    cr_assert(config.prometheus_enabled && config.metrics_otlp_enabled);
    ldtap_config_free(&config);
    setenv("OTEL_METRICS_EXPORTER", "none", 1);
    cr_assert_eq(load(0, NULL), 0, "%s", error);
    cr_assert_not(config.prometheus_enabled || config.metrics_otlp_enabled);
}

Test(config_prometheus, bad_values_are_named_errors) {
    static const struct {
        const char *variable, *value, *expected;
    } cases[] = {
        {"OTEL_METRICS_EXPORTER", "statsd",
         "OTEL_METRICS_EXPORTER: 'statsd' is not supported; use prometheus, otlp or none (comma-separated)"},
        {"OTEL_METRICS_EXPORTER", "none,otlp",
         "OTEL_METRICS_EXPORTER: 'none,otlp' mixes none with exporters; use none alone"},
        {"OTEL_EXPORTER_PROMETHEUS_PORT", "70000",
         "OTEL_EXPORTER_PROMETHEUS_PORT: '70000' is not a valid port; use a number from 1 to 65535"},
        {"OTEL_EXPORTER_PROMETHEUS_PORT", "0",
         "OTEL_EXPORTER_PROMETHEUS_PORT: '0' is not a valid port; use a number from 1 to 65535"},
        {"OTEL_EXPORTER_PROMETHEUS_HOST", "http://x",
         "OTEL_EXPORTER_PROMETHEUS_HOST: 'http://x' is not a valid host; use a name or address like "
         "127.0.0.1 or ::1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv(cases[i].variable, cases[i].value, 1);
        cr_expect_eq(load(0, NULL), -1, "%s=%s accepted", cases[i].variable, cases[i].value);
        cr_expect_str_eq(error, cases[i].expected);
        ldtap_config_free(&config);
        unsetenv(cases[i].variable);
    }
}

Test(config_prometheus, bad_flags_are_named_errors) {
    static const char *const values[] = {"9464", "::1:9464", ":9464", "host:", "host:x", "[::1]"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char *argv[] = {"--prometheus", (char *)values[i], "cmd"};
        cr_expect_eq(load(3, argv), -1, "--prometheus %s accepted", values[i]);
        cr_expect(strncmp(error, "--prometheus: ", 14) == 0, "%s", error);
        ldtap_config_free(&config);
    }
    char *both[] = {"--prometheus", "127.0.0.1:1", "--no-prometheus", "cmd"};
    cr_assert_eq(load(4, both), -1);
    cr_assert_str_eq(error, "--prometheus and --no-prometheus contradict each other; use one");
}
