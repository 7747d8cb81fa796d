/* Combining the exception events reported for one span (see exception_events.h): events
 * are copied between fixed-size blocks with the text room shared out, later text first. */
#include "exception_events.h"

#include <stdlib.h>
#include <string.h>

#include "traceback.h"

#define STACKTRACE_KEY "exception.stacktrace"

/* Bytes a string takes in a block's text, its terminating NUL included. */
static size_t stored_size(size_t length) {
    return length + 1;
}

static bool is_stacktrace(const struct ldtap_attribute *attribute) {
    return strcmp(attribute->key, STACKTRACE_KEY) == 0;
}

static const struct ldtap_attribute *stacktrace_of(const struct ldtap_span_events *events, uint16_t event) {
    const struct ldtap_span_event *run = &events->events[event];
    for (uint16_t i = 0; i < run->attribute_count; i++) {
        const struct ldtap_attribute *attribute = &events->attributes[run->first_attribute + i];
        if (attribute->type == LDTAP_VALUE_STRING && is_stacktrace(attribute)) {
            return attribute;
        }
    }
    return NULL;
}

/* Text room an event's string attributes other than its stack trace take. */
static size_t other_text(const struct ldtap_span_events *events, uint16_t event) {
    const struct ldtap_span_event *run = &events->events[event];
    size_t size = 0;
    for (uint16_t i = 0; i < run->attribute_count; i++) {
        const struct ldtap_attribute *attribute = &events->attributes[run->first_attribute + i];
        if (attribute->type == LDTAP_VALUE_STRING && !is_stacktrace(attribute)) {
            size += stored_size(attribute->string_length);
        }
    }
    return size;
}

/* Appends event `event` of `from` to `to` with its string attributes in their order; the
 * stack trace is `stack` (NULL: its own, cut to `stack_room` bytes). */
static void copy_event(struct ldtap_span_events *to, const struct ldtap_span_events *from, uint16_t event,
                       const char *stack, size_t stack_length, size_t stack_room) {
    const struct ldtap_span_event *run = &from->events[event];
    if (!ldtap_span_events_add(to, run->name, run->time_ns)) {
        return;
    }
    for (uint16_t i = 0; i < run->attribute_count; i++) {
        const struct ldtap_attribute *attribute = &from->attributes[run->first_attribute + i];
        if (attribute->type != LDTAP_VALUE_STRING) {
            continue; /* exception events carry strings only */
        }
        const char *value = ldtap_span_events_string(from, attribute);
        size_t length = attribute->string_length;
        if (is_stacktrace(attribute)) {
            if (stack) {
                value = stack;
                length = stack_length;
            }
            length = length < stack_room ? length : stack_room;
            ldtap_span_events_add_string(to, attribute->key, value, length, 0);
        } else {
            ldtap_span_events_add_string(to, attribute->key, value, length, length);
        }
    }
}

/* The cause's stack trace, a blank line, then the chained block (which starts with the
 * chaining line): Python's own layout. NULL when out of memory. */
static char *join_stacks(const struct ldtap_span_events *earlier, uint16_t cause, const char *stack,
                         size_t *stack_length) {
    const struct ldtap_attribute *cause_stack = stacktrace_of(earlier, cause);
    size_t cause_length = cause_stack ? cause_stack->string_length : 0;
    char *joined = malloc(cause_length + 2 + *stack_length);
    if (!joined) {
        return NULL;
    }
    size_t used = 0;
    if (cause_length > 0) {
        memcpy(joined, ldtap_span_events_string(earlier, cause_stack), cause_length);
        memcpy(joined + cause_length, "\n\n", 2);
        used = cause_length + 2;
    }
    memcpy(joined + used, stack, *stack_length);
    *stack_length += used;
    return joined;
}

/* Cuts `*stack` to `room` bytes from its start, at a line boundary when there is one. */
static void keep_tail(const char **stack, size_t *length, size_t room) {
    if (*length <= room) {
        return;
    }
    const char *start = *stack + (*length - room);
    const char *newline = room > 0 ? memchr(start, '\n', room) : NULL;
    if (newline) {
        start = newline + 1;
    }
    *length -= (size_t)(start - *stack);
    *stack = start;
}

struct ldtap_span_events *ldtap_exception_events_combine(struct ldtap_span_events *earlier,
                                                         struct ldtap_span_events *later) {
    if (!earlier || earlier->event_count == 0 || !later || later->event_count == 0) {
        struct ldtap_span_events *kept = earlier && earlier->event_count ? earlier : later;
        ldtap_span_events_release(kept == earlier ? later : earlier);
        return kept;
    }
    const struct ldtap_attribute *later_stack = stacktrace_of(later, 0);
    const char *stack = later_stack ? ldtap_span_events_string(later, later_stack) : NULL;
    size_t stack_length = later_stack ? later_stack->string_length : 0;
    bool chained = stack && ldtap_traceback_starts_chained(stack, stack_length);
    /* Earlier events copied as they are: all of them, or all but the chain's cause. */
    uint16_t copied = chained ? (uint16_t)(earlier->event_count - 1) : earlier->event_count;
    struct ldtap_span_events *combined = copied < LDTAP_SPAN_MAX_EVENTS ? ldtap_span_events_new() : NULL;
    char *joined = combined && chained ? join_stacks(earlier, copied, stack, &stack_length) : NULL;
    if (!combined || (chained && !joined)) {
        ldtap_span_events_release(combined);
        ldtap_span_events_release(later);
        return earlier;
    }
    if (joined) {
        stack = joined;
    }
    /* The text room: the later report's other attributes and every earlier event's must
     * fit whole; its stack trace comes next (a joined one keeps its newest lines); the
     * earlier stack traces share what is left, oldest first. */
    size_t room = sizeof combined->text;
    size_t fixed = other_text(later, 0);
    for (uint16_t event = 0; event < copied; event++) {
        fixed += other_text(earlier, event);
    }
    size_t left = room > fixed ? room - fixed : 0;
    if (chained) {
        keep_tail(&stack, &stack_length, left > 0 ? left - 1 : 0);
    }
    left -= stack ? (stored_size(stack_length) < left ? stored_size(stack_length) : left) : 0;
    for (uint16_t event = 0; event < copied; event++) {
        const struct ldtap_attribute *own = stacktrace_of(earlier, event);
        size_t stack_room = left > 0 ? left - 1 : 0;
        copy_event(combined, earlier, event, NULL, 0, stack_room);
        if (own) {
            size_t used = stored_size(own->string_length < stack_room ? own->string_length : stack_room);
            left -= used < left ? used : left;
        }
    }
    copy_event(combined, later, 0, stack, stack_length, stack_length);
    free(joined);
    ldtap_span_events_release(earlier);
    ldtap_span_events_release(later);
    return combined;
}
