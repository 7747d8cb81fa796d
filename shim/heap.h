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
 * One thread's heap state. The hooks touch the first three fields only; everything else
 * happens in ldtap_heap_after_budget / ldtap_heap_after_free_budget, entered when a
 * countdown runs out. The allocation budget counts *requested* bytes down to
 * min(next fold, next sample); the free countdown counts frees down to the next fold.
 * Both are unsigned and spent when an amount reaches or passes them (a borrow), so a new
 * thread, whose fields are zero, takes its slow path at once, and a request too large for
 * any budget always does. The bytes allocated and the frees since the last fold are what
 * the countdowns consumed since they were armed: the hot paths keep no totals of their
 * own. Live bytes are not counted per call at all: they come from the allocator's own
 * statistics at fold time (heap_statistics.c).
 */
struct ldtap_heap_thread {
    uint64_t allocation_budget; /* hot: requested bytes until the slow path */
    uint64_t allocations;       /* hot: allocation calls since the last fold */
    uint64_t free_countdown;    /* hot: frees until the next fold */
    uint64_t armed_allocation;  /* allocation_budget as last armed */
    uint64_t armed_free;        /* free_countdown as last armed */
    int64_t sample_remaining;   /* bytes to the next sample, not yet in the budget */
};

extern LDTAP_INTERNAL LDTAP_THREAD_LOCAL struct ldtap_heap_thread ldtap_heap_thread;

/*
 * Marked addresses: sampled blocks (their free must write HEAP_FREE) and blocks of the
 * bootstrap arena (their free must not reach the allocator). Direct-mapped by a
 * multiplicative hash; slot 0 is never used. A block that cannot be marked because its
 * slot is taken is not sampled (its sample moves to a later allocation).
 *
 * free()'s filter has one byte per slot, nonzero ("open") when no marked block hashes
 * there and blocks may be freed on the fast path at all. ldtap_heap_free_filter points at
 * an all-closed table (every free takes the slow path, which checks everything) until the
 * originals are resolved; it then points at the live table, opened at every slot without
 * a mark. Slot 0, where NULL hashes, stays closed, so free(NULL) needs no test of its own.
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
    return block != NULL && __atomic_load_n(&ldtap_heap_marks[ldtap_heap_mark_slot(block)],
                                            __ATOMIC_ACQUIRE) == (uintptr_t)block;
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

/* Opens free()'s fast path once the originals are resolved: every slot but those of
 * marked blocks, which are all in the bootstrap arena [arena, arena + used) at that point
 * (sampling needs resolved originals). */
void ldtap_heap_open_fast_free(const unsigned char *arena, size_t used);

/* Called for a marked, non-arena block about to be freed or moved: unmarks it and writes
 * HEAP_FREE. Must run before the block goes back to the allocator (ABI ordering). */
void ldtap_heap_forget_sample(const void *block);

/* Slow paths of the hooks' countdowns, entered with the call counted and its amount
 * taken (`function`: enum ldtap_heap_function). ldtap_heap_after_budget returns `block`
 * (NULL: the allocation failed, and is uncounted). */
void *ldtap_heap_after_budget(void *block, size_t size, unsigned function);
void ldtap_heap_after_free_budget(void);

/* hot: takes `amount` from `*countdown`; true when that reached or passed zero (the
 * amount was at least what was left). On x86-64 one subtract on memory and a branch on
 * its flags: written as C, the compiler loads, compares, subtracts and stores, three
 * instructions more per hook (measured with callgrind, scripts/bench_heap.sh). */
static inline bool ldtap_heap_countdown_spent(uint64_t *countdown, uint64_t amount) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
    bool spent;
    __asm__("subq %2, %0" : "+m"(*countdown), "=@ccbe"(spent) : "er"(amount));
    return spent;
#else
    bool spent = amount >= *countdown;
    *countdown -= amount;
    return spent;
#endif
}

/* hot: an allocation of `size` requested bytes is about to be made; true when the caller
 * must make it through ldtap_heap_after_budget. Counted before the block exists, so that
 * malloc() can end in a jump to the allocator: a failed request below the budget is
 * counted all the same (larger ones are settled in the slow path). */
static inline bool ldtap_heap_allocation_spent(size_t size) {
    struct ldtap_heap_thread *thread = &ldtap_heap_thread;
    thread->allocations++;
    return LDTAP_UNLIKELY(ldtap_heap_countdown_spent(&thread->allocation_budget, size));
}

/* hot: a block is being released; true when the caller must call
 * ldtap_heap_after_free_budget (kept out of here so that free() can stay frameless). */
static inline bool ldtap_heap_free_spent(void) {
    return LDTAP_UNLIKELY(ldtap_heap_countdown_spent(&ldtap_heap_thread.free_countdown, 1));
}

/* True for a block of the bootstrap arena (hooks/malloc.c). */
bool ldtap_heap_is_bootstrap_block(const void *block);

/* Adds to the header's anon_mmap_bytes / anon_mmap_untracked (anon_maps.c). */
void ldtap_heap_add_mapped(int64_t bytes, uint64_t untracked);

/* Anonymous private mappings: the program mapped, unmapped or moved them (anon_maps.c). */
void ldtap_heap_note_mapping(void *address, size_t length);
void ldtap_heap_note_unmapping(void *address, size_t length);
void ldtap_heap_note_remapping(void *old_address, size_t old_length, void *new_address, size_t new_length);

/* The live heap as the next allocator itself counts it (glibc's mallinfo2, jemalloc's
 * stats.allocated, tcmalloc's generic.current_allocated_bytes), chosen once the originals
 * are resolved (`glibc`: the next malloc is glibc's; `allocator_ahead`: another allocator
 * comes before the shim). Reads nothing until chosen, and nothing for an allocator it
 * does not know (heap_statistics.c). */
void ldtap_heap_statistics_choose(bool glibc, bool allocator_ahead);
/* The allocator's live bytes; false when it cannot tell. */
bool ldtap_heap_statistics_live_bytes(int64_t *live_bytes);

/* From the constructor: reads LDTAP_HEAP_SAMPLE_BYTES, loads the unwinder, registers the
 * fork and exit handlers. Heap recording stays off if it is not called or fails. */
void ldtap_heap_start(void);

#endif
