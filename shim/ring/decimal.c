/* Decimal formatting of 64-bit integers, two digits per division. */
#include "decimal.h"

#include <string.h>

static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

size_t ldtap_decimal_u64(uint64_t value, char out[LDTAP_DECIMAL_BYTES]) {
    char digits[LDTAP_DECIMAL_BYTES];
    size_t start = sizeof digits;
    while (value >= 100) {
        size_t pair = (size_t)(value % 100) * 2;
        value /= 100;
        start -= 2;
        memcpy(digits + start, digit_pairs + pair, 2);
    }
    if (value >= 10) {
        start -= 2;
        memcpy(digits + start, digit_pairs + value * 2, 2);
    } else {
        digits[--start] = (char)('0' + value);
    }
    size_t length = sizeof digits - start;
    memcpy(out, digits + start, length);
    out[length] = '\0';
    return length;
}

size_t ldtap_decimal_i64(int64_t value, char out[LDTAP_DECIMAL_BYTES]) {
    if (value >= 0) {
        return ldtap_decimal_u64((uint64_t)value, out);
    }
    /* Negated in unsigned arithmetic: -INT64_MIN does not fit an int64_t. At most 19
     * digits then, so the sign fits. */
    char magnitude[LDTAP_DECIMAL_BYTES];
    size_t length = ldtap_decimal_u64(0 - (uint64_t)value, magnitude);
    out[0] = '-';
    memcpy(out + 1, magnitude, length + 1);
    return length + 1;
}
