/* A parser of one Python traceback block (as the shim's LDTAP_LOG_KIND_TRACEBACK records hold
 * it): frames, the exception's qualified type and its message, chained exceptions and
 * exception groups. */
#ifndef LDTAP_TRACEBACK_H
#define LDTAP_TRACEBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frames kept for the last traceback of a block; deeper ones are only counted. */
#define LDTAP_TRACEBACK_MAX_FRAMES 64

/* Every text field is a slice of the parser's input (not copied, not NUL-terminated). */
struct ldtap_traceback_frame {
    const char *file;
    size_t file_length;
    uint32_t line;        /* 0 when the frame line had none or it did not parse */
    const char *function; /* NULL for SyntaxError's "File …, line N" location frame */
    size_t function_length;
    const char *source; /* the source line under the frame, trimmed; NULL: none printed */
    size_t source_length;
};

enum ldtap_traceback_result {
    LDTAP_TRACEBACK_NONE,       /* no "Traceback (most recent call last):" header at all */
    LDTAP_TRACEBACK_INCOMPLETE, /* a header but no exception line after the last frames */
    LDTAP_TRACEBACK_COMPLETE,   /* the last traceback ends in an exception line */
};

struct ldtap_traceback {
    /* The exception raised last: for a chained block, the one after the last
     * "During handling of the above exception…" or "The above exception was the direct
     * cause…" line. `type` is the qualified class name ("django.db.utils.IntegrityError");
     * empty when the exception line did not start with one (its whole text is then the
     * message). `message` may span several lines ('\n' kept); empty when there is none
     * (KeyboardInterrupt). */
    const char *type;
    size_t type_length;
    const char *message;
    size_t message_length;
    /* The last traceback's frames, outermost first as Python prints them. */
    struct ldtap_traceback_frame frames[LDTAP_TRACEBACK_MAX_FRAMES];
    uint32_t frame_count;
    uint32_t frames_seen;     /* frame lines in the last traceback, kept or not */
    uint32_t traceback_count; /* tracebacks in the block: more than 1 when chained */
    /* The last traceback is a 3.11 exception group ("  + Exception Group Traceback …"):
     * type, message and frames are the top-level group's own ("ExceptionGroup",
     * "msg (2 sub-exceptions)", its exception line only); its sub-exceptions are not
     * parsed. */
    bool exception_group;
};

/* Parses `text[0..length)`. Lines before the first header are skipped (a log prefix such
 * as Flask's "ERROR in app: Exception on / [GET]"); '\r' before '\n' is ignored. No
 * allocation, linear in `length`, safe on any bytes. `out` is always filled (zeroed
 * fields when nothing was found). */
enum ldtap_traceback_result ldtap_traceback_parse(const char *text, size_t length,
                                                  struct ldtap_traceback *out);

/* True when `text` starts with one of Python's chaining lines ("During handling of the
 * above exception, another exception occurred:", "The above exception was the direct
 * cause of the following exception:"), as the shim's CHAINED records do: the block
 * continues the chain of the one before it. */
bool ldtap_traceback_starts_chained(const char *text, size_t length);

#endif
