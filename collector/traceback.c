/* Python traceback parser (see traceback.h): a line-by-line state machine over untrusted
 * bytes; every field is a slice of the input, nothing is allocated. An exception group's
 * own lines are read through its margin ("  | "), its sub-exceptions are skipped. */
#include "traceback.h"

#include <string.h>

#define HEADER "Traceback (most recent call last):"
#define CHAINED_DURING "During handling of the above exception, another exception occurred:"
#define CHAINED_CAUSE "The above exception was the direct cause of the following exception:"
#define GROUP_HEADER "+ Exception Group Traceback (most recent call last):"
#define SUB_EXCEPTION " sub-exception"

enum parse_state {
    SEEK_HEADER,   /* before the first header, or after a chaining line */
    FRAMES,        /* after a header: frame lines, their source lines, caret lines */
    MESSAGE,       /* after the exception line: more message lines until a chain or a header */
    GROUP_MEMBERS, /* an exception group's sub-exceptions, after its first separator */
    AFTER_GROUP,   /* past a group's last line: only a chaining line or a header matter */
    GROUP_CUT,     /* a group ended before its exception line */
};

/* Where the parser is; `margin` counts the blanks before an exception group's margin
 * character ('|' on its own lines, '+' on its header and separators). */
struct parser {
    enum parse_state state;
    bool in_group;
    size_t margin;
};

struct line {
    const char *start;
    size_t length; /* without '\n' and a '\r' before it */
};

/* The line at `*position`, advancing past its terminator. False at the end of input. */
static bool next_line(const char *text, size_t length, size_t *position, struct line *line) {
    if (*position >= length) {
        return false;
    }
    const char *start = text + *position;
    const char *newline = memchr(start, '\n', length - *position);
    size_t line_length = newline ? (size_t)(newline - start) : length - *position;
    *position += line_length + (newline != NULL);
    if (line_length > 0 && start[line_length - 1] == '\r') {
        line_length--;
    }
    *line = (struct line){start, line_length};
    return true;
}

static bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

static size_t leading_blanks(const struct line *line) {
    size_t count = 0;
    while (count < line->length && is_blank(line->start[count])) {
        count++;
    }
    return count;
}

static bool starts_with(const char *text, size_t length, const char *prefix) {
    size_t prefix_length = strlen(prefix);
    return length >= prefix_length && memcmp(text, prefix, prefix_length) == 0;
}

static bool line_is(const struct line *line, const char *literal) {
    return line->length == strlen(literal) && memcmp(line->start, literal, line->length) == 0;
}

/* A header may follow a log prefix on the same line ("ERROR:root:Traceback …" is not what
 * Python writes, but "… Traceback (most recent call last):" after a prefix is common). */
static bool is_header(const struct line *line) {
    size_t header_length = sizeof HEADER - 1;
    return line->length >= header_length &&
           memcmp(line->start + line->length - header_length, HEADER, header_length) == 0;
}

/* Only markers of 3.11's error locations: '^' and '~' under the failing expression. */
static bool is_caret_line(const struct line *line) {
    bool marker = false;
    for (size_t i = 0; i < line->length; i++) {
        char c = line->start[i];
        if (c == '^' || c == '~') {
            marker = true;
        } else if (!is_blank(c)) {
            return false;
        }
    }
    return marker;
}

static size_t digits_value(const char *text, size_t length, uint32_t *value) {
    size_t count = 0;
    uint64_t number = 0;
    while (count < length && text[count] >= '0' && text[count] <= '9') {
        number = number * 10 + (uint64_t)(text[count] - '0');
        if (number > UINT32_MAX) {
            number = UINT32_MAX; /* saturate: a hostile line number is still a number */
        }
        count++;
    }
    *value = (uint32_t)number;
    return count;
}

/* `  File "path", line N, in function` (SyntaxError's location has no ", in …"). The path
 * may itself hold quotes and commas, so the last `", line ` of the line ends it. */
static bool parse_frame(const struct line *line, size_t indent, struct ldtap_traceback_frame *frame) {
    const char *text = line->start + indent;
    size_t length = line->length - indent;
    if (!starts_with(text, length, "File \"")) {
        return false;
    }
    static const char separator[] = "\", line ";
    size_t separator_length = sizeof separator - 1;
    size_t found = 0;
    for (size_t i = 6; i + separator_length <= length; i++) {
        if (memcmp(text + i, separator, separator_length) == 0) {
            found = i;
        }
    }
    memset(frame, 0, sizeof *frame);
    if (found == 0) {
        frame->file = text + 6; /* an odd frame line: keep what it names */
        frame->file_length = length - 6;
        return true;
    }
    frame->file = text + 6;
    frame->file_length = found - 6;
    size_t at = found + separator_length;
    at += digits_value(text + at, length - at, &frame->line);
    if (starts_with(text + at, length - at, ", in ")) {
        frame->function = text + at + 5;
        frame->function_length = length - at - 5;
    }
    return true;
}

