/* Span events in both trace encoders (Span.events, field 11) and the event block's
 * bookkeeping: bounded text, reference counts, attribute runs per event. */
#include <criterion/criterion.h>
#include <string.h>

#include "buffer.h"
#include "otlp_json.h"
#include "otlp_protobuf.h"
#include "span.h"

static struct ldtap_buffer out;
static struct ldtap_span span;

static void setup(void) {
    ldtap_buffer_init(&out);
    memset(&span, 0, sizeof span);
    span.trace_id[0] = 1;
    span.span_id[0] = 2;
    strcpy(span.name, "GET /");
    span.kind = 2;
    span.events = ldtap_span_events_new();
    cr_assert(ldtap_span_events_add(span.events, "exception", 1));
    cr_assert(ldtap_span_events_add_string(span.events, "exception.type", "E", 1, 1));
}

static void teardown(void) {
    ldtap_span_events_release(span.events);
    ldtap_buffer_free(&out);
}

TestSuite(span_events, .init = setup, .fini = teardown);

Test(span_events, protobuf_event_bytes) {
    const struct ldtap_span *spans[1] = {&span};
    cr_assert(ldtap_otlp_protobuf_encode(&out, spans, 1));
    const uint8_t expected[] = {
        0x5a, 0x2b,                                     /* events (11), 43 bytes */
        0x09, 1, 0, 0, 0, 0, 0, 0, 0,                   /* time_unix_nano = 1 */
        0x12, 0x09, 'e', 'x', 'c', 'e', 'p', 't', 'i', 'o', 'n', /* name */
        0x1a, 0x15,                                     /* attributes, 21 bytes */
        0x0a, 0x0e, 'e', 'x', 'c', 'e', 'p', 't', 'i', 'o', 'n', '.', 't', 'y', 'p', 'e',
        0x12, 0x03, 0x0a, 0x01, 'E',
    };
    cr_assert(memmem(out.data, out.length, expected, sizeof expected) != NULL);
    /* The same span without events has exactly those bytes fewer. */
    size_t with_events = out.length;
    struct ldtap_span plain = span;
    plain.events = NULL;
    const struct ldtap_span *plain_spans[1] = {&plain};
    ldtap_buffer_reset(&out);
    cr_assert(ldtap_otlp_protobuf_encode(&out, plain_spans, 1));
    cr_assert_eq(with_events - out.length, sizeof expected);
}

Test(span_events, json_event) {
    const struct ldtap_span *spans[1] = {&span};
    cr_assert(ldtap_otlp_json_encode(&out, spans, 1));
    ldtap_buffer_append_byte(&out, 0);
    const char expected[] = ",\"events\":[{\"timeUnixNano\":\"1\",\"name\":\"exception\",\"attributes\":[{\"key\":"
                            "\"exception.type\",\"value\":{\"stringValue\":\"E\"}}]}]";
    cr_assert(strstr((const char *)out.data, expected), "%s", (const char *)out.data);
}

Test(span_events, attribute_runs_and_limits) {
    cr_assert(ldtap_span_events_add(span.events, "second", 5));
    cr_assert(ldtap_span_events_add_string(span.events, "k", "v\nw", 3, 3));
    cr_assert_eq(span.events->events[1].first_attribute, 1);
    cr_assert_eq(span.events->events[1].attribute_count, 1);
    /* A long value is cut to the room left when allowed, refused when not. */
    static char big[LDTAP_SPAN_EVENTS_TEXT_BYTES * 2];
    memset(big, 'x', sizeof big);
    cr_assert_not(ldtap_span_events_add_string(span.events, "whole", big, sizeof big, sizeof big));
    cr_assert(ldtap_span_events_add_string(span.events, "cut", big, sizeof big, 0));
    cr_assert_leq(span.events->text_used, LDTAP_SPAN_EVENTS_TEXT_BYTES);
    cr_assert(ldtap_span_events_add(span.events, "third", 6));
    cr_assert(ldtap_span_events_add(span.events, "fourth", 7));
    cr_assert_not(ldtap_span_events_add(span.events, "fifth", 8));
    ldtap_span_events_retain(span.events);
    ldtap_span_events_release(span.events);
    cr_assert_eq(span.events->reference_count, 1);
}
