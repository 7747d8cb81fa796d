/* Throwaway ring inspector for the shim's tests: prints a ring's identity and counters and
 * each HTTP or database span record (kind, ids, status, sizes, heads), one line per span,
 * and heap records (module maps, stacks, samples, frees) and counters.
 * Usage: ring_dump FILE... (built by tests/e2e/shim_basics.sh, not by CMake). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ldtap_ring.h"

static void print_hex(const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length; i++)
        printf("%02x", bytes[i]);
}

/* Heads are CRLF-separated lines: print them on one line with " | " between. */
static void print_head(const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length; i++) {
        if (bytes[i] == '\r')
            continue;
        if (bytes[i] == '\n')
            fputs(i + 1 < length ? " | " : "", stdout);
        else
            putchar(bytes[i] >= 0x20 && bytes[i] < 0x7f ? bytes[i] : '?');
    }
}

static void print_span(const struct ldtap_ring_record *record) {
    struct ldtap_http_span_record span;
    if (record->payload_length < sizeof(span)) {
        printf("short record\n");
        return;
    }
    memcpy(&span, record->payload, sizeof(span));
    size_t heads = (size_t)span.request_head_length + span.response_head_length;
    if (record->payload_length < sizeof(span) + heads) {
        printf("bad head lengths\n");
        return;
    }
    printf("span kind=%s trace=", span.span.kind == LDTAP_SPAN_KIND_SERVER ? "server" : "client");
    print_hex(span.span.trace_id, 16);
    printf(" id=");
    print_hex(span.span.span_id, 8);
    printf(" parent=");
    print_hex(span.span.parent_span_id, 8);
    printf(" flags=%u status=%u duration_us=%llu tid=%u req_body=%llu resp_body=%llu peer_port=%u local_port=%u",
           span.span.flags, span.status_code,
           (unsigned long long)((span.span.end_time_ns - span.span.start_time_ns) / 1000),
           span.span.thread_id, (unsigned long long)span.request_body_bytes,
           (unsigned long long)span.response_body_bytes, span.endpoints.peer_port,
           span.endpoints.local_port);
    printf(" request=[");
    print_head(record->payload + sizeof(span), span.request_head_length);
    printf("] response=[");
    print_head(record->payload + sizeof(span) + span.request_head_length, span.response_head_length);
    printf("]\n");
}

static const char *db_system_name(uint16_t system) {
    static const char *const names[] = {"?", "sqlite", "postgresql", "mysql", "mariadb", "redis"};
    return system < sizeof(names) / sizeof(names[0]) ? names[system] : "?";
}

/* One line: ids, outcome, endpoints, then namespace and statement in brackets. */
static void print_db_span(const struct ldtap_ring_record *record) {
    struct ldtap_db_span_record span;
    if (record->payload_length < sizeof(span)) {
        printf("short record\n");
        return;
    }
    memcpy(&span, record->payload, sizeof(span));
    if (record->payload_length < sizeof(span) + span.statement_length + span.namespace_length) {
        printf("bad db lengths\n");
        return;
    }
    printf("db system=%s source=%u trace=", db_system_name(span.system), span.source);
    print_hex(span.span.trace_id, 16);
    printf(" id=");
    print_hex(span.span.span_id, 8);
    printf(" parent=");
    print_hex(span.span.parent_span_id, 8);
    printf(" span_flags=%u flags=%u rows=%lld error=%u sqlstate=%.8s full_length=%u peer_port=%u "
           "duration_us=%llu namespace=[",
           span.span.flags, span.flags, (long long)span.rows, span.error_code, span.status_code,
           span.statement_full_length, span.endpoints.peer_port,
           (unsigned long long)((span.span.end_time_ns - span.span.start_time_ns) / 1000));
    print_head(record->payload + sizeof(span) + span.statement_length, span.namespace_length);
    printf("] statement=[");
    print_head(record->payload + sizeof(span), span.statement_length);
    printf("]\n");
}

