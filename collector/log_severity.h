/* Guessing a log line's severity from the formats Python servers write: logging's default
 * and common formats, gunicorn, uvicorn, and level words in general. */
#ifndef LDTAP_LOG_SEVERITY_H
#define LDTAP_LOG_SEVERITY_H

#include <stddef.h>
#include <stdint.h>

/* OTLP SeverityNumber values (logs.proto): each range's first number. */
enum ldtap_severity {
    LDTAP_SEVERITY_UNSPECIFIED = 0,
    LDTAP_SEVERITY_TRACE = 1,
    LDTAP_SEVERITY_DEBUG = 5,
    LDTAP_SEVERITY_INFO = 9,
    LDTAP_SEVERITY_INFO2 = 10, /* NOTICE */
    LDTAP_SEVERITY_WARN = 13,
    LDTAP_SEVERITY_ERROR = 17,
    LDTAP_SEVERITY_FATAL = 21,
};

struct ldtap_log_severity {
    enum ldtap_severity number;
    const char *text; /* the level word as written (a slice of the line); NULL: none found */
    size_t text_length;
};

/*
 * The first level word in the line's head (its first 128 bytes) decides:
 *   "ERROR:name:msg" (logging.basicConfig), "ERROR:    msg" (uvicorn),
 *   "[2024-… +0000] [42] [ERROR] msg" (gunicorn), "2024-… ERROR name msg" (asctime formats),
 *   "[…] ERROR in app: …" (Flask).
 * A level word is TRACE, DEBUG, INFO, NOTICE, WARN, WARNING, ERROR, ERR, CRITICAL, FATAL,
 * PANIC or EMERG, in capitals or, inside brackets only ("[error]", nginx), in lower case,
 * standing alone between non-letters. Nothing found: UNSPECIFIED and no text. The caller
 * records which stream the line came from (log.iostream): ldtap never guesses a level from
 * the stream, because Python's logging writes every level to stderr.
 */
struct ldtap_log_severity ldtap_log_severity_guess(const char *line, size_t length);

/* The OTLP severity_text for a number with no word of its own ("ERROR" for tracebacks). */
const char *ldtap_severity_name(enum ldtap_severity number);

#endif
