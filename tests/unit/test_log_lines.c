/* Unit tests for the shim's log line and traceback assembler (shim/proto/log_lines.c):
 * each input fed whole, split at every byte, and one byte at a time gives the same events. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_lines.h"

#define EVENTS_MAX 16

struct event {
    enum ldtap_log_event kind;
    char text[LDTAP_LOG_TRACEBACK_MAX + 1];
    uint32_t full_length;
    uint16_t flags;
};

struct events {
    unsigned count;
    struct event list[EVENTS_MAX];
};

static void collect(void *context, const struct ldtap_log_piece *piece) {
    struct events *events = context;
    cr_assert_lt(events->count, EVENTS_MAX);
    cr_assert_leq(piece->length, LDTAP_LOG_TRACEBACK_MAX);
    cr_assert_leq(piece->length, piece->full_length);
    struct event *event = &events->list[events->count++];
    event->kind = piece->event;
    if (piece->length > 0)
        memcpy(event->text, piece->text, piece->length);
    event->text[piece->length] = '\0';
    event->full_length = piece->full_length;
    event->flags = piece->flags;
}

static struct ldtap_log_lines *assembler(bool emit_lines) {
    static struct ldtap_log_lines lines;
    ldtap_log_lines_reset(&lines, emit_lines);
    return &lines;
}

/* Feeds `text` in pieces of `step` bytes (0: whole), then finishes when asked. */
static void run(const char *text, size_t step, bool emit_lines, bool finish, struct events *out) {
    struct ldtap_log_lines *lines = assembler(emit_lines);
    memset(out, 0, sizeof(*out));
    size_t length = strlen(text);
    if (step == 0)
        step = length;
    for (size_t at = 0; at < length; at += step)
        ldtap_log_lines_feed(lines, text + at, length - at < step ? length - at : step, collect, out);
    if (finish)
        ldtap_log_lines_finish(lines, collect, out);
}

/* Same events however the bytes were split. */
static void run_everywhere(const char *text, bool emit_lines, bool finish, struct events *out) {
    static struct events other;
    run(text, 0, emit_lines, finish, out);
    for (size_t step = 1; step < strlen(text); step++) {
        run(text, step, emit_lines, finish, &other);
        cr_assert_eq(other.count, out->count, "step %zu", step);
        for (unsigned i = 0; i < out->count; i++) {
            cr_assert_eq(other.list[i].kind, out->list[i].kind);
            cr_assert_str_eq(other.list[i].text, out->list[i].text, "step %zu", step);
            cr_assert_eq(other.list[i].full_length, out->list[i].full_length);
            cr_assert_eq(other.list[i].flags, out->list[i].flags);
        }
    }
}

static const char *const block = "Traceback (most recent call last):\n"
                                 "  File \"app.py\", line 3, in view\n"
                                 "    return 1 / 0\n"
                                 "           ~~^~~\n"
                                 "ZeroDivisionError: division by zero\n";

Test(log_lines, traceback_block_is_one_event) {
    static struct events events;
    run_everywhere(block, false, true, &events);
    cr_assert_eq(events.count, 2);
    cr_assert_eq(events.list[0].kind, LDTAP_LOG_EVENT_TRACEBACK_BEGIN);
    cr_assert_eq(events.list[1].kind, LDTAP_LOG_EVENT_TRACEBACK);
    cr_assert_eq(events.list[1].flags, 0);
    cr_assert_eq(strlen(events.list[1].text) + 1, strlen(block)); /* no final '\n' */
    cr_assert_eq(events.list[1].full_length, strlen(block) - 1);
    cr_assert(strncmp(events.list[1].text, block, strlen(block) - 1) == 0);
}

Test(log_lines, lines_around_a_block_only_when_wanted) {
    static struct events events;
    static char text[1024];
    snprintf(text, sizeof text, "ERROR Exception on /boom [GET]\r\n%s\nafter\n", block);
    run_everywhere(text, true, true, &events);
    cr_assert_eq(events.count, 4);
    cr_assert_eq(events.list[0].kind, LDTAP_LOG_EVENT_LINE);
    cr_assert_str_eq(events.list[0].text, "ERROR Exception on /boom [GET]\r"); /* '\r' kept */
    cr_assert_eq(events.list[2].kind, LDTAP_LOG_EVENT_TRACEBACK);
    cr_assert_str_eq(events.list[3].text, "after"); /* the blank line makes no event */
    run_everywhere(text, false, true, &events);
    cr_assert_eq(events.count, 2);
}

