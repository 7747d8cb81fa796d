/* Small containers for the heap-profile code: an open-addressing hash map from 64-bit keys
 * to 64-bit values (addresses to live samples, pcs to pprof locations, stack ids to sites)
 * with removal, and a doubling array reserve. */
#ifndef LDTAP_U64_MAP_H
#define LDTAP_U64_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ldtap_u64_map {
    uint64_t *keys;
    uint64_t *values;
    uint8_t *used;
    size_t capacity; /* a power of two, or 0 before the first insertion */
    size_t count;
};

void ldtap_u64_map_init(struct ldtap_u64_map *map);
void ldtap_u64_map_free(struct ldtap_u64_map *map);
/* Inserts or replaces; false when memory runs out (the map is unchanged). */
bool ldtap_u64_map_put(struct ldtap_u64_map *map, uint64_t key, uint64_t value);
/* True and `*value` set when `key` is present (`value` may be NULL). */
bool ldtap_u64_map_get(const struct ldtap_u64_map *map, uint64_t key, uint64_t *value);
/* True when `key` was present; its value goes to `*value` if not NULL. */
bool ldtap_u64_map_remove(struct ldtap_u64_map *map, uint64_t key, uint64_t *value);

/* A 64-bit mix (splitmix64's finaliser): spreads addresses that differ only in low or
 * aligned bits across the table. Also used to hash stacks. */
uint64_t ldtap_u64_mix(uint64_t value);

/* Makes room in `*array` (of `element_size` elements, `count` used) for one more by doubling
 * `*capacity`; false when out of memory (the array is unchanged). */
bool ldtap_array_reserve(void **array, size_t count, size_t *capacity, size_t element_size);

#endif
