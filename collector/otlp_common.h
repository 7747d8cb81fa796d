/* Pieces both OTLP encoders share: the instrumentation scope, resource grouping and the
 * UTF-8 repair that keeps a collector from rejecting a whole batch over one bad byte. */
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

/* True when spans[index] is the first of spans[0..index] with its resource. Encoders emit
 * one ResourceSpans per distinct resource, in order of first appearance; cost is O(1)
 * for runs of one resource and O(resources) otherwise. */
bool ldtap_otlp_first_of_resource(const struct ldtap_span *const *spans, size_t index);

/* Decodes one UTF-8 sequence at the start of `bytes` (length >= 1). Returns how many bytes
 * it spans; `*valid` false means those bytes are one maximal invalid subpart (Unicode's
 * recommended unit for U+FFFD substitution, the same as WHATWG TextDecoder). */
size_t ldtap_utf8_next(const uint8_t *bytes, size_t length, bool *valid);
/* Length of `text` after each invalid subpart is replaced by U+FFFD (3 bytes). */
size_t ldtap_utf8_sanitized_length(const char *text, size_t length);
void ldtap_utf8_append_sanitized(struct ldtap_buffer *buffer, const char *text, size_t length);

#endif
