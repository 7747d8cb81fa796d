/* Criterion tests for collector/flamegraph.c: stacks merge into one tree, widths follow
 * live bytes, text is escaped for XML, and byte formatting. */
#include <criterion/criterion.h>
#include <string.h>

#include "flamegraph.h"

static size_t occurrences(const char *text, const char *needle) {
    size_t count = 0;
    for (const char *at = strstr(text, needle); at; at = strstr(at + 1, needle)) {
        count++;
    }
    return count;
}

Test(flamegraph, merges_stacks_and_escapes_text) {
    struct ldtap_heap_profile profile;
    ldtap_heap_profile_init(&profile);
    static const uint64_t left[] = {0x1001, 0x3001}, right[] = {0x2001, 0x3001};
    cr_assert(ldtap_heap_profile_add_stack(&profile, 1, left, 2, 0));
    cr_assert(ldtap_heap_profile_add_stack(&profile, 2, right, 2, 0));
    cr_assert(ldtap_heap_profile_sample(&profile, 0xa, 100, 3072, 1));
    cr_assert(ldtap_heap_profile_sample(&profile, 0xb, 100, 1024, 2));
    cr_assert(ldtap_heap_profile_sample(&profile, 0xc, 100, 999, 3)); /* freed below: not drawn */
    cr_assert(ldtap_heap_profile_free(&profile, 0xc));
    struct ldtap_buffer out;
    ldtap_buffer_init(&out);
    cr_assert(ldtap_flamegraph_render(&profile, NULL, "a<b & \"c\" \x01\xff", &out));
    ldtap_buffer_append_byte(&out, 0);
    const char *svg = (const char *)out.data;
    cr_assert(strncmp(svg, "<?xml", 5) == 0);
    cr_assert_not_null(strstr(svg, "a&lt;b &amp; &quot;c&quot; ?\xef\xbf\xbd"), "title escaped");
    cr_assert_eq(occurrences(svg, "<title>0x3000"), 1, "the shared outer frame is merged");
    cr_assert_not_null(strstr(svg, "<title>0x3000: 4.0 KiB live (4096 bytes, 100.00%)"));
    cr_assert_not_null(strstr(svg, "<title>0x1000: 3.0 KiB live (3072 bytes, 75.00%)"));
    cr_assert_not_null(strstr(svg, "<title>0x2000: 1.0 KiB live (1024 bytes, 25.00%)"));
    cr_assert_eq(occurrences(svg, "<g>"), occurrences(svg, "</g>"));
    cr_assert_eq(occurrences(svg, "<g>"), 4, "root, one outer frame, two leaves");
    cr_assert(strstr(svg, "</svg>\n") == svg + strlen(svg) - 7);
    ldtap_buffer_free(&out);
    ldtap_heap_profile_release(&profile);
}

Test(flamegraph, formats_bytes) {
    char text[32];
    cr_assert_str_eq(ldtap_format_bytes(512, text, sizeof text), "512 B");
    cr_assert_str_eq(ldtap_format_bytes(1536, text, sizeof text), "1.5 KiB");
    cr_assert_str_eq(ldtap_format_bytes(3u * 1024 * 1024, text, sizeof text), "3.0 MiB");
    cr_assert_str_eq(ldtap_format_bytes(5ull << 30, text, sizeof text), "5.0 GiB");
}
