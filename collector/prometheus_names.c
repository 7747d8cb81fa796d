/* OpenTelemetry -> Prometheus names, as the OTel "Prometheus and OpenMetrics
 * Compatibility" specification says: metric family names with unit suffixes, label names. */
#include <stdio.h>
#include <string.h>

#include "prometheus.h"

/* UCUM units with a Prometheus spelling (the specification's table). */
static const struct unit_name {
    const char *unit;
    const char *name;
} unit_names[] = {
    {"d", "days"},          {"h", "hours"},         {"min", "minutes"},    {"s", "seconds"},
    {"ms", "milliseconds"}, {"us", "microseconds"}, {"ns", "nanoseconds"}, {"By", "bytes"},
    {"KiBy", "kibibytes"},  {"MiBy", "mebibytes"},  {"GiBy", "gibibytes"}, {"TiBy", "tibibytes"},
    {"KBy", "kilobytes"},   {"MBy", "megabytes"},   {"GBy", "gigabytes"},  {"TBy", "terabytes"},
    {"m", "meters"},        {"V", "volts"},         {"A", "amperes"},      {"J", "joules"},
    {"W", "watts"},         {"g", "grams"},         {"Cel", "celsius"},    {"Hz", "hertz"},
    {"%", "percent"},
};

/* The denominator of "x/y" units reads as a singular: requests per second. */
static const struct unit_name per_unit_names[] = {
    {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"},
    {"w", "week"},   {"mo", "month"}, {"y", "year"},
};

static bool is_name_character(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Appends `text` to `name` (NUL-terminated, at `*used`), invalid characters as '_',
 * never two '_' in a row. False when it does not fit. */
static bool append_sanitized(char *name, size_t size, size_t *used, const char *text, size_t length) {
    for (size_t i = 0; i < length; i++) {
        char c = is_name_character(text[i], false) ? text[i] : '_';
        if (c == '_' && *used > 0 && name[*used - 1] == '_') {
            continue;
        }
        if (*used + 1 >= size) {
            return false;
        }
        name[(*used)++] = c;
    }
    name[*used] = '\0';
    return true;
}

static const char *lookup_unit(const struct unit_name *table, size_t count, const char *unit, size_t length) {
    for (size_t i = 0; i < count; i++) {
        if (strlen(table[i].unit) == length && memcmp(table[i].unit, unit, length) == 0) {
            return table[i].name;
        }
    }
    return NULL;
}

/* The Prometheus suffix for a UCUM unit, "" when none is added. */
static void unit_suffix(const struct ldtap_instrument *instrument, char *suffix, size_t size) {
    char unit[64];
    size_t length = 0;
    int depth = 0;
    /* Curly-brace annotations ({request}) are comments in UCUM: the specification drops them. */
    for (const char *p = instrument->unit ? instrument->unit : ""; *p && length + 1 < sizeof unit; p++) {
        depth += *p == '{';
        if (depth == 0 && *p != ' ') {
            unit[length++] = *p;
        }
        depth -= *p == '}' && depth > 0;
    }
    unit[length] = '\0';
    suffix[0] = '\0';
    if (strcmp(unit, "1") == 0) {
        if (instrument->kind == LDTAP_INSTRUMENT_GAUGE ||
            instrument->kind == LDTAP_INSTRUMENT_UPDOWN_COUNTER) {
            snprintf(suffix, size, "ratio");
        }
        return;
    }
    const char *slash = strchr(unit, '/');
    size_t main_length = slash ? (size_t)(slash - unit) : length;
    size_t used = 0;
    const char *main_name =
        lookup_unit(unit_names, sizeof unit_names / sizeof unit_names[0], unit, main_length);
    if (main_name) {
        append_sanitized(suffix, size, &used, main_name, strlen(main_name));
    } else {
        append_sanitized(suffix, size, &used, unit, main_length);
    }
    if (slash && slash[1]) {
        const char *per = lookup_unit(per_unit_names, sizeof per_unit_names / sizeof per_unit_names[0],
                                      slash + 1, strlen(slash + 1));
        append_sanitized(suffix, size, &used, used > 0 ? "_per_" : "per_", used > 0 ? 5 : 4);
        append_sanitized(suffix, size, &used, per ? per : slash + 1, strlen(per ? per : slash + 1));
    }
    /* Trim the '_' that sanitising may leave at either end ("%/..." style leftovers). */
    while (used > 0 && suffix[used - 1] == '_') {
        suffix[--used] = '\0';
    }
    size_t skip = strspn(suffix, "_");
    memmove(suffix, suffix + skip, used - skip + 1);
}

static bool ends_with_word(const char *name, size_t length, const char *word) {
    size_t word_length = strlen(word);
    return length > word_length && name[length - word_length - 1] == '_' &&
           memcmp(name + length - word_length, word, word_length) == 0;
}

/* The first {annotation} of a unit, sanitised: "{thread}" -> "thread". */
static void unit_annotation(const char *unit, char *annotation, size_t size) {
    annotation[0] = '\0';
    const char *open = unit ? strchr(unit, '{') : NULL;
    const char *close = open ? strchr(open, '}') : NULL;
    size_t used = 0;
    if (close) {
        append_sanitized(annotation, size, &used, open + 1, (size_t)(close - open - 1));
    }
}

/* Prometheus reserves _count for histograms and summaries (promtool rejects a gauge named
 * so) and names a gauge of things by their plural. The semantic conventions' UpDownCounters
 * end in .count with the thing as the unit's annotation, so process.thread.count {thread}
 * becomes process_threads: ldtap's one departure from the plain translation. */
static void pluralise_count(const struct ldtap_instrument *instrument, char *name, size_t size,
                            size_t *used) {
    char thing[64];
    unit_annotation(instrument->unit, thing, sizeof thing);
    if (!ends_with_word(name, *used, "count") || !thing[0] || strcmp(thing, "_") == 0) {
        return;
    }
    size_t stem = *used - 6;
    name[stem] = '\0';
    char *last = strrchr(name, '_');
    const char *last_word = last ? last + 1 : name;
    size_t thing_length = strlen(thing);
    bool ends_with_thing =
        strcmp(last_word, thing) == 0 || (stem > thing_length && ends_with_word(name, stem, thing));
    size_t plural = stem;
    if (!ends_with_thing) {
        append_sanitized(name, size, &plural, "_", 1);
        append_sanitized(name, size, &plural, thing, thing_length);
    }
    char end = name[plural - 1];
    char before = plural > 1 ? name[plural - 2] : '\0';
    bool vowel_before = before && strchr("aeiou", before);
    const char *suffix = end == 's' || end == 'x' || (end == 'h' && (before == 's' || before == 'c')) ? "es"
                         : end == 'y' && !vowel_before                                                ? "ies"
                                                                                                      : "s";
    if (suffix[0] == 'i') {
        plural--; /* y -> ies */
    }
    if (plural + strlen(suffix) + 1 > size) {
        snprintf(name + stem, size - stem, "_count"); /* no room: keep the plain translation */
        return;
    }
    memcpy(name + plural, suffix, strlen(suffix) + 1);
    *used = plural + strlen(suffix);
}

bool ldtap_prometheus_family_name(const struct ldtap_instrument *instrument, char *name, size_t size) {
    if (size < 2) {
        return false;
    }
    size_t used = 0;
    name[0] = '\0';
    const char *source = instrument->name ? instrument->name : "";
    if (source[0] >= '0' && source[0] <= '9') {
        name[used++] = '_';
        name[used] = '\0';
    }
    char suffix[64];
    unit_suffix(instrument, suffix, sizeof suffix);
    bool fits = append_sanitized(name, size, &used, source, strlen(source));
    while (used > 1 && name[used - 1] == '_') {
        name[--used] = '\0';
    }
    if (fits && suffix[0] && !ends_with_word(name, used, suffix)) {
        fits = append_sanitized(name, size, &used, "_", 1) &&
               append_sanitized(name, size, &used, suffix, strlen(suffix));
    }
    if (fits &&
        (instrument->kind == LDTAP_INSTRUMENT_GAUGE || instrument->kind == LDTAP_INSTRUMENT_UPDOWN_COUNTER)) {
        pluralise_count(instrument, name, size, &used);
    }
    if (fits && instrument->kind == LDTAP_INSTRUMENT_COUNTER && !ends_with_word(name, used, "total")) {
        fits = append_sanitized(name, size, &used, "_total", 6);
    }
    return fits && used > 0;
}

void ldtap_prometheus_label_name(const char *key, char *name, size_t size) {
    size_t used = 0;
    name[0] = '\0';
    const char *prefix = key[0] >= '0' && key[0] <= '9' ? "key_" : key[0] == '_' ? "key" : "";
    append_sanitized(name, size, &used, prefix, strlen(prefix));
    for (const char *p = key; *p && used + 1 < size; p++) {
        /* Unlike metric names, label names may not contain ':'. */
        name[used++] = (is_name_character(*p, false) && *p != ':') ? *p : '_';
    }
    name[used] = '\0';
    if (used == 0 && size > 4) {
        snprintf(name, size, "key");
    }
}
