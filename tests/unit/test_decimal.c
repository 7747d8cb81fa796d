/* Tests of collector/decimal.c: the same text as printf's %llu and %lld, at the edges of
 * each digit count and of the 64-bit range. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "decimal.h"

static void expect_u64(uint64_t value) {
    char expected[32], actual[LDTAP_DECIMAL_BYTES];
    int expected_length = snprintf(expected, sizeof expected, "%" PRIu64, value);
    size_t length = ldtap_decimal_u64(value, actual);
    cr_expect_eq(length, (size_t)expected_length, "%s: length %zu", expected, length);
    cr_expect_str_eq(actual, expected);
}

static void expect_i64(int64_t value) {
    char expected[32], actual[LDTAP_DECIMAL_BYTES];
    int expected_length = snprintf(expected, sizeof expected, "%" PRId64, value);
    size_t length = ldtap_decimal_i64(value, actual);
    cr_expect_eq(length, (size_t)expected_length, "%s: length %zu", expected, length);
    cr_expect_str_eq(actual, expected);
}

Test(decimal, unsigned_edges) {
    expect_u64(0);
    expect_u64(UINT64_MAX);
    expect_u64(UINT64_MAX - 1);
    for (uint64_t power = 1; power <= 10000000000000000000ull; power *= 10) {
        expect_u64(power - 1);
        expect_u64(power);
        expect_u64(power + 1);
        if (power > UINT64_MAX / 10) {
            break;
        }
    }
}

Test(decimal, signed_edges) {
    expect_i64(0);
    expect_i64(-1);
    expect_i64(INT64_MAX);
    expect_i64(INT64_MIN);
    expect_i64(INT64_MIN + 1);
    for (int64_t power = 1; power <= 1000000000000000000ll; power *= 10) {
        expect_i64(power);
        expect_i64(-power);
        expect_i64(power - 1);
        expect_i64(-(power - 1));
        if (power > INT64_MAX / 10) {
            break;
        }
    }
}

Test(decimal, many_values) {
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 100000; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        expect_u64(state >> (i % 64)); /* every magnitude */
        expect_i64((int64_t)state >> (i % 64));
    }
}
