/* Incremental HTTP/1.x framer (contract in http1_framer.h): a resumable state machine over
 * the bytes of read/write calls that finds message boundaries and copies an allow-listed head. */
#include "http1_framer.h"

#include <stddef.h>
#include <string.h>

#include "http1_fast_head.h"

_Static_assert(sizeof(struct ldtap_http_parser) <= 400, "the parser is embedded per connection");
_Static_assert(sizeof(((struct ldtap_http_parser *)0)->value) > LDTAP_HTTP_TRACEPARENT_BYTES,
               "value collects a traceparent and the byte after it");

/* Where the framer is within a message; stored in parser->phase. */
enum phase {
    PHASE_IDLE = 0, /* begun; no byte of the message seen yet */
    PHASE_METHOD,
    PHASE_TARGET,
    PHASE_REQUEST_VERSION,  /* "HTTP/1.x" */
    PHASE_START_LINE_END,   /* request: CR or LF after the version */
    PHASE_START_LINE_LF,    /* a CR ended the start line; LF must follow */
    PHASE_RESPONSE_VERSION, /* "HTTP/1.x " */
    PHASE_STATUS_CODE,
    PHASE_AFTER_STATUS_CODE, /* SP before the reason, or the end of the line */
    PHASE_REASON,
    PHASE_HEADER_LINE_START,
    PHASE_HEADER_NAME,
    PHASE_HEADER_VALUE,
    PHASE_HEAD_END_LF, /* the blank line's CR was seen */
    PHASE_BODY_NONE,   /* first phase after the head */
    PHASE_BODY_LENGTH,
    PHASE_BODY_UNTIL_CLOSE,
    PHASE_CHUNK_SIZE,
    PHASE_CHUNK_SIZE_BLANKS, /* spaces between the size and ';' or the line end */
    PHASE_CHUNK_EXTENSION,
    PHASE_CHUNK_SIZE_LF,
    PHASE_CHUNK_DATA,
    PHASE_CHUNK_DATA_CR,
    PHASE_CHUNK_DATA_LF,
    PHASE_TRAILER_LINE_START,
    PHASE_TRAILER_LINE,
    PHASE_TRAILER_END_LF,
    PHASE_COMPLETE,
    PHASE_FAILED,
};

/* The headers the framer looks at; stored in parser->header_kind. */
enum header_kind {
    HEADER_OTHER = 0,
    HEADER_HOST,
    HEADER_USER_AGENT,
    HEADER_CONTENT_TYPE,
    HEADER_CONTENT_LENGTH,
    HEADER_TRANSFER_ENCODING,
    HEADER_CONNECTION,
    HEADER_EXPECT,
    HEADER_UPGRADE,
    HEADER_TRACEPARENT,
};

/* Bits of parser->flags. */
enum {
    FLAG_TARGET_SEEN = 1u << 0,
    FLAG_TARGET_CUT = 1u << 1,       /* '?' or '#' seen: the rest of the target stays private */
    FLAG_VALUE_STARTED = 1u << 2,    /* leading blanks of the header value are behind us */
    FLAG_ELEMENT_TOO_LONG = 1u << 3, /* the current list element did not fit in `value` */
    FLAG_TRANSFER_ENCODING = 1u << 4,
    FLAG_CHUNKED_LAST = 1u << 5, /* the last transfer coding seen is "chunked" */
    FLAG_KEEP_ALIVE = 1u << 6,
    FLAG_TRACEPARENT_SEEN = 1u << 7,
    FLAG_TRACEPARENT_INVALID = 1u << 8, /* repeated, or blanks inside the value */
    FLAG_COPY_LINE = 1u << 9,           /* the current header line goes to the head copy */
};

enum {
    METHOD_MAX_BYTES = 16,
    STATUS_CODE_DIGITS = 3,
    CHUNK_SIZE_MAX_DIGITS = 16,       /* 64 bits */
    CHUNK_SIZE_LINE_MAX_BYTES = 4096, /* size plus extensions */
    CONTENT_LENGTH_MAX_DIGITS = 19,   /* always fits in 64 bits */
};

/* What a step of the state machine decided. */
enum step {
    STEP_CONTINUE,
    STEP_DONE, /* head or message finished at the cursor */
    STEP_FAIL,
};

struct cursor {
    const uint8_t *at;
    const uint8_t *end;
};

struct known_header {
    const char *name; /* lower case and followed by ": ", as copied into the head */
    uint8_t length;
    uint8_t kind;
    bool copied;
};

static const struct known_header known_headers[] = {
    {"host: ", 4, HEADER_HOST, true},
    {"user-agent: ", 10, HEADER_USER_AGENT, true},
    {"content-type: ", 12, HEADER_CONTENT_TYPE, true},
    {"content-length: ", 14, HEADER_CONTENT_LENGTH, true},
    {"traceparent: ", 11, HEADER_TRACEPARENT, true},
    {"transfer-encoding: ", 17, HEADER_TRANSFER_ENCODING, false},
    {"connection: ", 10, HEADER_CONNECTION, false},
    {"expect: ", 6, HEADER_EXPECT, false},
    {"upgrade: ", 7, HEADER_UPGRADE, false},
};

static const char version_prefix[] = "HTTP/1.";
enum { VERSION_BYTES = sizeof "HTTP/1.1" - 1 };

/* ---- small byte classes ---- */

static bool is_blank(uint8_t c) {
    return c == ' ' || c == '\t';
}

static bool is_digit(uint8_t c) {
    return c >= '0' && c <= '9';
}

static uint8_t to_lower(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20) : c;
}

