/* One process's sampled heap: the live sampled blocks keyed by address (HEAP_SAMPLE adds,
 * HEAP_FREE removes) and, per allocation stack, unbiased estimates of live and cumulative
 * bytes and objects (each sample stands for weight_bytes / size blocks of its size). */
#ifndef LDTAP_HEAP_PROFILE_H
#define LDTAP_HEAP_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "u64_map.h"

/* Frames kept per stack (the shim sends at most LDTAP_STACK_MAX_FRAMES = 64). */
#define LDTAP_HEAP_MAX_DEPTH 128u

/* One allocation site: a distinct stack. Estimates are in bytes and objects of the whole
 * program, not of the samples. */
struct ldtap_heap_site {
    uint64_t stack_id;
    uint64_t *pcs;         /* innermost first, return addresses; NULL until the stack arrives */
    uint32_t depth;
    uint32_t stack_flags;  /* enum ldtap_stack_flag */
    uint64_t live_bytes;   /* sum of weight_bytes of live samples */
    double live_objects;
    uint64_t alloc_bytes;  /* the same, over every sample ever taken */
    double alloc_objects;
    uint64_t live_samples; /* sampled blocks still live (not scaled) */
};

struct ldtap_heap_profile_stats {
    uint64_t samples, frees, unknown_frees, replaced_samples, stacks;
};

struct ldtap_heap_profile {
    struct ldtap_heap_site *sites;
    size_t site_count, site_capacity;
    struct ldtap_u64_map site_by_stack; /* stack id -> index in sites */
    struct ldtap_u64_map live;          /* address -> index in blocks */
    struct ldtap_heap_live_block *blocks;
    size_t block_count, block_capacity;
    size_t free_block; /* head of the free list of blocks, SIZE_MAX: none */
    struct ldtap_heap_profile_stats stats;
};

void ldtap_heap_profile_init(struct ldtap_heap_profile *profile);
void ldtap_heap_profile_release(struct ldtap_heap_profile *profile);

/* A HEAP_STACK: `depth` pcs, innermost first. A stack sent again keeps its first copy.
 * False when out of memory. */
bool ldtap_heap_profile_add_stack(struct ldtap_heap_profile *profile, uint64_t stack_id, const uint64_t *pcs,
                                  uint32_t depth, uint32_t flags);
/* A HEAP_SAMPLE. A stack id never seen gets a site without frames; an address already
 * live (its free was dropped) is replaced. False when out of memory. */
bool ldtap_heap_profile_sample(struct ldtap_heap_profile *profile, uint64_t address, uint64_t size,
                               uint64_t weight_bytes, uint64_t stack_id);
/* A HEAP_FREE. Returns false (and counts it) for an address that is not a live sample:
 * frees of blocks sampled before a fork, or whose sample record was dropped. */
bool ldtap_heap_profile_free(struct ldtap_heap_profile *profile, uint64_t address);

/* The site of a stack id, or NULL. */
const struct ldtap_heap_site *ldtap_heap_profile_site(const struct ldtap_heap_profile *profile, uint64_t stack_id);
/* Estimated live bytes over all sites. */
uint64_t ldtap_heap_profile_live_bytes(const struct ldtap_heap_profile *profile);

#endif
