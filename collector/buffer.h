/* A growable byte buffer for encoders and compressors. Allocation failure is sticky:
 * appends after a failure do nothing and `failed` stays set, so an encoder checks once. */
#ifndef LDTAP_BUFFER_H
#define LDTAP_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ldtap_buffer {
    uint8_t *data;
    size_t length;
    size_t capacity;
    bool failed; /* an allocation failed since the last reset */
};

void ldtap_buffer_init(struct ldtap_buffer *buffer);
/* Empties the buffer but keeps its memory, so batches reuse one allocation. */
void ldtap_buffer_reset(struct ldtap_buffer *buffer);
void ldtap_buffer_free(struct ldtap_buffer *buffer);
/* Makes room for `extra` more bytes; false (and `failed` set) when memory runs out. */
bool ldtap_buffer_reserve(struct ldtap_buffer *buffer, size_t extra);
/* The append that may have to grow the buffer; the inline ones below call it only then. */
void ldtap_buffer_append_growing(struct ldtap_buffer *buffer, const void *bytes, size_t length);

/* Inline: encoders append a dozen pieces per span, most of them literals, whose strlen the
 * compiler then folds away. */
static inline void ldtap_buffer_append(struct ldtap_buffer *buffer, const void *bytes, size_t length) {
    if (length <= buffer->capacity - buffer->length && !buffer->failed) {
        if (length > 0) {
            memcpy(buffer->data + buffer->length, bytes, length);
            buffer->length += length;
        }
        return;
    }
    ldtap_buffer_append_growing(buffer, bytes, length);
}

static inline void ldtap_buffer_append_byte(struct ldtap_buffer *buffer, uint8_t byte) {
    if (buffer->length < buffer->capacity && !buffer->failed) {
        buffer->data[buffer->length++] = byte;
        return;
    }
    ldtap_buffer_append_growing(buffer, &byte, 1);
}

/* Counts `length` more bytes as written and returns where they go: the caller fills all
 * of them. NULL, with nothing counted, when memory runs out. Lets an encoder write a few
 * pieces it has measured with one room check instead of one per piece. */
static inline uint8_t *ldtap_buffer_extend(struct ldtap_buffer *buffer, size_t length) {
    if ((length > buffer->capacity - buffer->length || buffer->failed) && !ldtap_buffer_reserve(buffer, length)) {
        return NULL;
    }
    uint8_t *at = buffer->data + buffer->length;
    buffer->length += length;
    return at;
}

/* Appends a NUL-terminated string without its NUL. */
static inline void ldtap_buffer_append_cstring(struct ldtap_buffer *buffer, const char *text) {
    ldtap_buffer_append(buffer, text, strlen(text));
}
/* Decimal text of an integer, as %llu / %lld would write it. */
void ldtap_buffer_append_u64(struct ldtap_buffer *buffer, uint64_t value);
void ldtap_buffer_append_i64(struct ldtap_buffer *buffer, int64_t value);
/* printf into the buffer, for a few numbers or a short name at a time: output past 255
 * bytes is cut. */
void ldtap_buffer_append_format(struct ldtap_buffer *buffer, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
