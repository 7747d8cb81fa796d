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
 * budget reaches zero. Both budgets count *chunk bytes* down (glibc's chunk size, or
 * another allocator's usable size + 8: a block's usable bytes plus one size word), the
 * allocation budget to min(next fold, next sample), the free budget to the next fold;
 * the bytes allocated or freed since the last fold are what the budget consumed, and the
 * fold turns them into usable bytes by taking 8 per block off (so the hot path keeps no
 * byte totals of its own, and takes a chunk's size as it finds it). A thread starts with
 * both at zero, so its first call takes the slow path, which arms them. (Fields are
 * ordered so that the compiler does not merge the two counts of one hook into a vector
 * add, which costs more instructions than it saves.)
 */
struct ldtap_heap_thread {
    int64_t allocation_budget; /* hot: chunk bytes until the slow path */
    uint64_t frees;            /* hot: since the last fold */
    int64_t free_budget;       /* hot: chunk bytes freed until the next fold */
    uint64_t allocations;      /* hot: since the last fold */
    int64_t armed_allocation;  /* allocation_budget as last armed */
    int64_t armed_free;        /* free_budget as last armed */
    int64_t sample_remaining;  /* bytes to the next sample, not yet in the budget */
};

extern LDTAP_INTERNAL LDTAP_THREAD_LOCAL struct ldtap_heap_thread ldtap_heap_thread;

/* The size word glibc keeps below each block, counted with it in chunk bytes. */
#define LDTAP_HEAP_CHUNK_OVERHEAD 8u

/*
 * Blocks the hooks may read a glibc chunk header for: every address above this floor.
 * UINTPTR_MAX until the originals are resolved and whenever the next allocator is not
 * glibc's (every block then takes the slow path, which asks malloc_usable_size); 0 once
 * glibc's malloc is known to be next (only NULL is refused). One compare does both checks.
 */
extern LDTAP_INTERNAL uintptr_t ldtap_heap_chunk_floor;

/*
 * Marked addresses: sampled blocks (their free must write HEAP_FREE) and blocks of the
 * bootstrap arena (their free must not reach the allocator). Direct-mapped by a
 * multiplicative hash; slot 0 is never used. A block that cannot be marked because its
 * slot is taken is not sampled (its sample moves to a later allocation).
 *
 * free()'s filter has one byte per slot, nonzero ("open") when no marked block hashes
 * there and blocks may be freed on the fast path at all. ldtap_heap_free_filter points at
 * an all-closed table (every free takes the slow path, which checks everything) until the
 * originals are resolved, and for good when the next allocator is not glibc's; for glibc
 * it then points at the live table, opened at every slot without a mark. Slot 0, where
 * NULL hashes, stays closed, so free(NULL) needs no test of its own.
 */
#define LDTAP_HEAP_MARK_BITS 16u
extern LDTAP_INTERNAL uintptr_t ldtap_heap_marks[1u << LDTAP_HEAP_MARK_BITS];
extern LDTAP_INTERNAL const uint8_t *ldtap_heap_free_filter;

/* Fibonacci hashing of the address's low 32 bits: one 32-bit imul and a shift (a 64-bit
 * multiplier would need a register of its own, and one that fits an immediate leaves
 * neighbouring blocks in one slot). Blocks 4 GiB apart share a slot: merely slower. */
static inline size_t ldtap_heap_mark_slot(const void *block) {
    return (uint32_t)((uint32_t)(uintptr_t)block * 0x9e3779b9u) >> (32u - LDTAP_HEAP_MARK_BITS);
}

/* True when `block` is marked (never for NULL). */
static inline bool ldtap_heap_is_marked(const void *block) {
    return block != NULL &&
           __atomic_load_n(&ldtap_heap_marks[ldtap_heap_mark_slot(block)], __ATOMIC_ACQUIRE) == (uintptr_t)block;
}

/* hot: false when free() must take its slow path for `block`. Plain reads, so that the
 * byte is compared in memory: the pointer changes once (published with release after the
 * table is ready), a byte is never torn, and a slot's opening and closing are ordered
 * through the marks table, not through this read. */
static inline bool ldtap_heap_may_free_fast(const void *block) {
    return ldtap_heap_free_filter[ldtap_heap_mark_slot(block)] != 0;
}

/* Marks `block` (slot must be free and not 0); false when it is not. */
bool ldtap_heap_mark(const void *block);

/* Opens free()'s fast path for glibc chunks, once the originals are resolved and glibc's
 * malloc is next: every slot but those of marked blocks, which are all in the bootstrap
 * arena [arena, arena + used) at that point (sampling needs resolved originals). */
void ldtap_heap_open_fast_free(const unsigned char *arena, size_t used);

/* Called for a marked, non-arena block about to be freed or moved: unmarks it and writes
 * HEAP_FREE. Must run before the block goes back to the allocator (ABI ordering). */
void ldtap_heap_forget_sample(const void *block);

/* Slow paths of the hooks' budgets, entered with the block counted and its `bytes`
 * (chunk bytes) taken from the budget (`function`: enum ldtap_heap_function).
 * ldtap_heap_after_budget returns `block`. */
void *ldtap_heap_after_budget(void *block, size_t size, size_t bytes, unsigned function);
void ldtap_heap_after_free_budget(void);

/* hot: takes `bytes` from `*budget`; true when that left it at or below zero. On x86-64
 * one subtract on memory and a branch on its flags: written as C ("subtract, then test
 * the result"), the compiler loads, subtracts, stores and tests, three instructions more
 * per hook (measured with callgrind, scripts/bench_heap.sh). */
static inline bool ldtap_heap_budget_spent(int64_t *budget, int64_t bytes) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
    bool spent;
    __asm__("subq %2, %0" : "+m"(*budget), "=@ccle"(spent) : "r"(bytes));
    return spent;
#else
    return (*budget -= bytes) <= 0;
#endif
}

/* hot: a block of `bytes` chunk bytes (`size` requested) was returned to the program;
 * returns `block`. */
static inline void *ldtap_heap_note_allocation(void *block, size_t size, size_t bytes, unsigned function) {
    struct ldtap_heap_thread *thread = &ldtap_heap_thread;
    thread->allocations++;
    if (LDTAP_UNLIKELY(ldtap_heap_budget_spent(&thread->allocation_budget, (int64_t)bytes)))
        return ldtap_heap_after_budget(block, size, bytes, function);
    return block;
}

/* hot: a block of `bytes` chunk bytes is being released; true when the caller must call
 * ldtap_heap_after_free_budget (kept out of here so that free() can stay frameless). */
static inline bool ldtap_heap_note_free(size_t bytes) {
    struct ldtap_heap_thread *thread = &ldtap_heap_thread;
    thread->frees++;
    return LDTAP_UNLIKELY(ldtap_heap_budget_spent(&thread->free_budget, (int64_t)bytes));
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
