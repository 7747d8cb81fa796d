/* Exporter behaviour without the network where possible: file mode, queue-full counting,
 * deadlines against an unreachable URL, and retry/drop decisions against a tiny scripted
 * HTTP server on a thread. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "exporter.h"
#include "span.h"

static void make_span(struct ldtap_span *span, int index) {
    memset(span, 0, sizeof *span);
    span->trace_id[0] = 1;
    span->span_id[7] = (uint8_t)(index + 1);
    span->kind = 2;
    span->start_time_ns = 10;
    span->end_time_ns = 20;
    snprintf(span->name, sizeof span->name, "span-%d", index);
    ldtap_span_add_int(span, "test.index", index);
}

static double now_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static char *temp_path(void) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ldtap-test-exporter-%d.jsonl", (int)getpid());
    unlink(path);
    return path;
}

static size_t count_lines(const char *path, char *content, size_t size) {
    FILE *file = fopen(path, "r");
    cr_assert(file);
    size_t length = fread(content, 1, size - 1, file);
    fclose(file);
    content[length] = '\0';
    size_t lines = 0;
    for (size_t i = 0; i < length; i++) {
        lines += content[i] == '\n';
    }
    cr_assert(length == 0 || content[length - 1] == '\n', "every request ends its line");
    return lines;
}

Test(exporter, file_mode_one_request_per_line) {
    char *path = temp_path();
    struct ldtap_exporter_config config = {.file_path = path, .max_queue_spans = 64, .max_batch_spans = 2,
                                           .schedule_delay_ms = 60000};
    char error[256];
    struct ldtap_exporter *exporter = ldtap_exporter_start(&config, error, sizeof error);
    cr_assert(exporter, "%s", error);
    struct ldtap_resource *resource = ldtap_resource_new();
    ldtap_resource_add_string(resource, "service.name", "file-test", 9);
    struct ldtap_span span;
    for (int i = 0; i < 5; i++) {
        make_span(&span, i);
        span.resource = resource;
        cr_assert(ldtap_exporter_enqueue(exporter, &span));
    }
    ldtap_resource_release(resource);
    struct ldtap_export_stats stats;
    ldtap_exporter_stop(exporter, 5000, &stats);
    cr_assert_eq(stats.enqueued_spans, 5);
    cr_assert_eq(stats.exported_spans, 5);
    cr_assert_eq(stats.dropped_after_retries + stats.dropped_queue_full + stats.failed_requests, 0);
    static char content[65536];
    cr_assert_eq(count_lines(path, content, sizeof content), 3);
    cr_assert(strstr(content, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\""));
    cr_assert(strstr(content, "\"name\":\"span-4\""));
    unlink(path);
}

/* Spans queued in runs of one process's resource share one reference per run; batches of
 * 2 retire runs part-way, handing the reference to the first span left. */
Test(exporter, runs_of_a_resource_hold_one_reference_until_exported) {
    char *path = temp_path();
    struct ldtap_exporter_config config = {.file_path = path, .max_queue_spans = 64, .max_batch_spans = 2,
                                           .schedule_delay_ms = 60000};
    char error[256];
    struct ldtap_exporter *exporter = ldtap_exporter_start(&config, error, sizeof error);
    cr_assert(exporter, "%s", error);
    struct ldtap_resource *first = ldtap_resource_new(), *second = ldtap_resource_new();
    ldtap_resource_add_string(first, "service.name", "first", 5);
    ldtap_resource_add_string(second, "service.name", "second", 6);
    struct ldtap_resource *order[] = {first, first, first, second, second, first, first, second, first};
    struct ldtap_span span;
    for (int i = 0; i < 9; i++) {
        make_span(&span, i);
        span.resource = order[i];
        cr_assert(ldtap_exporter_enqueue(exporter, &span));
    }
    struct ldtap_export_stats stats;
    ldtap_exporter_stop(exporter, 5000, &stats);
    cr_assert_eq(stats.exported_spans, 9);
    cr_assert_eq(__atomic_load_n(&first->reference_count, __ATOMIC_RELAXED), 1, "only the test's own is left");
    cr_assert_eq(__atomic_load_n(&second->reference_count, __ATOMIC_RELAXED), 1);
    static char content[65536];
    cr_assert_eq(count_lines(path, content, sizeof content), 5);
    cr_assert(strstr(content, "\"name\":\"span-8\""));
    ldtap_resource_release(first);
    ldtap_resource_release(second);
    unlink(path);
}

