/* Severity guessing for captured log lines (see log_severity.h): a scan of the line's head
 * for the first standalone level word. */
#include "log_severity.h"

#include <stdbool.h>
#include <string.h>

#define HEAD_BYTES 128

struct level_word {
    const char *word;
    enum ldtap_severity number;
};

/* Python's CRITICAL maps to FATAL as the OpenTelemetry logging bridge does. */
static const struct level_word LEVEL_WORDS[] = {
    {"TRACE", LDTAP_SEVERITY_TRACE},   {"DEBUG", LDTAP_SEVERITY_DEBUG},    {"INFO", LDTAP_SEVERITY_INFO},
    {"NOTICE", LDTAP_SEVERITY_INFO2},  {"WARN", LDTAP_SEVERITY_WARN},      {"WARNING", LDTAP_SEVERITY_WARN},
    {"ERROR", LDTAP_SEVERITY_ERROR},   {"ERR", LDTAP_SEVERITY_ERROR},      {"CRITICAL", LDTAP_SEVERITY_FATAL},
    {"FATAL", LDTAP_SEVERITY_FATAL},   {"PANIC", LDTAP_SEVERITY_FATAL},    {"EMERG", LDTAP_SEVERITY_FATAL},
};

static bool is_letter(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char upper(char c) {
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* The level of the word line[start..end), or UNSPECIFIED. Lower case only when bracketed. */
static enum ldtap_severity level_of(const char *line, size_t length, size_t start, size_t end) {
    bool bracketed = start > 0 && line[start - 1] == '[' && end < length && line[end] == ']';
    char word[16];
    size_t word_length = end - start;
    if (word_length >= sizeof word) {
        return LDTAP_SEVERITY_UNSPECIFIED;
    }
    for (size_t i = 0; i < word_length; i++) {
        char c = line[start + i];
        if (c >= 'a' && c <= 'z' && !bracketed) {
            return LDTAP_SEVERITY_UNSPECIFIED;
        }
        word[i] = upper(c);
    }
    word[word_length] = '\0';
    for (size_t i = 0; i < sizeof LEVEL_WORDS / sizeof LEVEL_WORDS[0]; i++) {
        if (strcmp(word, LEVEL_WORDS[i].word) == 0) {
            return LEVEL_WORDS[i].number;
        }
    }
    return LDTAP_SEVERITY_UNSPECIFIED;
}

struct ldtap_log_severity ldtap_log_severity_guess(const char *line, size_t length) {
    struct ldtap_log_severity result = {LDTAP_SEVERITY_UNSPECIFIED, NULL, 0};
    size_t head = length < HEAD_BYTES ? length : HEAD_BYTES;
    size_t position = 0;
    while (position < head) {
        if (!is_letter(line[position])) {
            position++;
            continue;
        }
        size_t end = position;
        while (end < length && is_letter(line[end])) {
            end++;
        }
        enum ldtap_severity number = level_of(line, length, position, end);
        if (number != LDTAP_SEVERITY_UNSPECIFIED) {
            result = (struct ldtap_log_severity){number, line + position, end - position};
            return result;
        }
        position = end;
    }
    return result;
}

const char *ldtap_severity_name(enum ldtap_severity number) {
    if (number >= LDTAP_SEVERITY_FATAL) {
        return "FATAL";
    }
    if (number >= LDTAP_SEVERITY_ERROR) {
        return "ERROR";
    }
    if (number >= LDTAP_SEVERITY_WARN) {
        return "WARN";
    }
    if (number >= LDTAP_SEVERITY_INFO) {
        return "INFO";
    }
    if (number >= LDTAP_SEVERITY_DEBUG) {
        return "DEBUG";
    }
    return number >= LDTAP_SEVERITY_TRACE ? "TRACE" : "";
}
