/* Fast path of the HTTP/1.x framer (see http1_fast_head.h): when a whole head sits in one
 * buffer, each line's first 16 bytes give its colon, the validity of its name and often its
 * end at once (SSE2; memchr and byte loops elsewhere), names are classified by length, first
 * letter and a word compare, and only the values of the headers the framer needs are looked
 * at; the allow-listed copy is written as the lines go by. Anything the state machine would
 * reject, or treats in a way not mirrored here, makes the scanner decline. */
#include "http1_fast_head.h"

#include <string.h>

/* SSE2 is part of x86-64: there the scanner looks at 16 bytes per instruction. Elsewhere
 * (or built with LDTAP_HTTP_SCALAR, to test that path) it uses memchr and a byte loop. */
#if defined(__SSE2__) && !defined(LDTAP_HTTP_SCALAR)
#define LDTAP_HTTP_SIMD 1
#include <emmintrin.h>
#else
#define LDTAP_HTTP_SIMD 0
#endif

/* Generated from the definitions in http1_fast_head.h; tests/unit/test_http1_framer.c
 * checks every entry against them. */
const uint8_t ldtap_http_byte_classes[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    0,  7,  6,  5,  7,  7,  7,  7,  6,  6,  7,  7,  6,  15, 7,  6,  /* 0x20 */
    7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  6,  6,  6,  6,  6,  4,  /* 0x30 */
    6,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  6,  6,  7,  15, /* 0x50 */
    7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  /* 0x60 */
    7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  6,  7,  6,  7,  0,  /* 0x70 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0x80 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0x90 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0xa0 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0xb0 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0xc0 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0xd0 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0xe0 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0xf0 */
};

enum {
    METHOD_MAX_BYTES = 16,          /* as the state machine's */
    CONTENT_LENGTH_MAX_DIGITS = 19, /* as the state machine's */
    VERSION_BYTES = 8,              /* "HTTP/1.x" */
    STATUS_LINE_MIN = 12,           /* "HTTP/1.x 200" */
    PREFIX_BYTES = 16,              /* the longest copied "name: " */
};

/* The state machine keeps one list element of a framing header in parser->value; a longer
 * element changes how it reads the value, so such values are left to it. */
#define ELEMENT_MAX_BYTES sizeof(((struct ldtap_http_parser *)0)->value)

/* The headers the framer looks at. */
enum known {
    KNOWN_NONE,
    KNOWN_HOST,
    KNOWN_USER_AGENT,
    KNOWN_CONTENT_TYPE,
    KNOWN_CONTENT_LENGTH,
    KNOWN_TRACEPARENT,
    KNOWN_TRANSFER_ENCODING,
    KNOWN_CONNECTION,
    KNOWN_EXPECT,
    KNOWN_UPGRADE,
};

/* Copied lines start with the name in lower case and ": ", padded so that a prefix is
 * always one 16-byte move; the length counts the name and the colon. */
static const char copied_prefixes[KNOWN_TRACEPARENT + 1][PREFIX_BYTES] = {
    [KNOWN_HOST] = "host: ",
    [KNOWN_USER_AGENT] = "user-agent: ",
    [KNOWN_CONTENT_TYPE] = "content-type: ",
    [KNOWN_CONTENT_LENGTH] = "content-length: ",
    [KNOWN_TRACEPARENT] = "traceparent: ",
};
static const uint8_t copied_prefix_lengths[KNOWN_TRACEPARENT + 1] = {
    [KNOWN_HOST] = 5,         [KNOWN_USER_AGENT] = 11, [KNOWN_CONTENT_TYPE] = 13, [KNOWN_CONTENT_LENGTH] = 15,
    [KNOWN_TRACEPARENT] = 12,
};

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

/* The one known name of each length (two of length 10, told by their first letter). */
struct known_name {
    const char *lower;
    enum known known;
};

enum { KNOWN_NAME_MAX_BYTES = 17 };

static const struct known_name names_by_length[KNOWN_NAME_MAX_BYTES + 1] = {
    [4] = {"host", KNOWN_HOST},
    [6] = {"expect", KNOWN_EXPECT},
    [7] = {"upgrade", KNOWN_UPGRADE},
    [10] = {"connection", KNOWN_CONNECTION},
    [11] = {"traceparent", KNOWN_TRACEPARENT},
    [12] = {"content-type", KNOWN_CONTENT_TYPE},
    [14] = {"content-length", KNOWN_CONTENT_LENGTH},
    [17] = {"transfer-encoding", KNOWN_TRANSFER_ENCODING},
};
static const struct known_name user_agent_name = {"user-agent", KNOWN_USER_AGENT};

