/* Tests of collector/record_common.c: UTF-8 cleaning with a cap (whole runs of ASCII are
 * copied at once, so cuts and control bytes are checked at every position) and addresses
 * as text, against inet_ntop. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>

#include "record_common.h"

static void expect_clean(const char *input, size_t length, size_t capacity, const char *expected) {
    char out[64];
    memset(out, 'Z', sizeof out);
    size_t written = ldtap_copy_clean_text(input, length, out, capacity);
    cr_expect_eq(written, strlen(expected), "'%s' cap %zu: wrote %zu", input, capacity, written);
    cr_expect_str_eq(out, expected, "'%s' cap %zu", input, capacity);
}

Test(record_common, clean_text_cuts_ascii_runs_at_the_capacity) {
    expect_clean("hello", 5, 1, "");
    expect_clean("hello", 5, 3, "he");
    expect_clean("hello", 5, 5, "hell");
    expect_clean("hello", 5, 6, "hello");
    expect_clean("hello", 5, 60, "hello");
    expect_clean("", 0, 1, "");
    expect_clean("hello world", 5, 60, "hello"); /* only `length` bytes */
}

Test(record_common, clean_text_replaces_controls_and_bad_bytes_between_runs) {
    expect_clean("a\tb", 3, 60,
                 "a\xef\xbf\xbd"
                 "b");
    expect_clean("a\x7f"
                 "b",
                 3, 60,
                 "a\xef\xbf\xbd"
                 "b");
    expect_clean("a\0b", 3, 60,
                 "a\xef\xbf\xbd"
                 "b");
    expect_clean("ab\xff", 3, 60, "ab\xef\xbf\xbd");
    expect_clean("ab\xff", 3, 5, "ab"); /* the replacement does not fit: stop before it */
    expect_clean("ab\xff", 3, 6, "ab\xef\xbf\xbd");
    expect_clean("caf\xc3\xa9!", 6, 60, "caf\xc3\xa9!");
    expect_clean("caf\xc3\xa9!", 6, 5, "caf"); /* never half a character */
    expect_clean("caf\xc3\xa9!", 6, 6, "caf\xc3\xa9");
    expect_clean("~ ", 2, 60, "~ ");
}

Test(record_common, ipv4_addresses_as_inet_ntop_writes_them) {
    static const uint8_t samples[][4] = {{127, 0, 0, 1}, {10, 1, 2, 3},     {255, 255, 255, 255},
                                         {0, 0, 0, 1},   {192, 0, 2, 9},    {1, 10, 100, 200},
                                         {9, 99, 0, 0},  {100, 100, 10, 1}, {0, 255, 0, 0}};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        uint8_t address[16] = {0};
        memcpy(address, samples[i], 4);
        char expected[INET_ADDRSTRLEN], text[LDTAP_ADDRESS_TEXT_BYTES];
        inet_ntop(AF_INET, samples[i], expected, sizeof expected);
        cr_assert(ldtap_format_address(AF_INET, address, text));
        cr_expect_str_eq(text, expected);
        /* The same address mapped into IPv6 is written plain. */
        uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(mapped + 12, samples[i], 4);
        cr_assert(ldtap_format_address(AF_INET6, mapped, text));
        cr_expect_str_eq(text, expected);
    }
    uint8_t zero[16] = {0};
    char text[LDTAP_ADDRESS_TEXT_BYTES];
    cr_expect(!ldtap_format_address(AF_INET, zero, text), "no address");
    uint8_t ipv6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    cr_assert(ldtap_format_address(AF_INET6, ipv6, text));
    cr_expect_str_eq(text, "2001:db8::1");
}
