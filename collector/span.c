/* Attribute storage for decoded spans, their event blocks and process resources: fixed
 * tables and one text buffer per owner, so none needs a heap allocation per attribute. */
#include "span.h"

#include <stdlib.h>
#include <string.h>

static struct ldtap_attribute *reserve_attribute(struct ldtap_attribute *table, uint16_t *count,
                                                 uint16_t capacity, const char *key, uint8_t type) {
    if (*count >= capacity) {
        return NULL;
    }
    struct ldtap_attribute *attribute = &table[(*count)++];
    memset(attribute, 0, sizeof *attribute);
    attribute->key = key;
    attribute->type = type;
    return attribute;
}

/* Copies `length` bytes into `text` (plus a NUL so values can be printed); returns the
 * offset, or -1 when they do not fit. */
static int store_text(char *text, uint16_t *used, size_t capacity, const char *value, size_t length) {
    if (length + 1 > capacity - *used) {
        return -1;
    }
    int offset = *used;
    memcpy(text + offset, value, length);
    text[offset + length] = '\0';
    *used = (uint16_t)(offset + length + 1);
    return offset;
}

bool ldtap_span_add_string(struct ldtap_span *span, const char *key, const char *value, size_t length) {
    if (span->attribute_count >= LDTAP_SPAN_MAX_ATTRIBUTES) {
        return false;
    }
    int offset = store_text(span->text, &span->text_used, sizeof span->text, value, length);
    if (offset < 0) {
        return false;
    }
    struct ldtap_attribute *attribute = reserve_attribute(span->attributes, &span->attribute_count,
                                                          LDTAP_SPAN_MAX_ATTRIBUTES, key, LDTAP_VALUE_STRING);
    attribute->string_offset = (uint16_t)offset;
    attribute->string_length = (uint16_t)length;
    return true;
}

bool ldtap_span_add_int(struct ldtap_span *span, const char *key, int64_t value) {
    struct ldtap_attribute *attribute = reserve_attribute(span->attributes, &span->attribute_count,
                                                          LDTAP_SPAN_MAX_ATTRIBUTES, key, LDTAP_VALUE_INT);
    if (attribute) {
        attribute->int_value = value;
    }
    return attribute != NULL;
}

bool ldtap_span_add_double(struct ldtap_span *span, const char *key, double value) {
    struct ldtap_attribute *attribute = reserve_attribute(span->attributes, &span->attribute_count,
                                                          LDTAP_SPAN_MAX_ATTRIBUTES, key, LDTAP_VALUE_DOUBLE);
    if (attribute) {
        attribute->double_value = value;
    }
    return attribute != NULL;
}

bool ldtap_span_add_bool(struct ldtap_span *span, const char *key, bool value) {
    struct ldtap_attribute *attribute = reserve_attribute(span->attributes, &span->attribute_count,
                                                          LDTAP_SPAN_MAX_ATTRIBUTES, key, LDTAP_VALUE_BOOL);
    if (attribute) {
        attribute->bool_value = value;
    }
    return attribute != NULL;
}

const struct ldtap_attribute *ldtap_span_find(const struct ldtap_span *span, const char *key) {
    /* Keys are literals, and the linker merges equal literals: the pointer test settles
     * most lookups (the summary and metrics make a dozen per span) without a strcmp.
     * strcmp stays for keys that were not merged. */
    for (uint16_t i = 0; i < span->attribute_count; i++) {
        if (span->attributes[i].key == key) {
            return &span->attributes[i];
        }
    }
    for (uint16_t i = 0; i < span->attribute_count; i++) {
        const char *candidate = span->attributes[i].key;
        if (candidate[0] == key[0] && strcmp(candidate, key) == 0) {
            return &span->attributes[i];
        }
    }
    return NULL;
}

/* The index of the key `candidate` has among `keys`, comparing text (for keys that are
 * not the merged literals); `count` when none. Only keys not found yet are compared. */
static size_t matching_text(const char *candidate, const char *const *keys, size_t count,
                            const struct ldtap_attribute **found) {
    for (size_t k = 0; k < count; k++) {
        if (!found[k] && candidate[0] == keys[k][0] && strcmp(candidate, keys[k]) == 0) {
            return k;
        }
    }
    return count;
}

void ldtap_span_find_many(const struct ldtap_span *span, const char *const *keys, size_t count,
                          const struct ldtap_attribute **found) {
    for (size_t k = 0; k < count; k++) {
        found[k] = NULL;
    }
    /* As in ldtap_span_find: pointers first, text only for attributes whose key pointer
     * is none of the wanted ones. The first attribute with a key wins, as there. */
    for (uint16_t i = 0; i < span->attribute_count; i++) {
        const char *candidate = span->attributes[i].key;
        size_t k = 0;
        while (k < count && keys[k] != candidate) {
            k++;
        }
        if (k == count) {
            k = matching_text(candidate, keys, count, found);
        }
        if (k < count && !found[k]) {
            found[k] = &span->attributes[i];
        }
    }
}

const char *ldtap_span_string(const struct ldtap_span *span, const struct ldtap_attribute *attribute) {
    return span->text + attribute->string_offset;
}

