/* Line assembly and Python traceback block recognition over one writer's bytes; see
 * log_lines.h. Rules: a block starts at "Traceback (most recent call last):", takes the
 * indented lines that follow (frames, source, carets) and ends at the first non-indented
 * line, its exception line. A multi-line exception message therefore keeps only its first
 * line in the block (the rest are ordinary lines). A chained exception becomes its own
 * record flagged CHAINED whose text starts with Python's marker sentence.
 *
 * An exception group (3.11) is printed wholly indented: "  + Exception Group Traceback
 * (most recent call last):" (or, for a group that was never raised, its exception line
 * "  | Type: message (N sub-exceptions)"), the group's own frames and exception line
 * behind a "  | " margin, then each sub-exception behind "+-+---- 1 ----" separators. Its
 * block takes every indented line and ends at the top-level group's closing line
 * ("    +-----…", four spaces deep), or, when Python printed none there (a nested group or
 * a chain ends the last sub-exception), just before the first line that is not indented.
 */
#include "log_lines.h"

#include <string.h>

static const char traceback_header[] = "Traceback (most recent call last):";
static const char group_header[] = "  + Exception Group Traceback (most recent call last):";
/* The closing line of a group's last sub-exception: '+' and 36 dashes, indented. */
#define GROUP_CLOSE_DASHES 36u
/* Indentation of the top-level group's own closing line. */
#define GROUP_TOP_CLOSE_INDENT 4u
static const char *const chain_markers[] = {
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
};
#define CHAIN_MARKER_COUNT (sizeof(chain_markers) / sizeof(chain_markers[0]))

/* Frame lines stop here so the exception line (at most a line's cap plus its '\n') always
 * fits after them: the ABI promises header and exception line are kept. */
#define BLOCK_FRAMES_LIMIT (LDTAP_LOG_TRACEBACK_MAX - LDTAP_LOG_LINE_MAX - 1u)

