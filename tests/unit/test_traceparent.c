/* Unit tests for W3C traceparent parsing and formatting (shim/proto/traceparent.c),
 * including the cases the specification says must be ignored. */
#include <criterion/criterion.h>

#include <string.h>

#include "traceparent.h"

#define VALID "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static bool parse(const char *text, struct ldtap_trace_context *context) {
    return ldtap_traceparent_parse(text, strlen(text), context);
}

static void assert_rejected(const char *text) {
    struct ldtap_trace_context context;
    memset(&context, 0xaa, sizeof context);
    cr_assert_not(parse(text, &context), "accepted \"%s\"", text);
    for (size_t i = 0; i < sizeof context.trace_id; i++) {
        cr_assert_eq(context.trace_id[i], 0xaa, "context written on failure");
    }
}

Test(traceparent, parses_the_specification_example) {
    static const uint8_t trace_id[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                         0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    static const uint8_t span_id[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
    struct ldtap_trace_context context;
    cr_assert(parse(VALID, &context));
    cr_assert(memcmp(context.trace_id, trace_id, 16) == 0);
    cr_assert(memcmp(context.parent_span_id, span_id, 8) == 0);
    cr_assert_eq(context.trace_flags, 1);
    cr_assert(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &context));
    cr_assert_eq(context.trace_flags, 0);
    cr_assert(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", &context));
    cr_assert_eq(context.trace_flags, 0xff);
    cr_assert(parse(VALID, NULL), "a NULL context only validates");
}

Test(traceparent, surrounding_blanks_are_tolerated) {
    struct ldtap_trace_context context;
    cr_assert(parse(" \t" VALID "  ", &context));
    cr_assert_eq(context.trace_flags, 1);
    assert_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736 -00f067aa0ba902b7-01");
}

Test(traceparent, length_is_checked_before_reading) {
    cr_assert_not(ldtap_traceparent_parse(VALID, 54, NULL));
    cr_assert_not(ldtap_traceparent_parse(VALID, 0, NULL));
    cr_assert_not(ldtap_traceparent_parse(NULL, 55, NULL));
}

Test(traceparent, upper_case_and_non_hex_are_rejected) {
    assert_rejected("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01");
    assert_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A");
    assert_rejected("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assert_rejected("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01");
    assert_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01");
}

Test(traceparent, wrong_lengths_and_separators_are_rejected) {
    assert_rejected("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01");
    assert_rejected("00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01");
    assert_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01");
    assert_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1");
    assert_rejected("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01");
    assert_rejected(VALID "-");
    assert_rejected(VALID "0");
    assert_rejected("");
}

Test(traceparent, all_zero_ids_are_rejected) {
    assert_rejected("00-00000000000000000000000000000000-00f067aa0ba902b7-01");
    assert_rejected("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01");
}

Test(traceparent, version_ff_is_rejected) {
    assert_rejected("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

Test(traceparent, future_versions_may_carry_more_fields) {
    struct ldtap_trace_context context;
    cr_assert(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &context));
    cr_assert(parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", &context));
    cr_assert_eq(context.trace_flags, 1);
    cr_assert_eq(context.trace_id[0], 0x4b);
    assert_rejected("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what");
    assert_rejected("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01what");
}

Test(traceparent, format_round_trips) {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    for (int i = 0; i < 16; i++) {
        trace_id[i] = (uint8_t)(i * 17);
    }
    for (int i = 0; i < 8; i++) {
        span_id[i] = (uint8_t)(0xf0 + i);
    }
    char text[56];
    memset(text, 'x', sizeof text);
    ldtap_traceparent_format(trace_id, span_id, 0x01, text);
    cr_assert_str_eq(text, "00-00112233445566778899aabbccddeeff-f0f1f2f3f4f5f6f7-01");
    struct ldtap_trace_context context;
    cr_assert(parse(text, &context));
    cr_assert(memcmp(context.trace_id, trace_id, 16) == 0);
    cr_assert(memcmp(context.parent_span_id, span_id, 8) == 0);
    cr_assert_eq(context.trace_flags, 1);

    cr_assert(parse(VALID, &context));
    ldtap_traceparent_format(context.trace_id, context.parent_span_id, context.trace_flags, text);
    cr_assert_str_eq(text, VALID);
}