Test(exporter, flush_sends_before_the_schedule) {
    char *path = temp_path();
    struct ldtap_exporter_config config = {.file_path = path, .schedule_delay_ms = 60000};
    char error[256];
    struct ldtap_exporter *exporter = ldtap_exporter_start(&config, error, sizeof error);
    cr_assert(exporter, "%s", error);
    struct ldtap_span span;
    make_span(&span, 0);
    ldtap_exporter_enqueue(exporter, &span);
    double started = now_seconds();
    ldtap_exporter_flush(exporter, 5000);
    cr_assert_lt(now_seconds() - started, 2.0);
    struct ldtap_export_stats stats;
    ldtap_exporter_get_stats(exporter, &stats);
    cr_assert_eq(stats.exported_spans, 1);
    static char content[4096];
    cr_assert_eq(count_lines(path, content, sizeof content), 1);
    ldtap_exporter_stop(exporter, 1000, &stats);
    unlink(path);
}

Test(exporter, unwritable_file_is_an_error_at_start) {
    struct ldtap_exporter_config config = {.file_path = "/nonexistent-ldtap-dir/traces.jsonl"};
    char error[256] = "";
    cr_assert_null(ldtap_exporter_start(&config, error, sizeof error));
    cr_assert(strstr(error, "/nonexistent-ldtap-dir/traces.jsonl"), "%s", error);
}

Test(exporter, bad_header_line_is_an_error_at_start) {
    const char *headers[] = {"no colon here", NULL};
    struct ldtap_exporter_config config = {.traces_url = "http://127.0.0.1:1/v1/traces", .headers = headers};
    char error[256] = "";
    cr_assert_null(ldtap_exporter_start(&config, error, sizeof error));
    cr_assert(strstr(error, "no colon here"), "%s", error);
}

/* Port 1 refuses connections: every attempt fails and is retried, so the batch in flight
 * keeps its queue slots and the count of accepted spans is exact. */
Test(exporter, queue_full_is_counted_and_deadline_drops_the_rest) {
    struct ldtap_exporter_config config = {.traces_url = "http://127.0.0.1:1/v1/traces", .gzip = true,
                                           .timeout_ms = 1000, .max_queue_spans = 4, .max_batch_spans = 2,
                                           .schedule_delay_ms = 10};
    char error[256];
    struct ldtap_exporter *exporter = ldtap_exporter_start(&config, error, sizeof error);
    cr_assert(exporter, "%s", error);
    struct ldtap_span span;
    int accepted = 0;
    for (int i = 0; i < 10; i++) {
        make_span(&span, i);
        accepted += ldtap_exporter_enqueue(exporter, &span);
    }
    cr_assert_eq(accepted, 4);
    double started = now_seconds();
    struct ldtap_export_stats stats;
    ldtap_exporter_stop(exporter, 300, &stats);
    cr_assert_lt(now_seconds() - started, 2.0, "stop honours its deadline");
    cr_assert_eq(stats.enqueued_spans, 4);
    cr_assert_eq(stats.dropped_queue_full, 6);
    cr_assert_eq(stats.exported_spans, 0);
    cr_assert_eq(stats.dropped_after_retries, 4);
    cr_assert_geq(stats.failed_requests, 1);
    cr_assert(stats.last_error[0] != '\0');
}

/* A one-connection-at-a-time HTTP server answering scripted statuses. */
struct scripted_server {
    int listener;
    int port;
    const int *statuses;
    int status_count;
    int requests;
    pthread_t thread;
};

