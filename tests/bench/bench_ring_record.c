/* Micro-benchmark of the ring's hot path for callgrind: N realistic HTTP span records
 * ("commit"), N drops ("drop") or N calls to an empty function ("loop", the harness's own
 * cost). Per record: (Ir(N2) - Ir(N1)) / (N2 - N1), minus the same for "loop". */
#include "../../shim/ring/ring_writer.c"
#include "../../shim/ring/decimal.c"

#include <stdio.h>
#include <stdlib.h>

#define BENCH_DATA_SIZE (4u * 1024u * 1024u)
/* Consume (tail = head) this often: well under the ring's capacity at ~384 bytes a record. */
#define BENCH_CONSUME_EVERY 4096u

/* A typical allow-listed request head and response head, 250 bytes together. */
static const char request_head[] = "GET /api/v1/orders/12345/items HTTP/1.1\r\n"
                                   "host: shop.internal:8000\r\n"
                                   "user-agent: python-requests/2.31.0\r\n"
                                   "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n";
static const char response_head[] = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                    "content-length: 1043\r\n";

/* Called through a volatile pointer so the compiler cannot inline or hoist the write:
 * callgrind can then also attribute cost to ldtap_ring_write itself. */
typedef int write_function(struct ldtap_ring_writer *, uint32_t, const struct ldtap_ring_part *, int);
static write_function *volatile write_record = ldtap_ring_write;

static __attribute__((noinline)) int write_nothing(struct ldtap_ring_writer *writer, uint32_t type,
                                                   const struct ldtap_ring_part *parts, int part_count) {
    (void)writer, (void)type, (void)parts, (void)part_count;
    __asm__ volatile("" ::: "memory");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s RECORDS [commit|drop|loop]\n", argv[0]);
        return 2;
    }
    unsigned long record_count = strtoul(argv[1], NULL, 10);
    const char *mode = argc > 2 ? argv[2] : "commit";
    bool drop_mode = strcmp(mode, "drop") == 0;
    if (strcmp(mode, "commit") != 0 && !drop_mode && strcmp(mode, "loop") != 0) {
        fprintf(stderr, "mode must be commit, drop or loop\n");
        return 2;
    }

    char root[] = "/dev/shm/ldtap-bench-XXXXXX";
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    char directory[64], path[128];
    snprintf(directory, sizeof directory, "%s/rings", root);
    struct ldtap_ring_identity identity = {.pid = getpid(), .parent_pid = getppid(), .start_time_ns = 1,
                                           .executable_name = "bench_ring_record"};
    struct ldtap_ring_writer writer;
    int result = ldtap_ring_create(&writer, directory, &identity, BENCH_DATA_SIZE, path, sizeof path);
    if (result != 0) {
        fprintf(stderr, "ldtap_ring_create: %s\n", strerror(-result));
        return 1;
    }

    struct ldtap_http_span_record span = {0};
    memset(span.span.trace_id, 0x4b, sizeof span.span.trace_id);
    span.span.kind = LDTAP_SPAN_KIND_SERVER;
    span.endpoints.family = 2;
    span.endpoints.local_port = 8000;
    span.status_code = 200;
    span.request_head_length = sizeof request_head - 1;
    span.response_head_length = sizeof response_head - 1;
    struct ldtap_ring_part parts[3] = {
        {&span, sizeof span},
        {request_head, sizeof request_head - 1},
        {response_head, sizeof response_head - 1},
    };

    if (drop_mode) /* fill the ring so every measured write takes the drop path */
        while (write_record(&writer, LDTAP_RECORD_HTTP_SPAN, parts, 3) == 0) {}

    if (strcmp(mode, "loop") == 0) write_record = write_nothing;
    unsigned long failures = 0;
    for (unsigned long i = 0; i < record_count; i++) {
        span.span.start_time_ns = i;
        if (write_record(&writer, LDTAP_RECORD_HTTP_SPAN, parts, 3) != 0) failures++;
        if (!drop_mode && i % BENCH_CONSUME_EVERY == BENCH_CONSUME_EVERY - 1)
            __atomic_store_n(&writer.header->tail, writer.header->head, __ATOMIC_RELEASE);
    }

    struct ldtap_ring_header *header = writer.header;
    printf("record bytes %zu, records %lu, committed %llu, dropped full %llu, failed %lu\n",
           (size_t)((LDTAP_RECORD_HEADER_BYTES + sizeof span + sizeof request_head - 1 + sizeof response_head - 1 + 7) &
                    ~7u),
           record_count, (unsigned long long)header->committed_records,
           (unsigned long long)header->dropped_ring_full, failures);
    ldtap_ring_forget(&writer);
    unlink(path);
    rmdir(directory);
    rmdir(root);
    return 0;
}