static uint32_t saturating_add(uint32_t a, uint64_t b) {
    uint64_t sum = (uint64_t)a + b;
    return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* The line without a trailing '\r', for comparisons. */
static bool line_equals(const char *text, uint32_t length, const char *expected) {
    size_t expected_length = strlen(expected);
    if (length > 0 && text[length - 1] == '\r')
        length--;
    return length == expected_length && memcmp(text, expected, length) == 0;
}

static bool line_is_blank(const char *text, uint32_t length) {
    return length == 0 || (length == 1 && text[0] == '\r');
}

static int chain_marker_index(const char *text, uint32_t length) {
    for (unsigned i = 0; i < CHAIN_MARKER_COUNT; i++)
        if (line_equals(text, length, chain_markers[i]))
            return (int)i;
    return -1;
}

/* A closing line ("+" and 36 dashes after spaces); `indent` gets the spaces' count. */
static bool group_close_line(const char *text, uint32_t length, uint32_t *indent) {
    if (length > 0 && text[length - 1] == '\r')
        length--;
    uint32_t spaces = 0;
    while (spaces < length && text[spaces] == ' ')
        spaces++;
    if (length - spaces != 1 + GROUP_CLOSE_DASHES || text[spaces] != '+')
        return false;
    for (uint32_t i = spaces + 1; i < length; i++)
        if (text[i] != '-')
            return false;
    *indent = spaces;
    return true;
}

/* A qualified class name's byte ("pkg.module.Error"; any non-ASCII byte may be a letter). */
static bool type_name_byte(char c) {
    unsigned char byte = (unsigned char)c;
    return (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9') ||
           byte == '_' || byte == '.' || byte >= 0x80;
}

/* The exception line of a top-level group printed without a traceback (raised by
 * `except*`): "  | Type: message (N sub-exceptions)", or "(1 sub-exception)". */
static bool headerless_group_line(const char *text, uint32_t length) {
    static const char margin[] = "  | ";
    static const char counted[] = " sub-exception";
    const uint32_t margin_length = sizeof(margin) - 1, counted_length = sizeof(counted) - 1;
    if (length > 0 && text[length - 1] == '\r')
        length--;
    if (length < margin_length + 1 || memcmp(text, margin, margin_length) != 0 || text[length - 1] != ')')
        return false;
    uint32_t type_end = margin_length;
    while (type_end < length && type_name_byte(text[type_end]))
        type_end++;
    if (type_end == margin_length || type_end == length || text[type_end] != ':')
        return false;
    uint32_t end = length - 1; /* at ')' */
    if (text[end - 1] == 's')
        end--;
    if (end < type_end + counted_length + 3 ||
        memcmp(text + end - counted_length, counted, counted_length) != 0)
        return false;
    uint32_t digits_end = end - counted_length, digits = digits_end;
    while (digits > type_end && text[digits - 1] >= '0' && text[digits - 1] <= '9')
        digits--;
    return digits < digits_end && digits > type_end + 1 && text[digits - 1] == '(' && text[digits - 2] == ' ';
}

/* Appends a line to the block if it fits under `limit`; flags the block TRUNCATED when
 * the line was cut or left out. */
static void block_append(struct ldtap_log_lines *lines, const char *text, uint32_t length,
                         uint32_t full_length, uint32_t limit) {
    uint32_t separator = lines->block_full_length > 0 ? 1u : 0u;
    lines->block_full_length = saturating_add(lines->block_full_length, (uint64_t)separator + full_length);
    lines->block_lines++;
    if (length < full_length)
        lines->block_flags |= LDTAP_LOG_FLAG_TRUNCATED;
    if ((uint64_t)lines->block_length + separator + length > limit) {
        lines->block_flags |= LDTAP_LOG_FLAG_TRUNCATED;
        return;
    }
    if (lines->block_length > 0)
        lines->block[lines->block_length++] = '\n';
    memcpy(lines->block + lines->block_length, text, length);
    lines->block_length += length;
}

static void block_end(struct ldtap_log_lines *lines, uint16_t extra_flags, ldtap_log_sink sink,
                      void *context) {
    struct ldtap_log_piece piece = {
        .event = LDTAP_LOG_EVENT_TRACEBACK,
        .text = lines->block,
        .length = lines->block_length,
        .full_length = lines->block_full_length,
        .flags = (uint16_t)(lines->block_flags | extra_flags),
    };
    lines->block_open = false;
    lines->block_group = false;
    lines->group_closed = false;
    lines->block_length = 0;
    lines->block_full_length = 0;
    lines->block_lines = 0;
    lines->block_flags = 0;
    sink(context, &piece);
}

static void block_begin(struct ldtap_log_lines *lines, const char *text, uint32_t length, bool group,
                        ldtap_log_sink sink, void *context) {
    lines->block_open = true;
    lines->block_group = group;
    lines->group_closed = false;
    if (lines->chain_step == LDTAP_LOG_CHAIN_READY) {
        /* The collector reads the marker to tell a cause from a context. */
        const char *marker = chain_markers[lines->chain_marker];
        uint32_t marker_length = (uint32_t)strlen(marker);
        block_append(lines, marker, marker_length, marker_length, BLOCK_FRAMES_LIMIT);
        block_append(lines, "", 0, 0, BLOCK_FRAMES_LIMIT);
        lines->block_flags |= LDTAP_LOG_FLAG_CHAINED;
    }
    lines->chain_step = LDTAP_LOG_CHAIN_NONE;
    block_append(lines, text, length, length, BLOCK_FRAMES_LIMIT);
    struct ldtap_log_piece begin = {
        .event = LDTAP_LOG_EVENT_TRACEBACK_BEGIN,
        .flags = (uint16_t)(lines->block_flags & LDTAP_LOG_FLAG_CHAINED),
    };
    sink(context, &begin);
}

/* A group block takes every indented line. True when `text` was taken: it is part of the
 * group, or ended it as the top-level closing line. False when the line is no part of
 * the group: the block has ended (complete: Python writes a group whole before anything
 * else) and the caller treats the line as any other. */
static bool group_line(struct ldtap_log_lines *lines, const char *text, uint32_t length, uint32_t full_length,
                       ldtap_log_sink sink, void *context) {
    bool indented = length > 0 && (text[0] == ' ' || text[0] == '\t');
    if (!indented) {
        block_end(lines, 0, sink, context);
        lines->chain_step = LDTAP_LOG_CHAIN_AFTER_EXCEPTION;
        return false;
    }
    uint32_t indent = 0;
    block_append(lines, text, length, full_length, BLOCK_FRAMES_LIMIT);
    lines->group_closed = group_close_line(text, length, &indent);
    if (lines->group_closed && indent == GROUP_TOP_CLOSE_INDENT) {
        block_end(lines, 0, sink, context);
        lines->chain_step = LDTAP_LOG_CHAIN_AFTER_EXCEPTION;
    }
    return true;
}

/* Advances the chain recogniser over a line outside any block; true when the line was
 * taken as part of a chain (it then belongs to the next block, not to the LINE stream). */
static bool chain_advance(struct ldtap_log_lines *lines, const char *text, uint32_t length) {
    bool blank = line_is_blank(text, length);
    int marker = lines->chain_step == LDTAP_LOG_CHAIN_AFTER_BLANK ? chain_marker_index(text, length) : -1;
    switch (lines->chain_step) {
    case LDTAP_LOG_CHAIN_AFTER_EXCEPTION:
        lines->chain_step = blank ? LDTAP_LOG_CHAIN_AFTER_BLANK : LDTAP_LOG_CHAIN_NONE;
        break;
    case LDTAP_LOG_CHAIN_AFTER_BLANK:
        lines->chain_step = marker >= 0 ? LDTAP_LOG_CHAIN_AFTER_MARKER : LDTAP_LOG_CHAIN_NONE;
        lines->chain_marker = marker >= 0 ? (uint8_t)marker : 0;
        return marker >= 0;
    case LDTAP_LOG_CHAIN_AFTER_MARKER:
        lines->chain_step = blank ? LDTAP_LOG_CHAIN_READY : LDTAP_LOG_CHAIN_NONE;
        break;
    default:
        lines->chain_step = LDTAP_LOG_CHAIN_NONE;
        break;
    }
    return false;
}

/* One whole line: `text` holds its first `length` bytes of `full_length`. */
static void line_complete(struct ldtap_log_lines *lines, const char *text, uint32_t length,
                          uint32_t full_length, ldtap_log_sink sink, void *context) {
    if (lines->block_open && lines->block_group) {
        if (lines->block_lines >= LDTAP_LOG_BLOCK_LINES_MAX)
            block_end(lines, LDTAP_LOG_FLAG_INCOMPLETE, sink, context);
        else if (group_line(lines, text, length, full_length, sink, context))
            return;
    } else if (lines->block_open) {
        bool indented = length > 0 && (text[0] == ' ' || text[0] == '\t');
        if (lines->block_lines >= LDTAP_LOG_BLOCK_LINES_MAX || (!indented && line_is_blank(text, length))) {
            block_end(lines, LDTAP_LOG_FLAG_INCOMPLETE, sink, context);
        } else if (indented) {
            block_append(lines, text, length, full_length, BLOCK_FRAMES_LIMIT);
            return;
        } else {
            block_append(lines, text, length, full_length, LDTAP_LOG_TRACEBACK_MAX);
            block_end(lines, 0, sink, context);
            lines->chain_step = LDTAP_LOG_CHAIN_AFTER_EXCEPTION;
            return;
        }
    }
    bool plain = line_equals(text, length, traceback_header);
    if (plain || line_equals(text, length, group_header) || headerless_group_line(text, length)) {
        block_begin(lines, text, length, !plain, sink, context);
        return;
    }
    if (chain_advance(lines, text, length) || !lines->emit_lines || line_is_blank(text, length))
        return; /* blank lines carry nothing worth a record */
    struct ldtap_log_piece piece = {
        .event = LDTAP_LOG_EVENT_LINE,
        .text = text,
        .length = length,
        .full_length = full_length,
        .flags = length < full_length ? LDTAP_LOG_FLAG_TRUNCATED : 0,
    };
    sink(context, &piece);
}

void ldtap_log_lines_reset(struct ldtap_log_lines *lines, bool emit_lines) {
    lines->emit_lines = emit_lines;
    lines->block_open = false;
    lines->block_group = false;
    lines->group_closed = false;
    lines->chain_step = LDTAP_LOG_CHAIN_NONE;
    lines->chain_marker = 0;
    lines->block_flags = 0;
    lines->line_length = 0;
    lines->line_full_length = 0;
    lines->block_length = 0;
    lines->block_full_length = 0;
    lines->block_lines = 0;
}

void ldtap_log_lines_feed(struct ldtap_log_lines *lines, const char *bytes, size_t length,
                          ldtap_log_sink sink, void *context) {
    while (length > 0) {
        const char *newline = memchr(bytes, '\n', length);
        size_t piece = newline != NULL ? (size_t)(newline - bytes) : length;
        size_t room = LDTAP_LOG_LINE_MAX - lines->line_length;
        size_t kept = piece < room ? piece : room;
        if (newline != NULL && lines->line_full_length == 0) {
            /* The whole line is in this write: no copy needed. */
            line_complete(lines, bytes, (uint32_t)kept, saturating_add(0, piece), sink, context);
        } else {
            memcpy(lines->line + lines->line_length, bytes, kept);
            lines->line_length += (uint32_t)kept;
            lines->line_full_length = saturating_add(lines->line_full_length, piece);
            if (newline != NULL) {
                line_complete(lines, lines->line, lines->line_length, lines->line_full_length, sink, context);
                lines->line_length = 0;
                lines->line_full_length = 0;
            }
        }
        if (newline == NULL)
            return;
        bytes += piece + 1;
        length -= piece + 1;
    }
}

void ldtap_log_lines_finish(struct ldtap_log_lines *lines, ldtap_log_sink sink, void *context) {
    if (lines->line_full_length > 0)
        line_complete(lines, lines->line, lines->line_length, lines->line_full_length, sink, context);
    /* A group whose last line closes a sub-exception may well be whole; anything else
     * was cut off. */
    if (lines->block_open)
        block_end(lines, lines->block_group && lines->group_closed ? 0 : LDTAP_LOG_FLAG_INCOMPLETE, sink,
                  context);
    ldtap_log_lines_reset(lines, lines->emit_lines);
}

bool ldtap_log_lines_pending(const struct ldtap_log_lines *lines) {
    return lines->line_full_length > 0 || lines->block_open;
}