static void read_request(int client) {
    char buffer[65536];
    size_t used = 0;
    long body = -1;
    for (;;) {
        ssize_t got = read(client, buffer + used, sizeof buffer - 1 - used);
        if (got <= 0) {
            return;
        }
        used += (size_t)got;
        buffer[used] = '\0';
        char *end = strstr(buffer, "\r\n\r\n");
        if (end && body < 0) {
            char *length = strcasestr(buffer, "content-length:");
            body = length ? atol(length + 15) : 0;
        }
        if (end && (size_t)(end + 4 - buffer) + (size_t)body <= used) {
            return;
        }
        if (used >= sizeof buffer - 1) {
            used = 0; /* a large body: keep draining, only the count matters */
        }
    }
}

static void *serve(void *argument) {
    struct scripted_server *server = argument;
    for (int i = 0; i < server->status_count; i++) {
        int client = accept(server->listener, NULL, NULL);
        if (client < 0) {
            return NULL;
        }
        read_request(client);
        char response[128];
        int length = snprintf(response, sizeof response,
                              "HTTP/1.1 %d Scripted\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno",
                              server->statuses[i]);
        if (write(client, response, (size_t)length) < 0) {
            perror("write");
        }
        __atomic_add_fetch(&server->requests, 1, __ATOMIC_SEQ_CST);
        close(client);
    }
    return NULL;
}

static void start_server(struct scripted_server *server, const int *statuses, int count) {
    memset(server, 0, sizeof *server);
    server->statuses = statuses;
    server->status_count = count;
    server->listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(server->listener, (struct sockaddr *)&address, sizeof address), 0);
    cr_assert_eq(listen(server->listener, 8), 0);
    socklen_t length = sizeof address;
    getsockname(server->listener, (struct sockaddr *)&address, &length);
    server->port = ntohs(address.sin_port);
    pthread_create(&server->thread, NULL, serve, server);
}

static void run_against(const int *statuses, int count, int spans, struct ldtap_export_stats *stats,
                        int *requests) {
    struct scripted_server server;
    start_server(&server, statuses, count);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", server.port);
    struct ldtap_exporter_config config = {.traces_url = url, .timeout_ms = 2000, .max_batch_spans = 512,
                                           .schedule_delay_ms = 10};
    char error[256];
    struct ldtap_exporter *exporter = ldtap_exporter_start(&config, error, sizeof error);
    cr_assert(exporter, "%s", error);
    struct ldtap_span span;
    for (int i = 0; i < spans; i++) {
        make_span(&span, i);
        ldtap_exporter_enqueue(exporter, &span);
    }
    ldtap_exporter_stop(exporter, 10000, stats);
    shutdown(server.listener, SHUT_RDWR);
    close(server.listener);
    pthread_join(server.thread, NULL);
    *requests = server.requests;
}

Test(exporter, non_retryable_status_drops_the_batch) {
    static const int statuses[] = {400};
    struct ldtap_export_stats stats;
    int requests;
    run_against(statuses, 1, 3, &stats, &requests);
    cr_assert_eq(requests, 1);
    cr_assert_eq(stats.exported_spans, 0);
    cr_assert_eq(stats.dropped_after_retries, 3);
    cr_assert_eq(stats.failed_requests, 1);
    cr_assert_eq(stats.retried_requests, 0);
    cr_assert(strstr(stats.last_error, "HTTP 400"), "%s", stats.last_error);
}

Test(exporter, retryable_status_is_retried_with_backoff) {
    static const int statuses[] = {502, 200};
    struct ldtap_export_stats stats;
    int requests;
    double started = now_seconds();
    run_against(statuses, 2, 3, &stats, &requests);
    double elapsed = now_seconds() - started;
    cr_assert_eq(requests, 2);
    cr_assert_eq(stats.exported_spans, 3);
    cr_assert_eq(stats.dropped_after_retries, 0);
    cr_assert_eq(stats.failed_requests, 1);
    cr_assert_eq(stats.retried_requests, 1);
    cr_assert_geq(elapsed, 0.75, "first backoff is about one second (elapsed %.2f)", elapsed);
    cr_assert_lt(elapsed, 3.0);
}
