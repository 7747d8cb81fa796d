/* What every OTLP encoder shares: resource grouping, UTF-8 repair (protobuf `string`
 * fields must be UTF-8, the Go collector rejects the request otherwise, and traced bytes are
 * not), protobuf wire primitives and JSON values. Field numbers: common/v1/common.proto. */
#include "otlp_common.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    RESOURCE_ATTRIBUTES = 1,
    SCOPE_NAME = 1,
    SCOPE_VERSION = 2,
    KEY_VALUE_KEY = 1,
    KEY_VALUE_VALUE = 2,
    ANY_VALUE_STRING = 1,
    ANY_VALUE_BOOL = 2,
    ANY_VALUE_INT = 3,
    ANY_VALUE_DOUBLE = 4,
};

static const uint8_t replacement_character[3] = {0xEF, 0xBF, 0xBD};

bool ldtap_otlp_first_of(const void *const *items, size_t index, ldtap_otlp_resource_of *resource_of) {
    const struct ldtap_resource *resource = resource_of(items[index]);
    if (index > 0 && resource_of(items[index - 1]) == resource) {
        return false;
    }
    for (size_t i = 0; i < index; i++) {
        if (resource_of(items[i]) == resource) {
            return false;
        }
    }
    return true;
}

enum { GROUP_REQUEST_RESOURCE = 1, GROUP_RESOURCE = 1, GROUP_SCOPE_ITEMS = 2, GROUP_SCOPE = 1, GROUP_ITEMS = 2 };

static void put_resource_group(struct ldtap_buffer *out, const void *const *items, size_t count, size_t first,
                               ldtap_otlp_resource_of *resource_of, ldtap_otlp_item_size *item_size,
                               ldtap_otlp_put_item *put_item) {
    const struct ldtap_resource *resource = resource_of(items[first]);
    size_t items_total = 0;
    for (size_t i = first; i < count; i++) {
        if (resource_of(items[i]) == resource) {
            items_total += ldtap_protobuf_length_delimited_size(GROUP_ITEMS, item_size(items[i]));
        }
    }
    size_t scope_size = ldtap_protobuf_scope_size(GROUP_SCOPE) + items_total;
    size_t resource_size = ldtap_protobuf_resource_size(GROUP_RESOURCE, resource) +
                           ldtap_protobuf_length_delimited_size(GROUP_SCOPE_ITEMS, scope_size);
    ldtap_protobuf_put_length_header(out, GROUP_REQUEST_RESOURCE, resource_size);
    ldtap_protobuf_put_resource(out, GROUP_RESOURCE, resource);
    ldtap_protobuf_put_length_header(out, GROUP_SCOPE_ITEMS, scope_size);
    ldtap_protobuf_put_scope(out, GROUP_SCOPE);
    for (size_t i = first; i < count; i++) {
        if (resource_of(items[i]) == resource) {
            ldtap_protobuf_put_length_header(out, GROUP_ITEMS, item_size(items[i]));
            put_item(out, items[i]);
        }
    }
}

void ldtap_protobuf_put_grouped(struct ldtap_buffer *out, const void *const *items, size_t count,
                                ldtap_otlp_resource_of *resource_of, ldtap_otlp_item_size *item_size,
                                ldtap_otlp_put_item *put_item) {
    for (size_t i = 0; i < count; i++) {
        if (ldtap_otlp_first_of(items, i, resource_of)) {
            put_resource_group(out, items, count, i, resource_of, item_size, put_item);
        }
    }
}

void ldtap_json_put_grouped(struct ldtap_buffer *out, const void *const *items, size_t count,
                            ldtap_otlp_resource_of *resource_of, const char *resource_key, const char *scope_key,
                            const char *items_key, ldtap_otlp_put_item *append_item) {
    ldtap_buffer_append_format(out, "{\"%s\":[", resource_key);
    bool first_group = true;
    for (size_t first = 0; first < count; first++) {
        if (!ldtap_otlp_first_of(items, first, resource_of)) {
            continue;
        }
        const struct ldtap_resource *resource = resource_of(items[first]);
        if (!first_group) {
            ldtap_buffer_append_byte(out, ',');
        }
        first_group = false;
        ldtap_buffer_append_byte(out, '{');
        ldtap_json_append_resource(out, resource);
        ldtap_buffer_append_format(out, "\"%s\":[{", scope_key);
        ldtap_json_append_scope(out);
        ldtap_buffer_append_format(out, ",\"%s\":[", items_key);
        bool first_item = true;
        for (size_t i = first; i < count; i++) {
            if (resource_of(items[i]) == resource) {
                if (!first_item) {
                    ldtap_buffer_append_byte(out, ',');
                }
                append_item(out, items[i]);
                first_item = false;
            }
        }
        ldtap_buffer_append_cstring(out, "]}]}");
    }
    ldtap_buffer_append_cstring(out, "]}");
}

