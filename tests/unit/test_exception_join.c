/* Tests of joining exception reports to server spans in either order, holding error
 * spans briefly, combining several reports for one span (a Python chain's parts into the
 * exception that propagated), and dropping what never meets its partner. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "exception_events.h"
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
    ldtap_exception_join_report(join, id, report(), 0);
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

/* uvicorn: the 500 span first, its traceback right after. The span waits for the whole
 * hold (a chain's later parts may follow) and then carries the report. */
Test(exception_join, error_span_first_is_held_until_report) {
    struct ldtap_exception_join *join = ldtap_exception_join_new();
    struct ldtap_span span;
    server_span(&span, 7, LDTAP_STATUS_ERROR);
    cr_assert(ldtap_exception_join_span(join, &span, 0, 0, sink, NULL));
    cr_assert_eq(emitted_count, 0);
    uint8_t id[8] = {7};
    ldtap_exception_join_report(join, id, report(), 10);
    ldtap_exception_join_expire(join, LDTAP_EXCEPTION_JOIN_HOLD_NS - 1, false, sink, NULL);
    cr_assert_eq(emitted_count, 0);
    ldtap_exception_join_expire(join, LDTAP_EXCEPTION_JOIN_HOLD_NS, false, sink, NULL);
    cr_assert_eq(emitted_count, 1);
    cr_assert_not_null(emitted[0].events);
    cr_assert_eq(emitted[0].status_code, LDTAP_STATUS_ERROR);
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
    ldtap_exception_join_report(join, id, report(), 0);
    ldtap_exception_join_expire(join, LDTAP_EXCEPTION_JOIN_MAX_AGE_NS, false, sink, NULL);
    cr_assert_eq(ldtap_exception_join_dropped(join), 1);
    ldtap_exception_join_free(join);
}

Test(exception_join, bounded_tables) {
    struct ldtap_exception_join *join = ldtap_exception_join_new();
    for (int i = 1; i <= LDTAP_EXCEPTION_JOIN_MAX_PENDING + 3; i++) {
        uint8_t id[8] = {(uint8_t)i, (uint8_t)(i >> 8), 1};
        ldtap_exception_join_report(join, id, report(), (uint64_t)i);
    }
    cr_assert_eq(ldtap_exception_join_dropped(join), 3);
    ldtap_exception_join_free(join);
}

/* ---- several reports for one span ---- */

static const char CAUSE_STACK[] = "Traceback (most recent call last):\n"
                                  "  File \"/srv/app.py\", line 4, in lookup\n"
                                  "    return table[key]\n"
                                  "KeyError: 'sku'";
static const char CHAINED_STACK[] = "The above exception was the direct cause of the following exception:\n"
                                    "\n"
                                    "Traceback (most recent call last):\n"
                                    "  File \"/srv/app.py\", line 9, in view\n"
                                    "    raise LookupFailed(key) from error\n"
                                    "app.LookupFailed: no such item";

static struct ldtap_span_events *exception_report(uint64_t time_ns, const char *type, const char *message,
                                                  const char *stack, size_t stack_length) {
    struct ldtap_span_events *events = ldtap_span_events_new();
    ldtap_span_events_add(events, "exception", time_ns);
    ldtap_span_events_add_string(events, "exception.type", type, strlen(type), strlen(type));
    ldtap_span_events_add_string(events, "exception.message", message, strlen(message), strlen(message));
    ldtap_span_events_add_string(events, "exception.stacktrace", stack, stack_length, 0);
    return events;
}

/* The string attribute `key` of event `event`, NUL-terminated in a static buffer. */
static const char *event_string(const struct ldtap_span_events *events, uint16_t event, const char *key) {
    static char value[LDTAP_SPAN_EVENTS_TEXT_BYTES + 1];
    const struct ldtap_span_event *run = &events->events[event];
    for (uint16_t i = 0; i < run->attribute_count; i++) {
        const struct ldtap_attribute *attribute = &events->attributes[run->first_attribute + i];
        if (strcmp(attribute->key, key) == 0) {
            memcpy(value, ldtap_span_events_string(events, attribute), attribute->string_length);
            value[attribute->string_length] = '\0';
            return value;
        }
    }
    return NULL;
}

static void expect_chain_joined(const struct ldtap_span_events *events) {
    cr_assert_eq(events->event_count, 1);
    cr_assert_eq(events->events[0].time_ns, 20, "the propagated exception's time");
    cr_assert_str_eq(event_string(events, 0, "exception.type"), "app.LookupFailed");
    cr_assert_str_eq(event_string(events, 0, "exception.message"), "no such item");
    static char expected[1024];
    snprintf(expected, sizeof expected, "%s\n\n%s", CAUSE_STACK, CHAINED_STACK);
    cr_assert_str_eq(event_string(events, 0, "exception.stacktrace"), expected);
}

/* uvicorn logs a chain after the 500: the held span ends up with the last exception. */
Test(exception_join, chained_reports_after_span_keep_the_last_exception) {
    struct ldtap_exception_join *join = ldtap_exception_join_new();
    struct ldtap_span span;
    server_span(&span, 11, LDTAP_STATUS_ERROR);
    cr_assert(ldtap_exception_join_span(join, &span, 0, 0, sink, NULL));
    uint8_t id[8] = {11};
    ldtap_exception_join_report(
        join, id, exception_report(10, "KeyError", "'sku'", CAUSE_STACK, strlen(CAUSE_STACK)), 1);
    ldtap_exception_join_report(
        join, id,
        exception_report(20, "app.LookupFailed", "no such item", CHAINED_STACK, strlen(CHAINED_STACK)), 2);
    ldtap_exception_join_expire(join, LDTAP_EXCEPTION_JOIN_HOLD_NS, false, sink, NULL);
    cr_assert_eq(emitted_count, 1);
    expect_chain_joined(emitted[0].events);
    ldtap_exception_join_free(join);
}

