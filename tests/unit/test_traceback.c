/* Tests of the Python traceback parser on real Python 3.11 output: plain, chained,
 * SyntaxError, KeyboardInterrupt, multi-line messages, log prefixes, truncation, exception
 * groups, and every prefix of a block (the parser must hold on partial input). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traceback.h"

static const char ZERO_DIVISION[] = "Traceback (most recent call last):\n"
                                    "  File \"/srv/app/views.py\", line 12, in divide\n"
                                    "    return 1 / 0\n"
                                    "           ~~^~~\n"
                                    "ZeroDivisionError: division by zero";

static const char CHAINED[] = "Traceback (most recent call last):\n"
                              "  File \"/tmp/tbgen/chained.py\", line 4, in <module>\n"
                              "    lookup({})\n"
                              "  File \"/tmp/tbgen/chained.py\", line 2, in lookup\n"
                              "    return d[\"missing\"]\n"
                              "           ~^^^^^^^^^^^\n"
                              "KeyError: 'missing'\n"
                              "\n"
                              "The above exception was the direct cause of the following exception:\n"
                              "\n"
                              "Traceback (most recent call last):\n"
                              "  File \"/tmp/tbgen/chained.py\", line 6, in <module>\n"
                              "    raise ValueError(\"could not\\nfind the key\") from e\n"
                              "ValueError: could not\n"
                              "find the key\n";

static const char SYNTAX_ERROR[] = "Traceback (most recent call last):\n"
                                   "  File \"<string>\", line 1, in <module>\n"
                                   "  File \"/tmp/tbgen/bad.py\", line 1\n"
                                   "    x = (1 +\n"
                                   "        ^\n"
                                   "SyntaxError: '(' was never closed";

static void expect_slice(const char *slice, size_t length, const char *expected) {
    cr_assert_eq(length, strlen(expected), "length %zu for \"%.*s\", expected \"%s\"", length, (int)length,
                 slice ? slice : "", expected);
    cr_assert(length == 0 || memcmp(slice, expected, length) == 0, "\"%.*s\" != \"%s\"", (int)length, slice,
              expected);
}

Test(traceback, zero_division) {
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(ZERO_DIVISION, strlen(ZERO_DIVISION), &tb), LDTAP_TRACEBACK_COMPLETE);
    expect_slice(tb.type, tb.type_length, "ZeroDivisionError");
    expect_slice(tb.message, tb.message_length, "division by zero");
    cr_assert_eq(tb.frame_count, 1);
    expect_slice(tb.frames[0].file, tb.frames[0].file_length, "/srv/app/views.py");
    cr_assert_eq(tb.frames[0].line, 12);
    expect_slice(tb.frames[0].function, tb.frames[0].function_length, "divide");
    expect_slice(tb.frames[0].source, tb.frames[0].source_length, "return 1 / 0");
    cr_assert_eq(tb.traceback_count, 1);
}

Test(traceback, chained_reports_last_with_multiline_message) {
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(CHAINED, strlen(CHAINED), &tb), LDTAP_TRACEBACK_COMPLETE);
    cr_assert_eq(tb.traceback_count, 2);
    expect_slice(tb.type, tb.type_length, "ValueError");
    expect_slice(tb.message, tb.message_length, "could not\nfind the key");
    cr_assert_eq(tb.frame_count, 1);
    cr_assert_eq(tb.frames[0].line, 6);
}

Test(traceback, during_handling_chain) {
    const char text[] = "Traceback (most recent call last):\n"
                        "  File \"a.py\", line 1, in f\n"
                        "KeyError: 1\n\n"
                        "During handling of the above exception, another exception occurred:\n\n"
                        "Traceback (most recent call last):\n"
                        "  File \"a.py\", line 3, in g\n"
                        "django.db.utils.IntegrityError: UNIQUE constraint failed: shop_item.sku\n";
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(text, strlen(text), &tb), LDTAP_TRACEBACK_COMPLETE);
    expect_slice(tb.type, tb.type_length, "django.db.utils.IntegrityError");
    expect_slice(tb.message, tb.message_length, "UNIQUE constraint failed: shop_item.sku");
}

Test(traceback, syntax_error_with_caret) {
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(SYNTAX_ERROR, strlen(SYNTAX_ERROR), &tb), LDTAP_TRACEBACK_COMPLETE);
    expect_slice(tb.type, tb.type_length, "SyntaxError");
    expect_slice(tb.message, tb.message_length, "'(' was never closed");
    cr_assert_eq(tb.frame_count, 2);
    cr_assert_null(tb.frames[1].function);
    cr_assert_eq(tb.frames[1].line, 1);
    expect_slice(tb.frames[1].source, tb.frames[1].source_length, "x = (1 +");
}

Test(traceback, keyboard_interrupt_has_no_message) {
    const char text[] = "Traceback (most recent call last):\r\n"
                        "  File \"/usr/lib/python3.11/selectors.py\", line 468, in select\r\n"
                        "    fd_event_list = self._selector.poll(timeout, max_ev)\r\n"
                        "                    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n"
                        "KeyboardInterrupt\r\n";
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(text, strlen(text), &tb), LDTAP_TRACEBACK_COMPLETE);
    expect_slice(tb.type, tb.type_length, "KeyboardInterrupt");
    cr_assert_eq(tb.message_length, 0);
    expect_slice(tb.frames[0].source, tb.frames[0].source_length,
                 "fd_event_list = self._selector.poll(timeout, max_ev)");
}

Test(traceback, log_prefix_before_header) {
    const char text[] = "[2024-05-01 10:00:00,123] ERROR in app: Exception on /divide [GET]\n"
                        "Traceback (most recent call last):\n"
                        "  File \"/usr/lib/python3/dist-packages/flask/app.py\", line 1463, in wsgi_app\n"
                        "    response = self.full_dispatch_request()\n"
                        "ZeroDivisionError: division by zero";
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(text, strlen(text), &tb), LDTAP_TRACEBACK_COMPLETE);
    expect_slice(tb.type, tb.type_length, "ZeroDivisionError");
}

Test(traceback, truncated_block_is_incomplete) {
    const char text[] = "Traceback (most recent call last):\n"
                        "  File \"a.py\", line 1, in f\n"
                        "    f()\n";
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(text, strlen(text), &tb), LDTAP_TRACEBACK_INCOMPLETE);
    cr_assert_eq(tb.type_length, 0);
    cr_assert_eq(tb.frame_count, 1);
}

Test(traceback, no_header) {
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse("hello\nworld", 11, &tb), LDTAP_TRACEBACK_NONE);
    cr_assert_eq(ldtap_traceback_parse("", 0, &tb), LDTAP_TRACEBACK_NONE);
}

Test(traceback, untyped_exception_line_is_message) {
    const char text[] =
        "Traceback (most recent call last):\n  File \"a.py\", line 1, in f\n<weird> thing happened";
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(text, strlen(text), &tb), LDTAP_TRACEBACK_COMPLETE);
    cr_assert_eq(tb.type_length, 0);
    expect_slice(tb.message, tb.message_length, "<weird> thing happened");
}

Test(traceback, deep_stack_is_bounded) {
    static char text[64 * 1024];
    size_t used = (size_t)snprintf(text, sizeof text, "Traceback (most recent call last):\n");
    for (int i = 0; i < 1000 && used + 64 < sizeof text; i++) {
        used +=
            (size_t)snprintf(text + used, sizeof text - used, "  File \"r.py\", line %d, in r\n    r()\n", i);
    }
    used +=
        (size_t)snprintf(text + used, sizeof text - used, "RecursionError: maximum recursion depth exceeded");
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(text, used, &tb), LDTAP_TRACEBACK_COMPLETE);
    cr_assert_eq(tb.frame_count, LDTAP_TRACEBACK_MAX_FRAMES);
    cr_assert_gt(tb.frames_seen, LDTAP_TRACEBACK_MAX_FRAMES);
    expect_slice(tb.type, tb.type_length, "RecursionError");
}

/* Every prefix of a real block parses without reading past it (ASan builds check). */
Test(traceback, every_prefix) {
    size_t length = strlen(CHAINED);
    for (size_t cut = 0; cut <= length; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, CHAINED, cut);
        struct ldtap_traceback tb;
        ldtap_traceback_parse(copy, cut, &tb);
        cr_assert(tb.type_length == 0 || (tb.type >= copy && tb.type + tb.type_length <= copy + cut));
        cr_assert(tb.message_length == 0 ||
                  (tb.message >= copy && tb.message + tb.message_length <= copy + cut));
        free(copy);
    }
}