const struct ldtap_resource *ldtap_otlp_span_resource(const void *span) {
    return ((const struct ldtap_span *)span)->resource;
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

/* ---- protobuf wire format ---- */

size_t ldtap_protobuf_varint_size(uint64_t value) {
    size_t size = 1;
    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    return size;
}

void ldtap_protobuf_put_varint(struct ldtap_buffer *out, uint64_t value) {
    uint8_t bytes[10];
    size_t used = 0;
    while (value >= 0x80) {
        bytes[used++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    bytes[used++] = (uint8_t)value;
    ldtap_buffer_append(out, bytes, used);
}

size_t ldtap_protobuf_tag_size(uint32_t field) {
    return ldtap_protobuf_varint_size((uint64_t)field << 3);
}

size_t ldtap_protobuf_length_delimited_size(uint32_t field, size_t payload_size) {
    return ldtap_protobuf_tag_size(field) + ldtap_protobuf_varint_size(payload_size) + payload_size;
}

void ldtap_protobuf_put_tag(struct ldtap_buffer *out, uint32_t field, enum ldtap_wire_type wire) {
    ldtap_protobuf_put_varint(out, ((uint64_t)field << 3) | wire);
}

void ldtap_protobuf_put_length_header(struct ldtap_buffer *out, uint32_t field, size_t payload_size) {
    ldtap_protobuf_put_tag(out, field, LDTAP_WIRE_LENGTH);
    ldtap_protobuf_put_varint(out, payload_size);
}

/* Fixed-width fields are little-endian on the wire whatever the host order. */
void ldtap_protobuf_put_fixed(struct ldtap_buffer *out, uint64_t value, size_t width) {
    uint8_t bytes[8];
    for (size_t i = 0; i < width; i++) {
        bytes[i] = (uint8_t)(value >> (8 * i));
    }
    ldtap_buffer_append(out, bytes, width);
}

void ldtap_protobuf_put_string(struct ldtap_buffer *out, uint32_t field, const char *text, size_t length,
                             size_t sanitized_length) {
    ldtap_protobuf_put_length_header(out, field, sanitized_length);
    if (sanitized_length == length) {
        ldtap_buffer_append(out, text, length);
    } else {
        ldtap_utf8_append_sanitized(out, text, length);
    }
}

/* ---- attributes: KeyValue { key = 1; AnyValue value = 2 } ---- */

static size_t any_value_size(const char *text, const struct ldtap_attribute *attribute) {
    switch (attribute->type) {
    case LDTAP_VALUE_STRING:
        return ldtap_protobuf_length_delimited_size(
            ANY_VALUE_STRING,
            ldtap_utf8_sanitized_length(text + attribute->string_offset, attribute->string_length));
    case LDTAP_VALUE_BOOL:
        return ldtap_protobuf_tag_size(ANY_VALUE_BOOL) + 1;
    case LDTAP_VALUE_INT:
        return ldtap_protobuf_tag_size(ANY_VALUE_INT) + ldtap_protobuf_varint_size((uint64_t)attribute->int_value);
    case LDTAP_VALUE_DOUBLE:
        return ldtap_protobuf_tag_size(ANY_VALUE_DOUBLE) + 8;
    default:
        return 0; /* an empty AnyValue: the attribute is kept, its value unknown */
    }
}

static void put_any_value(struct ldtap_buffer *out, const char *text, const struct ldtap_attribute *attribute) {
    /* A oneof member is written even when it holds the default value. */
    switch (attribute->type) {
    case LDTAP_VALUE_STRING: {
        const char *value = text + attribute->string_offset;
        ldtap_protobuf_put_string(out, ANY_VALUE_STRING, value, attribute->string_length,
                         ldtap_utf8_sanitized_length(value, attribute->string_length));
        break;
    }
    case LDTAP_VALUE_BOOL:
        ldtap_protobuf_put_tag(out, ANY_VALUE_BOOL, LDTAP_WIRE_VARINT);
        ldtap_buffer_append_byte(out, attribute->bool_value ? 1 : 0);
        break;
    case LDTAP_VALUE_INT:
        ldtap_protobuf_put_tag(out, ANY_VALUE_INT, LDTAP_WIRE_VARINT);
        ldtap_protobuf_put_varint(out, (uint64_t)attribute->int_value);
        break;
    case LDTAP_VALUE_DOUBLE:
        ldtap_protobuf_put_tag(out, ANY_VALUE_DOUBLE, LDTAP_WIRE_FIXED64);
        ldtap_protobuf_put_double(out, attribute->double_value);
        break;
    default:
        break;
    }
}

static size_t key_value_size(const char *text, const struct ldtap_attribute *attribute) {
    size_t key_length = ldtap_utf8_sanitized_length(attribute->key, strlen(attribute->key));
    return ldtap_protobuf_length_delimited_size(KEY_VALUE_KEY, key_length) +
           ldtap_protobuf_length_delimited_size(KEY_VALUE_VALUE, any_value_size(text, attribute));
}

size_t ldtap_protobuf_attributes_size(uint32_t field, const char *text, const struct ldtap_attribute *attributes,
                              uint16_t count) {
    size_t size = 0;
    for (uint16_t i = 0; i < count; i++) {
        size += ldtap_protobuf_length_delimited_size(field, key_value_size(text, &attributes[i]));
    }
    return size;
}

void ldtap_protobuf_put_attributes(struct ldtap_buffer *out, uint32_t field, const char *text,
                           const struct ldtap_attribute *attributes, uint16_t count) {
    for (uint16_t i = 0; i < count; i++) {
        const struct ldtap_attribute *attribute = &attributes[i];
        size_t key_length = strlen(attribute->key);
        ldtap_protobuf_put_length_header(out, field, key_value_size(text, attribute));
        ldtap_protobuf_put_string(out, KEY_VALUE_KEY, attribute->key, key_length,
                         ldtap_utf8_sanitized_length(attribute->key, key_length));
        ldtap_protobuf_put_length_header(out, KEY_VALUE_VALUE, any_value_size(text, attribute));
        put_any_value(out, text, attribute);
    }
}

void ldtap_protobuf_put_double(struct ldtap_buffer *out, double value) {
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    ldtap_protobuf_put_fixed(out, bits, 8);
}

size_t ldtap_protobuf_resource_size(uint32_t field, const struct ldtap_resource *resource) {
    if (!resource) {
        return 0;
    }
    return ldtap_protobuf_length_delimited_size(
        field, ldtap_protobuf_attributes_size(RESOURCE_ATTRIBUTES, resource->text, resource->attributes,
                                              resource->attribute_count));
}

void ldtap_protobuf_put_resource(struct ldtap_buffer *out, uint32_t field, const struct ldtap_resource *resource) {
    if (!resource) {
        return;
    }
    ldtap_protobuf_put_length_header(out, field,
                                     ldtap_protobuf_attributes_size(RESOURCE_ATTRIBUTES, resource->text,
                                                                    resource->attributes, resource->attribute_count));
    ldtap_protobuf_put_attributes(out, RESOURCE_ATTRIBUTES, resource->text, resource->attributes,
                                  resource->attribute_count);
}

static size_t scope_payload_size(void) {
    return ldtap_protobuf_length_delimited_size(SCOPE_NAME, strlen(LDTAP_OTLP_SCOPE_NAME)) +
           ldtap_protobuf_length_delimited_size(SCOPE_VERSION, strlen(LDTAP_OTLP_SCOPE_VERSION));
}

size_t ldtap_protobuf_scope_size(uint32_t field) {
    return ldtap_protobuf_length_delimited_size(field, scope_payload_size());
}

void ldtap_protobuf_put_scope(struct ldtap_buffer *out, uint32_t field) {
    ldtap_protobuf_put_length_header(out, field, scope_payload_size());
    ldtap_protobuf_put_string(out, SCOPE_NAME, LDTAP_OTLP_SCOPE_NAME, strlen(LDTAP_OTLP_SCOPE_NAME),
                              strlen(LDTAP_OTLP_SCOPE_NAME));
    ldtap_protobuf_put_string(out, SCOPE_VERSION, LDTAP_OTLP_SCOPE_VERSION, strlen(LDTAP_OTLP_SCOPE_VERSION),
                              strlen(LDTAP_OTLP_SCOPE_VERSION));
}

/* ---- OTLP/JSON values ---- */

static const char hex_digits[] = "0123456789abcdef";

static bool needs_escape(uint8_t byte) {
    return byte < 0x20 || byte == '"' || byte == '\\' || byte >= 0x7F;
}

static void append_escape(struct ldtap_buffer *out, uint8_t byte) {
    char escaped[7] = {'\\', 0, 0, 0, 0, 0, 0};
    switch (byte) {
    case '"': escaped[1] = '"'; break;
    case '\\': escaped[1] = '\\'; break;
    case '\b': escaped[1] = 'b'; break;
    case '\f': escaped[1] = 'f'; break;
    case '\n': escaped[1] = 'n'; break;
    case '\r': escaped[1] = 'r'; break;
    case '\t': escaped[1] = 't'; break;
    default:
        memcpy(escaped + 1, "u00", 3);
        escaped[4] = hex_digits[byte >> 4];
        escaped[5] = hex_digits[byte & 0xF];
        ldtap_buffer_append(out, escaped, 6);
        return;
    }
    ldtap_buffer_append(out, escaped, 2);
}

/* Whether none of eight bytes needs escaping (the test of needs_escape on all at once; a
 * false answer may be wrong, a true one never is). Bit tricks: a byte's high bit ends up
 * set where it is below 0x20, at or above 0x7F, or equal to '"' or '\\'. */
static bool word_is_plain(uint64_t word) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t quote = word ^ (ones * '"'), backslash = word ^ (ones * '\\');
    uint64_t below_space = (word - ones * 0x20) & ~word;
    uint64_t delete_or_above = (word + ones) | word;
    uint64_t quotes = (quote - ones) & ~quote;
    uint64_t backslashes = (backslash - ones) & ~backslash;
    return ((below_space | delete_or_above | quotes | backslashes) & highs) == 0;
}

/* How many leading bytes need no escaping: eight at a time, the last eight (overlapping
 * some already seen) settling the tail in one test; one by one only near a byte that does. */
static size_t plain_prefix(const uint8_t *bytes, size_t length) {
    size_t at = 0;
    uint64_t word;
    for (; length - at >= sizeof word; at += sizeof word) {
        memcpy(&word, bytes + at, sizeof word);
        if (!word_is_plain(word)) {
            break;
        }
    }
    if (at < length && length >= sizeof word && length - at < sizeof word) {
        memcpy(&word, bytes + length - sizeof word, sizeof word);
        if (word_is_plain(word)) {
            return length;
        }
    }
    while (at < length && !needs_escape(bytes[at])) {
        at++;
    }
    return at;
}

/* The body of a JSON string whose first `plain` bytes need no escaping. */
static void append_escaped(struct ldtap_buffer *out, const uint8_t *bytes, size_t length, size_t plain) {
    size_t run_start = 0;
    size_t at = plain;
    while (at < length) {
        /* Eight bytes at a time; near the end, the last eight (overlapping some already
         * seen) settle the rest in one test. */
        uint64_t word;
        size_t word_at = length - at >= sizeof word ? at : length - sizeof word;
        if (length >= sizeof word) {
            memcpy(&word, bytes + word_at, sizeof word);
            if (word_is_plain(word)) {
                at = word_at + sizeof word;
                continue;
            }
        }
        if (!needs_escape(bytes[at])) {
            at++;
            continue;
        }
        ldtap_buffer_append(out, bytes + run_start, at - run_start);
        if (bytes[at] < 0x80) {
            append_escape(out, bytes[at]);
            at++;
        } else {
            bool valid;
            size_t used = ldtap_utf8_next(bytes + at, length - at, &valid);
            if (valid) {
                ldtap_buffer_append(out, bytes + at, used);
            } else {
                ldtap_buffer_append_cstring(out, "\\ufffd");
            }
            at += used;
        }
        run_start = at;
    }
    ldtap_buffer_append(out, bytes + run_start, at - run_start);
}

/* Copies `length` bytes to `to` and returns the end. */
static uint8_t *put(uint8_t *to, const void *bytes, size_t length) {
    memcpy(to, bytes, length);
    return to + length;
}

void ldtap_json_append_string(struct ldtap_buffer *out, const char *text, size_t length) {
    const uint8_t *bytes = (const uint8_t *)text;
    size_t plain = plain_prefix(bytes, length);
    /* Most strings (names, keys, sanitised statements) need no escape: one copy. */
    if (plain == length) {
        uint8_t *to = ldtap_buffer_extend(out, length + 2);
        if (to) {
            *to++ = '"';
            to = put(to, bytes, length);
            *to = '"';
        }
        return;
    }
    ldtap_buffer_append_byte(out, '"');
    append_escaped(out, bytes, length, plain);
    ldtap_buffer_append_byte(out, '"');
}

/* The shortest %g form that reads back as the same double; proto3's JSON mapping spells
 * the non-finite values as strings. */
void ldtap_json_append_double(struct ldtap_buffer *out, double value) {
    if (isnan(value)) {
        ldtap_buffer_append_cstring(out, "\"NaN\"");
        return;
    }
    if (isinf(value)) {
        ldtap_buffer_append_cstring(out, value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    char text[40];
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, value);
        if (strtod(text, NULL) == value) {
            break;
        }
    }
    ldtap_buffer_append_cstring(out, text);
}

/* {"key":"…","value":{ with one room check when the key needs no escape (span keys are
 * semantic-convention names), `comma` first when it is not the first attribute. */
static void append_key_head(struct ldtap_buffer *out, const char *key, bool comma) {
    static const char key_open[] = "{\"key\":";
    static const char value_open[] = ",\"value\":{";
    size_t key_length = strlen(key);
    if (plain_prefix((const uint8_t *)key, key_length) == key_length) {
        uint8_t *to = ldtap_buffer_extend(out, comma + sizeof key_open - 1 + key_length + 2 + sizeof value_open - 1);
        if (to) {
            if (comma) {
                *to++ = ',';
            }
            to = put(to, key_open, sizeof key_open - 1);
            *to++ = '"';
            to = put(to, key, key_length);
            *to++ = '"';
            put(to, value_open, sizeof value_open - 1);
        }
        return;
    }
    ldtap_buffer_append_cstring(out, comma ? ",{\"key\":" : "{\"key\":");
    ldtap_json_append_string(out, key, key_length);
    ldtap_buffer_append_cstring(out, ",\"value\":{");
}

void ldtap_json_append_attributes(struct ldtap_buffer *out, const char *text, const struct ldtap_attribute *attributes,
                              uint16_t count) {
    ldtap_buffer_append_cstring(out, "\"attributes\":[");
    for (uint16_t i = 0; i < count; i++) {
        const struct ldtap_attribute *attribute = &attributes[i];
        append_key_head(out, attribute->key, i > 0);
        switch (attribute->type) {
        case LDTAP_VALUE_STRING:
            ldtap_buffer_append_cstring(out, "\"stringValue\":");
            ldtap_json_append_string(out, text + attribute->string_offset, attribute->string_length);
            break;
        case LDTAP_VALUE_BOOL:
            ldtap_buffer_append_cstring(out, attribute->bool_value ? "\"boolValue\":true" : "\"boolValue\":false");
            break;
        case LDTAP_VALUE_INT:
            ldtap_buffer_append_cstring(out, "\"intValue\":\"");
            ldtap_buffer_append_i64(out, attribute->int_value);
            ldtap_buffer_append_byte(out, '"');
            break;
        case LDTAP_VALUE_DOUBLE:
            ldtap_buffer_append_cstring(out, "\"doubleValue\":");
            ldtap_json_append_double(out, attribute->double_value);
            break;
        default:
            break;
        }
        ldtap_buffer_append_cstring(out, "}}");
    }
    ldtap_buffer_append_byte(out, ']');
}

void ldtap_json_append_resource(struct ldtap_buffer *out, const struct ldtap_resource *resource) {
    if (resource) {
        ldtap_buffer_append_cstring(out, "\"resource\":{");
        ldtap_json_append_attributes(out, resource->text, resource->attributes, resource->attribute_count);
        ldtap_buffer_append_cstring(out, "},");
    }
}

void ldtap_json_append_scope(struct ldtap_buffer *out) {
    ldtap_buffer_append_cstring(out, "\"scope\":{\"name\":");
    ldtap_json_append_string(out, LDTAP_OTLP_SCOPE_NAME, strlen(LDTAP_OTLP_SCOPE_NAME));
    ldtap_buffer_append_cstring(out, ",\"version\":");
    ldtap_json_append_string(out, LDTAP_OTLP_SCOPE_VERSION, strlen(LDTAP_OTLP_SCOPE_VERSION));
    ldtap_buffer_append_byte(out, '}');
}

bool ldtap_otlp_id_is_zero(const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length; i++) {
        if (bytes[i]) {
            return false;
        }
    }
    return true;
}

void ldtap_json_append_hex(struct ldtap_buffer *out, const uint8_t *bytes, size_t length) {
    /* Ids are 8 or 16 bytes: one room check, not two per byte. */
    uint8_t *to = ldtap_buffer_extend(out, 2 * length + 2);
    if (!to) {
        return;
    }
    *to++ = '"';
    for (size_t i = 0; i < length; i++) {
        *to++ = (uint8_t)hex_digits[bytes[i] >> 4];
        *to++ = (uint8_t)hex_digits[bytes[i] & 0xF];
    }
    *to = '"';
}