/* The length and first letter rule out most names ("Date", "Server", "ETag") before any
 * comparison. */
static enum known classify_name(const uint8_t *name, size_t length) {
    if (length > KNOWN_NAME_MAX_BYTES) {
        return KNOWN_NONE;
    }
    const struct known_name *candidate = &names_by_length[length];
    uint8_t first = name[0] | 0x20;
    if (length == 10 && first == 'u') {
        candidate = &user_agent_name;
    }
    if (candidate->lower == NULL || first != (uint8_t)candidate->lower[0]) {
        return KNOWN_NONE;
    }
    return name_is(name, candidate->lower, length) ? candidate->known : KNOWN_NONE;
}

/* 0x20 in every byte of `word` that is a lower-case ASCII letter (bytes below 0x80). */
static uint64_t letter_bits(uint64_t word) {
    uint64_t at_least_a = word + 0x1f1f1f1f1f1f1f1fu; /* high bit set from 'a' (0x61) up */
    uint64_t beyond_z = word + 0x0505050505050505u;   /* high bit set from '{' (0x7b) up */
    return ((at_least_a & ~beyond_z) & 0x8080808080808080u) >> 2;
}

/* Case-insensitive equality of `length` bytes with a lower-case literal of that length
 * (4 to 16 bytes), as the state machine's equals_ignoring_case: a byte may differ from the
 * literal only in bit 0x20, and only where the literal holds a letter. The literal's words
 * are constants once inlined, so letter_bits folds away. */
static inline bool equals_lower(const uint8_t *text, const char *lower, size_t length) {
    if (length < 8) {
        uint64_t head = load32(lower), tail = load32(lower + length - 4);
        return ((load32(text) ^ head) & ~letter_bits(head)) == 0 &&
               ((load32(text + length - 4) ^ tail) & ~letter_bits(tail)) == 0;
    }
    uint64_t head = load64(lower), tail = load64(lower + length - 8);
    return ((load64(text) ^ head) & ~letter_bits(head)) == 0 &&
           ((load64(text + length - 8) ^ tail) & ~letter_bits(tail)) == 0;
}

static bool element_is(const uint8_t *element, size_t length, const char *lower, size_t lower_length) {
    return length == lower_length && equals_lower(element, lower, length);
}

#if LDTAP_HTTP_SIMD
static unsigned bytes_equal(__m128i block, char c) {
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(block, _mm_set1_epi8(c)));
}

/* Bytes that are not ASCII letters, digits or '-' (what header names are made of in
 * practice): each range test is a wrapping add that moves the range to the bottom of the
 * signed bytes, then one signed compare. */
static unsigned other_than_name_bytes(__m128i block) {
    __m128i folded = _mm_or_si128(block, _mm_set1_epi8(0x20));
    __m128i not_letter = _mm_cmpgt_epi8(_mm_add_epi8(folded, _mm_set1_epi8((char)(0x80 - 'a'))),
                                        _mm_set1_epi8((char)(-128 + 25)));
    __m128i not_digit = _mm_cmpgt_epi8(_mm_add_epi8(block, _mm_set1_epi8((char)(0x80 - '0'))),
                                       _mm_set1_epi8((char)(-128 + 9)));
    __m128i dash = _mm_cmpeq_epi8(block, _mm_set1_epi8('-'));
    return (unsigned)_mm_movemask_epi8(_mm_andnot_si128(dash, _mm_and_si128(not_letter, not_digit)));
}

/* Bytes at which a request target's copied part ends: controls, SP, DEL, '?', '#'. */
static unsigned target_end_bytes(__m128i block) {
    __m128i visible = _mm_cmpeq_epi8(_mm_max_epu8(block, _mm_set1_epi8(0x21)), block); /* >= 0x21 */
    __m128i other = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8(0x7f)), _mm_cmpeq_epi8(block, _mm_set1_epi8('?'))),
        _mm_cmpeq_epi8(block, _mm_set1_epi8('#')));
    return (unsigned)_mm_movemask_epi8(_mm_andnot_si128(visible, _mm_set1_epi8(-1))) |
           (unsigned)_mm_movemask_epi8(other);
}
#endif

