/* Shared by the decoder fuzzers: payloads live in exact-size heap blocks so that ASan
 * reports any read past the length a decoder was given, and decoded spans are checked for
 * what every exporter relies on. */
#ifndef LDTAP_FUZZ_PAYLOAD_H
#define LDTAP_FUZZ_PAYLOAD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "span.h"

/* Replaces `*payload` (of at least `length` bytes) by an exact-size copy of its first
 * `length` bytes. */
static inline void fuzz_shrink_payload(uint8_t **payload, uint32_t length) {
    uint8_t *shorter = malloc(length ? length : 1);
    memcpy(shorter, *payload, length);
    free(*payload);
    *payload = shorter;
}

/* Aborts unless the span has a NUL-terminated, non-empty name, string attributes inside
 * its text buffer and `required_key` and thread.id (all attributes fit by design). */
static inline void fuzz_check_span(const struct ldtap_span *span, const char *required_key) {
    if (memchr(span->name, '\0', sizeof span->name) == NULL || span->name[0] == '\0') {
        abort();
    }
    for (uint16_t i = 0; i < span->attribute_count; i++) {
        const struct ldtap_attribute *attribute = &span->attributes[i];
        if (attribute->type == LDTAP_VALUE_STRING &&
            (size_t)attribute->string_offset + attribute->string_length >= sizeof span->text) {
            abort();
        }
    }
    if (ldtap_span_find(span, required_key) == NULL || ldtap_span_find(span, "thread.id") == NULL) {
        abort();
    }
}

#endif