Test(log_lines, cut_off_block_is_incomplete) {
    static struct events events;
    run_everywhere("Traceback (most recent call last):\n  File \"a.py\", line 1, in f\n", false, true,
                   &events);
    cr_assert_eq(events.count, 2);
    cr_assert_eq(events.list[1].flags, LDTAP_LOG_FLAG_INCOMPLETE);
    cr_assert_str_eq(events.list[1].text,
                     "Traceback (most recent call last):\n  File \"a.py\", line 1, in f");
    run_everywhere("Traceback (most recent call last):\n  File \"a.py\", line 1, in f\n\nplain\n", true,
                   false, &events);
    cr_assert_eq(events.count, 3);
    cr_assert_eq(events.list[1].flags, LDTAP_LOG_FLAG_INCOMPLETE);
    cr_assert_str_eq(events.list[2].text, "plain");
}

Test(log_lines, chained_blocks_are_consecutive_events) {
    static struct events events;
    static char text[2048];
    snprintf(text, sizeof text,
             "%s\nDuring handling of the above exception, another exception occurred:\n\n%s", block, block);
    run_everywhere(text, true, true, &events);
    cr_assert_eq(events.count, 4);
    cr_assert_eq(events.list[1].flags, 0);
    cr_assert_eq(events.list[3].kind, LDTAP_LOG_EVENT_TRACEBACK);
    cr_assert_eq(events.list[3].flags, LDTAP_LOG_FLAG_CHAINED);
    static const char chained_start[] =
        "During handling of the above exception, another exception occurred:\n\nTraceback";
    cr_assert(strncmp(events.list[3].text, chained_start, strlen(chained_start)) == 0);
    /* A marker after an ordinary line is an ordinary line; after a traceback it is held
     * for the next block, and what follows when no header comes is a line again. */
    run_everywhere("x: y\n\nThe above exception was the direct cause of the following exception:\nmore\n",
                   true, true, &events);
    cr_assert_eq(events.count, 3);
    cr_assert_str_eq(events.list[2].text, "more");
    snprintf(text, sizeof text,
             "%s\nThe above exception was the direct cause of the following exception:\nmore\n", block);
    run_everywhere(text, true, true, &events);
    cr_assert_eq(events.count, 3);
    cr_assert_eq(events.list[2].kind, LDTAP_LOG_EVENT_LINE);
    cr_assert_str_eq(events.list[2].text, "more");
}

Test(log_lines, long_line_is_cut_and_flagged) {
    static char text[3000];
    static struct events events;
    memset(text, 'a', 2500);
    strcpy(text + 2500, "\nshort\n");
    run(text, 7, true, true, &events);
    cr_assert_eq(events.count, 2);
    cr_assert_eq(strlen(events.list[0].text), LDTAP_LOG_LINE_MAX);
    cr_assert_eq(events.list[0].full_length, 2500);
    cr_assert_eq(events.list[0].flags, LDTAP_LOG_FLAG_TRUNCATED);
    cr_assert_str_eq(events.list[1].text, "short");
}

Test(log_lines, long_block_keeps_header_and_exception_line) {
    static char text[40000];
    static struct events events;
    size_t length = (size_t)sprintf(text, "Traceback (most recent call last):\n");
    for (int i = 0; i < 400; i++)
        length +=
            (size_t)sprintf(text + length, "  File \"/srv/app/module%03d.py\", line %d, in function\n", i, i);
    memset(text + length, 'E', 1500);
    length += 1500;
    strcpy(text + length, "\n");
    run(text, 0, false, true, &events);
    cr_assert_eq(events.count, 2);
    const struct event *tb = &events.list[1];
    cr_assert_eq(tb->flags, LDTAP_LOG_FLAG_TRUNCATED);
    cr_assert_leq(strlen(tb->text), LDTAP_LOG_TRACEBACK_MAX);
    cr_assert_eq(tb->full_length, strlen(text) - 1);
    cr_assert(strncmp(tb->text, "Traceback (most recent call last):\n  File", 41) == 0);
    const char *last = strrchr(tb->text, '\n') + 1;
    cr_assert_eq(strlen(last), LDTAP_LOG_LINE_MAX); /* the exception line, cut */
    cr_assert_eq(last[0], 'E');
}

