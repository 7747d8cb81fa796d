/* A small set-associative cache from raw statement text to its description: the decoder
 * asks it before sanitising, which is most of what a database span costs the collector. */
#include "statement_cache.h"

#include <stdlib.h>
#include <string.h>

#define WAYS 4

/* One remembered statement. Its bytes live in one allocation, reused when the entry is
 * replaced by a statement that fits: the raw text, then the description's text, operation
 * and collection, each of the last three NUL-terminated. */
struct entry {
    uint64_t hash; /* 0: empty */
    uint64_t last_used;
    uint32_t kind;
    bool cut;
    size_t raw_length;
    size_t text_length;
    size_t operation_length;
    size_t collection_length;
    size_t capacity;
    char *bytes;
};

struct ldtap_statement_cache {
    size_t set_mask;
    uint64_t clock;        /* ticks on every use: the least recently used entry has the smallest stamp */
    struct entry *entries; /* (set_mask + 1) * WAYS */
};

struct ldtap_statement_cache *ldtap_statement_cache_new(size_t set_count) {
    if (set_count == 0 || (set_count & (set_count - 1)) != 0) {
        return NULL;
    }
    struct ldtap_statement_cache *cache = calloc(1, sizeof *cache);
    if (!cache) {
        return NULL;
    }
    cache->set_mask = set_count - 1;
    cache->entries = calloc(set_count * WAYS, sizeof *cache->entries);
    if (!cache->entries) {
        free(cache);
        return NULL;
    }
    return cache;
}

void ldtap_statement_cache_free(struct ldtap_statement_cache *cache) {
    if (!cache) {
        return;
    }
    for (size_t i = 0; i < (cache->set_mask + 1) * WAYS; i++) {
        free(cache->entries[i].bytes);
    }
    free(cache->entries);
    free(cache);
}

/* Eight bytes at a time: a byte-wise hash would cost as much as a few keyword compares of
 * the sanitiser it saves, on statements of hundreds of bytes. Never 0 (empty entries). */
static uint64_t hash_statement(uint32_t kind, const char *raw, size_t length) {
    uint64_t hash = 0x9e3779b97f4a7c15ull ^ ((uint64_t)kind << 32) ^ length;
    size_t at = 0;
    for (; at + sizeof(uint64_t) <= length; at += sizeof(uint64_t)) {
        uint64_t word;
        memcpy(&word, raw + at, sizeof word);
        hash = (hash ^ word) * 0xff51afd7ed558ccdull;
        hash ^= hash >> 32;
    }
    uint64_t tail = 0;
    if (length > at) {
        memcpy(&tail, raw + at, length - at);
    }
    hash = (hash ^ tail) * 0xc4ceb9fe1a85ec53ull;
    hash ^= hash >> 29;
    return hash | 1;
}

static struct entry *set_of(struct ldtap_statement_cache *cache, uint64_t hash) {
    /* High bits: the low ones went through fewer multiplications. */
    return &cache->entries[((size_t)(hash >> 40) & cache->set_mask) * WAYS];
}

static bool matches(const struct entry *entry, uint64_t hash, uint32_t kind, const char *raw, size_t length) {
    return entry->hash == hash && entry->kind == kind && entry->raw_length == length &&
           memcmp(entry->bytes, raw, length) == 0;
}

bool ldtap_statement_cache_find(struct ldtap_statement_cache *cache, uint32_t kind, const char *raw,
                                size_t raw_length, struct ldtap_statement_description *description) {
    uint64_t hash = hash_statement(kind, raw, raw_length);
    struct entry *set = set_of(cache, hash);
    for (size_t way = 0; way < WAYS; way++) {
        struct entry *entry = &set[way];
        if (!matches(entry, hash, kind, raw, raw_length)) {
            continue;
        }
        entry->last_used = ++cache->clock;
        const char *text = entry->bytes + entry->raw_length;
        const char *operation = text + entry->text_length + 1;
        const char *collection = operation + entry->operation_length + 1;
        memcpy(description->text, text, entry->text_length + 1);
        description->length = entry->text_length;
        memcpy(description->operation, operation, entry->operation_length + 1);
        memcpy(description->collection, collection, entry->collection_length + 1);
        description->cut = entry->cut;
        return true;
    }
    return false;
}

/* The entry already holding the statement, an empty one, else the one used longest ago. */
static struct entry *victim(struct entry *set, uint64_t hash, uint32_t kind, const char *raw, size_t length) {
    for (size_t way = 0; way < WAYS; way++) {
        if (matches(&set[way], hash, kind, raw, length)) {
            return &set[way];
        }
    }
    struct entry *oldest = &set[0];
    for (size_t way = 0; way < WAYS; way++) {
        if (set[way].hash == 0) {
            return &set[way];
        }
        if (set[way].last_used < oldest->last_used) {
            oldest = &set[way];
        }
    }
    return oldest;
}

void ldtap_statement_cache_store(struct ldtap_statement_cache *cache, uint32_t kind, const char *raw,
                                 size_t raw_length, const struct ldtap_statement_description *description) {
    uint64_t hash = hash_statement(kind, raw, raw_length);
    struct entry *entry = victim(set_of(cache, hash), hash, kind, raw, raw_length);
    size_t operation_length = strnlen(description->operation, sizeof description->operation - 1);
    size_t collection_length = strnlen(description->collection, sizeof description->collection - 1);
    size_t needed = raw_length + description->length + operation_length + collection_length + 3;
    entry->hash = 0; /* empty until it holds the new statement whole */
    if (entry->capacity < needed) {
        char *bytes = realloc(entry->bytes, needed);
        if (!bytes) {
            return;
        }
        entry->bytes = bytes;
        entry->capacity = needed;
    }
    char *text = entry->bytes + raw_length;
    char *operation = text + description->length + 1;
    char *collection = operation + operation_length + 1;
    memcpy(entry->bytes, raw, raw_length);
    memcpy(text, description->text, description->length);
    text[description->length] = '\0';
    memcpy(operation, description->operation, operation_length);
    operation[operation_length] = '\0';
    memcpy(collection, description->collection, collection_length);
    collection[collection_length] = '\0';
    entry->kind = kind;
    entry->cut = description->cut;
    entry->raw_length = raw_length;
    entry->text_length = description->length;
    entry->operation_length = operation_length;
    entry->collection_length = collection_length;
    entry->last_used = ++cache->clock;
    entry->hash = hash;
}