/* The first '\n' in [at, end), or NULL. `begin` (<= at) is where the caller's bytes start:
 * a last block shorter than 16 bytes is read as the 16 bytes that end at `end`, so no
 * load reaches past the caller's bytes. */
static inline const uint8_t *find_newline(const uint8_t *begin, const uint8_t *at, const uint8_t *end) {
#if LDTAP_HTTP_SIMD
    for (; end - at >= 16; at += 16) {
        unsigned found = bytes_equal(_mm_loadu_si128((const __m128i *)at), '\n');
        if (found != 0) {
            return at + __builtin_ctz(found);
        }
    }
    if (at >= end) {
        return NULL;
    }
    if (end - begin >= 16) {
        unsigned found = bytes_equal(_mm_loadu_si128((const __m128i *)(end - 16)), '\n') >> (16 - (end - at));
        return found != 0 ? at + __builtin_ctz(found) : NULL;
    }
#else
    (void)begin;
#endif
    return memchr(at, '\n', (size_t)(end - at));
}

/* A header line as read_line found it. */
struct line_bounds {
    size_t name_length;     /* token bytes before ':'; 0: the blank line, or no such name */
    const uint8_t *newline; /* the line's '\n'; NULL: not a line the scanner takes */
};

/* The byte at a time way: the blank line, names with other token bytes, the last bytes. */
static struct line_bounds read_line_slowly(const uint8_t *begin, const uint8_t *line, const uint8_t *end) {
    struct line_bounds bounds = {0, NULL};
    if (line == end) {
        return bounds; /* the rest of the head has not arrived yet */
    }
    if (*line == '\n' || *line == '\r') {
        /* The blank line; a stray CR, or the blank line's LF still to come, is not. */
        if (*line == '\n' || (line + 1 < end && line[1] == '\n')) {
            bounds.newline = line + (*line == '\r');
        }
        return bounds;
    }
    const uint8_t *newline = find_newline(begin, line, end);
    if (newline == NULL) {
        return bounds;
    }
    const uint8_t *at = line;
    while (ldtap_http_is_token_byte(*at)) { /* stops at the '\n' at the latest */
        at++;
    }
    /* A line without a name of token bytes and a colon (obs-fold is one): the state
     * machine gives up, and does so best itself. */
    if (*at == ':' && at > line) {
        bounds.name_length = (size_t)(at - line);
        bounds.newline = newline;
    }
    return bounds;
}

/* Reads the line at `line`. With SIMD its first 16 bytes answer at once where the ':' is,
 * whether the name before it is made of letters, digits and '-' (token bytes all), and
 * often where the line ends. */
static inline struct line_bounds read_line(const uint8_t *begin, const uint8_t *line, const uint8_t *end) {
#if LDTAP_HTTP_SIMD
    if (end - line >= 16) {
        __m128i block = _mm_loadu_si128((const __m128i *)line);
        unsigned colons = bytes_equal(block, ':');
        if (colons != 0) {
            unsigned length = (unsigned)__builtin_ctz(colons);
            unsigned before = (1u << length) - 1;
            if (length != 0 && (other_than_name_bytes(block) & before) == 0) {
                /* No '\n' among the name's bytes: the line ends after the colon. */
                unsigned later = bytes_equal(block, '\n') >> length;
                struct line_bounds bounds = {length, NULL};
                bounds.newline =
                    later != 0 ? line + length + __builtin_ctz(later) : find_newline(begin, line + 16, end);
                return bounds;
            }
        }
    }
#endif
    return read_line_slowly(begin, line, end);
}

/* "HTTP/1.0" or "HTTP/1.1"; the caller made sure 8 bytes are there. */
static bool is_version(const uint8_t *at, uint8_t *minor) {
    if (memcmp(at, "HTTP/1.", VERSION_BYTES - 1) != 0 || (at[7] != '0' && at[7] != '1')) {
        return false;
    }
    *minor = (uint8_t)(at[7] - '0');
    return true;
}

/* The allow-listed copy being written. */
struct copy {
    uint8_t *bytes;
    size_t length;
    size_t capacity;
};

/* Appends `length` bytes of `start` then CRLF, where the state machine appends `raw_length`
 * bytes before trimming them to `length`; false when that would not fit (the state machine
 * then truncates, which the scanner leaves to it). */
