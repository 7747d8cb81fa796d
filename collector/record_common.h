/* Helpers every record decoder needs: the span head common to all span records, UTF-8
 * cleaning of untrusted text with a cap, and socket addresses as text. */
#ifndef LDTAP_RECORD_COMMON_H
#define LDTAP_RECORD_COMMON_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldtap_ring_abi.h"
#include "span.h"

#define LDTAP_ADDRESS_TEXT_BYTES INET6_ADDRSTRLEN

/* Copies ids, times and kind from the record's common head into `span` and derives its
 * trace flags: our own root and child spans are always recorded; a caller's "not
 * sampled" decision arrives with its traceparent and is kept, on its server span and that
 * span's children. The status is left UNSET. */
void ldtap_span_copy_common(struct ldtap_span *span, const struct ldtap_span_common *common);

/* Copies `length` bytes into `out` (capacity >= 1) as valid UTF-8 without control
 * characters (bad bytes and controls become U+FFFD), NUL-terminated, stopping before a
 * character that would not fit. Returns the bytes written, NUL excluded. */
size_t ldtap_copy_clean_text(const char *text, size_t length, char *out, size_t capacity);

/* Peer or local address of `family` (AF_INET, AF_INET6) as text; an IPv4-mapped IPv6
 * address is written as plain IPv4. False for other families and an all-zero address
 * (the shim had none to give). */
bool ldtap_format_address(uint16_t family, const uint8_t address[16], char text[LDTAP_ADDRESS_TEXT_BYTES]);

#endif
