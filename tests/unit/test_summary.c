/* Criterion tests for collector/summary.c: histogram percentiles on known distributions
 * within the documented 1%, and the printed table. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "summary.h"

static void assert_within_one_percent(double measured, double expected) {
    cr_assert(fabs(measured - expected) <= expected * 0.01, "measured %f, expected %f", measured, expected);
}

Test(summary, uniform_distribution_percentiles) {
    struct ldtap_histogram *histogram = ldtap_histogram_new();
    for (uint64_t i = 1; i <= 10000; i++) { /* 1 µs .. 10 ms */
        ldtap_histogram_record(histogram, i * 1000);
    }
    assert_within_one_percent(ldtap_histogram_quantile(histogram, 0.50), 5000e3);
    assert_within_one_percent(ldtap_histogram_quantile(histogram, 0.95), 9500e3);
    assert_within_one_percent(ldtap_histogram_quantile(histogram, 0.99), 9900e3);
    assert_within_one_percent(ldtap_histogram_quantile(histogram, 1.0), 10000e3);
    ldtap_histogram_free(histogram);
}

Test(summary, every_single_value_within_one_percent) {
    for (double value = 1.0; value < 1e13; value *= 1.37) {
        struct ldtap_histogram *histogram = ldtap_histogram_new();
        ldtap_histogram_record(histogram, (uint64_t)value);
        assert_within_one_percent(ldtap_histogram_quantile(histogram, 0.5), (double)(uint64_t)value);
        ldtap_histogram_free(histogram);
    }
}

Test(summary, exponential_distribution_percentiles) {
    /* Quantiles of an exponential distribution with mean 2 ms, sampled exactly. */
    struct ldtap_histogram *histogram = ldtap_histogram_new();
    const int count = 100000;
    double *values = malloc(sizeof *values * count);
    for (int i = 0; i < count; i++) {
        values[i] = -2e6 * log(1.0 - (i + 0.5) / count);
        ldtap_histogram_record(histogram, (uint64_t)values[i]);
    }
    const double quantiles[] = {0.5, 0.95, 0.99};
    for (int q = 0; q < 3; q++) {
        double exact = values[(int)ceil(quantiles[q] * count) - 1];
        assert_within_one_percent(ldtap_histogram_quantile(histogram, quantiles[q]), exact);
    }
    free(values);
    ldtap_histogram_free(histogram);
}

Test(summary, empty_histogram) {
    struct ldtap_histogram *histogram = ldtap_histogram_new();
    cr_assert_float_eq(ldtap_histogram_quantile(histogram, 0.99), 0.0, 1e-12);
    ldtap_histogram_free(histogram);
}

static void make_span(struct ldtap_span *span, uint8_t kind, const char *method, const char *where, int64_t port,
                      uint64_t duration_ns, bool error) {
    memset(span, 0, sizeof *span);
    span->kind = kind;
    span->start_time_ns = 1000;
    span->end_time_ns = 1000 + duration_ns;
    span->status_code = error ? LDTAP_STATUS_ERROR : LDTAP_STATUS_UNSET;
    ldtap_span_add_string(span, "http.request.method", method, strlen(method));
    if (kind == 2) {
        ldtap_span_add_string(span, "http.route", where, strlen(where));
    } else {
        ldtap_span_add_string(span, "server.address", where, strlen(where));
        ldtap_span_add_int(span, "server.port", port);
    }
}

static char *print_to_string(struct ldtap_summary *summary, const struct ldtap_summary_totals *totals) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    ldtap_summary_print(summary, totals, out);
    fclose(out);
    return text;
}

Test(summary, printed_table) {
    struct ldtap_summary *summary = ldtap_summary_new();
    struct ldtap_span span;
    ldtap_summary_add_process(summary, "gunicorn");
    ldtap_summary_add_process(summary, "gunicorn");
    for (int i = 0; i < 80; i++) {
        make_span(&span, 2, "GET", "/orders/{id}", 0, 1200000, i < 3);
        ldtap_summary_add_span(summary, "gunicorn", &span);
    }
    for (int i = 0; i < 20; i++) {
        make_span(&span, 3, "GET", "127.0.0.1", 8001, 800000, false);
        ldtap_summary_add_span(summary, "gunicorn", &span);
    }
    make_span(&span, 2, "POST", "/a/very/long/route/that/does/not/fit/in/the/column", 0, 5000000, false);
    ldtap_summary_add_span(summary, "gunicorn", &span);
    struct ldtap_summary_totals totals = {.decoded = 101, .exported = 101, .destination = "./t.jsonl",
                                          .to_file = true, .unparented_async = 2};
    char *text = print_to_string(summary, &totals);
    cr_assert(strstr(text, "ldtap: gunicorn \xe2\x80\x94 101 spans from 2 processes\n"), "%s", text);
    cr_assert(strstr(text, "  SERVER ROUTE                      COUNT  ERR   p50 ms   p95 ms   p99 ms\n"), "%s",
              text);
    cr_assert(strstr(text, "  GET /orders/{id}                     80    3     1.19     1.19     1.19\n" /* 1.2 within 1% */), "%s",
              text);
    cr_assert(strstr(text, "  GET 127.0.0.1:8001                   20    0     0.80     0.80     0.80\n"), "%s",
              text);
    cr_assert(strstr(text, "POST /a/very/long/route/that/..."), "%s", text);
    cr_assert(strstr(text, "ldtap: 101 spans written to ./t.jsonl; dropped: 0\n"), "%s", text);
    cr_assert(strstr(text, "unparented async spans: 2"), "%s", text);
    /* Server rows come before the client section, sorted by count. */
    cr_assert(strstr(text, "GET /orders/{id}") < strstr(text, "POST /a/"));
    cr_assert(strstr(text, "POST /a/") < strstr(text, "CLIENT"));
    for (char *line = text; *line;) {
        size_t length = strcspn(line, "\n");
        cr_assert(length <= 80 + 2 /* the em dash is 3 bytes, 1 column */, "line too long: %.*s", (int)length,
                  line);
        line += length + (line[length] != '\0');
    }
    free(text);
    ldtap_summary_free(summary);
}

