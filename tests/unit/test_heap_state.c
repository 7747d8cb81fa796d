/* Criterion tests for the collector's per-process heap state (collector/heap_state.c) in a
 * long-running collector: processes that exited are forgotten once reported, so memory
 * stays bounded however many short-lived processes come and go; without eviction (`ldtap
 * run`) they are kept for the exit summary; a process still referred to by the drain, or
 * not yet looked at by the leak tracker, is never freed. Leak suspects reach the log sink
 * when due, with their process's resource. */
#include <criterion/criterion.h>
#include <string.h>

#include "decode_log.h"
#include "heap_state.h"
#include "ldtap_ring_abi.h"
#include "resource.h"

/* Far above any pid_max: /proc/<pid> never exists for these. */
#define FIRST_PID 50000000
#define SNAPSHOT_NS 1000000ull /* snapshot_interval_ms = 1 */

static uint64_t now_ns = 1000000000ull;

static void tick(struct ldtap_heap *heap) {
    now_ns += 2 * SNAPSHOT_NS;
    ldtap_heap_tick(heap, now_ns);
}

static struct ldtap_heap *new_heap(bool evict) {
    struct ldtap_heap_options options = {.snapshot_interval_ms = 1, .quiet = true};
    struct ldtap_heap *heap = ldtap_heap_new(&options);
    cr_assert_not_null(heap);
    ldtap_heap_set_evict_exited(heap, evict);
    return heap;
}

/* One stack and `samples` live sampled blocks of 64 KiB at it, as the shim sends them. */
static void feed(struct ldtap_heap *heap, struct ldtap_heap_process *process, uint64_t first_address,
                 int samples) {
    struct {
        struct ldtap_heap_stack_record record;
        uint64_t pcs[3];
    } stack = {{.stack_id = 77, .frame_count = 3}, {0x401000, 0x402000, 0x403000}};
    cr_assert(ldtap_heap_handle_record(heap, process, LDTAP_RECORD_HEAP_STACK, (const uint8_t *)&stack,
                                       sizeof stack));
    for (int i = 0; i < samples; i++) {
        struct ldtap_heap_sample_record sample = {
            .address = first_address + (uint64_t)i * 65536,
            .size = 65536,
            .weight_bytes = 524288,
            .stack_id = 77,
            .function = LDTAP_HEAP_MALLOC,
        };
        cr_assert(ldtap_heap_handle_record(heap, process, LDTAP_RECORD_HEAP_SAMPLE, (const uint8_t *)&sample,
                                           sizeof sample));
    }
}

/* `count` processes live through a few snapshots (leaking), then exit and are retired by
 * the drain, one after another, as under a collector that sees many short-lived programs. */
static void run_processes(struct ldtap_heap *heap, int first, int count) {
    for (int n = first; n < first + count; n++) {
        struct ldtap_heap_process *process =
            ldtap_heap_attach(heap, FIRST_PID + n, FIRST_PID - 1, (uint64_t)n + 1, "short-lived");
        cr_assert_not_null(process);
        for (int round = 0; round < 4; round++) {
            feed(heap, process, 0x10000000ull + (uint64_t)round * 0x1000000, 8);
            tick(heap);
        }
        ldtap_heap_process_exited(heap, process);
        ldtap_heap_detach(heap, process);
    }
}

Test(heap_state, exited_processes_are_forgotten_in_a_daemon) {
    struct ldtap_heap *heap = new_heap(true);
    run_processes(heap, 0, 200);
    /* The last one exited after the last snapshot: it goes at the next. */
    cr_assert_leq(ldtap_heap_process_count(heap), 1, "%zu processes held", ldtap_heap_process_count(heap));
    tick(heap);
    cr_assert_eq(ldtap_heap_process_count(heap), 0);
    /* A pid seen again is a new process with a fresh state. */
    run_processes(heap, 0, 3);
    tick(heap);
    cr_assert_eq(ldtap_heap_process_count(heap), 0);
    ldtap_heap_free(heap);
}

Test(heap_state, run_keeps_every_process_for_the_summary) {
    struct ldtap_heap *heap = new_heap(false);
    run_processes(heap, 0, 20);
    tick(heap);
    cr_assert_eq(ldtap_heap_process_count(heap), 20);
    ldtap_heap_free(heap);
}

