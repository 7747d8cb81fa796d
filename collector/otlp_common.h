/* Pieces every OTLP encoder (traces and metrics, protobuf and JSON) shares: the
 * instrumentation scope, resource grouping, the UTF-8 repair that keeps a collector from
 * rejecting a whole batch over one bad byte, protobuf wire primitives and JSON values. */
#ifndef LDTAP_OTLP_COMMON_H
#define LDTAP_OTLP_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "span.h"

#ifndef LDTAP_VERSION
#define LDTAP_VERSION "0.1.0"
#endif
#define LDTAP_OTLP_SCOPE_NAME "ldtap"
#define LDTAP_OTLP_SCOPE_VERSION LDTAP_VERSION

/* True when items[index] is the first of items[0..index] with its resource (as
 * `resource_of` tells). Encoders emit one ResourceSpans/ResourceLogs per distinct resource,
 * in order of first appearance; cost is O(1) for runs of one resource and O(resources)
 * otherwise. */
typedef const struct ldtap_resource *ldtap_otlp_resource_of(const void *item);
bool ldtap_otlp_first_of(const void *const *items, size_t index, ldtap_otlp_resource_of *resource_of);
/* A span's resource, as an ldtap_otlp_resource_of. */
const struct ldtap_resource *ldtap_otlp_span_resource(const void *span);

/* Writes a whole export request of `items` grouped by resource: per distinct resource, in
 * order of first appearance, one ResourceX { resource = 1; scope_x = 2 { scope = 1;
 * items = 2 } } as field 1 (the same field numbers for traces and logs). `item_size` is an
 * item's message size, `put_item` writes the message body. */
typedef size_t ldtap_otlp_item_size(const void *item);
typedef void ldtap_otlp_put_item(struct ldtap_buffer *out, const void *item);
void ldtap_protobuf_put_grouped(struct ldtap_buffer *out, const void *const *items, size_t count,
                                ldtap_otlp_resource_of *resource_of, ldtap_otlp_item_size *item_size,
                                ldtap_otlp_put_item *put_item);
/* The OTLP/JSON form: {"<resource_key>":[{"resource":..,"<scope_key>":[{"scope":..,
 * "<items_key>":[..]}]},..]}; `append_item` writes one item's object. */
void ldtap_json_put_grouped(struct ldtap_buffer *out, const void *const *items, size_t count,
                            ldtap_otlp_resource_of *resource_of, const char *resource_key, const char *scope_key,
                            const char *items_key, ldtap_otlp_put_item *append_item);

/* True when every byte of an id is zero (no parent, no trace): OTLP wants such ids absent. */
bool ldtap_otlp_id_is_zero(const uint8_t *bytes, size_t length);

/* Decodes one UTF-8 sequence at the start of `bytes` (length >= 1). Returns how many bytes
 * it spans; `*valid` false means those bytes are one maximal invalid subpart (Unicode's
 * recommended unit for U+FFFD substitution, the same as WHATWG TextDecoder). */
size_t ldtap_utf8_next(const uint8_t *bytes, size_t length, bool *valid);
/* Length of `text` after each invalid subpart is replaced by U+FFFD (3 bytes). */
size_t ldtap_utf8_sanitized_length(const char *text, size_t length);
void ldtap_utf8_append_sanitized(struct ldtap_buffer *buffer, const char *text, size_t length);

/* ---- protobuf wire format. Sizes are computed before a message is written, so every
 * length prefix is known up front and output is canonical, written once. ---- */

enum ldtap_wire_type { LDTAP_WIRE_VARINT = 0, LDTAP_WIRE_FIXED64 = 1, LDTAP_WIRE_LENGTH = 2, LDTAP_WIRE_FIXED32 = 5 };

size_t ldtap_protobuf_varint_size(uint64_t value);
void ldtap_protobuf_put_varint(struct ldtap_buffer *out, uint64_t value);
size_t ldtap_protobuf_tag_size(uint32_t field);
/* Tag, length prefix and payload of a length-delimited field. */
size_t ldtap_protobuf_length_delimited_size(uint32_t field, size_t payload_size);
void ldtap_protobuf_put_tag(struct ldtap_buffer *out, uint32_t field, enum ldtap_wire_type wire);
void ldtap_protobuf_put_length_header(struct ldtap_buffer *out, uint32_t field, size_t payload_size);
/* Little-endian, `width` 4 or 8 bytes, without a tag. */
void ldtap_protobuf_put_fixed(struct ldtap_buffer *out, uint64_t value, size_t width);
/* A double as its IEEE-754 bits, without a tag. */
void ldtap_protobuf_put_double(struct ldtap_buffer *out, double value);
/* A string field; `sanitized_length` is ldtap_utf8_sanitized_length(text, length). */
void ldtap_protobuf_put_string(struct ldtap_buffer *out, uint32_t field, const char *text, size_t length,
                               size_t sanitized_length);
/* Repeated KeyValue `field`: string values live in `text` at string_offset. */
size_t ldtap_protobuf_attributes_size(uint32_t field, const char *text, const struct ldtap_attribute *attributes,
                                      uint16_t count);
void ldtap_protobuf_put_attributes(struct ldtap_buffer *out, uint32_t field, const char *text,
                                   const struct ldtap_attribute *attributes, uint16_t count);
/* Resource { attributes = 1 } as field `field`, absent when `resource` is NULL. */
size_t ldtap_protobuf_resource_size(uint32_t field, const struct ldtap_resource *resource);
void ldtap_protobuf_put_resource(struct ldtap_buffer *out, uint32_t field, const struct ldtap_resource *resource);
/* InstrumentationScope { name = 1; version = 2 } for ldtap, as field `field`. */
size_t ldtap_protobuf_scope_size(uint32_t field);
void ldtap_protobuf_put_scope(struct ldtap_buffer *out, uint32_t field);

/* ---- OTLP/JSON values (the proto3 JSON mapping) ---- */

/* Appends `text` as a quoted JSON string: control characters, quote, backslash and DEL
 * escaped, invalid UTF-8 replaced by \ufffd, so any bytes give valid JSON. */
void ldtap_json_append_string(struct ldtap_buffer *out, const char *text, size_t length);
/* Appends `bytes` as a quoted lowercase hex string (trace and span ids in OTLP/JSON). */
void ldtap_json_append_hex(struct ldtap_buffer *out, const uint8_t *bytes, size_t length);
/* The shortest form that reads back as the same double; non-finite values as strings. */
void ldtap_json_append_double(struct ldtap_buffer *out, double value);
/* "attributes":[{"key":..,"value":{..}},..] */
void ldtap_json_append_attributes(struct ldtap_buffer *out, const char *text,
                                  const struct ldtap_attribute *attributes, uint16_t count);
/* "resource":{"attributes":[..]}, followed by a comma; nothing when `resource` is NULL. */
void ldtap_json_append_resource(struct ldtap_buffer *out, const struct ldtap_resource *resource);
/* "scope":{"name":"ldtap","version":..} */
void ldtap_json_append_scope(struct ldtap_buffer *out);

#endif
