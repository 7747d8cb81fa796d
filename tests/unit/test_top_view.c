/* Criterion tests for collector/top_view.c: histogram_quantile as Prometheus computes it,
 * and a screen rendered from two scrapes (rate, error share, workers, hostile labels). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "top_view.h"

Test(top_view, quantile_interpolates_like_prometheus) {
    const double bounds[] = {0.1, 0.5, 1};
    const double counts[] = {10, 30, 40}; /* cumulative; +Inf total is 40 */
    /* rank 20 falls in (0.1, 0.5] holding 20: halfway -> 0.3 */
    cr_assert_float_eq(ldtap_top_quantile(0.5, bounds, counts, 3, 40), 0.3, 1e-12);
    /* rank 4 in the first bucket, which starts at 0 */
    cr_assert_float_eq(ldtap_top_quantile(0.1, bounds, counts, 3, 40), 0.04, 1e-12);
    /* rank 38 in (0.5, 1] holding 10 -> 0.5 + 0.5 * 8/10 */
    cr_assert_float_eq(ldtap_top_quantile(0.95, bounds, counts, 3, 40), 0.9, 1e-12);
    /* a rank in +Inf answers the highest finite bound */
    cr_assert_float_eq(ldtap_top_quantile(0.99, bounds, counts, 3, 50), 1.0, 1e-12);
    cr_assert(isnan(ldtap_top_quantile(0.5, bounds, counts, 3, 0)));
}

static const char first[] =
    "http_server_request_duration_seconds_bucket{service_name=\"shop\",http_route=\"/"
    "a\",http_response_status_code=\"200\",le=\"0.1\"} 10\n"
    "http_server_request_duration_seconds_bucket{service_name=\"shop\",http_route=\"/"
    "a\",http_response_status_code=\"200\",le=\"+Inf\"} 10\n"
    "http_server_request_duration_seconds_count{service_name=\"shop\",http_route=\"/"
    "a\",http_response_status_code=\"200\"} 10\n"
    "process_memory_usage_bytes{service_name=\"shop\",pid=\"42\"} 1048576\n"
    "process_cpu_time_seconds_total{service_name=\"shop\",pid=\"42\",cpu_mode=\"user\"} 1\n";

static const char second[] =
    "http_server_request_duration_seconds_bucket{service_name=\"shop\",http_route=\"/"
    "a\",http_response_status_code=\"200\",le=\"0.1\"} 30\n"
    "http_server_request_duration_seconds_bucket{service_name=\"shop\",http_route=\"/"
    "a\",http_response_status_code=\"200\",le=\"+Inf\"} 30\n"
    "http_server_request_duration_seconds_count{service_name=\"shop\",http_route=\"/"
    "a\",http_response_status_code=\"200\"} 30\n"
    "http_server_request_duration_seconds_bucket{service_name=\"shop\",http_route=\"/"
    "a\",http_response_status_code=\"503\",le=\"0.1\"} 0\n"
    "http_server_request_duration_seconds_bucket{service_name=\"shop\",http_route=\"/"
    "a\",http_response_status_code=\"503\",le=\"+Inf\"} 10\n"
    "http_server_request_duration_seconds_count{service_name=\"shop\",http_route=\"/"
    "a\",http_response_status_code=\"503\"} 10\n"
    "http_server_request_duration_seconds_count{service_name=\"shop\",http_route=\"/\\u001b[2J\"} 1\n"
    "http_server_request_duration_seconds_count{service_name=\"shop\",http_route=\"/\033[2J\"} 1\n"
    "process_memory_usage_bytes{service_name=\"shop\",pid=\"42\"} 2097152\n"
    "process_cpu_time_seconds_total{service_name=\"shop\",pid=\"42\",cpu_mode=\"user\"} 1.5\n";

Test(top_view, screen_from_two_scrapes) {
    struct ldtap_top_snapshot *before = ldtap_top_snapshot_parse(first, strlen(first), 100.0);
    struct ldtap_top_snapshot *after = ldtap_top_snapshot_parse(second, strlen(second), 102.0);
    cr_assert(before && after);
    struct ldtap_buffer out;
    ldtap_buffer_init(&out);
    ldtap_top_render(before, after, "title", 80, 0, &out);
    ldtap_buffer_append_byte(&out, '\0');
    const char *screen = (const char *)out.data;
    /* 30 new requests in 2 s, 10 of them 503: 15/s and 33.3 % errors. */
    cr_assert(strstr(screen, "shop       /a                          40    15.0  33.3"), "%s", screen);
    /* 0.5 CPU seconds in 2 s = 25 %; 2 MiB resident. */
    const char *worker = strstr(screen, "\n42 ");
    cr_assert_not_null(worker, "%s", screen);
    char service[16], rss[16], busy[16];
    double cpu = 0;
    cr_assert_eq(sscanf(worker, " 42 %15s %15s %lf %15s", service, rss, &cpu, busy), 4, "%s", screen);
    cr_assert_str_eq(rss, "2.0M");
    cr_assert_float_eq(cpu, 25.0, 1e-9);
    cr_assert_str_eq(busy, "-"); /* no busy series in these scrapes */
    cr_assert_null(strchr(screen, '\033'), "an escape byte reached the screen:\n%s", screen);
    cr_assert(strstr(screen, "1 bad lines"), "%s", screen); /* the \\u escape is not the format */
    ldtap_buffer_free(&out);
    ldtap_top_snapshot_free(before);
    ldtap_top_snapshot_free(after);
}
