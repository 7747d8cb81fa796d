/* Live anonymous private mappings of the program (Python's obmalloc arenas, other
 * allocators' chunks), remembered by start address so that munmap/mremap can subtract
 * exactly what mmap added. Not a hot path: a few mappings per megabyte of heap. */
#include <stdint.h>

#include "heap.h"

/*
 * Lock-free table: a mapping lives in one of PROBES slots after its hash, claimed with a
 * CAS on `start` (0 = empty). Lookups scan the whole probe window rather than stop at an
 * empty slot, so removal needs no tombstones. A mapping is only ever unmapped after mmap
 * returned it, so a slot's `length` is written before anyone can look it up.
 */
#define MAPPING_SLOTS 8192u
#define PROBES 16u

static struct mapping {
    uintptr_t start;
    size_t length;
} mappings[MAPPING_SLOTS];

static size_t first_slot(uintptr_t start) {
    return (size_t)((start >> 12) * 0x9e3779b97f4a7c15ull >> 51) % MAPPING_SLOTS;
}

static void remember(uintptr_t start, size_t length) {
    for (size_t probe = 0, slot = first_slot(start); probe < PROBES; probe++, slot = (slot + 1) % MAPPING_SLOTS) {
        uintptr_t expected = 0;
        if (__atomic_compare_exchange_n(&mappings[slot].start, &expected, start, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            __atomic_store_n(&mappings[slot].length, length, __ATOMIC_RELEASE);
            ldtap_heap_add_mapped((int64_t)length, 0);
            return;
        }
    }
    ldtap_heap_add_mapped(0, 1); /* table full here: not counted at all */
}

/* Removes the mapping starting at `start`; returns its length, 0 if it was not tracked. */
static size_t forget(uintptr_t start) {
    for (size_t probe = 0, slot = first_slot(start); probe < PROBES; probe++, slot = (slot + 1) % MAPPING_SLOTS) {
        if (__atomic_load_n(&mappings[slot].start, __ATOMIC_ACQUIRE) != start)
            continue;
        size_t length = __atomic_load_n(&mappings[slot].length, __ATOMIC_ACQUIRE);
        uintptr_t expected = start;
        if (__atomic_compare_exchange_n(&mappings[slot].start, &expected, 0, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return length;
    }
    return 0;
}

void ldtap_heap_note_mapping(void *address, size_t length) { remember((uintptr_t)address, length); }

/* Whole mappings and cuts at their start are followed (what allocators do); a hole
 * punched elsewhere in a tracked mapping is not, and stays counted until its start goes. */
void ldtap_heap_note_unmapping(void *address, size_t length) {
    size_t tracked = forget((uintptr_t)address);
    if (tracked == 0)
        return;
    ldtap_heap_add_mapped(-(int64_t)tracked, 0);
    if (length < tracked) /* the tail stays mapped */
        remember((uintptr_t)address + length, tracked - length);
}

void ldtap_heap_note_remapping(void *old_address, size_t old_length, void *new_address, size_t new_length) {
    size_t tracked = forget((uintptr_t)old_address);
    if (tracked == 0)
        return;
    (void)old_length; /* the tracked length is the truth: the call may name less */
    ldtap_heap_add_mapped(-(int64_t)tracked, 0);
    remember((uintptr_t)new_address, new_length);
}