static bool copy_start_line(struct copy *copy, const uint8_t *start, size_t length, size_t raw_length) {
    if (length + 2 > copy->capacity || raw_length > copy->capacity) {
        return false;
    }
    memcpy(copy->bytes, start, length);
    memcpy(copy->bytes + length, "\r\n", 2);
    copy->length = length + 2;
    return true;
}

/* Appends "name: value\r\n", or "name:\r\n" for an empty value, as the state machine's
 * copy of a line once close_copied_line trimmed it. The state machine appends the value up
 * to `newline` before trimming it: that must fit too. */
static bool copy_header_line(struct copy *copy, enum known known, const uint8_t *value,
                             const uint8_t *value_end, const uint8_t *newline, const uint8_t *end) {
    size_t value_length = (size_t)(value_end - value);
    size_t prefix_length = copied_prefix_lengths[known] + (value_length > 0);
    size_t at = copy->length;
    /* Room for the whole padded prefix also keeps its move a constant 16 bytes. */
    if (at + PREFIX_BYTES + (size_t)(newline - value) + 2 > copy->capacity) {
        return false;
    }
    memcpy(copy->bytes + at, copied_prefixes[known], PREFIX_BYTES);
    at += prefix_length;
    /* Most values are short: two 8-byte moves (bytes past the value are overwritten or
     * past the copy's length) when the source and the room allow, else a call. */
    if (value_length <= 16 && end - value >= 16 && at + 16 <= copy->capacity) {
        memcpy(copy->bytes + at, value, 8);
        memcpy(copy->bytes + at + 8, value + 8, 8);
    } else {
        memcpy(copy->bytes + at, value, value_length);
    }
    at += value_length;
    memcpy(copy->bytes + at, "\r\n", 2);
    copy->length = at + 2;
    return true;
}

/* Where the part of a request target that is copied ends (at the first byte that is no
 * plain target byte: '?', '#', SP, a control; before the line's '\n' at the latest). */
static const uint8_t *plain_target_end(const uint8_t *at, const uint8_t *end) {
#if LDTAP_HTTP_SIMD
    if (end - at >= 16) {
        unsigned stops = target_end_bytes(_mm_loadu_si128((const __m128i *)at));
        if (stops != 0) {
            return at + __builtin_ctz(stops);
        }
    }
#else
    (void)end;
#endif
    while (ldtap_http_byte_classes[*at] & LDTAP_HTTP_BYTE_PLAIN_TARGET) {
        at++;
    }
    return at;
}

/* METHOD SP target SP HTTP/1.x [CR] LF, as on_method, on_target and on_start_line_end;
 * copies the line without the target's query or fragment. */
static bool scan_request_line(const uint8_t *bytes, const uint8_t *newline, const uint8_t *end,
                              struct copy *copy, struct ldtap_http_fast_head *head) {
    const uint8_t *at = bytes;
    if (*at < 'A' || *at > 'Z') {
        return false;
    }
    do { /* '\n' is no method byte: stops at `newline` at the latest */
        at++;
    } while (ldtap_http_byte_classes[*at] & LDTAP_HTTP_BYTE_METHOD);
    size_t method_length = (size_t)(at - bytes);
    if (method_length > METHOD_MAX_BYTES || *at != ' ') {
        return false;
    }
    const uint8_t *target = ++at;
    at = plain_target_end(at, end);
    const uint8_t *cut = at;
    if (*at == '?' || *at == '#') {
        do {
            at++;
        } while (ldtap_http_byte_classes[*at] & LDTAP_HTTP_BYTE_TARGET);
    }
    if (at == target || *at != ' ' || (size_t)(newline - (at + 1)) < VERSION_BYTES) {
        return false;
    }
    const uint8_t *version = at;
    const uint8_t *after = version + 1 + VERSION_BYTES;
    if (!is_version(version + 1, &head->version_minor) ||
        !(after == newline || (after + 1 == newline && *after == '\r'))) {
        return false;
    }
    head->method_is_head = method_length == 4 && memcmp(bytes, "HEAD", 4) == 0;
    head->method_is_connect = method_length == 7 && memcmp(bytes, "CONNECT", 7) == 0;
    size_t kept = (size_t)(cut - bytes);
    if (kept + 1 + VERSION_BYTES + 2 > copy->capacity) {
        return false;
    }
    memcpy(copy->bytes, bytes, kept);
    memcpy(copy->bytes + kept, version, 1 + VERSION_BYTES);
    memcpy(copy->bytes + kept + 1 + VERSION_BYTES, "\r\n", 2);
    copy->length = kept + 1 + VERSION_BYTES + 2;
    return true;
}