/* A resource's key is copied first, then the value for strings. */
static struct ldtap_attribute *resource_attribute(struct ldtap_resource *resource, const char *key,
                                                  uint8_t type) {
    if (resource->attribute_count >= LDTAP_RESOURCE_MAX_ATTRIBUTES) {
        return NULL;
    }
    int key_offset = store_text(resource->text, &resource->text_used, sizeof resource->text, key, strlen(key));
    if (key_offset < 0) {
        return NULL;
    }
    return reserve_attribute(resource->attributes, &resource->attribute_count, LDTAP_RESOURCE_MAX_ATTRIBUTES,
                             resource->text + key_offset, type);
}

bool ldtap_resource_add_string(struct ldtap_resource *resource, const char *key, const char *value,
                               size_t length) {
    uint16_t saved_used = resource->text_used;
    struct ldtap_attribute *attribute = resource_attribute(resource, key, LDTAP_VALUE_STRING);
    int offset = attribute ? store_text(resource->text, &resource->text_used, sizeof resource->text, value, length)
                           : -1;
    if (offset < 0) {
        if (attribute) {
            resource->attribute_count--;
        }
        resource->text_used = saved_used;
        return false;
    }
    attribute->string_offset = (uint16_t)offset;
    attribute->string_length = (uint16_t)length;
    return true;
}

bool ldtap_resource_add_int(struct ldtap_resource *resource, const char *key, int64_t value) {
    struct ldtap_attribute *attribute = resource_attribute(resource, key, LDTAP_VALUE_INT);
    if (attribute) {
        attribute->int_value = value;
    }
    return attribute != NULL;
}

const char *ldtap_resource_string(const struct ldtap_resource *resource, const struct ldtap_attribute *attribute) {
    return resource->text + attribute->string_offset;
}

struct ldtap_resource *ldtap_resource_new(void) {
    struct ldtap_resource *resource = aligned_alloc(_Alignof(struct ldtap_resource), sizeof *resource);
    if (resource) {
        memset(resource, 0, sizeof *resource);
        resource->reference_count = 1;
    }
    return resource;
}

/* Reference counts shared by resources and event blocks. */
static void count_retain(int *reference_count) {
    __atomic_add_fetch(reference_count, 1, __ATOMIC_RELAXED);
}

/* True when the caller dropped the last reference. acq_rel: the last releaser must see
 * every other holder's reads finished. */
static bool count_release(int *reference_count, int count) {
    return __atomic_sub_fetch(reference_count, count, __ATOMIC_ACQ_REL) == 0;
}

void ldtap_resource_retain(struct ldtap_resource *resource) {
    if (resource) {
        count_retain(&resource->reference_count);
    }
}

void ldtap_resource_release(struct ldtap_resource *resource) {
    ldtap_resource_release_many(resource, 1);
}

void ldtap_resource_release_many(struct ldtap_resource *resource, int count) {
    if (resource && count > 0 && count_release(&resource->reference_count, count)) {
        free(resource);
    }
}

struct ldtap_span_events *ldtap_span_events_new(void) {
    struct ldtap_span_events *events = calloc(1, sizeof *events);
    if (events) {
        events->reference_count = 1;
    }
    return events;
}

void ldtap_span_events_retain(struct ldtap_span_events *events) {
    if (events) {
        count_retain(&events->reference_count);
    }
}

void ldtap_span_events_release(struct ldtap_span_events *events) {
    if (events && count_release(&events->reference_count, 1)) {
        free(events);
    }
}

bool ldtap_span_events_add(struct ldtap_span_events *events, const char *name, uint64_t time_ns) {
    if (events->event_count >= LDTAP_SPAN_MAX_EVENTS) {
        return false;
    }
    events->events[events->event_count++] =
        (struct ldtap_span_event){.time_ns = time_ns, .name = name, .first_attribute = events->attribute_count};
    return true;
}

bool ldtap_span_events_add_string(struct ldtap_span_events *events, const char *key, const char *value,
                                  size_t length, size_t min_length) {
    if (events->event_count == 0) {
        return false;
    }
    size_t room = sizeof events->text - events->text_used;
    size_t kept = length;
    if (kept + 1 > room) {
        kept = room > 0 ? room - 1 : 0;
    }
    if (kept < length && kept < min_length) {
        return false;
    }
    if (events->attribute_count >= LDTAP_SPAN_EVENT_MAX_ATTRIBUTES) {
        return false;
    }
    int offset = store_text(events->text, &events->text_used, sizeof events->text, value, kept);
    if (offset < 0) {
        return false;
    }
    struct ldtap_attribute *attribute = reserve_attribute(events->attributes, &events->attribute_count,
                                                          LDTAP_SPAN_EVENT_MAX_ATTRIBUTES, key, LDTAP_VALUE_STRING);
    attribute->string_offset = (uint16_t)offset;
    attribute->string_length = (uint16_t)kept;
    events->events[events->event_count - 1].attribute_count++;
    return true;
}

const char *ldtap_span_events_string(const struct ldtap_span_events *events,
                                     const struct ldtap_attribute *attribute) {
    return events->text + attribute->string_offset;
}
