/* Integers as decimal text without printf, for the shim (ring file names, which it writes
 * without libc's formatting) and the collector (the span encoders and the summary write
 * several per span, and vsnprintf costs about a thousand instructions a call). */
#ifndef LDTAP_DECIMAL_H
#define LDTAP_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* Room for any 64-bit value: 20 digits, or a sign and 19 digits, and the NUL. */
#define LDTAP_DECIMAL_BYTES 21

/* Writes `value` as printf's %llu / %lld would, NUL-terminated; returns the length. */
size_t ldtap_decimal_u64(uint64_t value, char out[LDTAP_DECIMAL_BYTES]);
size_t ldtap_decimal_i64(int64_t value, char out[LDTAP_DECIMAL_BYTES]);

#endif