/* HTTP/1.x SP 3DIGIT ( SP reason | [CR] ) LF, as on_response_version to on_reason. */
static bool scan_status_line(const uint8_t *bytes, const uint8_t *newline, struct copy *copy,
                             struct ldtap_http_fast_head *head) {
    if ((size_t)(newline - bytes) < STATUS_LINE_MIN || !is_version(bytes, &head->version_minor) ||
        bytes[8] != ' ' || bytes[9] < '1' || bytes[9] > '9' || !is_digit(bytes[10]) || !is_digit(bytes[11])) {
        return false;
    }
    head->status_code = (uint16_t)((bytes[9] - '0') * 100 + (bytes[10] - '0') * 10 + (bytes[11] - '0'));
    const uint8_t *after = bytes + STATUS_LINE_MIN;
    if (after < newline && *after == ' ') {
        /* The reason is copied whole, trailing blanks and CR dropped. */
        const uint8_t *end = newline;
        while (is_blank(end[-1]) || end[-1] == '\r') { /* stops at the status code's digits */
            end--;
        }
        return copy_start_line(copy, bytes, (size_t)(end - bytes), (size_t)(newline - bytes));
    }
    if (!(after == newline || (after + 1 == newline && *after == '\r'))) {
        return false;
    }
    return copy_start_line(copy, bytes, STATUS_LINE_MIN, STATUS_LINE_MIN);
}

/* Content-Length: 1 to 19 digits, nothing else but the blanks and CR trimmed off. Lists
 * ("5, 5") and repeated headers are left to the state machine. */
static bool take_content_length(const uint8_t *value, const uint8_t *value_end, const uint8_t *newline,
                                struct ldtap_http_fast_head *head) {
    if (head->content_length != UINT64_MAX || (size_t)(newline - value) > ELEMENT_MAX_BYTES) {
        return false;
    }
    size_t count = (size_t)(value_end - value);
    if (count == 0 || count > CONTENT_LENGTH_MAX_DIGITS) {
        return false;
    }
    uint64_t number = 0;
    for (size_t i = 0; i < count; i++) {
        if (!is_digit(value[i])) {
            return false;
        }
        number = number * 10 + (uint64_t)(value[i] - '0');
    }
    head->content_length = number;
    return true;
}

/* A framing value that is one list element (no comma). */
static bool is_single_element(const uint8_t *value, const uint8_t *value_end) {
    return memchr(value, ',', (size_t)(value_end - value)) == NULL;
}

/* Non-blank bytes then only blanks or CR: the value the state machine keeps, as in
 * take_traceparent_bytes and finish_traceparent. A repeated header or blanks inside are
 * left to it. */
static bool take_traceparent(const uint8_t *bytes, const uint8_t *value, const uint8_t *value_end,
                             struct ldtap_http_fast_head *head) {
    if (head->has_traceparent) {
        return false;
    }
    head->has_traceparent = true;
    const uint8_t *at = value;
    while (at < value_end && !is_blank(*at) && *at != '\r') {
        at++;
    }
    if (at != value_end) {
        return false;
    }
    size_t length = (size_t)(value_end - value);
    if (length > LDTAP_HTTP_TRACEPARENT_BYTES) {
        bool valid = !(value[0] == '0' && value[1] == '0') && value[LDTAP_HTTP_TRACEPARENT_BYTES] == '-';
        length = valid ? LDTAP_HTTP_TRACEPARENT_BYTES : 0;
    }
    head->traceparent_offset = (uint16_t)(value - bytes); /* the head is under 64 KiB */
    head->traceparent_length = (uint8_t)length;
    return true;
}

/* One header line the framer looks at: `value` after the leading blanks, `value_end`
 * before the trailing blanks and CR. */
