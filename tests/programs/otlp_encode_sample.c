/* Writes a known request (two resources; a server span with a client child, every
 * attribute type, awkward strings) as OTLP protobuf and OTLP/JSON for decode.js to
 * check; with --bench N it reports encode throughput instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buffer.h"
#include "otlp_json.h"
#include "otlp_protobuf.h"
#include "span.h"

static void fill_ids(uint8_t *bytes, size_t length, uint8_t first) {
    for (size_t i = 0; i < length; i++) {
        bytes[i] = (uint8_t)(first + i);
    }
}

static struct ldtap_resource *make_resource(const char *service, int64_t pid) {
    struct ldtap_resource *resource = ldtap_resource_new();
    if (!resource) {
        abort();
    }
    ldtap_resource_add_string(resource, "service.name", service, strlen(service));
    ldtap_resource_add_int(resource, "process.pid", pid);
    ldtap_resource_add_string(resource, "host.name", "box-1", 5);
    ldtap_resource_add_string(resource, "telemetry.sdk.name", "ldtap", 5);
    ldtap_resource_add_string(resource, "deployment.environment.name", "café ☕", strlen("café ☕"));
    return resource;
}

static void make_spans(struct ldtap_span spans[3], struct ldtap_resource *shop, struct ldtap_resource *worker) {
    static const char awkward[] = "quote\" backslash\\ newline\n tab\t bell\x07 bad\xff\xfe end";
    memset(spans, 0, 3 * sizeof spans[0]);

    struct ldtap_span *server = &spans[0];
    fill_ids(server->trace_id, 16, 0x01);
    fill_ids(server->span_id, 8, 0xa1);
    server->start_time_ns = 1700000000123456789ull;
    server->end_time_ns = 1700000000148456789ull;
    server->kind = 2;
    server->status_code = LDTAP_STATUS_ERROR;
    server->trace_flags = 1;
    snprintf(server->name, sizeof server->name, "GET /items/{id}");
    server->resource = shop;
    ldtap_span_add_string(server, "http.request.method", "GET", 3);
    ldtap_span_add_int(server, "http.response.status_code", 500);
    ldtap_span_add_int(server, "test.negative", -42);
    ldtap_span_add_int(server, "test.big", 9007199254740993ll);
    ldtap_span_add_double(server, "test.ratio", 0.125);
    ldtap_span_add_bool(server, "test.flag", true);
    ldtap_span_add_string(server, "test.awkward", awkward, sizeof awkward - 1);
    ldtap_span_add_string(server, "test.empty", "", 0);

    struct ldtap_span *client = &spans[2];
    memcpy(client->trace_id, server->trace_id, 16);
    fill_ids(client->span_id, 8, 0xb1);
    memcpy(client->parent_span_id, server->span_id, 8);
    client->start_time_ns = 1700000000130000000ull;
    client->end_time_ns = 1700000000140000001ull;
    client->kind = 3;
    client->status_code = LDTAP_STATUS_UNSET;
    client->trace_flags = 1;
    snprintf(client->name, sizeof client->name, "SELECT shop.items");
    client->resource = shop;
    ldtap_span_add_string(client, "db.system.name", "postgresql", 10);
    ldtap_span_add_string(client, "db.query.text", "SELECT * FROM items WHERE id = ?", 32);
    ldtap_span_add_int(client, "server.port", 5432);
    ldtap_span_add_int(client, "test.zero", 0);
    ldtap_span_add_double(client, "test.tiny", 3.5e-7);
    ldtap_span_add_bool(client, "test.flag", false);

    /* Between the two shop spans, so grouping by resource is exercised. */
    struct ldtap_span *job = &spans[1];
    fill_ids(job->trace_id, 16, 0xf0);
    fill_ids(job->span_id, 8, 0xc1);
    job->start_time_ns = 1;
    job->end_time_ns = 18446744073709551615ull;
    job->kind = 1;
    job->status_code = LDTAP_STATUS_OK;
    snprintf(job->name, sizeof job->name, "job");
    job->resource = worker;
}

static int write_file(const char *path, const struct ldtap_buffer *buffer) {
    FILE *file = fopen(path, "wb");
    if (!file || fwrite(buffer->data, 1, buffer->length, file) != buffer->length || fclose(file) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

static double seconds_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Encodes batches of 512 realistic spans (one resource) again and again into one buffer. */
static int bench(long total) {
    enum { BATCH = 512 };
    static struct ldtap_span spans[BATCH];
    static const struct ldtap_span *pointers[BATCH];
    struct ldtap_resource *resource = make_resource("bench", 1);
    struct ldtap_span templates[3];
    make_spans(templates, resource, resource);
    for (int i = 0; i < BATCH; i++) {
        spans[i] = templates[i % 2 == 0 ? 0 : 2];
        spans[i].span_id[0] = (uint8_t)i;
        pointers[i] = &spans[i];
    }
    struct ldtap_buffer buffer;
    ldtap_buffer_init(&buffer);
    for (int format = 0; format < 2; format++) {
        double started = seconds_now();
        size_t bytes = 0;
        for (long done = 0; done < total; done += BATCH) {
            ldtap_buffer_reset(&buffer);
            if (format == 0) {
                ldtap_otlp_protobuf_encode(&buffer, pointers, BATCH);
            } else {
                ldtap_otlp_json_encode(&buffer, pointers, BATCH);
            }
            bytes += buffer.length;
        }
        double elapsed = seconds_now() - started;
        printf("%s: %.0f spans/s, %.0f MB/s, %zu bytes per %d-span batch\n", format ? "json" : "protobuf",
               (double)total / elapsed, (double)bytes / elapsed / 1e6, buffer.length, BATCH);
    }
    ldtap_buffer_free(&buffer);
    ldtap_resource_release(resource);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--bench") == 0) {
        return bench(atol(argv[2]));
    }
    if (argc != 3) {
        fprintf(stderr, "usage: %s OUT.pb OUT.json | --bench SPANS\n", argv[0]);
        return 2;
    }
    struct ldtap_resource *shop = make_resource("shop", 4242);
    struct ldtap_resource *worker = make_resource("worker", 4343);
    struct ldtap_span spans[3];
    make_spans(spans, shop, worker);
    const struct ldtap_span *pointers[3] = {&spans[0], &spans[1], &spans[2]};
    struct ldtap_buffer buffer;
    ldtap_buffer_init(&buffer);
    int failed = !ldtap_otlp_protobuf_encode(&buffer, pointers, 3) || write_file(argv[1], &buffer);
    ldtap_buffer_reset(&buffer);
    failed |= !ldtap_otlp_json_encode(&buffer, pointers, 3) || write_file(argv[2], &buffer);
    ldtap_buffer_free(&buffer);
    ldtap_resource_release(shop);
    ldtap_resource_release(worker);
    return failed;
}
