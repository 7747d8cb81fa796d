/* Resource grouping and UTF-8 repair for the OTLP encoders. Protobuf `string` fields must
 * be UTF-8 (the Go collector rejects the request otherwise), and traced bytes are not. */
#include "otlp_common.h"

static const uint8_t replacement_character[3] = {0xEF, 0xBF, 0xBD};

bool ldtap_otlp_first_of_resource(const struct ldtap_span *const *spans, size_t index) {
    const struct ldtap_resource *resource = spans[index]->resource;
    if (index > 0 && spans[index - 1]->resource == resource) {
        return false;
    }
    for (size_t i = 0; i < index; i++) {
        if (spans[i]->resource == resource) {
            return false;
        }
    }
    return true;
}

size_t ldtap_utf8_next(const uint8_t *bytes, size_t length, bool *valid) {
    uint8_t lead = bytes[0];
    *valid = false;
    if (lead < 0x80) {
        *valid = true;
        return 1;
    }
    /* The second byte's range excludes overlong forms, surrogates and > U+10FFFF. */
    size_t continuation_count;
    uint8_t second_low = 0x80, second_high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        continuation_count = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        continuation_count = 2;
        if (lead == 0xE0) {
            second_low = 0xA0;
        } else if (lead == 0xED) {
            second_high = 0x9F;
        }
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        continuation_count = 3;
        if (lead == 0xF0) {
            second_low = 0x90;
        } else if (lead == 0xF4) {
            second_high = 0x8F;
        }
    } else {
        return 1;
    }
    if (length < 2 || bytes[1] < second_low || bytes[1] > second_high) {
        return 1;
    }
    size_t used = 2;
    while (used <= continuation_count) {
        if (used >= length || bytes[used] < 0x80 || bytes[used] > 0xBF) {
            return used;
        }
        used++;
    }
    *valid = true;
    return used;
}

size_t ldtap_utf8_sanitized_length(const char *text, size_t length) {
    const uint8_t *bytes = (const uint8_t *)text;
    size_t result = 0;
    size_t at = 0;
    while (at < length) {
        if (bytes[at] < 0x80) {
            at++;
            result++;
            continue;
        }
        bool valid;
        size_t used = ldtap_utf8_next(bytes + at, length - at, &valid);
        result += valid ? used : sizeof replacement_character;
        at += used;
    }
    return result;
}

void ldtap_utf8_append_sanitized(struct ldtap_buffer *buffer, const char *text, size_t length) {
    const uint8_t *bytes = (const uint8_t *)text;
    size_t clean_start = 0;
    size_t at = 0;
    /* Valid runs are copied in one append; only a bad subpart breaks a run. */
    while (at < length) {
        if (bytes[at] < 0x80) {
            at++;
            continue;
        }
        bool valid;
        size_t used = ldtap_utf8_next(bytes + at, length - at, &valid);
        if (!valid) {
            ldtap_buffer_append(buffer, bytes + clean_start, at - clean_start);
            ldtap_buffer_append(buffer, replacement_character, sizeof replacement_character);
            clean_start = at + used;
        }
        at += used;
    }
    ldtap_buffer_append(buffer, bytes + clean_start, length - clean_start);
}