/* ---- exception groups (CPython 3.11.2 output, /usr/bin/python3) ---- */

/* raise ExceptionGroup("several failures", errors) with a ValueError and a TypeError. */
static const char GROUP[] = "  + Exception Group Traceback (most recent call last):\n"
                            "  |   File \"/tmp/tbgen/group.py\", line 13, in <module>\n"
                            "  |     main()\n"
                            "  |   File \"/tmp/tbgen/group.py\", line 12, in main\n"
                            "  |     raise ExceptionGroup(\"several failures\", errors)\n"
                            "  | ExceptionGroup: several failures (2 sub-exceptions)\n"
                            "  +-+---------------- 1 ----------------\n"
                            "    | Traceback (most recent call last):\n"
                            "    |   File \"/tmp/tbgen/group.py\", line 9, in main\n"
                            "    |     fn()\n"
                            "    |   File \"/tmp/tbgen/group.py\", line 2, in f\n"
                            "    |     raise ValueError(\"bad value\")\n"
                            "    | ValueError: bad value\n"
                            "    +---------------- 2 ----------------\n"
                            "    | Traceback (most recent call last):\n"
                            "    |   File \"/tmp/tbgen/group.py\", line 9, in main\n"
                            "    |     fn()\n"
                            "    |   File \"/tmp/tbgen/group.py\", line 4, in g\n"
                            "    |     raise TypeError(\"bad type\")\n"
                            "    | TypeError: bad type\n"
                            "    +------------------------------------";

