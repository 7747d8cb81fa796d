/* Heap accounting shared by the allocation hooks (hooks/malloc.c) and the heap profiler
 * (heap.c): per-thread counters, the byte budget that leads to folding and sampling, and
 * the table of marked addresses that free() checks. */
#ifndef LDTAP_HEAP_H
#define LDTAP_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim.h"

/*
 * One thread's heap state. The hooks touch the first four fields only; everything else
 * happens in ldtap_heap_after_budget / ldtap_heap_after_free_budget, entered when a
 * budget reaches zero. Both budgets count usable bytes down: the allocation budget to
 * min(next fold, next sample), the free budget to the next fold; the bytes allocated or
 * freed since the last fold are what the budget consumed, so the hot path keeps no byte
 * totals of its own. A thread starts with both at zero, so its first call takes the slow
 * path, which arms them. (Fields are ordered so that the compiler does not merge the two
 * counts of one hook into a vector add, which costs more instructions than it saves.)
 */
struct ldtap_heap_thread {
    int64_t allocation_budget; /* hot: usable bytes until the slow path */
    uint64_t frees;            /* hot: since the last fold */
    int64_t free_budget;       /* hot: usable bytes freed until the next fold */
    uint64_t allocations;      /* hot: since the last fold */
    int64_t armed_allocation;  /* allocation_budget as last armed */
    int64_t armed_free;        /* free_budget as last armed */
    int64_t sample_remaining;  /* bytes to the next sample, not yet in the budget */
};

extern LDTAP_INTERNAL LDTAP_THREAD_LOCAL struct ldtap_heap_thread ldtap_heap_thread;

/*
 * Marked addresses: sampled blocks (their free must write HEAP_FREE) and blocks of the
 * bootstrap arena (their free must not reach the allocator). Direct-mapped by a
 * multiplicative hash; slot 0 is never used, so free(NULL) also lands on the slow path
 * (NULL hashes to slot 0, which holds 0). A block that cannot be marked because its
 * slot is taken is not sampled (its sample moves to a later allocation).
 */
#define LDTAP_HEAP_MARK_BITS 16u
extern LDTAP_INTERNAL uintptr_t ldtap_heap_marks[1u << LDTAP_HEAP_MARK_BITS];

static inline size_t ldtap_heap_mark_slot(const void *block) {
    return (size_t)(((uintptr_t)block * 0x9e3779b97f4a7c15ull) >> (64u - LDTAP_HEAP_MARK_BITS));
}

/* hot: true for NULL and marked blocks: the caller then takes its slow path. */
static inline bool ldtap_heap_is_marked(const void *block) {
    return __atomic_load_n(&ldtap_heap_marks[ldtap_heap_mark_slot(block)], __ATOMIC_RELAXED) ==
           (uintptr_t)block;
}

/* Marks `block` (slot must be free and not 0); false when it is not. */
bool ldtap_heap_mark(const void *block);

/* Called for a marked, non-arena block about to be freed or moved: unmarks it and writes
 * HEAP_FREE. Must run before the block goes back to the allocator (ABI ordering). */
void ldtap_heap_forget_sample(const void *block);

/* Slow paths of the hooks' budgets (`function`: enum ldtap_heap_function). */
void ldtap_heap_after_budget(void *block, size_t size, size_t usable, unsigned function);
void ldtap_heap_after_free_budget(void);

/* hot: a block of `usable` bytes (`size` requested) was returned to the program. */
static inline void ldtap_heap_note_allocation(void *block, size_t size, size_t usable,
                                              unsigned function) {
    ldtap_heap_thread.allocations++;
    if (LDTAP_UNLIKELY((ldtap_heap_thread.allocation_budget -= (int64_t)usable) <= 0))
        ldtap_heap_after_budget(block, size, usable, function);
}

/* hot: a block of `usable` bytes is being released. */
static inline void ldtap_heap_note_free(size_t usable) {
    ldtap_heap_thread.frees++;
    if (LDTAP_UNLIKELY((ldtap_heap_thread.free_budget -= (int64_t)usable) <= 0))
        ldtap_heap_after_free_budget();
}

/* True for a block of the bootstrap arena (hooks/malloc.c). */
bool ldtap_heap_is_bootstrap_block(const void *block);

/* Adds to the header's anon_mmap_bytes / anon_mmap_untracked (anon_maps.c). */
void ldtap_heap_add_mapped(int64_t bytes, uint64_t untracked);

/* Anonymous private mappings: the program mapped, unmapped or moved them (anon_maps.c). */
void ldtap_heap_note_mapping(void *address, size_t length);
void ldtap_heap_note_unmapping(void *address, size_t length);
void ldtap_heap_note_remapping(void *old_address, size_t old_length, void *new_address,
                               size_t new_length);

/* From the constructor: reads LDTAP_HEAP_SAMPLE_BYTES, loads the unwinder, registers the
 * fork and exit handlers. Heap recording stays off if it is not called or fails. */
void ldtap_heap_start(void);

#endif
