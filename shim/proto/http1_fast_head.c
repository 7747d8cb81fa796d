/* Fast path of the HTTP/1.x framer (see http1_fast_head.h): when a whole head sits in one
 * buffer, lines are found with memchr (vectorised in glibc) and only the start line and the
 * names of header lines are looked at, instead of a state-machine step per byte. Anything
 * the state machine would reject, or treats in a way not mirrored here, makes the scanner
 * decline so that the state machine frames the message from its first byte. */
#include "http1_fast_head.h"

#include <string.h>

enum {
    FAST_METHOD_MAX_BYTES = 16,       /* as the state machine's METHOD_MAX_BYTES */
    FAST_CONTENT_LENGTH_DIGITS = 19,  /* as CONTENT_LENGTH_MAX_DIGITS */
    FAST_VERSION_BYTES = 8,           /* "HTTP/1.x" */
    FAST_STATUS_LINE_MIN = 12,        /* "HTTP/1.x 200" */
};

/* The state machine keeps one list element of a framing header in parser->value; a longer
 * element makes it reject a Content-Length. */
#define FAST_ELEMENT_BYTES sizeof(((struct ldtap_http_parser *)0)->value)

static bool is_blank(uint8_t c) {
    return c == ' ' || c == '\t';
}

static bool is_digit(uint8_t c) {
    return c >= '0' && c <= '9';
}

static uint64_t load64(const void *at) {
    uint64_t word;
    memcpy(&word, at, sizeof word);
    return word;
}

static uint32_t load32(const void *at) {
    uint32_t word;
    memcpy(&word, at, sizeof word);
    return word;
}

/* `name` holds token bytes only: OR-ing 0x20 folds exactly the upper-case letters onto
 * [a-z], and no other token byte lands on a letter or '-'. Compared a word at a time, with
 * overlapping words at both ends; every known name is 4 to 17 bytes long. */
static bool name_is(const uint8_t *name, const char *lower, size_t length) {
    if (length < 8) {
        uint32_t fold = 0x20202020u;
        return (((load32(name) | fold) ^ load32(lower)) |
                ((load32(name + length - 4) | fold) ^ load32(lower + length - 4))) == 0;
    }
    uint64_t fold = 0x2020202020202020u;
    uint64_t differ = ((load64(name) | fold) ^ load64(lower)) |
                      ((load64(name + length - 8) | fold) ^ load64(lower + length - 8));
    if (length > 16) {
        differ |= (load64(name + 8) | fold) ^ load64(lower + 8);
    }
    return differ == 0;
}

/* Dispatches on the length (and for length 10 the first letter) so that most names cost
 * no comparison at all. */
static uint8_t classify_name(const uint8_t *name, size_t length) {
    const char *lower;
    uint8_t known;
    switch (length) {
    case 4: lower = "host", known = LDTAP_HTTP_KNOWN_HOST; break;
    case 6: lower = "expect", known = LDTAP_HTTP_KNOWN_EXPECT; break;
    case 7: lower = "upgrade", known = LDTAP_HTTP_KNOWN_UPGRADE; break;
    case 10:
        if ((name[0] | 0x20) == 'u') {
            lower = "user-agent", known = LDTAP_HTTP_KNOWN_USER_AGENT;
        } else {
            lower = "connection", known = LDTAP_HTTP_KNOWN_CONNECTION;
        }
        break;
    case 11: lower = "traceparent", known = LDTAP_HTTP_KNOWN_TRACEPARENT; break;
    case 12: lower = "content-type", known = LDTAP_HTTP_KNOWN_CONTENT_TYPE; break;
    case 14: lower = "content-length", known = LDTAP_HTTP_KNOWN_CONTENT_LENGTH; break;
    case 17: lower = "transfer-encoding", known = LDTAP_HTTP_KNOWN_TRANSFER_ENCODING; break;
    default: return LDTAP_HTTP_KNOWN_NONE;
    }
    return name_is(name, lower, length) ? known : LDTAP_HTTP_KNOWN_NONE;
}

/* A Content-Length the state machine takes without a second look: blanks, 1 to 19 digits
 * within one list element, then only blanks or CR. Lists ("5, 5") are left to it. */
static bool is_plain_content_length(const uint8_t *value, const uint8_t *newline) {
    while (value < newline && is_blank(*value)) {
        value++;
    }
    if ((size_t)(newline - value) > FAST_ELEMENT_BYTES) {
        return false;
    }
    const uint8_t *digits = value;
    while (value < newline && is_digit(*value)) {
        value++;
    }
    size_t count = (size_t)(value - digits);
    if (count == 0 || count > FAST_CONTENT_LENGTH_DIGITS) {
        return false;
    }
    while (value < newline && (is_blank(*value) || *value == '\r')) {
        value++;
    }
    return value == newline;
}

/* Target bytes (anything visible, as the state machine's is_target_byte) but '?' and '#',
 * where the copied part of the target ends; same layout as ldtap_http_token_byte_set. */
static const uint32_t plain_target_byte_set[8] = {0,          0x7ffffff6u, 0xffffffffu, 0x7fffffffu,
                                                  0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};

static bool is_plain_target_byte(uint8_t c) {
    return (plain_target_byte_set[c >> 5] >> (c & 31)) & 1u;
}

/* "HTTP/1.0" or "HTTP/1.1"; the caller made sure 8 bytes are there. */
static bool is_version(const uint8_t *at, uint8_t *minor) {
    if (memcmp(at, "HTTP/1.", FAST_VERSION_BYTES - 1) != 0 || (at[7] != '0' && at[7] != '1')) {
        return false;
    }
    *minor = (uint8_t)(at[7] - '0');
    return true;
}

