/* libFuzzer harness for the heap-profiling path: collector/heap_records.c decoders and the
 * heap state they feed (collector/heap.c, heap_profile.c, symbolize.c), with record
 * sequences the fuzzer chooses, then a leak summary, a pprof encoding and a flame graph. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "flamegraph.h"
#include "fuzz_payload.h"
#include "heap_state.h"
#include "heap_profile.h"
#include "heap_records.h"
#include "ldtap_ring_abi.h"
#include "pprof.h"

/* Each record: 1 byte type (3..6 after % 4 + 3), 2 bytes length, then the payload in an
 * exact-size block so ASan catches any read past it. */
static void feed(struct ldtap_heap *heap, struct ldtap_heap_process *process, const uint8_t *data, size_t size) {
    while (size >= 3) {
        uint32_t type = (uint32_t)(data[0] % 4u) + LDTAP_RECORD_MODULE_MAP;
        uint32_t length = (uint32_t)data[1] | (uint32_t)data[2] << 8;
        data += 3;
        size -= 3;
        length = length < size ? length : (uint32_t)size;
        uint8_t *payload = malloc(length ? length : 1);
        memcpy(payload, data, length);
        ldtap_heap_handle_record(heap, process, type, payload, length);
        free(payload);
        data += length;
        size -= length;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1u << 16) {
        return 0;
    }
    /* The decoders on their own, on the whole input. */
    static struct ldtap_module_map map;
    static struct ldtap_heap_stack stack;
    struct ldtap_heap_sample_record sample;
    struct ldtap_heap_free_record free_record;
    if (ldtap_decode_module_map(data, size, &map) && strlen(map.path) != map.record.path_length) {
        abort();
    }
    if (ldtap_decode_heap_stack(data, size, &stack) &&
        (stack.record.frame_count == 0 || stack.record.frame_count > LDTAP_STACK_MAX_FRAMES)) {
        abort();
    }
    bool has_sample = ldtap_decode_heap_sample(data, size, &sample);
    ldtap_decode_heap_free(data, size, &free_record);

    /* The encoders on what decoded, without symbols (addresses and odd numbers only). */
    struct ldtap_heap_profile profile;
    ldtap_heap_profile_init(&profile);
    if (stack.record.frame_count && stack.record.frame_count <= LDTAP_STACK_MAX_FRAMES) {
        ldtap_heap_profile_add_stack(&profile, stack.record.stack_id, stack.pcs, stack.record.frame_count, 0);
    }
    if (has_sample) {
        ldtap_heap_profile_sample(&profile, sample.address, sample.size, sample.weight_bytes, sample.stack_id);
    }
    struct ldtap_buffer buffer;
    ldtap_buffer_init(&buffer);
    ldtap_pprof_encode(&profile, NULL, &(struct ldtap_pprof_options){0}, &buffer);
    ldtap_buffer_reset(&buffer);
    ldtap_flamegraph_render(&profile, NULL, (const char *)map.path, &buffer);
    ldtap_buffer_free(&buffer);
    ldtap_heap_profile_release(&profile);

    /* A sequence of records into one process, then everything that reads the state. */
    struct ldtap_heap *heap = ldtap_heap_new(&(struct ldtap_heap_options){.quiet = true});
    struct ldtap_heap_process *process = ldtap_heap_attach(heap, 0x7ffffff0, 1, 1, "fuzz<&>\"");
    ldtap_heap_tick(heap, 1);
    feed(heap, process, data, size);
    ldtap_heap_tick(heap, 5000000000ull);
    feed(heap, process, data, size / 2);
    ldtap_heap_finish(heap);
    FILE *sink = fopen("/dev/null", "w");
    ldtap_heap_print_summary(heap, sink);
    fclose(sink);
    ldtap_heap_free(heap);
    return 0;
}
