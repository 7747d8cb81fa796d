/* Parses the request/status line and allow-listed headers of the head copies in HTTP span
 * records. The bytes come from a traced process and are treated as hostile. */
#include "http_head.h"

#include <string.h>

/* RFC 9110 token characters. */
static bool is_token_char(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Control characters other than tab, and DEL: never valid inside a line. */
static bool is_forbidden_control(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

static char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static bool equals_ignoring_case(const char *bytes, size_t length, const char *lower_literal) {
    size_t literal_length = strlen(lower_literal);
    if (length != literal_length) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (lower_ascii(bytes[i]) != lower_literal[i]) {
            return false;
        }
    }
    return true;
}

/* One line of the head: [start, start+length) without its terminator. `complete` is false
 * when the bytes ran out before a '\n' (the shim truncated the copy there). */
struct line {
    const char *start;
    size_t length;
    bool complete;
};

/* Takes the next line from *cursor. A bare "\n" terminator is accepted as well as "\r\n";
 * a CR anywhere else stays in the line, where callers reject it as a control character. */
static struct line next_line(const char **cursor, const char *end) {
    struct line line = {.start = *cursor, .length = 0, .complete = false};
    const char *newline = memchr(*cursor, '\n', (size_t)(end - *cursor));
    if (newline == NULL) {
        line.length = (size_t)(end - *cursor);
        /* Cut between the CR and the LF: the CR is a terminator, not content. */
        if (line.length > 0 && line.start[line.length - 1] == '\r') {
            line.length--;
        }
        *cursor = end;
        return line;
    }
    line.length = (size_t)(newline - *cursor);
    if (line.length > 0 && line.start[line.length - 1] == '\r') {
        line.length--;
    }
    line.complete = true;
    *cursor = newline + 1;
    return line;
}

static bool has_forbidden_control(const char *bytes, size_t length) {
    for (size_t i = 0; i < length; i++) {
        if (is_forbidden_control((unsigned char)bytes[i])) {
            return true;
        }
    }
    return false;
}

static struct ldtap_http_slice trim_spaces(const char *bytes, size_t length) {
    while (length > 0 && (bytes[0] == ' ' || bytes[0] == '\t')) {
        bytes++;
        length--;
    }
    while (length > 0 && (bytes[length - 1] == ' ' || bytes[length - 1] == '\t')) {
        length--;
    }
    return (struct ldtap_http_slice){.bytes = bytes, .length = length};
}

static bool parse_decimal(const char *bytes, size_t length, size_t max_digits, uint64_t *value) {
    if (length == 0 || length > max_digits) {
        return false;
    }
    uint64_t result = 0;
    for (size_t i = 0; i < length; i++) {
        if (!is_digit((unsigned char)bytes[i])) {
            return false;
        }
        result = result * 10 + (uint64_t)(bytes[i] - '0');
    }
    *value = result;
    return true;
}

static void keep_first(struct ldtap_http_slice *slot, struct ldtap_http_slice value) {
    if (slot->bytes == NULL) {
        *slot = value;
    }
}

static void parse_header_line(struct line line, struct ldtap_http_headers *headers) {
    if (!line.complete || has_forbidden_control(line.start, line.length)) {
        return;
    }
    size_t name_length = 0;
    while (name_length < line.length && is_token_char((unsigned char)line.start[name_length])) {
        name_length++;
    }
    /* Also rejects continuation lines (leading space) and "name :" forms. */
    if (name_length == 0 || name_length >= line.length || line.start[name_length] != ':') {
        return;
    }
    const char *name = line.start;
    struct ldtap_http_slice value = trim_spaces(line.start + name_length + 1, line.length - name_length - 1);
    if (value.length == 0) {
        return; /* an empty value is treated as absent */
    }
    if (equals_ignoring_case(name, name_length, "host")) {
        keep_first(&headers->host, value);
    } else if (equals_ignoring_case(name, name_length, "user-agent")) {
        keep_first(&headers->user_agent, value);
    } else if (equals_ignoring_case(name, name_length, "content-type")) {
        keep_first(&headers->content_type, value);
    } else if (equals_ignoring_case(name, name_length, "traceparent")) {
        keep_first(&headers->traceparent, value);
    } else if (equals_ignoring_case(name, name_length, "content-length") && !headers->has_content_length) {
        /* 19 digits always fit in 64 bits; a larger body length is not credible anyway. */
        headers->has_content_length = parse_decimal(value.bytes, value.length, 19, &headers->content_length);
    }
}

static void parse_headers(const char *cursor, const char *end, struct ldtap_http_headers *headers) {
    memset(headers, 0, sizeof *headers);
    while (cursor < end) {
        struct line line = next_line(&cursor, end);
        if (line.complete && line.length == 0) {
            return; /* the blank line ending the head */
        }
        parse_header_line(line, headers);
    }
}

/* "HTTP/d.d" at the start of `bytes`. */
static bool parse_version(const char *bytes, size_t length, uint8_t *major, uint8_t *minor) {
    if (length < 8 || memcmp(bytes, "HTTP/", 5) != 0 || !is_digit((unsigned char)bytes[5]) || bytes[6] != '.' ||
        !is_digit((unsigned char)bytes[7])) {
        return false;
    }
    *major = (uint8_t)(bytes[5] - '0');
    *minor = (uint8_t)(bytes[7] - '0');
    return true;
}

static bool parse_request_line(struct line line, void *request_head) {
    struct ldtap_http_request_head *head = request_head;
    if (has_forbidden_control(line.start, line.length)) {
        return false;
    }
    size_t position = 0;
    while (position < line.length && is_token_char((unsigned char)line.start[position])) {
        position++;
    }
    if (position == 0 || position > LDTAP_HTTP_METHOD_MAX_BYTES || position >= line.length ||
        line.start[position] != ' ') {
        return false;
    }
    head->method = (struct ldtap_http_slice){.bytes = line.start, .length = position};
    position++;

    size_t target_start = position;
    while (position < line.length && line.start[position] != ' ' && line.start[position] != '\t') {
        position++;
    }
    if (position == target_start) {
        return false;
    }
    head->target = (struct ldtap_http_slice){.bytes = line.start + target_start, .length = position - target_start};

    if (!line.complete) {
        /* Cut somewhere in the target or the version: keep what is certain. */
        head->start_line_truncated = true;
        size_t rest = line.length - position;
        head->has_version = rest == 9 && line.start[position] == ' ' &&
                            parse_version(line.start + position + 1, rest - 1, &head->version_major,
                                          &head->version_minor);
        return true;
    }
    if (line.length - position != 9 || line.start[position] != ' ' ||
        !parse_version(line.start + position + 1, 8, &head->version_major, &head->version_minor)) {
        return false;
    }
    head->has_version = true;
    return true;
}

/* What a request head and a response head share: the first line, read by
 * `parse_first_line`, then the header fields into `headers` (inside `head`). `head`, of
 * `head_size` bytes, is left zeroed when the first line does not parse. */
static bool parse_head(const uint8_t *bytes, size_t length, void *head, size_t head_size,
                       bool (*parse_first_line)(struct line line, void *head),
                       struct ldtap_http_headers *headers) {
    memset(head, 0, head_size);
    if (bytes == NULL || length == 0) {
        return false;
    }
    const char *cursor = (const char *)bytes;
    const char *end = cursor + length;
    struct line line = next_line(&cursor, end);
    if (!parse_first_line(line, head)) {
        memset(head, 0, head_size);
        return false;
    }
    parse_headers(cursor, end, headers);
    return true;
}

bool ldtap_http_parse_request_head(const uint8_t *bytes, size_t length, struct ldtap_http_request_head *head) {
    return parse_head(bytes, length, head, sizeof *head, parse_request_line, &head->headers);
}

static bool parse_status_line(struct line line, void *response_head) {
    struct ldtap_http_response_head *head = response_head;
    if (has_forbidden_control(line.start, line.length) ||
        !parse_version(line.start, line.length, &head->version_major, &head->version_minor)) {
        return false;
    }
    if (line.length < 12 || line.start[8] != ' ' || !is_digit((unsigned char)line.start[9]) ||
        !is_digit((unsigned char)line.start[10]) || !is_digit((unsigned char)line.start[11])) {
        return false;
    }
    /* The reason phrase is optional and not kept; only a separator may follow the code. */
    if (line.length > 12 && line.start[12] != ' ') {
        return false;
    }
    head->status_code = (uint16_t)((line.start[9] - '0') * 100 + (line.start[10] - '0') * 10 + (line.start[11] - '0'));
    return head->status_code >= 100;
}

bool ldtap_http_parse_response_head(const uint8_t *bytes, size_t length, struct ldtap_http_response_head *head) {
    return parse_head(bytes, length, head, sizeof *head, parse_status_line, &head->headers);
}

/* Characters of a reg-name or IPv4 address (RFC 3986 unreserved, sub-delims, '%'). */
static bool is_host_char(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) {
        return true;
    }
    return c != '\0' && strchr("-._~%!$&'()*+,;=", c) != NULL;
}