Test(log_lines, finish_emits_partial_line) {
    static struct events events;
    run_everywhere("no newline at the end", true, true, &events);
    cr_assert_eq(events.count, 1);
    cr_assert_str_eq(events.list[0].text, "no newline at the end");
    run_everywhere("no newline at the end", true, false, &events);
    cr_assert_eq(events.count, 0);
}

/* ---- exception groups (CPython 3.11.2 output) ---- */

static const char *const group = "  + Exception Group Traceback (most recent call last):\n"
                                 "  |   File \"/tmp/tbgen/group.py\", line 13, in <module>\n"
                                 "  |     main()\n"
                                 "  | ExceptionGroup: several failures (2 sub-exceptions)\n"
                                 "  +-+---------------- 1 ----------------\n"
                                 "    | Traceback (most recent call last):\n"
                                 "    |   File \"/tmp/tbgen/group.py\", line 2, in f\n"
                                 "    |     raise ValueError(\"bad value\")\n"
                                 "    | ValueError: bad value\n"
                                 "    +---------------- 2 ----------------\n"
                                 "    | TypeError: bad type\n"
                                 "    +------------------------------------\n";

/* The last sub-exception is itself a group: Python closes only that one, six deep. */
static const char *const nested_last_group = "  + Exception Group Traceback (most recent call last):\n"
                                             "  |   File \"/tmp/tbgen/logged.py\", line 8, in <module>\n"
                                             "  | ExceptionGroup: logged group (2 sub-exceptions)\n"
                                             "  +-+---------------- 1 ----------------\n"
                                             "    | ValueError: noted\n"
                                             "    +---------------- 2 ----------------\n"
                                             "    | ExceptionGroup: inner (1 sub-exception)\n"
                                             "    +-+---------------- 1 ----------------\n"
                                             "      | KeyError: 'k'\n"
                                             "      +------------------------------------\n";

Test(log_lines, exception_group_ends_at_its_closing_line) {
    static struct events events;
    /* No finish: the top-level closing line ends the block by itself. */
    run_everywhere(group, true, false, &events);
    cr_assert_eq(events.count, 2);
    cr_assert_eq(events.list[0].kind, LDTAP_LOG_EVENT_TRACEBACK_BEGIN);
    cr_assert_eq(events.list[0].flags, 0);
    cr_assert_eq(events.list[1].kind, LDTAP_LOG_EVENT_TRACEBACK);
    cr_assert_eq(events.list[1].flags, 0);
    cr_assert_eq(strlen(events.list[1].text) + 1, strlen(group));
    cr_assert(strncmp(events.list[1].text, group, strlen(group) - 1) == 0);
    /* Lines after it are lines again. */
    static char text[2048];
    snprintf(text, sizeof text, "%sINFO: next\n", group);
    run_everywhere(text, true, false, &events);
    cr_assert_eq(events.count, 3);
    cr_assert_eq(events.list[2].kind, LDTAP_LOG_EVENT_LINE);
    cr_assert_str_eq(events.list[2].text, "INFO: next");
}