static int hex_value(uint8_t c) {
    if (is_digit(c)) {
        return c - '0';
    }
    c = to_lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static bool equals_ignoring_case(const char *text, size_t length, const char *lower_literal) {
    size_t i = 0;
    for (; i < length && lower_literal[i] != '\0'; i++) {
        if (to_lower((uint8_t)text[i]) != (uint8_t)lower_literal[i]) {
            return false;
        }
    }
    return i == length && lower_literal[i] == '\0';
}

/* ---- head copy ---- */

/* Copies what fits; a request line cut short is still useful to the collector, a header
 * line cut short is rolled back by close_copied_line. */
static void head_append(struct ldtap_http_head_copy *head, const void *data, size_t length) {
    if (head->truncated || length == 0) {
        return;
    }
    size_t room = head->bytes == NULL ? 0 : (size_t)(head->capacity - head->length);
    if (length > room) {
        length = room;
        head->truncated = true;
    }
    if (length > 0) {
        memcpy(head->bytes + head->length, data, length);
        head->length = (uint16_t)(head->length + length);
    }
}

static void open_copied_line(struct ldtap_http_parser *parser) {
    parser->head_line_start = parser->head.length;
}

/* Ends the line with CRLF after dropping the value's trailing blanks and CR, or removes
 * the line whole if it did not fit. */
static void close_copied_line(struct ldtap_http_parser *parser, bool keep_if_cut) {
    struct ldtap_http_head_copy *head = &parser->head;
    if (head->truncated) {
        if (!keep_if_cut) {
            head->length = parser->head_line_start;
        }
        return;
    }
    while (head->length > parser->head_line_start &&
           (is_blank(head->bytes[head->length - 1]) || head->bytes[head->length - 1] == '\r')) {
        head->length--;
    }
    /* Never half a line ending: the collector would misread "\r" as part of the value. */
    if (head->capacity - head->length < 2) {
        head->truncated = true;
        if (!keep_if_cut) {
            head->length = parser->head_line_start;
        }
        return;
    }
    head_append(head, "\r\n", 2);
}

/* ---- start line ---- */

static void enter_phase(struct ldtap_http_parser *parser, enum phase phase) {
    parser->phase = (uint8_t)phase;
    parser->line_length = 0;
}

static enum step finish_start_line(struct ldtap_http_parser *parser) {
    close_copied_line(parser, true);
    enter_phase(parser, PHASE_HEADER_LINE_START);
    return STEP_CONTINUE;
}

static enum step finish_method(struct ldtap_http_parser *parser) {
    const char *method = parser->line_start;
    size_t length = parser->line_length;
    parser->method_is_head = length == 4 && memcmp(method, "HEAD", 4) == 0;
    parser->method_is_connect = length == 7 && memcmp(method, "CONNECT", 7) == 0;
    head_append(&parser->head, method, length);
    head_append(&parser->head, " ", 1);
    enter_phase(parser, PHASE_TARGET);
    return STEP_CONTINUE;
}

/* Methods are upper-case tokens: this is what drops TLS, HTTP/2, Redis, PostgreSQL and
 * other binary protocols sharing a port, on their first byte or few. */
static enum step on_method(struct ldtap_http_parser *parser, struct cursor *cursor) {
    uint8_t c = *cursor->at++;
    if (c == ' ') {
        return parser->line_length == 0 ? STEP_FAIL : finish_method(parser);
    }
    bool allowed = (c >= 'A' && c <= 'Z') || (parser->line_length > 0 && (c == '-' || c == '_'));
    if (!allowed || parser->line_length >= METHOD_MAX_BYTES) {
        return STEP_FAIL;
    }
    parser->line_start[parser->line_length++] = (char)c;
    return STEP_CONTINUE;
}

static enum step on_target(struct ldtap_http_parser *parser, struct cursor *cursor) {
    const uint8_t *start = cursor->at;
    const uint8_t *at = start;
    while (at < cursor->end && (ldtap_http_byte_classes[*at] & LDTAP_HTTP_BYTE_TARGET)) {
        if ((*at == '?' || *at == '#') && !(parser->flags & FLAG_TARGET_CUT)) {
            head_append(&parser->head, start, (size_t)(at - start));
            parser->flags |= FLAG_TARGET_CUT;
        }
        at++;
    }
    if (!(parser->flags & FLAG_TARGET_CUT)) {
        head_append(&parser->head, start, (size_t)(at - start));
    }
    if (at > start) {
        parser->flags |= FLAG_TARGET_SEEN;
    }
    cursor->at = at;
    if (at == cursor->end) {
        return STEP_CONTINUE;
    }
    if (*at != ' ' || !(parser->flags & FLAG_TARGET_SEEN)) {
        return STEP_FAIL;
    }
    cursor->at++;
    head_append(&parser->head, " ", 1);
    enter_phase(parser, PHASE_REQUEST_VERSION);
    return STEP_CONTINUE;
}

/* Matches "HTTP/1.0" or "HTTP/1.1" one byte at a time; true once all 8 bytes matched. */
static enum step match_version_byte(struct ldtap_http_parser *parser, uint8_t c, bool *matched) {
    size_t index = parser->line_length++;
    if (index < sizeof version_prefix - 1) {
        *matched = false;
        return c == (uint8_t)version_prefix[index] ? STEP_CONTINUE : STEP_FAIL;
    }
    if (c != '0' && c != '1') {
        return STEP_FAIL;
    }
    parser->version_minor = (uint8_t)(c - '0');
    head_append(&parser->head, version_prefix, sizeof version_prefix - 1);
    head_append(&parser->head, &c, 1);
    *matched = true;
    return STEP_CONTINUE;
}

static enum step on_request_version(struct ldtap_http_parser *parser, struct cursor *cursor) {
    bool matched = false;
    enum step step = match_version_byte(parser, *cursor->at++, &matched);
    if (matched) {
        enter_phase(parser, PHASE_START_LINE_END);
    }
    return step;
}

static enum step on_start_line_end(struct ldtap_http_parser *parser, struct cursor *cursor) {
    uint8_t c = *cursor->at++;
    if (c == '\r') {
        enter_phase(parser, PHASE_START_LINE_LF);
        return STEP_CONTINUE;
    }
    return c == '\n' ? finish_start_line(parser) : STEP_FAIL;
}

static enum step on_start_line_lf(struct ldtap_http_parser *parser, struct cursor *cursor) {
    return *cursor->at++ == '\n' ? finish_start_line(parser) : STEP_FAIL;
}

static enum step on_response_version(struct ldtap_http_parser *parser, struct cursor *cursor) {
    uint8_t c = *cursor->at++;
    if (parser->line_length == VERSION_BYTES) {
        if (c != ' ') {
            return STEP_FAIL;
        }
        head_append(&parser->head, " ", 1);
        enter_phase(parser, PHASE_STATUS_CODE);
        parser->status_code = 0;
        return STEP_CONTINUE;
    }
    bool matched = false;
    return match_version_byte(parser, c, &matched);
}

static enum step on_status_code(struct ldtap_http_parser *parser, struct cursor *cursor) {
    uint8_t c = *cursor->at++;
    if (!is_digit(c) || (parser->line_length == 0 && c == '0')) {
        return STEP_FAIL;
    }
    parser->status_code = (uint16_t)(parser->status_code * 10 + (c - '0'));
    head_append(&parser->head, &c, 1);
    if (++parser->line_length == STATUS_CODE_DIGITS) {
        enter_phase(parser, PHASE_AFTER_STATUS_CODE);
    }
    return STEP_CONTINUE;
}

/* The reason phrase is optional in practice ("HTTP/1.1 200\r\n"). */
static enum step on_after_status_code(struct ldtap_http_parser *parser, struct cursor *cursor) {
    uint8_t c = *cursor->at++;
    switch (c) {
    case ' ':
        head_append(&parser->head, " ", 1);
        enter_phase(parser, PHASE_REASON);
        return STEP_CONTINUE;
    case '\r':
        enter_phase(parser, PHASE_START_LINE_LF);
        return STEP_CONTINUE;
    case '\n':
        return finish_start_line(parser);
    default:
        return STEP_FAIL;
    }
}

static enum step on_reason(struct ldtap_http_parser *parser, struct cursor *cursor) {
    const uint8_t *newline = memchr(cursor->at, '\n', (size_t)(cursor->end - cursor->at));
    const uint8_t *segment_end = newline != NULL ? newline : cursor->end;
    head_append(&parser->head, cursor->at, (size_t)(segment_end - cursor->at));
    if (newline == NULL) {
        cursor->at = cursor->end;
        return STEP_CONTINUE;
    }
    cursor->at = newline + 1;
    return finish_start_line(parser);
}

/* ---- header lines ---- */

static enum step on_header_line_start(struct ldtap_http_parser *parser, struct cursor *cursor) {
    uint8_t c = *cursor->at;
    if (c == '\r') {
        cursor->at++;
        enter_phase(parser, PHASE_HEAD_END_LF);
        return STEP_CONTINUE;
    }
    if (c == '\n') {
        cursor->at++;
        return STEP_DONE;
    }
    /* A leading blank is an obsolete line folding, a request-smuggling favourite. */
    if (!ldtap_http_is_token_byte(c)) {
        return STEP_FAIL;
    }
    enter_phase(parser, PHASE_HEADER_NAME);
    return STEP_CONTINUE;
}

static enum step on_head_end_lf(struct ldtap_http_parser *parser, struct cursor *cursor) {
    (void)parser;
    return *cursor->at++ == '\n' ? STEP_DONE : STEP_FAIL;
}

/* `name` holds token bytes and known names only [a-z-]: for those, OR-ing 0x20 folds
 * exactly the upper-case letters, and no other token byte lands on a letter or '-'. */
static bool matches_known_name(const char *name, const struct known_header *known) {
    for (size_t i = 0; i < known->length; i++) {
        if (((uint8_t)name[i] | 0x20) != (uint8_t)known->name[i]) {
            return false;
        }
    }
    return true;
}

static const struct known_header *find_known_header(const char *name, size_t length) {
    for (size_t i = 0; i < sizeof known_headers / sizeof known_headers[0]; i++) {
        if (known_headers[i].length == length && matches_known_name(name, &known_headers[i])) {
            return &known_headers[i];
        }
    }
    return NULL;
}

/* `known` is NULL for a header the framer does not look at. */
static void start_known_value(struct ldtap_http_parser *parser, const struct known_header *known) {
    parser->header_kind = known != NULL ? known->kind : HEADER_OTHER;
    parser->flags &= (uint16_t) ~(FLAG_VALUE_STARTED | FLAG_ELEMENT_TOO_LONG | FLAG_COPY_LINE);
    parser->value_length = 0;
    if (known != NULL && known->copied) {
        open_copied_line(parser);
        head_append(&parser->head, known->name, known->length + sizeof ": " - 1); /* name and ": " */
        parser->flags |= FLAG_COPY_LINE;
    }
    if (parser->header_kind == HEADER_UPGRADE) {
        parser->upgrade = 1;
    }
    if (parser->header_kind == HEADER_TRACEPARENT) {
        /* The specification treats a repeated traceparent as invalid. */
        if (parser->flags & FLAG_TRACEPARENT_SEEN) {
            parser->flags |= FLAG_TRACEPARENT_INVALID;
        }
        parser->flags |= FLAG_TRACEPARENT_SEEN;
    }
    enter_phase(parser, PHASE_HEADER_VALUE);
}

static void start_header_value(struct ldtap_http_parser *parser) {
    const struct known_header *known = NULL;
    if (parser->line_length <= sizeof parser->line_start) {
        known = find_known_header(parser->line_start, parser->line_length);
    }
    start_known_value(parser, known);
}

static enum step on_header_name(struct ldtap_http_parser *parser, struct cursor *cursor) {
    const uint8_t *at = cursor->at;
    while (at < cursor->end && ldtap_http_is_token_byte(*at)) {
        at++;
    }
    size_t run = (size_t)(at - cursor->at);
    if (parser->line_length < sizeof parser->line_start) {
        size_t room = sizeof parser->line_start - parser->line_length;
        memcpy(parser->line_start + parser->line_length, cursor->at, run < room ? run : room);
    }
    size_t name_length = parser->line_length + run;
    parser->line_length = (uint16_t)(name_length < UINT16_MAX ? name_length : UINT16_MAX);
    cursor->at = at;
    if (at == cursor->end) {
        return STEP_CONTINUE;
    }
    /* "Name :" (blank before the colon) must be rejected: RFC 9112 section 5.1. */
    if (*at != ':') {
        return STEP_FAIL;
    }
    cursor->at++;
    start_header_value(parser);
    return STEP_CONTINUE;
}

static bool parse_content_length(struct ldtap_http_parser *parser, const char *digits, size_t length) {
    if (length == 0 || length > CONTENT_LENGTH_MAX_DIGITS || (parser->flags & FLAG_ELEMENT_TOO_LONG)) {
        return false;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < length; i++) {
        if (!is_digit((uint8_t)digits[i])) {
            return false;
        }
        value = value * 10 + (uint64_t)(digits[i] - '0');
    }
    /* "5, 5" is allowed; two different lengths are a smuggling attempt or a broken peer. */
    if (parser->content_length != UINT64_MAX && parser->content_length != value) {
        return false;
    }
    parser->content_length = value;
    return true;
}

static void note_transfer_coding(struct ldtap_http_parser *parser, const char *coding, size_t length) {
    if (length == 0) {
        return;
    }
    parser->flags |= FLAG_TRANSFER_ENCODING;
    bool chunked =
        !(parser->flags & FLAG_ELEMENT_TOO_LONG) && equals_ignoring_case(coding, length, "chunked");
    if (chunked) {
        parser->flags |= FLAG_CHUNKED_LAST;
    } else {
        parser->flags &= (uint16_t)~FLAG_CHUNKED_LAST;
    }
}

/* One comma-separated element of a framing header is complete in `value`. */
static bool finish_list_element(struct ldtap_http_parser *parser) {
    size_t length = parser->value_length;
    while (length > 0 &&
           (is_blank((uint8_t)parser->value[length - 1]) || parser->value[length - 1] == '\r')) {
        length--;
    }
    const char *element = parser->value;
    bool ok = true;
    switch (parser->header_kind) {
    case HEADER_CONTENT_LENGTH:
        ok = parse_content_length(parser, element, length);
        break;
    case HEADER_TRANSFER_ENCODING:
        note_transfer_coding(parser, element, length);
        break;
    case HEADER_CONNECTION:
        if (equals_ignoring_case(element, length, "close")) {
            parser->connection_close = 1;
        } else if (equals_ignoring_case(element, length, "keep-alive")) {
            parser->flags |= FLAG_KEEP_ALIVE;
        }
        break;
    case HEADER_EXPECT:
        if (equals_ignoring_case(element, length, "100-continue")) {
            parser->expect_continue = 1;
        }
        break;
    default:
        break;
    }
    parser->value_length = 0;
    parser->flags &= (uint16_t)~FLAG_ELEMENT_TOO_LONG;
    return ok;
}

static bool take_list_elements(struct ldtap_http_parser *parser, const uint8_t *at, const uint8_t *end) {
    for (; at < end; at++) {
        uint8_t c = *at;
        if (c == ',') {
            if (!finish_list_element(parser)) {
                return false;
            }
        } else if (parser->value_length == 0 && is_blank(c)) {
            continue;
        } else if (parser->value_length < sizeof parser->value) {
            parser->value[parser->value_length++] = (char)c;
        } else {
            parser->flags |= FLAG_ELEMENT_TOO_LONG;
        }
    }
    return true;
}

/* Collects the first 56 non-blank bytes in `value` (traceparent[] stays valid for the
 * caller until the line ends): a later version may append "-fields" after byte 55 that a
 * version-00 reader ignores. `line_length` counts non-blank bytes and `value_length` says
 * blanks are pending; a blank inside the first 56 bytes makes the value invalid. */
static void take_traceparent_bytes(struct ldtap_http_parser *parser, const uint8_t *at, const uint8_t *end) {
    for (; at < end; at++) {
        uint8_t c = *at;
        if (is_blank(c) || c == '\r') {
            parser->value_length = 1;
            continue;
        }
        if (parser->value_length != 0 && parser->line_length <= LDTAP_HTTP_TRACEPARENT_BYTES) {
            parser->flags |= FLAG_TRACEPARENT_INVALID;
        }
        parser->value_length = 0;
        if (parser->line_length <= LDTAP_HTTP_TRACEPARENT_BYTES) {
            parser->value[parser->line_length] = (char)c;
        }
        if (parser->line_length < UINT16_MAX) {
            parser->line_length++;
        }
    }
}

static void finish_traceparent(struct ldtap_http_parser *parser) {
    size_t length = parser->line_length;
    bool valid = !(parser->flags & FLAG_TRACEPARENT_INVALID);
    if (length > LDTAP_HTTP_TRACEPARENT_BYTES) {
        bool version_00 = parser->value[0] == '0' && parser->value[1] == '0';
        valid = valid && !version_00 && parser->value[LDTAP_HTTP_TRACEPARENT_BYTES] == '-';
        length = LDTAP_HTTP_TRACEPARENT_BYTES;
    }
    if (!valid) {
        length = 0;
    }
    memcpy(parser->traceparent, parser->value, length);
    parser->traceparent[length] = '\0';
    parser->traceparent_length = (uint8_t)length;
}

static bool take_value_segment(struct ldtap_http_parser *parser, const uint8_t *at, const uint8_t *end) {
    switch (parser->header_kind) {
    case HEADER_CONTENT_LENGTH:
    case HEADER_TRANSFER_ENCODING:
    case HEADER_CONNECTION:
    case HEADER_EXPECT:
        return take_list_elements(parser, at, end);
    case HEADER_TRACEPARENT:
        take_traceparent_bytes(parser, at, end);
        return true;
    default:
        return true;
    }
}

static enum step finish_header_line(struct ldtap_http_parser *parser) {
    switch (parser->header_kind) {
    case HEADER_CONTENT_LENGTH:
    case HEADER_TRANSFER_ENCODING:
    case HEADER_CONNECTION:
    case HEADER_EXPECT:
        if (!finish_list_element(parser)) {
            return STEP_FAIL;
        }
        break;
    case HEADER_TRACEPARENT:
        finish_traceparent(parser);
        break;
    default:
        break;
    }
    if (parser->flags & FLAG_COPY_LINE) {
        close_copied_line(parser, false);
    }
    enter_phase(parser, PHASE_HEADER_LINE_START);
    return STEP_CONTINUE;
}

/* Uninteresting values are skipped with one memchr per call, never buffered. */
static enum step on_header_value(struct ldtap_http_parser *parser, struct cursor *cursor) {
    const uint8_t *at = cursor->at;
    if (!(parser->flags & FLAG_VALUE_STARTED)) {
        while (at < cursor->end && is_blank(*at)) {
            at++;
        }
        if (at == cursor->end) {
            cursor->at = at;
            return STEP_CONTINUE;
        }
        parser->flags |= FLAG_VALUE_STARTED;
    }
    const uint8_t *newline = memchr(at, '\n', (size_t)(cursor->end - at));
    const uint8_t *segment_end = newline != NULL ? newline : cursor->end;
    if (parser->flags & FLAG_COPY_LINE) {
        head_append(&parser->head, at, (size_t)(segment_end - at));
    }
    if (!take_value_segment(parser, at, segment_end)) {
        return STEP_FAIL;
    }
    if (newline == NULL) {
        cursor->at = cursor->end;
        return STEP_CONTINUE;
    }
    cursor->at = newline + 1;
    return finish_header_line(parser);
}

static enum step head_step(struct ldtap_http_parser *parser, struct cursor *cursor) {
    switch (parser->phase) {
    case PHASE_METHOD:
        return on_method(parser, cursor);
    case PHASE_TARGET:
        return on_target(parser, cursor);
    case PHASE_REQUEST_VERSION:
        return on_request_version(parser, cursor);
    case PHASE_START_LINE_END:
        return on_start_line_end(parser, cursor);
    case PHASE_START_LINE_LF:
        return on_start_line_lf(parser, cursor);
    case PHASE_RESPONSE_VERSION:
        return on_response_version(parser, cursor);
    case PHASE_STATUS_CODE:
        return on_status_code(parser, cursor);
    case PHASE_AFTER_STATUS_CODE:
        return on_after_status_code(parser, cursor);
    case PHASE_REASON:
        return on_reason(parser, cursor);
    case PHASE_HEADER_LINE_START:
        return on_header_line_start(parser, cursor);
    case PHASE_HEADER_NAME:
        return on_header_name(parser, cursor);
    case PHASE_HEADER_VALUE:
        return on_header_value(parser, cursor);
    case PHASE_HEAD_END_LF:
        return on_head_end_lf(parser, cursor);
    default:
        return STEP_FAIL;
    }
}

/* ---- choosing the body framing (RFC 9112 section 6.3) ---- */

static void start_chunk_size_line(struct ldtap_http_parser *parser) {
    enter_phase(parser, PHASE_CHUNK_SIZE);
    parser->body_remaining = 0;
    parser->section_bytes = 0;
}

static void start_length_body(struct ldtap_http_parser *parser) {
    if (parser->content_length == 0) {
        enter_phase(parser, PHASE_BODY_NONE);
        return;
    }
    parser->body_remaining = parser->content_length;
    enter_phase(parser, PHASE_BODY_LENGTH);
}

static bool response_has_no_body(const struct ldtap_http_parser *parser) {
    uint16_t status = parser->status_code;
    return parser->no_body || status < 200 || status == 204 || status == 304 ||
           (parser->method_is_connect && status < 300);
}

/* A request with both Transfer-Encoding and Content-Length is framed differently by
 * different servers: give up rather than guess which one the program uses. */
static bool choose_request_body(struct ldtap_http_parser *parser) {
    bool has_length = parser->content_length != UINT64_MAX;
    if (parser->flags & FLAG_TRANSFER_ENCODING) {
        if (has_length || !(parser->flags & FLAG_CHUNKED_LAST)) {
            return false;
        }
        start_chunk_size_line(parser);
    } else if (has_length) {
        start_length_body(parser);
    } else {
        enter_phase(parser, PHASE_BODY_NONE);
    }
    return true;
}

static void choose_response_body(struct ldtap_http_parser *parser) {
    bool has_length = parser->content_length != UINT64_MAX;
    if (response_has_no_body(parser)) {
        enter_phase(parser, PHASE_BODY_NONE);
    } else if (parser->flags & FLAG_TRANSFER_ENCODING) {
        if (parser->flags & FLAG_CHUNKED_LAST) {
            start_chunk_size_line(parser);
        } else {
            enter_phase(parser, PHASE_BODY_UNTIL_CLOSE);
        }
    } else if (has_length) {
        start_length_body(parser);
    } else {
        enter_phase(parser, PHASE_BODY_UNTIL_CLOSE);
    }
    if (parser->phase == PHASE_BODY_UNTIL_CLOSE) {
        parser->connection_close = 1;
    }
}

static bool choose_body(struct ldtap_http_parser *parser) {
    if (parser->version_minor == 0 && !(parser->flags & FLAG_KEEP_ALIVE)) {
        parser->connection_close = 1;
    }
    if (parser->direction == LDTAP_HTTP_REQUEST) {
        return choose_request_body(parser);
    }
    choose_response_body(parser);
    return true;
}

/* ---- chunked bodies ---- */

static enum step finish_chunk_size_line(struct ldtap_http_parser *parser) {
    if (parser->body_remaining == 0) {
        enter_phase(parser, PHASE_TRAILER_LINE_START);
        parser->section_bytes = 0;
    } else {
        enter_phase(parser, PHASE_CHUNK_DATA);
    }
    return STEP_CONTINUE;
}

static enum step end_chunk_size_digits(struct ldtap_http_parser *parser, uint8_t c) {
    switch (c) {
    case ' ':
    case '\t':
        parser->phase = PHASE_CHUNK_SIZE_BLANKS;
        return STEP_CONTINUE;
    case ';':
        parser->phase = PHASE_CHUNK_EXTENSION;
        return STEP_CONTINUE;
    case '\r':
        parser->phase = PHASE_CHUNK_SIZE_LF;
        return STEP_CONTINUE;
    case '\n':
        return finish_chunk_size_line(parser);
    default:
        return STEP_FAIL;
    }
}

static enum step on_chunk_size(struct ldtap_http_parser *parser, struct cursor *cursor) {
    uint8_t c = *cursor->at++;
    int digit = hex_value(c);
    if (digit < 0) {
        return parser->line_length == 0 ? STEP_FAIL : end_chunk_size_digits(parser, c);
    }
    if (parser->line_length >= CHUNK_SIZE_MAX_DIGITS) {
        return STEP_FAIL;
    }
    parser->line_length++;
    parser->body_remaining = parser->body_remaining << 4 | (uint64_t)digit;
    return STEP_CONTINUE;
}

static enum step on_chunk_size_blanks(struct ldtap_http_parser *parser, struct cursor *cursor) {
    uint8_t c = *cursor->at++;
    return is_blank(c) ? STEP_CONTINUE : end_chunk_size_digits(parser, c);
}

static enum step on_chunk_extension(struct ldtap_http_parser *parser, struct cursor *cursor) {
    const uint8_t *newline = memchr(cursor->at, '\n', (size_t)(cursor->end - cursor->at));
    if (newline == NULL) {
        cursor->at = cursor->end;
        return STEP_CONTINUE;
    }
    cursor->at = newline + 1;
    return finish_chunk_size_line(parser);
}

static enum step on_chunk_size_lf(struct ldtap_http_parser *parser, struct cursor *cursor) {
    return *cursor->at++ == '\n' ? finish_chunk_size_line(parser) : STEP_FAIL;
}

/* O(1) per call: chunk payload is never looked at. */
static enum step on_chunk_data(struct ldtap_http_parser *parser, struct cursor *cursor) {
    size_t available = (size_t)(cursor->end - cursor->at);
    size_t take = parser->body_remaining < available ? (size_t)parser->body_remaining : available;
    cursor->at += take;
    parser->body_remaining -= take;
    parser->body_bytes += take;
    if (parser->body_remaining == 0) {
        parser->phase = PHASE_CHUNK_DATA_CR;
    }
    return STEP_CONTINUE;
}

static enum step on_chunk_data_cr(struct ldtap_http_parser *parser, struct cursor *cursor) {
    uint8_t c = *cursor->at++;
    if (c == '\r') {
        parser->phase = PHASE_CHUNK_DATA_LF;
        return STEP_CONTINUE;
    }
    if (c != '\n') {
        return STEP_FAIL;
    }
    start_chunk_size_line(parser);
    return STEP_CONTINUE;
}

static enum step on_chunk_data_lf(struct ldtap_http_parser *parser, struct cursor *cursor) {
    if (*cursor->at++ != '\n') {
        return STEP_FAIL;
    }
    start_chunk_size_line(parser);
    return STEP_CONTINUE;
}

static enum step on_trailer_line_start(struct ldtap_http_parser *parser, struct cursor *cursor) {
    uint8_t c = *cursor->at;
    if (c == '\r') {
        cursor->at++;
        parser->phase = PHASE_TRAILER_END_LF;
        return STEP_CONTINUE;
    }
    if (c == '\n') {
        cursor->at++;
        return STEP_DONE;
    }
    parser->phase = PHASE_TRAILER_LINE;
    return STEP_CONTINUE;
}

static enum step on_trailer_line(struct ldtap_http_parser *parser, struct cursor *cursor) {
    const uint8_t *newline = memchr(cursor->at, '\n', (size_t)(cursor->end - cursor->at));
    if (newline == NULL) {
        cursor->at = cursor->end;
        return STEP_CONTINUE;
    }
    cursor->at = newline + 1;
    parser->phase = PHASE_TRAILER_LINE_START;
    return STEP_CONTINUE;
}

static enum step on_trailer_end_lf(struct ldtap_http_parser *parser, struct cursor *cursor) {
    (void)parser;
    return *cursor->at++ == '\n' ? STEP_DONE : STEP_FAIL;
}

static enum step chunk_dispatch(struct ldtap_http_parser *parser, struct cursor *cursor) {
    switch (parser->phase) {
    case PHASE_CHUNK_SIZE:
        return on_chunk_size(parser, cursor);
    case PHASE_CHUNK_SIZE_BLANKS:
        return on_chunk_size_blanks(parser, cursor);
    case PHASE_CHUNK_EXTENSION:
        return on_chunk_extension(parser, cursor);
    case PHASE_CHUNK_SIZE_LF:
        return on_chunk_size_lf(parser, cursor);
    case PHASE_CHUNK_DATA:
        return on_chunk_data(parser, cursor);
    case PHASE_CHUNK_DATA_CR:
        return on_chunk_data_cr(parser, cursor);
    case PHASE_CHUNK_DATA_LF:
        return on_chunk_data_lf(parser, cursor);
    case PHASE_TRAILER_LINE_START:
        return on_trailer_line_start(parser, cursor);
    case PHASE_TRAILER_LINE:
        return on_trailer_line(parser, cursor);
    case PHASE_TRAILER_END_LF:
        return on_trailer_end_lf(parser, cursor);
    default:
        return STEP_FAIL;
    }
}

/* Size lines and trailers are framing the peer controls: bound them. */
static enum step chunk_step(struct ldtap_http_parser *parser, struct cursor *cursor) {
    uint8_t phase = parser->phase;
    const uint8_t *before = cursor->at;
    enum step step = chunk_dispatch(parser, cursor);
    if (phase == PHASE_CHUNK_DATA || step != STEP_CONTINUE) {
        return step;
    }
    bool in_trailers = phase >= PHASE_TRAILER_LINE_START;
    size_t limit = in_trailers ? LDTAP_HTTP_MAX_HEAD_BYTES : CHUNK_SIZE_LINE_MAX_BYTES;
    parser->section_bytes += (uint32_t)(cursor->at - before);
    return parser->section_bytes > limit ? STEP_FAIL : STEP_CONTINUE;
}

/* ---- entry points ---- */

static enum ldtap_http_event give_up(struct ldtap_http_parser *parser) {
    parser->phase = PHASE_FAILED;
    return LDTAP_HTTP_GIVE_UP;
}

static enum ldtap_http_event complete(struct ldtap_http_parser *parser) {
    parser->phase = PHASE_COMPLETE;
    return LDTAP_HTTP_MESSAGE_COMPLETE;
}

static enum ldtap_http_event frame_idle(struct ldtap_http_parser *parser, const uint8_t *bytes, size_t length,
                                        size_t *consumed) {
    size_t skipped = 0;
    if (parser->direction == LDTAP_HTTP_REQUEST) {
        while (skipped < length && (bytes[skipped] == '\r' || bytes[skipped] == '\n')) {
            skipped++;
        }
    }
    *consumed = skipped;
    if (skipped == length) {
        return LDTAP_HTTP_NEED_MORE;
    }
    enter_phase(parser, parser->direction == LDTAP_HTTP_REQUEST ? PHASE_METHOD : PHASE_RESPONSE_VERSION);
    open_copied_line(parser);
    return LDTAP_HTTP_MESSAGE_BEGIN;
}

/* The fields the state machine would have set for a head the fast-path scanner framed
 * whole (its copy is already in place), before the body framing is chosen. The rest is as
 * ldtap_http_parser_begin and the MESSAGE_BEGIN step left it (method_is_connect of a
 * response and no_body are the caller's). */
static void apply_fast_head(struct ldtap_http_parser *parser, const uint8_t *bytes,
                            const struct ldtap_http_fast_head *fast) {
    parser->head.length = fast->copy_length;
    parser->head_bytes = (uint32_t)fast->length;
    parser->version_minor = fast->version_minor;
    if (parser->direction == LDTAP_HTTP_REQUEST) {
        parser->method_is_head = fast->method_is_head;
        parser->method_is_connect = fast->method_is_connect;
    } else {
        parser->status_code = fast->status_code;
    }
    parser->expect_continue = fast->expect_continue;
    parser->connection_close = fast->connection_close;
    parser->upgrade = fast->upgrade;
    parser->content_length = fast->content_length;
    parser->flags = (uint16_t)((fast->keep_alive ? FLAG_KEEP_ALIVE : 0) |
                               (fast->transfer_encoding ? FLAG_TRANSFER_ENCODING : 0) |
                               (fast->chunked_last ? FLAG_CHUNKED_LAST : 0));
    if (fast->has_traceparent) {
        memcpy(parser->traceparent, bytes + fast->traceparent_offset, fast->traceparent_length);
        parser->traceparent[fast->traceparent_length] = '\0';
        parser->traceparent_length = fast->traceparent_length;
    }
    enter_phase(parser, PHASE_HEAD_END_LF);
}

/* The fast path applies at the first byte of a head, before the state machine took any. */
static bool at_head_start(const struct ldtap_http_parser *parser) {
    bool start_phase =
        parser->phase == (parser->direction == LDTAP_HTTP_REQUEST ? PHASE_METHOD : PHASE_RESPONSE_VERSION);
    return start_phase && parser->head_bytes == 0 && parser->line_length == 0 && parser->flags == 0 &&
           parser->content_length == UINT64_MAX;
}

/* The parser fields before the internal buffers: all a framed head sets but the traceparent
 * and the head copy. */
#define SCALAR_BYTES offsetof(struct ldtap_http_parser, line_start)

/* What, besides its bytes, a head's framing depends on: a memo made under another key
 * must not be recalled. */
static uint32_t memo_key(const struct ldtap_http_parser *parser) {
    return (uint32_t)parser->head.capacity | (uint32_t)parser->direction << 16 |
           (uint32_t)parser->no_body << 24 | (uint32_t)parser->method_is_connect << 25;
}

/* A head equal to the one `memo` holds, framed under the same key: the state it left is
 * copied in whole (body framing chosen), with its head copy. Returns its length, or 0. */
static inline size_t recall_head(struct ldtap_http_parser *parser, const uint8_t *bytes, size_t length,
                                 const struct ldtap_http_head_memo *memo) {
    size_t raw_length = memo->raw_length;
    if (raw_length == 0 || raw_length > length || memo->key != memo_key(parser) ||
        memcmp(bytes, memo->raw, raw_length) != 0) {
        return 0;
    }
    struct ldtap_http_head_copy head = parser->head;
    memcpy(parser, &memo->parser, SCALAR_BYTES);
    if (parser->traceparent_length > 0) { /* rare: each request sends its own */
        memcpy(parser->traceparent, memo->parser.traceparent, parser->traceparent_length);
    }
    parser->traceparent[parser->traceparent_length] = '\0';
    head.length = memo->parser.head.length;
    parser->head = head;
    memcpy(head.bytes, memo->copy, head.length);
    return raw_length;
}

/* Called with the parser as the head left it, its body framing chosen. */
static void remember_head(struct ldtap_http_head_memo *memo, uint32_t key, const uint8_t *bytes,
                          size_t raw_length, const struct ldtap_http_parser *parser) {
    if (raw_length > LDTAP_HTTP_MEMO_BYTES || parser->head.length > LDTAP_HTTP_MEMO_BYTES) {
        memo->raw_length = 0;
        return;
    }
    memcpy(memo->raw, bytes, raw_length);
    memcpy(memo->copy, parser->head.bytes, parser->head.length);
    memcpy(&memo->parser, parser, SCALAR_BYTES);
    memcpy(memo->parser.traceparent, parser->traceparent, (size_t)parser->traceparent_length + 1);
    memo->parser.head.length = parser->head.length;
    memo->key = key;
    memo->raw_length = (uint16_t)raw_length;
}

/* The fast path past the memo: scans a whole head in `bytes`, applies it and chooses its
 * body framing, remembering the result in `memo` (may be NULL). Returns NEED_MORE having
 * changed nothing when the scanner declines, else HEAD_COMPLETE or GIVE_UP with *consumed
 * the head's length. Out of line: the memo answers most calls. */
static __attribute__((noinline)) enum ldtap_http_event scan_whole_head(struct ldtap_http_parser *parser,
                                                                      const uint8_t *bytes, size_t length,
                                                                      size_t *consumed,
                                                                      struct ldtap_http_head_memo *memo) {
    struct ldtap_http_fast_head fast;
    if (!ldtap_http_fast_head_scan(parser->direction, bytes, length, parser->head.bytes,
                                   parser->head.capacity, &fast)) {
        return LDTAP_HTTP_NEED_MORE;
    }
    uint32_t key = memo_key(parser);
    apply_fast_head(parser, bytes, &fast);
    *consumed = fast.length;
    if (!choose_body(parser)) {
        return give_up(parser);
    }
    if (memo != NULL) {
        remember_head(memo, key, bytes, fast.length, parser);
    }
    return LDTAP_HTTP_HEAD_COMPLETE;
}

/* The fast path: a whole head at the start of `bytes`, recalled from `memo` (may be NULL)
 * or scanned; NEED_MORE, having changed nothing, when neither takes it. */
static inline enum ldtap_http_event frame_whole_head(struct ldtap_http_parser *parser, const uint8_t *bytes,
                                                     size_t length, size_t *consumed,
                                                     struct ldtap_http_head_memo *memo) {
    size_t recalled = memo != NULL ? recall_head(parser, bytes, length, memo) : 0;
    if (recalled > 0) {
        *consumed = recalled;
        return LDTAP_HTTP_HEAD_COMPLETE;
    }
    return scan_whole_head(parser, bytes, length, consumed, memo);
}

/* The head is walked with at most LDTAP_HTTP_MAX_HEAD_BYTES + 1 bytes in view, so an
 * endless head is refused without scanning further than the limit. */
static __attribute__((noinline)) enum ldtap_http_event frame_head(struct ldtap_http_parser *parser,
                                                                  const uint8_t *bytes, size_t length,
                                                                  size_t *consumed,
                                                                  struct ldtap_http_head_memo *memo) {
    if (at_head_start(parser)) {
        enum ldtap_http_event event = frame_whole_head(parser, bytes, length, consumed, memo);
        if (event != LDTAP_HTTP_NEED_MORE) {
            return event;
        }
    }
    size_t allowed = LDTAP_HTTP_MAX_HEAD_BYTES + 1 - parser->head_bytes;
    struct cursor cursor = {bytes, bytes + (length < allowed ? length : allowed)};
    enum step step = STEP_CONTINUE;
    while (step == STEP_CONTINUE && cursor.at < cursor.end) {
        step = head_step(parser, &cursor);
    }
    size_t used = (size_t)(cursor.at - bytes);
    *consumed = used;
    parser->head_bytes += (uint32_t)used;
    if (step == STEP_FAIL || parser->head_bytes > LDTAP_HTTP_MAX_HEAD_BYTES) {
        return give_up(parser);
    }
    if (step != STEP_DONE) {
        return LDTAP_HTTP_NEED_MORE;
    }
    return choose_body(parser) ? LDTAP_HTTP_HEAD_COMPLETE : give_up(parser);
}

static enum ldtap_http_event frame_length_body(struct ldtap_http_parser *parser, size_t length,
                                               size_t *consumed) {
    size_t take = parser->body_remaining < length ? (size_t)parser->body_remaining : length;
    parser->body_remaining -= take;
    parser->body_bytes += take;
    *consumed = take;
    return parser->body_remaining == 0 ? complete(parser) : LDTAP_HTTP_NEED_MORE;
}

static enum ldtap_http_event frame_chunked_body(struct ldtap_http_parser *parser, const uint8_t *bytes,
                                                size_t length, size_t *consumed) {
    struct cursor cursor = {bytes, bytes + length};
    enum step step = STEP_CONTINUE;
    while (step == STEP_CONTINUE && cursor.at < cursor.end) {
        step = chunk_step(parser, &cursor);
    }
    *consumed = (size_t)(cursor.at - bytes);
    if (step == STEP_FAIL) {
        return give_up(parser);
    }
    return step == STEP_DONE ? complete(parser) : LDTAP_HTTP_NEED_MORE;
}

void ldtap_http_parser_begin(struct ldtap_http_parser *parser, enum ldtap_http_direction direction,
                             bool no_body, uint8_t *head_buffer, uint16_t head_capacity) {
    /* Field by field rather than memset: the buffers need no clearing. */
    parser->direction = (uint8_t)direction;
    parser->phase = PHASE_IDLE;
    parser->header_kind = HEADER_OTHER;
    parser->value_length = 0;
    parser->flags = 0;
    parser->line_length = 0;
    parser->status_code = 0;
    parser->head_line_start = 0;
    parser->version_minor = 0;
    parser->method_is_head = 0;
    parser->method_is_connect = 0;
    parser->expect_continue = 0;
    parser->connection_close = 0;
    parser->upgrade = 0;
    parser->no_body = no_body;
    parser->traceparent_length = 0;
    parser->traceparent[0] = '\0';
    parser->head_bytes = 0;
    parser->section_bytes = 0;
    parser->content_length = UINT64_MAX;
    parser->body_remaining = 0;
    parser->body_bytes = 0;
    parser->head.bytes = head_buffer;
    parser->head.capacity = head_buffer != NULL ? head_capacity : 0;
    parser->head.length = 0;
    parser->head.truncated = false;
}

/* hot: inlined into its callers by LTO, so a recalled head costs no call frame. */
__attribute__((always_inline)) inline enum ldtap_http_event
ldtap_http_begin_whole_head(struct ldtap_http_parser *parser, enum ldtap_http_direction direction,
                            bool no_body, uint8_t *head_buffer, uint16_t head_capacity, const uint8_t *bytes,
                            size_t length, size_t *consumed, struct ldtap_http_head_memo *memo) {
    *consumed = 0;
    /* Blank lines before a request line are the state machine's to skip. */
    bool whole_head_possible = bytes != NULL && length > 0 && head_buffer != NULL &&
                               !(direction == LDTAP_HTTP_REQUEST && (bytes[0] == '\r' || bytes[0] == '\n'));
    if (whole_head_possible && memo != NULL) {
        /* Only what the memo's key reads: a recalled head overwrites the rest. */
        parser->direction = (uint8_t)direction;
        parser->no_body = no_body;
        parser->method_is_connect = 0;
        parser->head = (struct ldtap_http_head_copy){head_buffer, head_capacity, 0, false};
        size_t recalled = recall_head(parser, bytes, length, memo);
        if (recalled > 0) {
            *consumed = recalled;
            return LDTAP_HTTP_HEAD_COMPLETE;
        }
    }
    ldtap_http_parser_begin(parser, direction, no_body, head_buffer, head_capacity);
    if (!whole_head_possible) {
        return LDTAP_HTTP_NEED_MORE;
    }
    /* What the MESSAGE_BEGIN step does: the state frame_head expects at a head's start. */
    enter_phase(parser, direction == LDTAP_HTTP_REQUEST ? PHASE_METHOD : PHASE_RESPONSE_VERSION);
    enum ldtap_http_event event = scan_whole_head(parser, bytes, length, consumed, memo);
    if (event == LDTAP_HTTP_NEED_MORE) {
        parser->phase = PHASE_IDLE; /* as just begun: ldtap_http_frame starts from scratch */
    }
    return event;
}

/* hot */
enum ldtap_http_event ldtap_http_frame(struct ldtap_http_parser *parser, const uint8_t *bytes, size_t length,
                                       size_t *consumed) {
    return ldtap_http_frame_remembering(parser, bytes, length, consumed, NULL);
}

/* hot */
enum ldtap_http_event ldtap_http_frame_remembering(struct ldtap_http_parser *parser, const uint8_t *bytes,
                                                   size_t length, size_t *consumed,
                                                   struct ldtap_http_head_memo *memo) {
    *consumed = 0;
    if (bytes == NULL) {
        length = 0;
    }
    switch (parser->phase) {
    case PHASE_IDLE:
        return frame_idle(parser, bytes, length, consumed);
    case PHASE_BODY_NONE:
        return complete(parser);
    case PHASE_BODY_LENGTH:
        return frame_length_body(parser, length, consumed);
    case PHASE_BODY_UNTIL_CLOSE:
        parser->body_bytes += length;
        *consumed = length;
        return LDTAP_HTTP_NEED_MORE;
    case PHASE_COMPLETE:
    case PHASE_FAILED:
        return give_up(parser);
    default:
        break;
    }
    if (parser->phase < PHASE_BODY_NONE) {
        return frame_head(parser, bytes, length, consumed, memo);
    }
    return frame_chunked_body(parser, bytes, length, consumed);
}

enum ldtap_http_event ldtap_http_frame_close(struct ldtap_http_parser *parser) {
    switch (parser->phase) {
    case PHASE_IDLE:
    case PHASE_COMPLETE:
        return LDTAP_HTTP_NEED_MORE;
    case PHASE_BODY_NONE:
    case PHASE_BODY_UNTIL_CLOSE:
        return complete(parser);
    default:
        return give_up(parser);
    }
}

bool ldtap_http_counts_only(const struct ldtap_http_parser *parser, uint64_t length) {
    return (parser->phase == PHASE_BODY_LENGTH && parser->body_remaining >= length) ||
           parser->phase == PHASE_BODY_UNTIL_CLOSE;
}

bool ldtap_http_head_ends_message(const struct ldtap_http_parser *parser) {
    return parser->phase == PHASE_BODY_NONE;
}

bool ldtap_http_response_is_interim(const struct ldtap_http_parser *parser) {
    return parser->direction == LDTAP_HTTP_RESPONSE && parser->status_code >= 100 &&
           parser->status_code < 200 && parser->status_code != 101;
}