Test(heap_state, only_gone_detached_and_looked_at_processes_go) {
    struct ldtap_heap *heap = new_heap(true);
    struct ldtap_heap_process *live = ldtap_heap_attach(heap, FIRST_PID + 1, 1, 1, "live");
    struct ldtap_heap_process *held = ldtap_heap_attach(heap, FIRST_PID + 2, 1, 2, "held by the drain");
    struct ldtap_heap_process *done = ldtap_heap_attach(heap, FIRST_PID + 3, 1, 3, "done");
    struct ldtap_heap_process *empty = ldtap_heap_attach(heap, FIRST_PID + 4, 1, 4, "no samples");
    cr_assert(live && held && done && empty);
    feed(heap, live, 0x20000000, 4);
    feed(heap, held, 0x30000000, 4);
    feed(heap, done, 0x40000000, 4);
    tick(heap);
    cr_assert_eq(ldtap_heap_process_count(heap), 4);

    ldtap_heap_process_exited(heap, held); /* gone, but its ring is not retired yet */
    ldtap_heap_process_exited(heap, done);
    ldtap_heap_detach(heap, done);
    ldtap_heap_process_exited(heap, empty); /* nothing for the leak tracker: no need to wait */
    ldtap_heap_detach(heap, empty);
    ldtap_heap_detach(heap, live); /* retired while alive (collector stopping): not gone */
    tick(heap);
    cr_assert_eq(ldtap_heap_process_count(heap), 2, "live and held remain");
    /* The drain may still use the held process's state. */
    ldtap_heap_set_sample_interval(held, 4096);
    cr_assert_not_null(ldtap_heap_process_symbols(held));
    ldtap_heap_detach(heap, held);
    tick(heap);
    cr_assert_eq(ldtap_heap_process_count(heap), 1);
    ldtap_heap_free(heap);
}

struct sunk {
    struct ldtap_log_entry entries[4];
    size_t count;
};

static void sink(void *context, struct ldtap_log_entry *entry) {
    struct sunk *sunk = context;
    cr_assert_lt(sunk->count, 4, "more records than due");
    sunk->entries[sunk->count++] = *entry;
}

static int64_t int_attribute(const struct ldtap_log_entry *entry, const char *key) {
    const struct ldtap_attribute *attribute = ldtap_log_entry_find(entry, key);
    cr_assert_not_null(attribute, "no %s", key);
    return attribute->int_value;
}

Test(heap_state, leak_suspects_reach_the_log_sink_when_due) {
    struct ldtap_heap *heap = new_heap(true);
    static struct sunk sunk;
    ldtap_heap_set_log_sink(heap, sink, &sunk);
    struct ldtap_ring_header header = {.pid = FIRST_PID + 7};
    struct ldtap_resource *resource = ldtap_resource_build(
        &header, &(struct ldtap_resource_defaults){.service_name = "leaky-test", .host_name = "h"});
    cr_assert_not_null(resource);
    struct ldtap_heap_process *process = ldtap_heap_attach(heap, FIRST_PID + 7, 1, 7, "leaky-test");
    ldtap_heap_set_resource(process, resource);
    ldtap_resource_release(resource); /* the heap holds its own reference */
    /* 4 MiB more at each snapshot: judged after 3 intervals (12 MiB of growth), reported
     * again when the growth doubled (24 MiB), quiet in between. */
    for (int round = 0; round < 8; round++) {
        feed(heap, process, 0x50000000ull + (uint64_t)round * 0x1000000, 8);
        tick(heap);
        cr_assert_eq(sunk.count,
                     round < 3   ? 0u
                     : round < 6 ? 1u
                                 : 2u,
                     "after snapshot %d: %zu", round, sunk.count);
    }
    for (size_t i = 0; i < sunk.count; i++) {
        const struct ldtap_log_entry *entry = &sunk.entries[i];
        cr_assert_eq(entry->resource, resource, "its process's resource");
        cr_assert_str_eq(entry->event_name, "ldtap.heap.leak_suspect");
        cr_assert_eq(entry->severity_number, 13);
        cr_assert_eq(int_attribute(entry, "process.pid"), FIRST_PID + 7);
        cr_assert_eq(int_attribute(entry, "ldtap.heap.leak_rank"), 1);
        cr_assert_eq(int_attribute(entry, "ldtap.heap.growth_bytes"),
                     (int64_t)(i == 0 ? 12 : 24) * 1024 * 1024);
    }
    cr_assert_str_eq(ldtap_resource_service_name(sunk.entries[0].resource), "leaky-test");
    ldtap_heap_process_exited(heap, process);
    ldtap_heap_detach(heap, process);
    tick(heap);
    tick(heap);
    cr_assert_eq(ldtap_heap_process_count(heap), 0);
    cr_assert_eq(sunk.count, 2, "its exit is no new suspect");
    ldtap_heap_free(heap);
}