Test(summary, totals_when_sampled_and_disabled) {
    struct ldtap_summary *summary = ldtap_summary_new();
    struct ldtap_summary_totals totals = {.decoded = 10, .exported = 4, .sampled_out = 6,
                                          .destination = "http://c:4318/v1/traces", .dropped_queue_full = 1};
    char *text = print_to_string(summary, &totals);
    cr_assert(strstr(text, "ldtap: 10 spans decoded, 4 exported to http://c:4318/v1/traces; dropped: 1\n"), "%s",
              text);
    cr_assert(strstr(text, "sampled out: 6"), "%s", text);
    free(text);
    totals.export_disabled = true;
    text = print_to_string(summary, &totals);
    cr_assert(strstr(text, "export disabled (OTEL_TRACES_EXPORTER=none)"), "%s", text);
    free(text);
    ldtap_summary_free(summary);
}

Test(summary, rss_growing_needs_both_ten_mib_and_twenty_percent) {
    const uint64_t mib = 1024 * 1024;
    cr_assert(ldtap_summary_rss_growing(25 * mib, 137 * mib));
    cr_assert_not(ldtap_summary_rss_growing(25 * mib, 34 * mib), "+9 MiB is +36% but under 10 MiB");
    cr_assert_not(ldtap_summary_rss_growing(500 * mib, 590 * mib), "+90 MiB is only +18%");
    cr_assert(ldtap_summary_rss_growing(500 * mib, 620 * mib));
    cr_assert_not(ldtap_summary_rss_growing(50 * mib, 40 * mib), "shrinking");
}

Test(summary, memory_rows_and_saturation_fit_80_columns) {
    struct ldtap_summary *summary = ldtap_summary_new();
    ldtap_summary_add_process(summary, "shop");
    struct ldtap_summary_memory leaking = {2147483, false, 25u << 20, 137u << 20};
    struct ldtap_summary_memory steady = {4403, false, 25u << 20, 26u << 20};
    ldtap_summary_add_memory(summary, "shop", &steady);
    ldtap_summary_add_memory(summary, "shop", &leaking);
    ldtap_summary_add_saturation(summary, "shop", true, 0.97, 123456);
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    struct ldtap_summary_totals totals = {.destination = "traces.jsonl", .to_file = true};
    ldtap_summary_print(summary, &totals, out);
    fclose(out);
    cr_assert(strstr(text, "pid 2147483"), "%s", text);
    const char *leak_row = strstr(text, "pid 2147483");
    const char *steady_row = strstr(text, "pid 4403");
    cr_assert(leak_row < steady_row, "largest growth first:\n%s", text);
    cr_assert(strstr(leak_row, "growing") < steady_row, "%s", text);
    const char *steady_end = strchr(steady_row, '\n');
    const char *steady_flag = strstr(steady_row, "growing");
    cr_assert(!steady_flag || steady_flag > steady_end, "the steady worker is not growing:\n%s", text);
    cr_assert(strstr(text, "busy fraction max 0.97"), "%s", text);
    cr_assert(strstr(text, "accept queue max 123456"), "%s", text);
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        size_t columns = end ? (size_t)(end - line) : strlen(line);
        cr_assert_leq(columns, 80, "line too wide: %.*s", (int)columns, line);
        line = end ? end + 1 : line + columns;
    }
    free(text);
    ldtap_summary_free(summary);
}

Test(summary, a_chained_traceback_counts_once_as_the_exception_that_propagated) {
    struct ldtap_summary *summary = ldtap_summary_new();
    ldtap_summary_add_process(summary, "web");
    /* A two-part chain: KeyError while handling, then LookupError propagated. */
    ldtap_summary_add_exception(summary, "web", "KeyError", 8, "'sku'", 5, NULL, 0);
    ldtap_summary_retract_exception(summary, "web", "KeyError", 8);
    ldtap_summary_add_exception(summary, "web", "app.LookupError", 15, "no such item", 12, NULL, 0);
    ldtap_summary_add_exception(summary, "web", "ValueError", 10, "bad", 3, NULL, 0);
    ldtap_summary_retract_exception(summary, "web", "NotCounted", 10); /* nothing to take back */
    struct ldtap_summary_totals totals = {.destination = "./t.jsonl", .to_file = true};
    char *text = print_to_string(summary, &totals);
    cr_assert(strstr(text, "app.LookupError"), "%s", text);
    cr_assert(strstr(text, "ValueError"), "%s", text);
    cr_assert_null(strstr(text, "KeyError"), "the superseded part is gone:\n%s", text);
    free(text);
    ldtap_summary_free(summary);
}