Test(log_lines, exception_group_without_top_closing_line) {
    static struct events events;
    /* Whole as far as anyone can tell only once something else is written... */
    run_everywhere(nested_last_group, true, false, &events);
    cr_assert_eq(events.count, 1);
    cr_assert_eq(events.list[0].kind, LDTAP_LOG_EVENT_TRACEBACK_BEGIN);
    static char text[2048];
    snprintf(text, sizeof text, "%safter\n", nested_last_group);
    run_everywhere(text, true, false, &events);
    cr_assert_eq(events.count, 3);
    cr_assert_eq(events.list[1].flags, 0);
    cr_assert_eq(strlen(events.list[1].text) + 1, strlen(nested_last_group));
    cr_assert_str_eq(events.list[2].text, "after");
    /* ...or when the writer ends on a closing line: complete, not cut off. */
    run_everywhere(nested_last_group, true, true, &events);
    cr_assert_eq(events.count, 2);
    cr_assert_eq(events.list[1].flags, 0);
    /* Ended elsewhere, it was cut off. */
    run_everywhere(
        "  + Exception Group Traceback (most recent call last):\n  |   File \"a.py\", line 1, in f\n", true,
        true, &events);
    cr_assert_eq(events.count, 2);
    cr_assert_eq(events.list[1].flags, LDTAP_LOG_FLAG_INCOMPLETE);
}

Test(log_lines, exception_group_without_header) {
    static struct events events;
    const char *text = "  | ExceptionGroup:  (2 sub-exceptions)\n"
                       "  +-+---------------- 1 ----------------\n"
                       "    | ValueError: 1\n"
                       "    +---------------- 2 ----------------\n"
                       "    | TypeError: 2\n"
                       "    +------------------------------------\n";
    run_everywhere(text, true, false, &events);
    cr_assert_eq(events.count, 2);
    cr_assert_eq(events.list[1].kind, LDTAP_LOG_EVENT_TRACEBACK);
    cr_assert_eq(events.list[1].flags, 0);
    cr_assert(strncmp(events.list[1].text, "  | ExceptionGroup:  (2 sub-exceptions)\n  +-+--", 46) == 0);
    /* Margin-like lines that are no group's are ordinary lines. */
    run_everywhere("  | ExceptionGroup: not counted\n  | x (2 sub-exceptions)\n  |  ExceptionGroup: y (1 "
                   "sub-exception)\n",
                   true, true, &events);
    cr_assert_eq(events.count, 3);
    for (unsigned i = 0; i < events.count; i++)
        cr_assert_eq(events.list[i].kind, LDTAP_LOG_EVENT_LINE);
}

/* A group as a chain's cause, a group as a chain's last part: each its own block, the
 * later flagged CHAINED from its beginning on. */
Test(log_lines, exception_groups_in_chains) {
    static struct events events;
    static char text[4096];
    snprintf(text, sizeof text,
             "%s\nThe above exception was the direct cause of the following exception:\n\n%s", group, block);
    run_everywhere(text, true, true, &events);
    cr_assert_eq(events.count, 4);
    cr_assert_eq(events.list[1].flags, 0);
    cr_assert(strncmp(events.list[1].text, "  + Exception Group", 19) == 0);
    cr_assert_eq(events.list[2].kind, LDTAP_LOG_EVENT_TRACEBACK_BEGIN);
    cr_assert_eq(events.list[2].flags, LDTAP_LOG_FLAG_CHAINED);
    cr_assert_eq(events.list[3].flags, LDTAP_LOG_FLAG_CHAINED);
    cr_assert(strstr(events.list[3].text, "ZeroDivisionError: division by zero") != NULL);

    snprintf(text, sizeof text,
             "%s\nDuring handling of the above exception, another exception occurred:\n\n%s", block,
             nested_last_group);
    run_everywhere(text, false, true, &events);
    cr_assert_eq(events.count, 4);
    cr_assert_eq(events.list[2].flags, LDTAP_LOG_FLAG_CHAINED);
    cr_assert_eq(events.list[3].flags, LDTAP_LOG_FLAG_CHAINED);
    static const char chained_group[] =
        "During handling of the above exception, another exception occurred:\n\n"
        "  + Exception Group Traceback";
    cr_assert(strncmp(events.list[3].text, chained_group, strlen(chained_group)) == 0);

    /* The chain after a group that ended without its top closing line. */
    snprintf(text, sizeof text,
             "%s\nDuring handling of the above exception, another exception occurred:\n\n%s",
             nested_last_group, block);
    run_everywhere(text, true, true, &events);
    cr_assert_eq(events.count, 4);
    cr_assert_eq(events.list[1].flags, 0);
    cr_assert_eq(events.list[3].flags, LDTAP_LOG_FLAG_CHAINED);
}