/* logging.exception() (the traceback module's layout) of a group whose sub-exception has
 * a note and whose last sub-exception is a group: no closing line four spaces deep. */
static const char LOGGED_GROUP[] =
    "ERROR:root:request failed\n"
    "  + Exception Group Traceback (most recent call last):\n"
    "  |   File \"/tmp/tbgen/logged.py\", line 8, in <module>\n"
    "  |     f()\n"
    "  |   File \"/tmp/tbgen/logged.py\", line 6, in f\n"
    "  |     raise ExceptionGroup(\"logged group\", [e, ExceptionGroup(\"inner\", [KeyError(\"k\")])])\n"
    "  | ExceptionGroup: logged group (2 sub-exceptions)\n"
    "  +-+---------------- 1 ----------------\n"
    "    | ValueError: noted\n"
    "    | a note\n"
    "    +---------------- 2 ----------------\n"
    "    | ExceptionGroup: inner (1 sub-exception)\n"
    "    +-+---------------- 1 ----------------\n"
    "      | KeyError: 'k'\n"
    "      +------------------------------------\n";

/* `except* ValueError: raise KeyError(...)`: the group that propagates was never raised
 * itself, so it has no header and no frames. */
static const char HEADERLESS_GROUP[] =
    "  | ExceptionGroup:  (2 sub-exceptions)\n"
    "  +-+---------------- 1 ----------------\n"
    "    | Exception Group Traceback (most recent call last):\n"
    "    |   File \"/tmp/tbgen/star.py\", line 4, in <module>\n"
    "    |     g()\n"
    "    |   File \"/tmp/tbgen/star.py\", line 2, in g\n"
    "    |     raise ExceptionGroup(\"eg\", [ValueError(1), TypeError(2)])\n"
    "    | ExceptionGroup: eg (1 sub-exception)\n"
    "    +-+---------------- 1 ----------------\n"
    "      | ValueError: 1\n"
    "      +------------------------------------\n"
    "    | \n"
    "    | During handling of the above exception, another exception occurred:\n"
    "    | \n"
    "    | Traceback (most recent call last):\n"
    "    |   File \"/tmp/tbgen/star.py\", line 6, in <module>\n"
    "    |     raise KeyError(\"from star\")\n"
    "    | KeyError: 'from star'\n"
    "    +---------------- 2 ----------------\n"
    "    | Exception Group Traceback (most recent call last):\n"
    "    |   File \"/tmp/tbgen/star.py\", line 4, in <module>\n"
    "    |     g()\n"
    "    |   File \"/tmp/tbgen/star.py\", line 2, in g\n"
    "    |     raise ExceptionGroup(\"eg\", [ValueError(1), TypeError(2)])\n"
    "    | ExceptionGroup: eg (1 sub-exception)\n"
    "    +-+---------------- 1 ----------------\n"
    "      | TypeError: 2\n"
    "      +------------------------------------\n";

