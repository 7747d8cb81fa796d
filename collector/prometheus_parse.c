/* Prometheus text exposition parser: one line at a time, every index checked against the
 * line's length (the text comes over the network). */
#include "prometheus_parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cursor {
    const char *text;
    size_t length;
    size_t at;
};

static bool at_end(const struct cursor *cursor) {
    return cursor->at >= cursor->length;
}

static char peek(const struct cursor *cursor) {
    return at_end(cursor) ? '\0' : cursor->text[cursor->at];
}

static size_t skip_blanks(struct cursor *cursor) {
    size_t start = cursor->at;
    while (!at_end(cursor) && (peek(cursor) == ' ' || peek(cursor) == '\t')) {
        cursor->at++;
    }
    return cursor->at - start;
}

static bool is_name_start(char c, bool metric) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':');
}

static bool is_name_part(char c, bool metric) {
    return is_name_start(c, metric) || (c >= '0' && c <= '9');
}

/* A metric name (may contain ':') or a label name; false if none is at the cursor. */
static bool read_name(struct cursor *cursor, bool metric, const char **name, size_t *length) {
    size_t start = cursor->at;
    if (!is_name_start(peek(cursor), metric)) {
        return false;
    }
    while (!at_end(cursor) && is_name_part(peek(cursor), metric)) {
        cursor->at++;
    }
    *name = cursor->text + start;
    *length = cursor->at - start;
    return true;
}

/* A quoted label value, unescaped into the sample's value area at `*used`. */
static bool read_label_value(struct cursor *cursor, struct ldtap_prom_sample *sample, size_t *used,
                             struct ldtap_prom_label *label) {
    if (peek(cursor) != '"') {
        return false;
    }
    cursor->at++;
    label->value = sample->values + *used;
    size_t start = *used;
    for (;;) {
        if (at_end(cursor)) {
            return false; /* unterminated */
        }
        char c = cursor->text[cursor->at++];
        if (c == '"') {
            break;
        }
        if (c == '\\') {
            char escaped = peek(cursor);
            if (escaped != '\\' && escaped != '"' && escaped != 'n') {
                return false;
            }
            cursor->at++;
            c = escaped == 'n' ? '\n' : escaped;
        }
        if (*used >= sizeof sample->values) {
            return false;
        }
        sample->values[(*used)++] = c;
    }
    label->value_length = *used - start;
    return true;
}

static bool read_labels(struct cursor *cursor, struct ldtap_prom_sample *sample) {
    size_t used = 0;
    cursor->at++; /* '{' */
    for (;;) {
        skip_blanks(cursor);
        if (peek(cursor) == '}') {
            cursor->at++;
            return true;
        }
        if (sample->label_count >= LDTAP_PROM_MAX_LABELS) {
            return false;
        }
        struct ldtap_prom_label *label = &sample->labels[sample->label_count];
        if (!read_name(cursor, false, &label->name, &label->name_length)) {
            return false;
        }
        skip_blanks(cursor);
        if (peek(cursor) != '=') {
            return false;
        }
        cursor->at++;
        skip_blanks(cursor);
        if (!read_label_value(cursor, sample, &used, label)) {
            return false;
        }
        sample->label_count++;
        skip_blanks(cursor);
        if (peek(cursor) == ',') {
            cursor->at++; /* a trailing comma before '}' is allowed */
        } else if (peek(cursor) != '}') {
            return false;
        }
    }
}

/* The next blank-separated token as a NUL-terminated copy; false when empty or too long. */
static bool read_token(struct cursor *cursor, char *token, size_t size) {
    size_t start = cursor->at;
    while (!at_end(cursor) && peek(cursor) != ' ' && peek(cursor) != '\t') {
        cursor->at++;
    }
    size_t length = cursor->at - start;
    if (length == 0 || length >= size) {
        return false;
    }
    memcpy(token, cursor->text + start, length);
    token[length] = '\0';
    return true;
}

/* Go's ParseFloat syntax as Prometheus writes it: decimal, exponent, Inf, NaN. Hex floats
 * and "infinity" words strtod would take are refused, so the parser means one format. */
static bool parse_value(const char *token, double *value) {
    const char *body = token + (token[0] == '+' || token[0] == '-');
    if (strcasecmp(body, "inf") == 0 || strcasecmp(body, "nan") == 0) {
        *value = body[0] == 'n' || body[0] == 'N' ? NAN : token[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (strspn(body, "0123456789.eE+-") != strlen(body) || body[0] == '\0') {
        return false;
    }
    char *end = NULL;
    errno = 0;
    *value = strtod(token, &end);
    return end && *end == '\0' && errno != EINVAL;
}

static bool parse_timestamp(const char *token) {
    const char *digits = token + (token[0] == '-');
    return digits[0] != '\0' && strspn(digits, "0123456789") == strlen(digits);
}

enum ldtap_prom_line_kind ldtap_prom_parse_line(const char *line, size_t length,
                                                struct ldtap_prom_sample *sample) {
    if (length > 0 && line[length - 1] == '\r') {
        length--;
    }
    struct cursor cursor = {line, length, 0};
    skip_blanks(&cursor);
    if (at_end(&cursor) || peek(&cursor) == '#') {
        return LDTAP_PROM_LINE_SKIP;
    }
    sample->label_count = 0;
    if (!read_name(&cursor, true, &sample->name, &sample->name_length)) {
        return LDTAP_PROM_LINE_INVALID;
    }
    skip_blanks(&cursor);
    if (peek(&cursor) == '{' && !read_labels(&cursor, sample)) {
        return LDTAP_PROM_LINE_INVALID;
    }
    char token[64];
    skip_blanks(&cursor);
    if (!read_token(&cursor, token, sizeof token) || !parse_value(token, &sample->value)) {
        return LDTAP_PROM_LINE_INVALID;
    }
    if (skip_blanks(&cursor) > 0 && !at_end(&cursor)) {
        if (!read_token(&cursor, token, sizeof token) || !parse_timestamp(token)) {
            return LDTAP_PROM_LINE_INVALID;
        }
        skip_blanks(&cursor);
    }
    return at_end(&cursor) ? LDTAP_PROM_LINE_SAMPLE : LDTAP_PROM_LINE_INVALID;
}

size_t ldtap_prom_parse(const char *text, size_t length, struct ldtap_prom_sample *sample,
                        ldtap_prom_sample_callback callback, void *context) {
    size_t invalid = 0;
    size_t start = 0;
    while (start < length) {
        const char *newline = memchr(text + start, '\n', length - start);
        size_t end = newline ? (size_t)(newline - text) : length;
        enum ldtap_prom_line_kind kind = ldtap_prom_parse_line(text + start, end - start, sample);
        if (kind == LDTAP_PROM_LINE_SAMPLE) {
            callback(context, sample);
        } else if (kind == LDTAP_PROM_LINE_INVALID) {
            invalid++;
        }
        start = end + 1;
    }
    return invalid;
}

const struct ldtap_prom_label *ldtap_prom_find_label(const struct ldtap_prom_sample *sample,
                                                     const char *name) {
    size_t length = strlen(name);
    for (uint32_t i = 0; i < sample->label_count; i++) {
        if (sample->labels[i].name_length == length && memcmp(sample->labels[i].name, name, length) == 0) {
            return &sample->labels[i];
        }
    }
    return NULL;
}

bool ldtap_prom_name_is(const struct ldtap_prom_sample *sample, const char *name) {
    size_t length = strlen(name);
    return sample->name_length == length && memcmp(sample->name, name, length) == 0;
}
