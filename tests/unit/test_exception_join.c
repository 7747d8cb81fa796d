/* Tests of joining exception reports to server spans in either order, holding error
 * spans briefly, and dropping what never meets its partner. */
#include <criterion/criterion.h>
#include <string.h>

#include "exception_join.h"
#include "ldtap_ring_abi.h"

static struct ldtap_span emitted[8];
static int emitted_count;

static void sink(void *context, struct ldtap_span *span, uint16_t record_flags) {
    (void)context;
    (void)record_flags;
    cr_assert_lt(emitted_count, 8);
    emitted[emitted_count] = *span;
    ldtap_span_events_retain(span->events);
    emitted_count++;
}

static void server_span(struct ldtap_span *span, uint8_t id, uint8_t status) {
    memset(span, 0, sizeof *span);
    span->span_id[0] = id;
    span->kind = LDTAP_SPAN_KIND_SERVER;
    span->status_code = status;
}

static struct ldtap_span_events *report(void) {
    struct ldtap_span_events *events = ldtap_span_events_new();
    ldtap_span_events_add(events, "exception", 1);
    return events;
}

static void release_emitted(void) {
    for (int i = 0; i < emitted_count; i++) {
        ldtap_span_events_release(emitted[i].events);
    }
    emitted_count = 0;
}

TestSuite(exception_join, .fini = release_emitted);

Test(exception_join, report_first) {
    struct ldtap_exception_join *join = ldtap_exception_join_new();
    uint8_t id[8] = {5};
    ldtap_exception_join_report(join, id, report(), 0, sink, NULL);
    struct ldtap_span span;
    server_span(&span, 5, LDTAP_STATUS_UNSET);
    cr_assert_not(ldtap_exception_join_span(join, &span, 0, 1, sink, NULL));
    cr_assert_not_null(span.events);
    cr_assert_eq(span.status_code, LDTAP_STATUS_ERROR);
    ldtap_span_events_release(span.events);
    /* Another request is untouched. */
    server_span(&span, 6, LDTAP_STATUS_UNSET);
    cr_assert_not(ldtap_exception_join_span(join, &span, 0, 1, sink, NULL));
    cr_assert_null(span.events);
    ldtap_exception_join_free(join);
}

Test(exception_join, error_span_first_is_held_until_report) {
    struct ldtap_exception_join *join = ldtap_exception_join_new();
    struct ldtap_span span;
    server_span(&span, 7, LDTAP_STATUS_ERROR);
    cr_assert(ldtap_exception_join_span(join, &span, 0, 0, sink, NULL));
    cr_assert_eq(emitted_count, 0);
    uint8_t id[8] = {7};
    ldtap_exception_join_report(join, id, report(), 10, sink, NULL);
    cr_assert_eq(emitted_count, 1);
    cr_assert_not_null(emitted[0].events);
    ldtap_exception_join_free(join);
}

Test(exception_join, held_span_released_after_hold_time_and_reports_age_out) {
    struct ldtap_exception_join *join = ldtap_exception_join_new();
    struct ldtap_span span;
    server_span(&span, 8, LDTAP_STATUS_ERROR);
    cr_assert(ldtap_exception_join_span(join, &span, 0, 0, sink, NULL));
    ldtap_exception_join_expire(join, LDTAP_EXCEPTION_JOIN_HOLD_NS - 1, false, sink, NULL);
    cr_assert_eq(emitted_count, 0);
    ldtap_exception_join_expire(join, LDTAP_EXCEPTION_JOIN_HOLD_NS, false, sink, NULL);
    cr_assert_eq(emitted_count, 1);
    cr_assert_null(emitted[0].events);
    uint8_t id[8] = {9};
    ldtap_exception_join_report(join, id, report(), 0, sink, NULL);
    ldtap_exception_join_expire(join, LDTAP_EXCEPTION_JOIN_MAX_AGE_NS, false, sink, NULL);
    cr_assert_eq(ldtap_exception_join_dropped(join), 1);
    ldtap_exception_join_free(join);
}

Test(exception_join, bounded_tables) {
    struct ldtap_exception_join *join = ldtap_exception_join_new();
    for (int i = 1; i <= LDTAP_EXCEPTION_JOIN_MAX_PENDING + 3; i++) {
        uint8_t id[8] = {(uint8_t)i, (uint8_t)(i >> 8), 1};
        ldtap_exception_join_report(join, id, report(), (uint64_t)i, sink, NULL);
    }
    cr_assert_eq(ldtap_exception_join_dropped(join), 3);
    ldtap_exception_join_free(join);
}
