/* Drives the real exporter for e2e tests: enqueues N numbered spans (attribute
 * test.index = i) to an OTLP/HTTP URL or a file, stops with a deadline and prints the
 * export stats as one JSON line.
 * usage: otlp_export_sample (URL | --file PATH) N [--json] [--no-gzip] [--batch B]
 *        [--queue Q] [--delay MS] [--deadline MS] [--timeout MS] [--header "Name: value"]... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "exporter.h"
#include "otlp_json.h"
#include "span.h"

#define MAX_HEADERS 8

static void make_span(struct ldtap_span *span, struct ldtap_resource *resource, long index) {
    memset(span, 0, sizeof *span);
    for (int i = 0; i < 16; i++) {
        span->trace_id[i] = (uint8_t)(0x40 + i);
    }
    for (int i = 0; i < 8; i++) {
        span->span_id[7 - i] = (uint8_t)((unsigned long)(index + 1) >> (8 * i));
    }
    span->start_time_ns = 1700000000000000000ull + (uint64_t)index * 1000;
    span->end_time_ns = span->start_time_ns + 500;
    span->kind = 2;
    span->trace_flags = 1;
    snprintf(span->name, sizeof span->name, "span-%ld", index);
    span->resource = resource;
    ldtap_span_add_int(span, "test.index", index);
    ldtap_span_add_string(span, "test.padding", "0123456789abcdef0123456789abcdef", 32);
}

int main(int argc, char **argv) {
    struct ldtap_exporter_config config = {.gzip = true, .timeout_ms = 5000, .max_queue_spans = 4096,
                                           .max_batch_spans = 100, .schedule_delay_ms = 200};
    const char *headers[MAX_HEADERS + 1] = {0};
    int header_count = 0;
    uint32_t deadline_ms = 30000;
    if (argc < 3) {
        fprintf(stderr, "usage: %s (URL | --file PATH) N [options]\n", argv[0]);
        return 2;
    }
    int next = 1;
    if (strcmp(argv[1], "--file") == 0) {
        config.file_path = argv[2];
        next = 3;
    } else {
        config.traces_url = argv[1];
        next = 2;
    }
    long count = next < argc ? atol(argv[next++]) : 0;
    for (; next < argc; next++) {
        const char *option = argv[next];
        const char *value = next + 1 < argc ? argv[next + 1] : "0";
        if (strcmp(option, "--json") == 0) {
            config.protocol = LDTAP_OTLP_HTTP_JSON;
            continue;
        }
        if (strcmp(option, "--no-gzip") == 0) {
            config.gzip = false;
            continue;
        }
        next++;
        if (strcmp(option, "--batch") == 0) {
            config.max_batch_spans = (uint32_t)atol(value);
        } else if (strcmp(option, "--queue") == 0) {
            config.max_queue_spans = (uint32_t)atol(value);
        } else if (strcmp(option, "--delay") == 0) {
            config.schedule_delay_ms = (uint32_t)atol(value);
        } else if (strcmp(option, "--deadline") == 0) {
            deadline_ms = (uint32_t)atol(value);
        } else if (strcmp(option, "--timeout") == 0) {
            config.timeout_ms = (uint32_t)atol(value);
        } else if (strcmp(option, "--header") == 0 && header_count < MAX_HEADERS) {
            headers[header_count++] = value;
        } else {
            fprintf(stderr, "unknown option %s\n", option);
            return 2;
        }
    }
    config.headers = headers;

    char error[256];
    struct ldtap_exporter *exporter = ldtap_exporter_start(&config, error, sizeof error);
    if (!exporter) {
        fprintf(stderr, "exporter: %s\n", error);
        return 1;
    }
    struct ldtap_resource *resource = ldtap_resource_new();
    ldtap_resource_add_string(resource, "service.name", "export-sample", 13);
    struct ldtap_span span;
    for (long i = 0; i < count; i++) {
        make_span(&span, resource, i);
        ldtap_exporter_enqueue(exporter, &span);
    }
    ldtap_resource_release(resource); /* the queued spans keep it alive */

    struct ldtap_export_stats stats;
    ldtap_exporter_stop(exporter, deadline_ms, &stats);
    struct ldtap_buffer error_json;
    ldtap_buffer_init(&error_json);
    ldtap_json_append_string(&error_json, stats.last_error, strlen(stats.last_error));
    printf("{\"enqueued\":%llu,\"exported\":%llu,\"dropped_queue_full\":%llu,\"dropped_after_retries\":%llu,"
           "\"failed_requests\":%llu,\"retried_requests\":%llu,\"last_error\":%.*s}\n",
           (unsigned long long)stats.enqueued_spans, (unsigned long long)stats.exported_spans,
           (unsigned long long)stats.dropped_queue_full, (unsigned long long)stats.dropped_after_retries,
           (unsigned long long)stats.failed_requests, (unsigned long long)stats.retried_requests,
           (int)error_json.length, (const char *)error_json.data);
    ldtap_buffer_free(&error_json);
    return 0;
}
