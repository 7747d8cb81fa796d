/* Decoders for the heap-profiling records (MODULE_MAP, HEAP_STACK, HEAP_SAMPLE, HEAP_FREE):
 * the payload bytes come from a hostile ring, so every count and length is checked
 * against the payload before anything is copied out. */
#ifndef LDTAP_HEAP_RECORDS_H
#define LDTAP_HEAP_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldtap_ring_abi.h"

struct ldtap_module_map {
    struct ldtap_module_map_record record;
    struct ldtap_module_segment segments[LDTAP_MODULE_MAX_SEGMENTS];
    char path[LDTAP_MODULE_PATH_MAX + 1]; /* NUL-terminated; a NUL inside the path is refused */
};

struct ldtap_heap_stack {
    struct ldtap_heap_stack_record record;
    uint64_t pcs[LDTAP_STACK_MAX_FRAMES];
};

bool ldtap_decode_module_map(const uint8_t *payload, size_t length, struct ldtap_module_map *out);
bool ldtap_decode_heap_stack(const uint8_t *payload, size_t length, struct ldtap_heap_stack *out);
bool ldtap_decode_heap_sample(const uint8_t *payload, size_t length, struct ldtap_heap_sample_record *out);
bool ldtap_decode_heap_free(const uint8_t *payload, size_t length, struct ldtap_heap_free_record *out);

#endif