static bool is_type_byte(char c, bool first) {
    unsigned char byte = (unsigned char)c;
    bool letter = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') || byte == '_' || byte >= 0x80;
    return letter || (!first && ((byte >= '0' && byte <= '9') || byte == '.'));
}

/* "pkg.module.Type: message", "Type: message", "Type" or "Type:". Anything else has no
 * type and the whole line is the message. */
static void parse_exception_line(const struct line *line, struct ldtap_traceback *out) {
    size_t end = 0;
    while (end < line->length && is_type_byte(line->start[end], end == 0)) {
        end++;
    }
    bool typed = end > 0 && (end == line->length || line->start[end] == ':');
    if (!typed) {
        out->message = line->start;
        out->message_length = line->length;
        return;
    }
    out->type = line->start;
    out->type_length = end;
    size_t message_start = end + (end < line->length); /* past ':' */
    if (message_start < line->length && line->start[message_start] == ' ') {
        message_start++;
    }
    out->message = line->start + message_start;
    out->message_length = line->length - message_start;
}

static bool is_chain_marker(const struct line *line) {
    return line_is(line, CHAINED_DURING) || line_is(line, CHAINED_CAUSE);
}

bool ldtap_traceback_starts_chained(const char *text, size_t length) {
    size_t position = 0;
    struct line line;
    return next_line(text, length, &position, &line) && is_chain_marker(&line);
}

/* "  + Exception Group Traceback (most recent call last):": the top-level group's header. */
static bool is_group_header(const struct line *line, size_t *margin) {
    size_t blanks = leading_blanks(line);
    *margin = blanks;
    return blanks > 0 && line_is(&(struct line){line->start + blanks, line->length - blanks}, GROUP_HEADER);
}

/* `line` is the margin, its character (returned in `mark`), then `inner`. */
static bool margin_line(const struct line *line, size_t margin, char *mark, struct line *inner) {
    if (line->length <= margin || leading_blanks(line) < margin) {
        return false;
    }
    *mark = line->start[margin];
    if (*mark != '|' && *mark != '+') {
        return false;
    }
    size_t skip = margin + 1 + (line->length > margin + 1 && line->start[margin + 1] == ' ');
    *inner = (struct line){line->start + skip, line->length - skip};
    return true;
}

/* "Type: message (N sub-exceptions)" ("(1 sub-exception)"): how BaseExceptionGroup
 * prints itself. */
static bool ends_with_group_count(const struct line *line) {
    size_t end = line->length;
    if (end < 2 || line->start[end - 1] != ')') {
        return false;
    }
    end--; /* at ')' */
    if (line->start[end - 1] == 's') {
        end--;
    }
    size_t suffix = sizeof SUB_EXCEPTION - 1;
    if (end < suffix || memcmp(line->start + end - suffix, SUB_EXCEPTION, suffix) != 0) {
        return false;
    }
    size_t digits_end = end - suffix, digits = digits_end;
    while (digits > 0 && line->start[digits - 1] >= '0' && line->start[digits - 1] <= '9') {
        digits--;
    }
    return digits < digits_end && digits >= 1 && line->start[digits - 1] == '(';
}

/* A top-level group printed without a traceback (raised by `except*`) starts at its
 * exception line behind the margin: "  | ExceptionGroup:  (2 sub-exceptions)". */
static bool is_headerless_group(const struct line *line, size_t *margin, struct line *inner) {
    char mark;
    *margin = leading_blanks(line);
    if (*margin == 0 || !margin_line(line, *margin, &mark, inner) || mark != '|') {
        return false;
    }
    size_t type_end = 0;
    while (type_end < inner->length && is_type_byte(inner->start[type_end], type_end == 0)) {
        type_end++;
    }
    return type_end > 0 && type_end < inner->length && inner->start[type_end] == ':' &&
           ends_with_group_count(inner);
}

static void start_traceback(struct ldtap_traceback *out) {
    out->traceback_count++;
    out->exception_group = false;
    out->frame_count = 0;
    out->frames_seen = 0;
    out->type = out->message = NULL;
    out->type_length = out->message_length = 0;
}