/* A group as the cause of a plain exception: `raise RuntimeError("then this") from eg`. */
static const char GROUP_CAUSE[] = "  + Exception Group Traceback (most recent call last):\n"
                                  "  |   File \"/tmp/tbgen/group_cause.py\", line 2, in <module>\n"
                                  "  |     raise ExceptionGroup(\"first\", [ValueError(\"v\")])\n"
                                  "  | ExceptionGroup: first (1 sub-exception)\n"
                                  "  +-+---------------- 1 ----------------\n"
                                  "    | ValueError: v\n"
                                  "    +------------------------------------\n"
                                  "\n"
                                  "The above exception was the direct cause of the following exception:\n"
                                  "\n"
                                  "Traceback (most recent call last):\n"
                                  "  File \"/tmp/tbgen/group_cause.py\", line 4, in <module>\n"
                                  "    raise RuntimeError(\"then this\") from eg\n"
                                  "RuntimeError: then this\n";

Test(traceback, exception_group_type_message_and_own_frames) {
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(GROUP, strlen(GROUP), &tb), LDTAP_TRACEBACK_COMPLETE);
    cr_assert(tb.exception_group);
    cr_assert_eq(tb.traceback_count, 1);
    expect_slice(tb.type, tb.type_length, "ExceptionGroup");
    expect_slice(tb.message, tb.message_length, "several failures (2 sub-exceptions)");
    /* The group's own frames, not its sub-exceptions'. */
    cr_assert_eq(tb.frame_count, 2);
    expect_slice(tb.frames[0].file, tb.frames[0].file_length, "/tmp/tbgen/group.py");
    cr_assert_eq(tb.frames[0].line, 13);
    expect_slice(tb.frames[0].function, tb.frames[0].function_length, "<module>");
    expect_slice(tb.frames[1].function, tb.frames[1].function_length, "main");
    expect_slice(tb.frames[1].source, tb.frames[1].source_length,
                 "raise ExceptionGroup(\"several failures\", errors)");
}

Test(traceback, exception_group_logged_with_prefix_and_nested_last_member) {
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(LOGGED_GROUP, strlen(LOGGED_GROUP), &tb), LDTAP_TRACEBACK_COMPLETE);
    cr_assert(tb.exception_group);
    expect_slice(tb.type, tb.type_length, "ExceptionGroup");
    expect_slice(tb.message, tb.message_length, "logged group (2 sub-exceptions)");
    cr_assert_eq(tb.frame_count, 2);
    cr_assert_eq(tb.frames[1].line, 6);
}

Test(traceback, exception_group_without_header) {
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(HEADERLESS_GROUP, strlen(HEADERLESS_GROUP), &tb),
                 LDTAP_TRACEBACK_COMPLETE);
    cr_assert(tb.exception_group);
    expect_slice(tb.type, tb.type_length, "ExceptionGroup");
    expect_slice(tb.message, tb.message_length, " (2 sub-exceptions)"); /* str() of a group without message */
    cr_assert_eq(tb.frame_count, 0);
    /* A sub-exception's chain inside the group is not the group's. */
    cr_assert_eq(tb.traceback_count, 1);
}

Test(traceback, exception_group_as_cause_reports_the_last) {
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(GROUP_CAUSE, strlen(GROUP_CAUSE), &tb), LDTAP_TRACEBACK_COMPLETE);
    cr_assert_eq(tb.traceback_count, 2);
    cr_assert_not(tb.exception_group);
    expect_slice(tb.type, tb.type_length, "RuntimeError");
    expect_slice(tb.message, tb.message_length, "then this");
    cr_assert_eq(tb.frame_count, 1);
    cr_assert_eq(tb.frames[0].line, 4);
}