/* Flask logs the chain before answering: the reports wait and are joined first. */
Test(exception_join, chained_reports_before_span_keep_the_last_exception) {
    struct ldtap_exception_join *join = ldtap_exception_join_new();
    uint8_t id[8] = {12};
    ldtap_exception_join_report(
        join, id, exception_report(10, "KeyError", "'sku'", CAUSE_STACK, strlen(CAUSE_STACK)), 1);
    ldtap_exception_join_report(
        join, id,
        exception_report(20, "app.LookupFailed", "no such item", CHAINED_STACK, strlen(CHAINED_STACK)), 2);
    struct ldtap_span span;
    server_span(&span, 12, LDTAP_STATUS_ERROR);
    cr_assert_not(ldtap_exception_join_span(join, &span, 0, 3, sink, NULL));
    expect_chain_joined(span.events);
    ldtap_span_events_release(span.events);
    cr_assert_eq(ldtap_exception_join_dropped(join), 0);
    ldtap_exception_join_free(join);
}

/* Two separate failures (a handled exception logged, then the one that failed the
 * request; or a traceback then a crash): one event each, in order. */
Test(exception_join, separate_reports_are_separate_events) {
    struct ldtap_exception_join *join = ldtap_exception_join_new();
    uint8_t id[8] = {13};
    ldtap_exception_join_report(
        join, id, exception_report(10, "KeyError", "'sku'", CAUSE_STACK, strlen(CAUSE_STACK)), 1);
    ldtap_exception_join_report(join, id, exception_report(30, "SIGSEGV", "address 0x0", "#0 f", 4), 2);
    struct ldtap_span span;
    server_span(&span, 13, LDTAP_STATUS_UNSET);
    cr_assert_not(ldtap_exception_join_span(join, &span, 0, 3, sink, NULL));
    cr_assert_eq(span.status_code, LDTAP_STATUS_ERROR);
    cr_assert_eq(span.events->event_count, 2);
    cr_assert_str_eq(event_string(span.events, 0, "exception.type"), "KeyError");
    cr_assert_str_eq(event_string(span.events, 0, "exception.stacktrace"), CAUSE_STACK);
    cr_assert_str_eq(event_string(span.events, 1, "exception.type"), "SIGSEGV");
    cr_assert_eq(span.events->events[1].time_ns, 30);
    ldtap_span_events_release(span.events);
    ldtap_exception_join_free(join);
}

/* Room is bounded: the later report's text is kept, earlier stack traces are cut, a long
 * chain keeps its newest lines from a line start, and a fifth event is not added. */
Test(exception_join, combining_within_the_event_block) {
    static char big[LDTAP_LOG_TRACEBACK_MAX];
    size_t used = (size_t)snprintf(big, sizeof big, "Traceback (most recent call last):\n");
    for (int line = 1; used + 64 < sizeof big; line++) {
        used +=
            (size_t)snprintf(big + used, sizeof big - used, "  File \"/srv/deep.py\", line %d, in r\n", line);
    }
    used += (size_t)snprintf(big + used, sizeof big - used, "RecursionError: too deep");
    struct ldtap_span_events *events = exception_report(1, "RecursionError", "too deep", big, used);
    events = ldtap_exception_events_combine(events, exception_report(2, "E2", "second", big, used));
    cr_assert_eq(events->event_count, 2);
    const char *second = event_string(events, 1, "exception.stacktrace");
    cr_assert_eq(strlen(second), used, "the later report's stack trace is whole");
    const char *first = event_string(events, 0, "exception.stacktrace");
    cr_assert_lt(strlen(first), used, "the earlier one was cut");
    cr_assert(strncmp(first, "Traceback (most recent call last):", 34) == 0);

    /* A chain of two big blocks: the joined stack trace keeps its end. */
    static char chained[LDTAP_LOG_TRACEBACK_MAX + 128];
    size_t chained_length =
        (size_t)snprintf(chained, sizeof chained,
                         "During handling of the above exception, another exception occurred:\n\n%s", big);
    struct ldtap_span_events *chain = exception_report(1, "RecursionError", "too deep", big, used);
    chain = ldtap_exception_events_combine(chain, exception_report(2, "E3", "last", chained, chained_length));
    cr_assert_eq(chain->event_count, 1);
    cr_assert_str_eq(event_string(chain, 0, "exception.type"), "E3");
    const char *joined = event_string(chain, 0, "exception.stacktrace");
    cr_assert_lt(strlen(joined), used + 2 + chained_length);
    cr_assert(strstr(joined, "During handling of the above exception") != NULL);
    cr_assert_str_eq(joined + strlen(joined) - strlen("RecursionError: too deep"),
                     "RecursionError: too deep");
    cr_assert(strncmp(joined, "  File", 6) == 0, "cut at a line start: %.40s", joined);
    ldtap_span_events_release(chain);

    for (int more = 0; more < 4; more++) {
        events = ldtap_exception_events_combine(events, exception_report(3, "E", "more", "x", 1));
    }
    cr_assert_eq(events->event_count, LDTAP_SPAN_MAX_EVENTS);
    ldtap_span_events_release(events);
    cr_assert_null(ldtap_exception_events_combine(NULL, NULL));
}