/* METHOD SP target SP HTTP/1.x [CR] LF, as on_method, on_target and on_start_line_end. */
static bool scan_request_line(const uint8_t *bytes, const uint8_t *newline, struct ldtap_http_fast_head *head) {
    const uint8_t *at = bytes;
    while (at < newline && ((*at >= 'A' && *at <= 'Z') || (at > bytes && (*at == '-' || *at == '_')))) {
        at++;
    }
    size_t method_length = (size_t)(at - bytes);
    if (method_length == 0 || method_length > FAST_METHOD_MAX_BYTES || *at != ' ') {
        return false;
    }
    const uint8_t *target = ++at;
    const uint8_t *cut = NULL;
    /* '\n' is not a target byte, so both scans stop at `newline` at the latest. */
    while (is_plain_target_byte(*at)) {
        at++;
    }
    if (*at == '?' || *at == '#') {
        cut = at++;
        while (*at > ' ' && *at != 0x7f) {
            at++;
        }
    }
    if (at == target || *at != ' ' || (size_t)(newline - (at + 1)) < FAST_VERSION_BYTES) {
        return false;
    }
    const uint8_t *after = at + 1 + FAST_VERSION_BYTES;
    if (!is_version(at + 1, &head->version_minor) || !(after == newline || (after + 1 == newline && *after == '\r'))) {
        return false;
    }
    head->method_length = (uint8_t)method_length;
    head->target_cut = cut != NULL;
    head->start_copy_length = (size_t)((cut != NULL ? cut : at) - bytes);
    head->version = at;
    return true;
}

/* HTTP/1.x SP 3DIGIT ( SP reason | [CR] ) LF, as on_response_version to on_reason. */
static bool scan_status_line(const uint8_t *bytes, const uint8_t *newline, struct ldtap_http_fast_head *head) {
    if ((size_t)(newline - bytes) < FAST_STATUS_LINE_MIN || !is_version(bytes, &head->version_minor) ||
        bytes[8] != ' ' || bytes[9] < '1' || bytes[9] > '9' || !is_digit(bytes[10]) || !is_digit(bytes[11])) {
        return false;
    }
    head->status_code = (uint16_t)((bytes[9] - '0') * 100 + (bytes[10] - '0') * 10 + (bytes[11] - '0'));
    head->version = NULL;
    const uint8_t *after = bytes + FAST_STATUS_LINE_MIN;
    if (after < newline && *after == ' ') {
        head->start_copy_length = (size_t)(newline - bytes); /* the reason, CR and all */
        return true;
    }
    head->start_copy_length = FAST_STATUS_LINE_MIN;
    return after == newline || (after + 1 == newline && *after == '\r');
}

bool ldtap_http_fast_head_scan(enum ldtap_http_direction direction, const uint8_t *bytes, size_t length,
                               struct ldtap_http_fast_head *head) {
    /* A head longer than the limit makes the state machine give up: never look past it. */
    size_t window = length < LDTAP_HTTP_MAX_HEAD_BYTES ? length : LDTAP_HTTP_MAX_HEAD_BYTES;
    if (bytes == NULL || window == 0) {
        return false;
    }
    const uint8_t *end = bytes + window;
    const uint8_t *newline = memchr(bytes, '\n', window);
    if (newline == NULL) {
        return false;
    }
    bool start_ok = direction == LDTAP_HTTP_REQUEST ? scan_request_line(bytes, newline, head)
                                                    : scan_status_line(bytes, newline, head);
    if (!start_ok) {
        return false;
    }
    head->last_name = NULL;
    head->last_name_length = 0;
    head->last_known = LDTAP_HTTP_KNOWN_NONE;
    head->line_count = 0;
    bool content_length_seen = false;
    for (const uint8_t *line = newline + 1;; line = newline + 1) {
        if (line == end) {
            return false; /* the rest of the head has not arrived yet */
        }
        newline = memchr(line, '\n', (size_t)(end - line));
        if (newline == NULL) {
            return false;
        }
        if (newline == line || (newline == line + 1 && *line == '\r')) {
            break; /* the blank line */
        }
        /* A leading blank (obs-fold), a stray CR or any non-token byte: the state machine
         * gives up, and does so best itself. */
        if (!ldtap_http_is_token_byte(*line)) {
            return false;
        }
        const uint8_t *colon = line + 1;
        while (ldtap_http_is_token_byte(*colon)) { /* stops at `newline` at the latest */
            colon++;
        }
        if (*colon != ':') {
            return false;
        }
        size_t name_length = (size_t)(colon - line);
        uint8_t known = classify_name(line, name_length);
        head->last_name = line;
        head->last_name_length = name_length;
        head->last_known = known;
        if (known == LDTAP_HTTP_KNOWN_NONE) {
            continue;
        }
        /* The only framing value the state machine can reject inside the head. */
        if (known == LDTAP_HTTP_KNOWN_CONTENT_LENGTH) {
            if (content_length_seen || !is_plain_content_length(colon + 1, newline)) {
                return false;
            }
            content_length_seen = true;
        }
        if (head->line_count == LDTAP_HTTP_FAST_MAX_LINES) {
            return false;
        }
        head->lines[head->line_count++] = (struct ldtap_http_fast_line){line, colon + 1, newline, known};
    }
    head->length = (size_t)(newline + 1 - bytes);
    return true;
}
