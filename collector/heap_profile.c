/* Accounting for one process's sampled heap. Live bytes are kept as integer sums of the
 * shim's weights, so adding and removing a block restores the total exactly. */
#include "heap_profile.h"

#include <stdlib.h>
#include <string.h>

struct ldtap_heap_live_block {
    uint64_t weight_bytes;
    double objects;   /* weight_bytes / size: how many blocks this sample stands for */
    size_t site;      /* index in sites; the next free block while on the free list */
};

void ldtap_heap_profile_init(struct ldtap_heap_profile *profile) {
    memset(profile, 0, sizeof *profile);
    ldtap_u64_map_init(&profile->site_by_stack);
    ldtap_u64_map_init(&profile->live);
    profile->free_block = SIZE_MAX;
}

void ldtap_heap_profile_release(struct ldtap_heap_profile *profile) {
    for (size_t i = 0; i < profile->site_count; i++) {
        free(profile->sites[i].pcs);
    }
    free(profile->sites);
    free(profile->blocks);
    ldtap_u64_map_free(&profile->site_by_stack);
    ldtap_u64_map_free(&profile->live);
    ldtap_heap_profile_init(profile);
}

/* The index of the site for `stack_id`, created empty when new; SIZE_MAX when out of memory. */
static size_t site_index(struct ldtap_heap_profile *profile, uint64_t stack_id) {
    uint64_t index;
    if (ldtap_u64_map_get(&profile->site_by_stack, stack_id, &index)) {
        return (size_t)index;
    }
    if (!ldtap_array_reserve((void **)&profile->sites, profile->site_count, &profile->site_capacity, sizeof *profile->sites) ||
        !ldtap_u64_map_put(&profile->site_by_stack, stack_id, profile->site_count)) {
        return SIZE_MAX;
    }
    profile->sites[profile->site_count] = (struct ldtap_heap_site){.stack_id = stack_id};
    return profile->site_count++;
}

bool ldtap_heap_profile_add_stack(struct ldtap_heap_profile *profile, uint64_t stack_id, const uint64_t *pcs,
                                  uint32_t depth, uint32_t flags) {
    size_t index = site_index(profile, stack_id);
    if (index == SIZE_MAX) {
        return false;
    }
    struct ldtap_heap_site *site = &profile->sites[index];
    if (site->pcs || depth == 0) {
        return true; /* re-sent after a table reset or by a forked child: ids hash the pcs */
    }
    depth = depth < LDTAP_HEAP_MAX_DEPTH ? depth : LDTAP_HEAP_MAX_DEPTH;
    site->pcs = malloc(depth * sizeof *site->pcs);
    if (!site->pcs) {
        return false;
    }
    memcpy(site->pcs, pcs, depth * sizeof *site->pcs);
    site->depth = depth;
    site->stack_flags = flags;
    profile->stats.stacks++;
    return true;
}

static void remove_block(struct ldtap_heap_profile *profile, size_t block_index) {
    struct ldtap_heap_live_block *block = &profile->blocks[block_index];
    struct ldtap_heap_site *site = &profile->sites[block->site];
    site->live_bytes -= block->weight_bytes;
    site->live_objects -= block->objects;
    site->live_samples--;
    if (site->live_samples == 0) {
        site->live_objects = 0; /* no floating-point residue on an empty site */
    }
    block->site = profile->free_block;
    profile->free_block = block_index;
}

bool ldtap_heap_profile_sample(struct ldtap_heap_profile *profile, uint64_t address, uint64_t size,
                               uint64_t weight_bytes, uint64_t stack_id) {
    size_t site = site_index(profile, stack_id);
    if (site == SIZE_MAX) {
        return false;
    }
    uint64_t previous;
    if (ldtap_u64_map_remove(&profile->live, address, &previous)) {
        remove_block(profile, (size_t)previous); /* its free record was lost */
        profile->stats.replaced_samples++;
    }
    size_t block_index = profile->free_block;
    if (block_index == SIZE_MAX) {
        if (!ldtap_array_reserve((void **)&profile->blocks, profile->block_count, &profile->block_capacity,
                       sizeof *profile->blocks)) {
            return false;
        }
        block_index = profile->block_count++;
    } else {
        profile->free_block = profile->blocks[block_index].site;
    }
    if (!ldtap_u64_map_put(&profile->live, address, block_index)) {
        profile->blocks[block_index].site = profile->free_block;
        profile->free_block = block_index;
        return false;
    }
    if (weight_bytes < size) {
        weight_bytes = size; /* a sample never stands for less than itself */
    }
    /* weight = size / p, so weight / size = 1 / p blocks; a zero-byte block counts once. */
    double objects = size ? (double)weight_bytes / (double)size : 1.0;
    profile->blocks[block_index] = (struct ldtap_heap_live_block){weight_bytes, objects, site};
    struct ldtap_heap_site *entry = &profile->sites[site];
    entry->live_bytes += weight_bytes;
    entry->live_objects += objects;
    entry->alloc_bytes += weight_bytes;
    entry->alloc_objects += objects;
    entry->live_samples++;
    profile->stats.samples++;
    return true;
}

bool ldtap_heap_profile_free(struct ldtap_heap_profile *profile, uint64_t address) {
    uint64_t block_index;
    if (!ldtap_u64_map_remove(&profile->live, address, &block_index)) {
        profile->stats.unknown_frees++;
        return false;
    }
    remove_block(profile, (size_t)block_index);
    profile->stats.frees++;
    return true;
}

const struct ldtap_heap_site *ldtap_heap_profile_site(const struct ldtap_heap_profile *profile, uint64_t stack_id) {
    uint64_t index;
    return ldtap_u64_map_get(&profile->site_by_stack, stack_id, &index) ? &profile->sites[index] : NULL;
}

uint64_t ldtap_heap_profile_live_bytes(const struct ldtap_heap_profile *profile) {
    uint64_t total = 0;
    for (size_t i = 0; i < profile->site_count; i++) {
        total += profile->sites[i].live_bytes;
    }
    return total;
}