/* One line: signal, where, who, the request, then the program counters. */
static void print_crash(const struct ldtap_ring_record *record) {
    struct ldtap_crash_record crash;
    if (record->payload_length < sizeof(crash)) {
        printf("short record\n");
        return;
    }
    memcpy(&crash, record->payload, sizeof(crash));
    if (record->payload_length < sizeof(crash) + crash.frame_count * 8u + crash.stack_bytes_length) {
        printf("bad crash lengths\n");
        return;
    }
    printf("crash signal=%d code=%d sender=%d addr=0x%llx pc=0x%llx tid=%u thread=%.16s flags=%u trace=",
           crash.signal, crash.signal_code, crash.sender_pid, (unsigned long long)crash.fault_address,
           (unsigned long long)crash.instruction_pointer, crash.thread_id, crash.thread_name, crash.flags);
    print_hex(crash.trace_id, 16);
    printf(" id=");
    print_hex(crash.span_id, 8);
    printf(" frames=%u pcs=", crash.frame_count);
    for (unsigned i = 0; i < crash.frame_count; i++) {
        uint64_t pc;
        memcpy(&pc, record->payload + sizeof(crash) + i * 8u, 8);
        printf("%s0x%llx", i ? "," : "", (unsigned long long)pc);
    }
    printf("\n");
}

/* One line: stream, kind, ids, then the text with newlines shown as " | ". */
static void print_log(const struct ldtap_ring_record *record) {
    struct ldtap_log_record log;
    if (record->payload_length < sizeof(log)) {
        printf("short record\n");
        return;
    }
    memcpy(&log, record->payload, sizeof(log));
    if (record->payload_length < sizeof(log) + log.text_length + log.path_length) {
        printf("bad log lengths\n");
        return;
    }
    printf("log stream=%u kind=%s fd=%d tid=%u flags=%u full_length=%u trace=", log.stream,
           log.kind == LDTAP_LOG_KIND_TRACEBACK ? "traceback" : "line", log.fd, log.thread_id, log.flags,
           log.text_full_length);
    print_hex(log.trace_id, 16);
    printf(" id=");
    print_hex(log.span_id, 8);
    printf(" path=[%.*s] text=[", (int)log.path_length, (const char *)record->payload + sizeof(log) + log.text_length);
    print_head(record->payload + sizeof(log), log.text_length);
    printf("]\n");
}

/* Heap records (types 3-6), one line each: "module", "stack", "sample", "free". */
static void print_heap(const struct ldtap_ring_record *record) {
    const uint8_t *payload = record->payload;
    if (record->type == LDTAP_RECORD_MODULE_MAP && record->payload_length >= sizeof(struct ldtap_module_map_record)) {
        struct ldtap_module_map_record module;
        memcpy(&module, payload, sizeof module);
        size_t path_at = sizeof module + module.segment_count * sizeof(struct ldtap_module_segment) + module.build_id_length;
        if (path_at + module.path_length > record->payload_length) {
            printf("bad module lengths\n");
            return;
        }
        printf("module generation=%u index=%u/%u bias=0x%llx segments=%u build_id=%u flags=%u path=%.*s\n",
               module.generation, module.module_index, module.module_count, (unsigned long long)module.load_bias,
               module.segment_count, module.build_id_length, module.flags, (int)module.path_length,
               (const char *)payload + path_at);
    } else if (record->type == LDTAP_RECORD_HEAP_STACK && record->payload_length >= sizeof(struct ldtap_heap_stack_record)) {
        struct ldtap_heap_stack_record stack;
        memcpy(&stack, payload, sizeof stack);
        if (sizeof stack + stack.frame_count * 8u > record->payload_length) {
            printf("bad stack lengths\n");
            return;
        }
        printf("stack id=%llx frames=%u flags=%u pcs=", (unsigned long long)stack.stack_id, stack.frame_count, stack.flags);
        for (unsigned i = 0; i < stack.frame_count; i++) {
            uint64_t pc;
            memcpy(&pc, payload + sizeof stack + i * 8u, 8);
            printf("%s0x%llx", i ? "," : "", (unsigned long long)pc);
        }
        printf("\n");
    } else if (record->type == LDTAP_RECORD_HEAP_SAMPLE && record->payload_length >= sizeof(struct ldtap_heap_sample_record)) {
        struct ldtap_heap_sample_record sample;
        memcpy(&sample, payload, sizeof sample);
        printf("sample address=0x%llx size=%llu weight=%llu stack=%llx tid=%u function=%u\n",
               (unsigned long long)sample.address, (unsigned long long)sample.size,
               (unsigned long long)sample.weight_bytes, (unsigned long long)sample.stack_id, sample.thread_id,
               sample.function);
    } else if (record->type == LDTAP_RECORD_HEAP_FREE && record->payload_length >= sizeof(struct ldtap_heap_free_record)) {
        struct ldtap_heap_free_record freed;
        memcpy(&freed, payload, sizeof freed);
        printf("free address=0x%llx tid=%u\n", (unsigned long long)freed.address, freed.thread_id);
    } else {
        printf("short heap record\n");
    }
}

