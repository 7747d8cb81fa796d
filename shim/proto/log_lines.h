/* Pure assembly of the bytes one thread writes to one descriptor into log lines and
 * Python traceback blocks (LDTAP_RECORD_LOG): bounded buffers, no allocation, any bytes. */
#ifndef LDTAP_LOG_LINES_H
#define LDTAP_LOG_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldtap_ring_abi.h"

/* A block still open after this many lines is ended INCOMPLETE: a header followed by an
 * endless run of indented lines is not a traceback worth holding on to. */
#define LDTAP_LOG_BLOCK_LINES_MAX 4096u

enum ldtap_log_event {
    LDTAP_LOG_EVENT_LINE = 1, /* a whole line outside any traceback block */
    /* A header line opened a block (no text yet); flags CHAINED when the block continues
     * the previous one's chain. */
    LDTAP_LOG_EVENT_TRACEBACK_BEGIN = 2,
    LDTAP_LOG_EVENT_TRACEBACK = 3, /* a block ended: complete, cut off, or truncated */
};

/* What the assembler hands its sink. `text` is only valid during the call; it has no
 * terminating '\n' (a '\r' before it is kept). `flags` are enum ldtap_log_flag bits. */
struct ldtap_log_piece {
    enum ldtap_log_event event;
    const char *text;
    uint32_t length;
    uint32_t full_length; /* bytes the line or block really had, saturating */
    uint16_t flags;
};

typedef void (*ldtap_log_sink)(void *context, const struct ldtap_log_piece *piece);

/* Where the assembler is after a traceback's exception line: Python prints a chained
 * exception as a blank line, a marker sentence, a blank line, then the next header. */
enum ldtap_log_chain_step {
    LDTAP_LOG_CHAIN_NONE = 0,
    LDTAP_LOG_CHAIN_AFTER_EXCEPTION = 1,
    LDTAP_LOG_CHAIN_AFTER_BLANK = 2,
    LDTAP_LOG_CHAIN_AFTER_MARKER = 3,
    LDTAP_LOG_CHAIN_READY = 4, /* the blank line after the marker: a header now is chained */
};

struct ldtap_log_lines {
    bool emit_lines; /* LINE events wanted (capture on for this stream) */
    bool block_open;
    bool block_group;     /* the open block is an exception group (Python 3.11) */
    bool group_closed;    /* the group block's last line is a closing "+---…" line */
    uint8_t chain_step;   /* enum ldtap_log_chain_step */
    uint8_t chain_marker; /* which marker sentence was seen (index into the marker list) */
    uint16_t block_flags;
    uint32_t line_length;      /* bytes of the current line kept in `line` */
    uint32_t line_full_length; /* bytes of the current line seen so far */
    uint32_t block_length;
    uint32_t block_full_length;
    uint32_t block_lines;
    char line[LDTAP_LOG_LINE_MAX];
    char block[LDTAP_LOG_TRACEBACK_MAX];
};

/* Starts empty; `emit_lines` says whether lines outside tracebacks become LINE events. */
void ldtap_log_lines_reset(struct ldtap_log_lines *lines, bool emit_lines);

/* Feeds bytes written, in order. Calls `sink` for each event they complete. */
void ldtap_log_lines_feed(struct ldtap_log_lines *lines, const char *bytes, size_t length,
                          ldtap_log_sink sink, void *context);

/* The stream ends for this writer (thread exit, close, process exit): an unterminated
 * line counts as a line, and an open block is handed over flagged INCOMPLETE (unless it
 * is an exception group whose last line closes a sub-exception). Leaves the assembler
 * reset, keeping `emit_lines`. */
void ldtap_log_lines_finish(struct ldtap_log_lines *lines, ldtap_log_sink sink, void *context);

/* True while bytes are held back (a partial line or an open block). */
bool ldtap_log_lines_pending(const struct ldtap_log_lines *lines);

#endif