/* Hex digits, ':' and '.', plus what a zone id after '%' may hold ("fe80::1%eth0"). */
static bool is_ipv6_literal_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || (c != '\0' && strchr(":.%-_~", c));
}

bool ldtap_http_split_host(const char *value, size_t length, struct ldtap_http_slice *host, uint16_t *port) {
    if (value == NULL || length == 0 || length > 255) {
        return false;
    }
    struct ldtap_http_slice name = {.bytes = value, .length = 0};
    size_t position = 0;
    if (value[0] == '[') {
        const char *close = memchr(value, ']', length);
        if (close == NULL || close == value + 1) {
            return false;
        }
        name = (struct ldtap_http_slice){.bytes = value + 1, .length = (size_t)(close - value - 1)};
        for (size_t i = 0; i < name.length; i++) {
            if (!is_ipv6_literal_char((unsigned char)name.bytes[i])) {
                return false;
            }
        }
        position = (size_t)(close - value) + 1;
    } else {
        while (position < length && value[position] != ':') {
            if (!is_host_char((unsigned char)value[position])) {
                return false;
            }
            position++;
        }
        name.length = position;
        if (name.length == 0) {
            return false;
        }
    }
    uint64_t port_value = 0;
    if (position < length) {
        if (value[position] != ':') {
            return false;
        }
        /* "host:" (empty port) is allowed by RFC 3986 and means the default port. */
        size_t port_length = length - position - 1;
        if (port_length > 0 &&
            (!parse_decimal(value + position + 1, port_length, 5, &port_value) || port_value == 0 ||
             port_value > 65535)) {
            return false;
        }
    }
    *host = name;
    *port = (uint16_t)port_value;
    return true;
}

void ldtap_http_split_target(const char *target, size_t length, struct ldtap_http_slice *authority,
                             struct ldtap_http_slice *path) {
    *authority = (struct ldtap_http_slice){0};
    size_t scheme_length = 0;
    if (length >= 7 && equals_ignoring_case(target, 7, "http://")) {
        scheme_length = 7;
    } else if (length >= 8 && equals_ignoring_case(target, 8, "https://")) {
        scheme_length = 8;
    }
    if (scheme_length > 0) {
        size_t authority_end = scheme_length;
        while (authority_end < length && target[authority_end] != '/' && target[authority_end] != '?' &&
               target[authority_end] != '#') {
            authority_end++;
        }
        *authority = (struct ldtap_http_slice){.bytes = target + scheme_length, .length = authority_end - scheme_length};
        target += authority_end;
        length -= authority_end;
    }
    size_t path_length = 0;
    while (path_length < length && target[path_length] != '?' && target[path_length] != '#') {
        path_length++;
    }
    if (scheme_length > 0 && path_length == 0) {
        *path = (struct ldtap_http_slice){.bytes = "/", .length = 1};
        return;
    }
    *path = (struct ldtap_http_slice){.bytes = target, .length = path_length};
}