int main(int argc, char **argv) {
    static struct ldtap_ring_record record;
    int status = 0;
    for (int i = 1; i < argc; i++) {
        struct ldtap_ring_reader reader;
        char error[256] = "";
        if (ldtap_ring_reader_open(&reader, argv[i], error, sizeof(error)) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], error);
            status = 1;
            continue;
        }
        const struct ldtap_ring_header *header = reader.header;
        printf("ring pid=%d ppid=%d exe=%s service=%s cmdline=%s\n", header->pid, header->parent_pid,
               header->executable_name, header->service_name, header->command_line);
        for (;;) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            enum ldtap_ring_read_status read_status = ldtap_ring_reader_next(
                &reader, &record, false, (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec);
            if (read_status == LDTAP_RING_READ_EMPTY)
                break;
            if (read_status == LDTAP_RING_READ_CORRUPT) {
                printf("corrupt\n");
                status = 1;
                break;
            }
            if (read_status == LDTAP_RING_READ_RECORD && record.type == LDTAP_RECORD_HTTP_SPAN)
                print_span(&record);
            else if (read_status == LDTAP_RING_READ_RECORD && record.type == LDTAP_RECORD_DB_SPAN)
                print_db_span(&record);
            else if (read_status == LDTAP_RING_READ_RECORD && record.type == LDTAP_RECORD_CRASH)
                print_crash(&record);
            else if (read_status == LDTAP_RING_READ_RECORD && record.type == LDTAP_RECORD_LOG)
                print_log(&record);
            else if (read_status == LDTAP_RING_READ_RECORD && record.type >= LDTAP_RECORD_MODULE_MAP &&
                     record.type <= LDTAP_RECORD_HEAP_FREE)
                print_heap(&record);
        }
        printf("counters committed=%llu dropped_full=%llu shim_errors=%llu unparented_async=%llu "
               "abandoned=%llu in_flight=%lld dropped_log_lines=%llu suppressed_crashes=%llu\n",
               (unsigned long long)header->committed_records, (unsigned long long)header->dropped_ring_full,
               (unsigned long long)header->shim_errors, (unsigned long long)header->unparented_async_spans,
               (unsigned long long)header->abandoned_connections, (long long)header->in_flight_requests,
               (unsigned long long)header->dropped_log_lines, (unsigned long long)header->suppressed_crashes);
        printf("heap live=%lld allocations=%llu frees=%llu allocated=%llu anon_mmap=%lld anon_untracked=%llu "
               "interval=%llu samples=%llu deferred=%llu stack_resets=%llu\n",
               (long long)header->heap_live_bytes, (unsigned long long)header->heap_allocations,
               (unsigned long long)header->heap_frees, (unsigned long long)header->heap_allocated_bytes,
               (long long)header->anon_mmap_bytes, (unsigned long long)header->anon_mmap_untracked,
               (unsigned long long)header->heap_sample_interval, (unsigned long long)header->heap_samples,
               (unsigned long long)header->heap_samples_deferred, (unsigned long long)header->heap_stack_table_resets);
        ldtap_ring_reader_close(&reader);
    }
    return status;
}
