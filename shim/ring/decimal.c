/* Decimal formatting of 64-bit integers: two digits per division, in 32-bit arithmetic for
 * blocks of eight digits (a 19-digit timestamp is then three blocks, not ten 64-bit
 * divisions: the span encoders write two per span). */
#include "decimal.h"

#include <string.h>

#define EIGHT_DIGITS 100000000u

static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* `value` < 10^8 without leading zeros, written from its last digit back (no staging
 * copy); returns the length. */
static size_t short_digits(uint32_t value, char *out) {
    size_t length = 1;
    for (uint32_t bound = 10; length < 8 && value >= bound; bound *= 10) {
        length++;
    }
    char *at = out + length;
    while (value >= 100) {
        at -= 2;
        memcpy(at, digit_pairs + (value % 100) * 2, 2);
        value /= 100;
    }
    if (value >= 10) {
        memcpy(at - 2, digit_pairs + value * 2, 2);
    } else {
        at[-1] = (char)('0' + value);
    }
    return length;
}

/* `value` < 10^8 as exactly eight digits, leading zeros included. */
static void eight_digits(uint32_t value, char *out) {
    uint32_t high = value / 10000, low = value % 10000;
    memcpy(out, digit_pairs + (high / 100) * 2, 2);
    memcpy(out + 2, digit_pairs + (high % 100) * 2, 2);
    memcpy(out + 4, digit_pairs + (low / 100) * 2, 2);
    memcpy(out + 6, digit_pairs + (low % 100) * 2, 2);
}

size_t ldtap_decimal_u64(uint64_t value, char out[LDTAP_DECIMAL_BYTES]) {
    size_t length;
    if (value < EIGHT_DIGITS) {
        length = short_digits((uint32_t)value, out);
    } else if (value < (uint64_t)EIGHT_DIGITS * EIGHT_DIGITS) {
        length = short_digits((uint32_t)(value / EIGHT_DIGITS), out);
        eight_digits((uint32_t)(value % EIGHT_DIGITS), out + length);
        length += 8;
    } else {
        uint64_t top = value / EIGHT_DIGITS; /* < 1.9 * 10^11: its head is at most 4 digits */
        length = short_digits((uint32_t)(top / EIGHT_DIGITS), out);
        eight_digits((uint32_t)(top % EIGHT_DIGITS), out + length);
        eight_digits((uint32_t)(value % EIGHT_DIGITS), out + length + 8);
        length += 16;
    }
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