/* The shim's CHAINED record: the chaining line, a blank line, then the next block. */
Test(traceback, chained_record_of_a_group) {
    static char text[4096];
    snprintf(text, sizeof text, "During handling of the above exception, another exception occurred:\n\n%s",
             GROUP);
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(text, strlen(text), &tb), LDTAP_TRACEBACK_COMPLETE);
    cr_assert(tb.exception_group);
    expect_slice(tb.message, tb.message_length, "several failures (2 sub-exceptions)");
    cr_assert(ldtap_traceback_starts_chained(text, strlen(text)));
    cr_assert_not(ldtap_traceback_starts_chained(GROUP, strlen(GROUP)));
    const char cause[] = "The above exception was the direct cause of the following exception:\r\nTraceback";
    cr_assert(ldtap_traceback_starts_chained(cause, strlen(cause)));
    const char partial[] = "During handling of the above exception";
    cr_assert_not(ldtap_traceback_starts_chained(partial, strlen(partial)));
    cr_assert_not(ldtap_traceback_starts_chained("", 0));
}

Test(traceback, exception_group_cut_before_its_exception_line) {
    const char text[] = "  + Exception Group Traceback (most recent call last):\n"
                        "  |   File \"/tmp/tbgen/group.py\", line 13, in <module>\n"
                        "  |     main()\n";
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(text, strlen(text), &tb), LDTAP_TRACEBACK_INCOMPLETE);
    cr_assert(tb.exception_group);
    cr_assert_eq(tb.type_length, 0);
    cr_assert_eq(tb.frame_count, 1);
    /* Cut off, then an unrelated line: still no exception line. */
    const char then[] = "  + Exception Group Traceback (most recent call last):\n"
                        "  |   File \"a.py\", line 1, in f\n"
                        "INFO: next request\n";
    cr_assert_eq(ldtap_traceback_parse(then, strlen(then), &tb), LDTAP_TRACEBACK_INCOMPLETE);
    cr_assert_eq(tb.type_length, 0);
}

Test(traceback, margin_lines_alone_are_no_group) {
    const char text[] = "  | ExceptionGroup: looks like one\n  +-+---------------- 1 ----------------\n";
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(text, strlen(text), &tb), LDTAP_TRACEBACK_NONE);
}

/* Every prefix of each group sample parses inside its input. */
Test(traceback, every_prefix_of_groups) {
    const char *const samples[] = {GROUP, LOGGED_GROUP, HEADERLESS_GROUP, GROUP_CAUSE};
    for (size_t sample = 0; sample < sizeof samples / sizeof samples[0]; sample++) {
        size_t length = strlen(samples[sample]);
        for (size_t cut = 0; cut <= length; cut++) {
            char *copy = malloc(cut ? cut : 1);
            memcpy(copy, samples[sample], cut);
            struct ldtap_traceback tb;
            ldtap_traceback_parse(copy, cut, &tb);
            cr_assert(tb.type_length == 0 || (tb.type >= copy && tb.type + tb.type_length <= copy + cut));
            cr_assert(tb.message_length == 0 ||
                      (tb.message >= copy && tb.message + tb.message_length <= copy + cut));
            for (uint32_t i = 0; i < tb.frame_count; i++) {
                cr_assert(tb.frames[i].file >= copy &&
                          tb.frames[i].file + tb.frames[i].file_length <= copy + cut);
            }
            free(copy);
        }
    }
}

/* A note under the group's exception line stays out of its message (a slice would carry
 * the "  | " margin along). */
Test(traceback, exception_group_note_is_not_message) {
    const char text[] = "  + Exception Group Traceback (most recent call last):\n"
                        "  |   File \"/tmp/tbgen/note.py\", line 3, in <module>\n"
                        "  |     raise eg\n"
                        "  | ExceptionGroup: with a note (1 sub-exception)\n"
                        "  | checked at checkout\n"
                        "  +-+---------------- 1 ----------------\n"
                        "    | ValueError: v\n"
                        "    +------------------------------------\n";
    struct ldtap_traceback tb;
    cr_assert_eq(ldtap_traceback_parse(text, strlen(text), &tb), LDTAP_TRACEBACK_COMPLETE);
    expect_slice(tb.message, tb.message_length, "with a note (1 sub-exception)");
}