static bool take_known_line(enum known known, const uint8_t *bytes, const uint8_t *value,
                            const uint8_t *value_end, const uint8_t *newline, const uint8_t *end,
                            struct copy *copy, struct ldtap_http_fast_head *head) {
    size_t length = (size_t)(value_end - value);
    /* A list element longer than the state machine's buffer is read differently by it. */
    bool list = known == KNOWN_CONNECTION || known == KNOWN_TRANSFER_ENCODING || known == KNOWN_EXPECT;
    if (list && (size_t)(newline - value) > ELEMENT_MAX_BYTES) {
        return false;
    }
    switch (known) {
    case KNOWN_CONTENT_LENGTH:
        if (!take_content_length(value, value_end, newline, head)) {
            return false;
        }
        break;
    case KNOWN_TRACEPARENT:
        if (!take_traceparent(bytes, value, value_end, head)) {
            return false;
        }
        break;
    case KNOWN_CONNECTION:
        if (element_is(value, length, "keep-alive", 10)) {
            head->keep_alive = true;
        } else if (element_is(value, length, "close", 5)) {
            head->connection_close = true;
        } else if (!is_single_element(value, value_end)) {
            return false;
        }
        return true;
    case KNOWN_TRANSFER_ENCODING:
        if (length == 0) {
            return true; /* an empty element is no coding */
        }
        if (element_is(value, length, "chunked", 7)) {
            head->chunked_last = true;
        } else if (is_single_element(value, value_end)) {
            head->chunked_last = false;
        } else {
            return false;
        }
        head->transfer_encoding = true;
        return true;
    case KNOWN_EXPECT:
        if (element_is(value, length, "100-continue", 12)) {
            head->expect_continue = true;
            return true;
        }
        return is_single_element(value, value_end);
    case KNOWN_UPGRADE:
        head->upgrade = true;
        return true;
    default:
        break;
    }
    return copy_header_line(copy, known, value, value_end, newline, end);
}

static void clear_head(struct ldtap_http_fast_head *head) {
    head->content_length = UINT64_MAX;
    head->has_traceparent = false;
    head->traceparent_offset = 0;
    head->status_code = 0;
    head->traceparent_length = 0;
    head->method_is_head = false;
    head->method_is_connect = false;
    head->expect_continue = false;
    head->connection_close = false;
    head->keep_alive = false;
    head->upgrade = false;
    head->transfer_encoding = false;
    head->chunked_last = false;
}

bool ldtap_http_fast_head_scan(enum ldtap_http_direction direction, const uint8_t *bytes, size_t length,
                               uint8_t *copy_bytes, size_t capacity, struct ldtap_http_fast_head *head) {
    /* A head longer than the limit makes the state machine give up: never look past it. */
    size_t window = length < LDTAP_HTTP_MAX_HEAD_BYTES ? length : LDTAP_HTTP_MAX_HEAD_BYTES;
    if (bytes == NULL || window == 0 || copy_bytes == NULL) {
        return false;
    }
    const uint8_t *end = bytes + window;
    const uint8_t *newline = find_newline(bytes, bytes, end);
    if (newline == NULL) {
        return false;
    }
    clear_head(head);
    struct copy copy = {copy_bytes, 0, capacity};
    bool start_ok = direction == LDTAP_HTTP_REQUEST ? scan_request_line(bytes, newline, end, &copy, head)
                                                    : scan_status_line(bytes, newline, &copy, head);
    if (!start_ok) {
        return false;
    }
    for (const uint8_t *line = newline + 1;; line = newline + 1) {
        struct line_bounds bounds = read_line(bytes, line, end);
        if (bounds.newline == NULL) {
            return false;
        }
        newline = bounds.newline;
        if (bounds.name_length == 0) {
            break; /* the blank line */
        }
        enum known known = classify_name(line, bounds.name_length);
        if (known == KNOWN_NONE) {
            continue;
        }
        /* Usually one SP before the value and one CR after it: tested first. */
        const uint8_t *value = line + bounds.name_length + 1;
        value += *value == ' ';
        while (is_blank(*value)) { /* stops at `newline` at the latest */
            value++;
        }
        const uint8_t *value_end = newline;
        value_end -= value_end > value && value_end[-1] == '\r';
        while (value_end > value && (is_blank(value_end[-1]) || value_end[-1] == '\r')) {
            value_end--;
        }
        if (!take_known_line(known, bytes, value, value_end, newline, end, &copy, head)) {
            return false;
        }
    }
    head->length = (size_t)(newline + 1 - bytes);
    head->copy_length = (uint16_t)copy.length;
    return true;
}
