/* Growable byte buffer: geometric growth keeps appends amortised O(1); memory is kept
 * across resets because the exporter encodes batch after batch into the same buffer. */
#include "buffer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"

#define BUFFER_INITIAL_CAPACITY 4096

void ldtap_buffer_init(struct ldtap_buffer *buffer) {
    memset(buffer, 0, sizeof *buffer);
}

void ldtap_buffer_reset(struct ldtap_buffer *buffer) {
    buffer->length = 0;
    buffer->failed = false;
}

void ldtap_buffer_free(struct ldtap_buffer *buffer) {
    free(buffer->data);
    ldtap_buffer_init(buffer);
}

bool ldtap_buffer_reserve(struct ldtap_buffer *buffer, size_t extra) {
    if (buffer->failed) {
        return false;
    }
    if (extra <= buffer->capacity - buffer->length) {
        return true;
    }
    if (extra > SIZE_MAX / 2 - buffer->length) {
        buffer->failed = true;
        return false;
    }
    size_t needed = buffer->length + extra;
    size_t capacity = buffer->capacity ? buffer->capacity : BUFFER_INITIAL_CAPACITY;
    while (capacity < needed) {
        capacity *= 2;
    }
    uint8_t *data = realloc(buffer->data, capacity);
    if (!data) {
        buffer->failed = true;
        return false;
    }
    buffer->data = data;
    buffer->capacity = capacity;
    return true;
}

void ldtap_buffer_append_growing(struct ldtap_buffer *buffer, const void *bytes, size_t length) {
    if (length == 0 || !ldtap_buffer_reserve(buffer, length)) {
        return;
    }
    memcpy(buffer->data + buffer->length, bytes, length);
    buffer->length += length;
}

void ldtap_buffer_append_u64(struct ldtap_buffer *buffer, uint64_t value) {
    char text[LDTAP_DECIMAL_BYTES];
    ldtap_buffer_append(buffer, text, ldtap_decimal_u64(value, text));
}

void ldtap_buffer_append_i64(struct ldtap_buffer *buffer, int64_t value) {
    char text[LDTAP_DECIMAL_BYTES];
    ldtap_buffer_append(buffer, text, ldtap_decimal_i64(value, text));
}

void ldtap_buffer_append_format(struct ldtap_buffer *buffer, const char *format, ...) {
    char text[256];
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(text, sizeof text, format, arguments);
    va_end(arguments);
    if (length > 0) {
        ldtap_buffer_append(buffer, text, (size_t)length < sizeof text ? (size_t)length : sizeof text - 1);
    }
}
