/* Linear probing with backward-shift deletion: no tombstones, so a map that sees
 * millions of insert/remove pairs (malloc/free of sampled blocks) never degrades. */
#include "u64_map.h"

#include <stdlib.h>

#define MINIMUM_CAPACITY 16

uint64_t ldtap_u64_mix(uint64_t value) {
    value ^= value >> 30;
    value *= 0xbf58476d1ce4e5b9ull;
    value ^= value >> 27;
    value *= 0x94d049bb133111ebull;
    value ^= value >> 31;
    return value;
}

void ldtap_u64_map_init(struct ldtap_u64_map *map) { *map = (struct ldtap_u64_map){0}; }

void ldtap_u64_map_free(struct ldtap_u64_map *map) {
    free(map->keys);
    free(map->values);
    free(map->used);
    ldtap_u64_map_init(map);
}

static size_t slot_of(const struct ldtap_u64_map *map, uint64_t key) {
    return (size_t)ldtap_u64_mix(key) & (map->capacity - 1);
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t find(const struct ldtap_u64_map *map, uint64_t key) {
    size_t slot = slot_of(map, key);
    while (map->used[slot] && map->keys[slot] != key) {
        slot = (slot + 1) & (map->capacity - 1);
    }
    return slot;
}

static bool grow(struct ldtap_u64_map *map) {
    size_t capacity = map->capacity ? map->capacity * 2 : MINIMUM_CAPACITY;
    struct ldtap_u64_map bigger = {
        .keys = malloc(capacity * sizeof *bigger.keys),
        .values = malloc(capacity * sizeof *bigger.values),
        .used = calloc(capacity, 1),
        .capacity = capacity,
    };
    if (!bigger.keys || !bigger.values || !bigger.used) {
        ldtap_u64_map_free(&bigger);
        return false;
    }
    for (size_t i = 0; i < map->capacity; i++) {
        if (map->used[i]) {
            size_t slot = find(&bigger, map->keys[i]);
            bigger.used[slot] = 1;
            bigger.keys[slot] = map->keys[i];
            bigger.values[slot] = map->values[i];
            bigger.count++;
        }
    }
    ldtap_u64_map_free(map);
    *map = bigger;
    return true;
}

bool ldtap_u64_map_put(struct ldtap_u64_map *map, uint64_t key, uint64_t value) {
    /* Load factor at most 1/2 keeps probe sequences short for linear probing. */
    if ((map->count + 1) * 2 > map->capacity && !grow(map)) {
        return false;
    }
    size_t slot = find(map, key);
    if (!map->used[slot]) {
        map->used[slot] = 1;
        map->keys[slot] = key;
        map->count++;
    }
    map->values[slot] = value;
    return true;
}

bool ldtap_u64_map_get(const struct ldtap_u64_map *map, uint64_t key, uint64_t *value) {
    if (map->count == 0) {
        return false;
    }
    size_t slot = find(map, key);
    if (!map->used[slot]) {
        return false;
    }
    if (value) {
        *value = map->values[slot];
    }
    return true;
}

bool ldtap_u64_map_remove(struct ldtap_u64_map *map, uint64_t key, uint64_t *value) {
    if (map->count == 0) {
        return false;
    }
    size_t mask = map->capacity - 1;
    size_t hole = find(map, key);
    if (!map->used[hole]) {
        return false;
    }
    if (value) {
        *value = map->values[hole];
    }
    /* Shift later members of the probe run back into the hole when their home slot does
     * not lie cyclically in (hole, current]: they would be unreachable past an empty slot. */
    for (size_t current = (hole + 1) & mask; map->used[current]; current = (current + 1) & mask) {
        size_t home = slot_of(map, map->keys[current]);
        bool reachable_without_hole = hole < current ? (home > hole && home <= current)
                                                     : (home > hole || home <= current);
        if (!reachable_without_hole) {
            map->keys[hole] = map->keys[current];
            map->values[hole] = map->values[current];
            hole = current;
        }
    }
    map->used[hole] = 0;
    map->count--;
    return true;
}

bool ldtap_array_reserve(void **array, size_t count, size_t *capacity, size_t element_size) {
    if (count < *capacity) {
        return true;
    }
    size_t grown_capacity = *capacity ? *capacity * 2 : 64;
    void *grown = realloc(*array, grown_capacity * element_size);
    if (!grown) {
        return false;
    }
    *array = grown;
    *capacity = grown_capacity;
    return true;
}