static void on_frames_line(const struct line *line, struct ldtap_traceback *out, enum parse_state *state) {
    size_t indent = leading_blanks(line);
    if (indent == line->length) {
        return; /* blank lines do not end a traceback's frames */
    }
    if (indent == 0) {
        parse_exception_line(line, out);
        *state = MESSAGE;
        return;
    }
    struct ldtap_traceback_frame frame;
    if (parse_frame(line, indent, &frame)) {
        out->frames_seen++;
        if (out->frame_count < LDTAP_TRACEBACK_MAX_FRAMES) {
            out->frames[out->frame_count++] = frame;
        }
        return;
    }
    /* The first indented line under a kept frame that is not a caret line is its source;
     * "[Previous line repeated …]" comes only after the source line. */
    if (out->frame_count > 0 && out->frames_seen == out->frame_count && !is_caret_line(line)) {
        struct ldtap_traceback_frame *last = &out->frames[out->frame_count - 1];
        if (last->source == NULL) {
            size_t length = line->length - indent;
            while (length > 0 && is_blank(line->start[indent + length - 1])) {
                length--;
            }
            last->source = line->start + indent;
            last->source_length = length;
        }
    }
}

/* A line after an exception line: a chaining line, or more of the message. */
static void on_message_line(const struct line *line, struct ldtap_traceback *out, enum parse_state *state) {
    if (is_chain_marker(line)) {
        *state = SEEK_HEADER;
    } else if (leading_blanks(line) < line->length) {
        /* A message line: the message now runs to its end (blank lines between message
         * lines are kept, trailing ones are not). */
        if (out->message_length == 0) {
            out->message = line->start;
        }
        out->message_length = (size_t)(line->start + line->length - out->message);
    }
}

/* A line while a group's lines are being read. True when it was one of them: its own
 * frames and exception line are parsed through the margin, its sub-exceptions skipped.
 * False when the group ended before it (the caller parses it as any other line). */
static bool on_group_line(struct parser *parser, const struct line *line, struct ldtap_traceback *out) {
    char mark;
    struct line inner;
    if (margin_line(line, parser->margin, &mark, &inner)) {
        if (parser->state == GROUP_MEMBERS) {
            return true;
        }
        /* After the exception line, lines behind the margin (notes, a message's further
         * lines) are not taken into the message: a slice would carry the margin along. */
        if (mark == '+') { /* "+-+---- 1 ----": the group's own part is over */
            parser->state = GROUP_MEMBERS;
        } else if (parser->state == FRAMES) {
            on_frames_line(&inner, out, &parser->state);
        }
        return true;
    }
    if (parser->state == GROUP_MEMBERS && leading_blanks(line) > parser->margin) {
        return true; /* deeper: a sub-exception's line */
    }
    parser->in_group = false;
    parser->state = parser->state == FRAMES ? GROUP_CUT : AFTER_GROUP;
    return false;
}

enum ldtap_traceback_result ldtap_traceback_parse(const char *text, size_t length,
                                                  struct ldtap_traceback *out) {
    memset(out, 0, sizeof *out);
    struct parser parser = {SEEK_HEADER, false, 0};
    size_t position = 0, margin = 0;
    struct line line, inner;
    while (next_line(text, length, &position, &line)) {
        if (parser.in_group && on_group_line(&parser, &line, out)) {
            continue;
        }
        if (parser.state != FRAMES && is_group_header(&line, &margin)) {
            start_traceback(out);
            parser = (struct parser){FRAMES, true, margin};
            out->exception_group = true;
            continue;
        }
        if (parser.state == SEEK_HEADER && is_headerless_group(&line, &margin, &inner)) {
            start_traceback(out);
            parser = (struct parser){MESSAGE, true, margin};
            out->exception_group = true;
            parse_exception_line(&inner, out);
            continue;
        }
        if (is_header(&line) && (parser.state != FRAMES || leading_blanks(&line) == 0)) {
            start_traceback(out);
            parser = (struct parser){FRAMES, false, 0};
            continue;
        }
        if (parser.state == FRAMES) {
            on_frames_line(&line, out, &parser.state);
        } else if (parser.state == MESSAGE) {
            on_message_line(&line, out, &parser.state);
        } else if ((parser.state == AFTER_GROUP || parser.state == GROUP_CUT) && is_chain_marker(&line)) {
            parser.state = SEEK_HEADER;
        }
    }
    if (out->traceback_count == 0) {
        return LDTAP_TRACEBACK_NONE;
    }
    return parser.state == FRAMES || parser.state == GROUP_CUT ? LDTAP_TRACEBACK_INCOMPLETE
                                                               : LDTAP_TRACEBACK_COMPLETE;
}
