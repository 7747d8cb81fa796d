/* http.route for servers that do not report theirs: LDTAP_ROUTES patterns first, else a
 * template of the normalised path; a per-service cap on distinct templated routes. */
#include "route.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Decisions a reader should know:
 * - Patterns are tried in the order given; the first match wins and its text (as written)
 *   is the route. A final `*` matches zero or more segments, so "/static" followed by a
 *   final `*` segment also matches "/static" itself. Matching is case-sensitive, as paths are.
 * - Routes from patterns do not count against the cap: there are only as many as
 *   patterns. Templated routes do.
 * - A `limit` of 0 means LDTAP_ROUTE_DEFAULT_LIMIT.
 * - At most MAX_SERVICES services get their own routes; paths of any further service go
 *   to the overflow bucket (and are counted), which keeps memory bounded by
 *   MAX_SERVICES x limit routes whatever the traced programs call themselves.
 * - Template rule for one segment (the first that applies):
 *     all ASCII digits                                  -> {id}
 *     8-4-4-4-12 hex digits, any case                   -> {uuid}
 *     only hex digits, and either >= 16 long, or >= 8
 *       long with at least one decimal digit and at least one letter a-f
 *                                                       -> {hex}
 *     >= 20 characters of the base64/base64url alphabet (A-Z a-z 0-9 + - _ and '='
 *       padding at the end only) with at least one upper-case letter, one lower-case
 *       letter and one digit                            -> {token}
 *   Words made only of letters a-f ("feedback", "decade", "deadbeef") therefore stay, as
 *   do slugs ("my-post-2024"): they lack digits, or upper case, or the length.
 * - A route longer than LDTAP_ROUTE_MAX_BYTES - 1 keeps whole segments that fit and ends
 *   in a final `*` segment, so a placeholder is never cut in half.
 */

#define MAX_SERVICES 256
#define SERVICE_NAME_BYTES 128
#define MAX_SEGMENTS 128
#define FIRST_TABLE_CAPACITY 64

enum pattern_segment_kind { SEGMENT_LITERAL, SEGMENT_PARAMETER, SEGMENT_REST };

struct segment {
    const char *bytes;
    size_t length;
};

struct pattern {
    char text[LDTAP_ROUTE_MAX_BYTES];
    size_t segment_count;
    struct segment segments[MAX_SEGMENTS];        /* point into `text` */
    enum pattern_segment_kind kinds[MAX_SEGMENTS];
};

/* Open-addressing set of templated routes of one service; slots hold malloc'd strings. */
struct service_routes {
    char name[SERVICE_NAME_BYTES];
    size_t count;
    size_t capacity; /* power of two, or 0 before the first route */
    char **slots;
    struct service_routes *next;
};

struct ldtap_route_table {
    pthread_mutex_t lock; /* decoders may run on several drain threads */
    uint32_t limit;
    size_t pattern_count;
    struct pattern *patterns;
    size_t service_count;
    struct service_routes *services;
    uint64_t overflow_count; /* read without the lock by ldtap_route_overflow_count */
};

/* A normalised path: its non-empty segments, in order. */
struct path_segments {
    size_t count;
    bool more; /* segments past MAX_SEGMENTS were dropped */
    struct segment items[MAX_SEGMENTS];
};

static void split_path(const char *path, size_t length, struct path_segments *segments) {
    segments->count = 0;
    segments->more = false;
    size_t position = 0;
    while (position < length && path[position] != '?' && path[position] != '#') {
        if (path[position] == '/') {
            position++;
            continue;
        }
        size_t start = position;
        while (position < length && path[position] != '/' && path[position] != '?' && path[position] != '#') {
            position++;
        }
        if (segments->count == MAX_SEGMENTS) {
            segments->more = true;
            return;
        }
        segments->items[segments->count++] = (struct segment){.bytes = path + start, .length = position - start};
    }
}

/* ---- patterns ---- */

static bool is_parameter_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

static bool is_literal_char(char c) {
    return (unsigned char)c > 0x20 && c != 0x7f && c != '{' && c != '}' && c != '*' && c != '?' && c != '#' &&
           c != ',';
}

/* Returns NULL when `pattern->text` is acceptable, else what is wrong with it. */
static const char *compile_pattern(struct pattern *pattern) {
    const char *text = pattern->text;
    size_t length = strlen(text);
    if (length == 0) {
        return "it is empty (two commas in a row, or a comma at either end)";
    }
    if (text[0] != '/') {
        return "it does not start with '/'";
    }
    pattern->segment_count = 0;
    if (length == 1) {
        return NULL; /* "/": the root only */
    }
    size_t position = 1;
    while (position <= length) {
        size_t start = position;
        while (position < length && text[position] != '/') {
            position++;
        }
        struct segment segment = {.bytes = text + start, .length = position - start};
        if (segment.length == 0) {
            return "it has an empty segment (\"//\" or a trailing '/')";
        }
        if (pattern->segment_count > 0 && pattern->kinds[pattern->segment_count - 1] == SEGMENT_REST) {
            return "'*' is allowed only as the last segment";
        }
        enum pattern_segment_kind kind = SEGMENT_LITERAL;
        if (segment.length == 1 && segment.bytes[0] == '*') {
            kind = SEGMENT_REST;
        } else if (segment.bytes[0] == '{') {
            if (segment.length < 3 || segment.bytes[segment.length - 1] != '}') {
                return "a segment starting with '{' must be a whole {name}";
            }
            for (size_t i = 1; i + 1 < segment.length; i++) {
                if (!is_parameter_name_char(segment.bytes[i])) {
                    return "a {name} may hold only letters, digits, '_', '.' and '-'";
                }
            }
            kind = SEGMENT_PARAMETER;
        } else {
            for (size_t i = 0; i < segment.length; i++) {
                if (!is_literal_char(segment.bytes[i])) {
                    return "a literal segment holds a space, control character or one of { } * ? #";
                }
            }
        }
        /* Cannot overflow: a pattern shorter than LDTAP_ROUTE_MAX_BYTES has fewer segments. */
        pattern->segments[pattern->segment_count] = segment;
        pattern->kinds[pattern->segment_count] = kind;
        pattern->segment_count++;
        position++; /* past the '/' (or the end) */
    }
    return NULL;
}

static bool pattern_matches(const struct pattern *pattern, const struct path_segments *path) {
    bool has_rest = pattern->segment_count > 0 && pattern->kinds[pattern->segment_count - 1] == SEGMENT_REST;
    size_t fixed = has_rest ? pattern->segment_count - 1 : pattern->segment_count;
    if (path->count < fixed || (!has_rest && (path->count != fixed || path->more))) {
        return false;
    }
    for (size_t i = 0; i < fixed; i++) {
        if (pattern->kinds[i] == SEGMENT_LITERAL &&
            (pattern->segments[i].length != path->items[i].length ||
             memcmp(pattern->segments[i].bytes, path->items[i].bytes, path->items[i].length) != 0)) {
            return false;
        }
    }
    return true;
}

static const char ACCEPTED_PATTERNS[] =
    "accepted: comma-separated paths starting with '/' whose segments are literal text, {name} "
    "(one segment) or a final * (the rest of the path), e.g. \"/users/{id},/static/*\"";

static bool compile_patterns(struct ldtap_route_table *table, const char *patterns, char *error,
                             size_t error_size) {
    size_t items = 1;
    for (const char *c = patterns; *c; c++) {
        items += *c == ',';
    }
    table->patterns = calloc(items, sizeof *table->patterns);
    if (table->patterns == NULL) {
        snprintf(error, error_size, "LDTAP_ROUTES: out of memory for %zu patterns", items);
        return false;
    }
    const char *cursor = patterns;
    for (;;) {
        const char *comma = strchr(cursor, ',');
        size_t length = comma ? (size_t)(comma - cursor) : strlen(cursor);
        while (length > 0 && (*cursor == ' ' || *cursor == '\t')) {
            cursor++;
            length--;
        }
        while (length > 0 && (cursor[length - 1] == ' ' || cursor[length - 1] == '\t')) {
            length--;
        }
        struct pattern *pattern = &table->patterns[table->pattern_count];
        const char *problem = NULL;
        if (length >= LDTAP_ROUTE_MAX_BYTES) {
            problem = "it is longer than 255 bytes";
        } else {
            memcpy(pattern->text, cursor, length);
            pattern->text[length] = '\0';
            problem = compile_pattern(pattern);
        }
        if (problem) {
            snprintf(error, error_size, "LDTAP_ROUTES: pattern \"%.*s\" is invalid: %s; %s",
                     (int)(length > 80 ? 80 : length), cursor, problem, ACCEPTED_PATTERNS);
            return false;
        }
        table->pattern_count++;
        if (comma == NULL) {
            return true;
        }
        cursor = comma + 1;
    }
}

/* ---- templating ---- */

static bool is_hex_digit(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_all_digits(const struct segment *segment) {
    for (size_t i = 0; i < segment->length; i++) {
        if (segment->bytes[i] < '0' || segment->bytes[i] > '9') {
            return false;
        }
    }
    return segment->length > 0;
}

static bool is_uuid(const struct segment *segment) {
    if (segment->length != 36) {
        return false;
    }
    for (size_t i = 0; i < 36; i++) {
        bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash_here ? segment->bytes[i] != '-' : !is_hex_digit(segment->bytes[i])) {
            return false;
        }
    }
    return true;
}

static bool is_long_hex(const struct segment *segment) {
    bool has_digit = false;
    bool has_letter = false;
    for (size_t i = 0; i < segment->length; i++) {
        char c = segment->bytes[i];
        if (!is_hex_digit(c)) {
            return false;
        }
        has_digit |= c >= '0' && c <= '9';
        has_letter |= c > '9';
    }
    return segment->length >= 16 || (segment->length >= 8 && has_digit && has_letter);
}

static bool is_token(const struct segment *segment) {
    if (segment->length < 20) {
        return false;
    }
    bool has_upper = false;
    bool has_lower = false;
    bool has_digit = false;
    size_t length = segment->length;
    while (length > 0 && segment->bytes[length - 1] == '=') {
        length--;
    }
    if (segment->length - length > 2) {
        return false; /* base64 pads with at most two '=' */
    }
    for (size_t i = 0; i < length; i++) {
        char c = segment->bytes[i];
        if (c >= 'A' && c <= 'Z') {
            has_upper = true;
        } else if (c >= 'a' && c <= 'z') {
            has_lower = true;
        } else if (c >= '0' && c <= '9') {
            has_digit = true;
        } else if (c != '+' && c != '-' && c != '_') {
            return false;
        }
    }
    return has_upper && has_lower && has_digit;
}

static struct segment template_segment(const struct segment *segment) {
    static const struct segment id = {"{id}", 4}, uuid = {"{uuid}", 6}, hex = {"{hex}", 5}, token = {"{token}", 7};
    if (is_all_digits(segment)) {
        return id;
    }
    if (is_uuid(segment)) {
        return uuid;
    }
    if (is_long_hex(segment)) {
        return hex;
    }
    if (is_token(segment)) {
        return token;
    }
    return *segment;
}

static void build_template(const struct path_segments *path, char route[LDTAP_ROUTE_MAX_BYTES]) {
    /* Room kept for the final `*` segment that marks dropped segments, and the NUL. */
    const size_t budget = LDTAP_ROUTE_MAX_BYTES - 1 - 2;
    size_t used = 0;
    bool cut = path->more;
    for (size_t i = 0; i < path->count; i++) {
        struct segment piece = template_segment(&path->items[i]);
        if (used + 1 + piece.length > budget) {
            cut = true;
            break;
        }
        route[used++] = '/';
        memcpy(route + used, piece.bytes, piece.length);
        used += piece.length;
    }
    if (cut) {
        memcpy(route + used, "/*", 2);
        used += 2;
    }
    if (used == 0) {
        route[used++] = '/';
    }
    route[used] = '\0';
}

/* ---- per-service route sets ---- */

static uint64_t hash_text(const char *text) {
    uint64_t hash = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *text; text++) {
        hash = (hash ^ (unsigned char)*text) * 0x100000001b3ull;
    }
    return hash;
}

/* The slot holding `route`, or the empty slot where it would go. */
static char **find_slot(char **slots, size_t capacity, const char *route) {
    size_t index = (size_t)hash_text(route) & (capacity - 1);
    while (slots[index] != NULL && strcmp(slots[index], route) != 0) {
        index = (index + 1) & (capacity - 1);
    }
    return &slots[index];
}

static bool grow(struct service_routes *service) {
    size_t capacity = service->capacity ? service->capacity * 2 : FIRST_TABLE_CAPACITY;
    char **slots = calloc(capacity, sizeof *slots);
    if (slots == NULL) {
        return false;
    }
    for (size_t i = 0; i < service->capacity; i++) {
        if (service->slots[i]) {
            *find_slot(slots, capacity, service->slots[i]) = service->slots[i];
        }
    }
    free(service->slots);
    service->slots = slots;
    service->capacity = capacity;
    return true;
}

/* True when `route` is (now) a known route of `service`; false when over the cap. */
static bool admit_route(struct service_routes *service, uint32_t limit, const char *route) {
    if (service->capacity > 0 && *find_slot(service->slots, service->capacity, route) != NULL) {
        return true;
    }
    if (service->count >= limit) {
        return false;
    }
    /* Keep the load at most one half so probes stay short; never more than 2 x limit slots. */
    if ((service->count + 1) * 2 > service->capacity && !grow(service)) {
        return false;
    }
    char *copy = strdup(route);
    if (copy == NULL) {
        return false;
    }
    *find_slot(service->slots, service->capacity, route) = copy;
    service->count++;
    return true;
}

static struct service_routes *find_service(struct ldtap_route_table *table, const char *name) {
    char key[SERVICE_NAME_BYTES];
    snprintf(key, sizeof key, "%s", name ? name : "");
    for (struct service_routes *service = table->services; service; service = service->next) {
        if (strcmp(service->name, key) == 0) {
            return service;
        }
    }
    if (table->service_count >= MAX_SERVICES) {
        return NULL;
    }
    struct service_routes *service = calloc(1, sizeof *service);
    if (service == NULL) {
        return NULL;
    }
    memcpy(service->name, key, sizeof key);
    service->next = table->services;
    table->services = service;
    table->service_count++;
    return service;
}

/* ---- public interface ---- */

struct ldtap_route_table *ldtap_route_table_create(const char *patterns, uint32_t limit, char *error,
                                                   size_t error_size) {
    struct ldtap_route_table *table = calloc(1, sizeof *table);
    if (table == NULL) {
        snprintf(error, error_size, "out of memory for the route table");
        return NULL;
    }
    pthread_mutex_init(&table->lock, NULL);
    table->limit = limit ? limit : LDTAP_ROUTE_DEFAULT_LIMIT;
    if (patterns && strspn(patterns, " \t") != strlen(patterns) &&
        !compile_patterns(table, patterns, error, error_size)) {
        ldtap_route_table_free(table);
        return NULL;
    }
    return table;
}

void ldtap_route_table_free(struct ldtap_route_table *table) {
    if (table == NULL) {
        return;
    }
    struct service_routes *service = table->services;
    while (service) {
        struct service_routes *next = service->next;
        for (size_t i = 0; i < service->capacity; i++) {
            free(service->slots[i]);
        }
        free(service->slots);
        free(service);
        service = next;
    }
    free(table->patterns);
    pthread_mutex_destroy(&table->lock);
    free(table);
}

bool ldtap_route_for_path(struct ldtap_route_table *table, const char *service_name, const char *path,
                          size_t path_length, char route[LDTAP_ROUTE_MAX_BYTES]) {
    struct path_segments segments;
    split_path(path ? path : "", path ? path_length : 0, &segments);
    for (size_t i = 0; i < table->pattern_count; i++) {
        if (pattern_matches(&table->patterns[i], &segments)) {
            memcpy(route, table->patterns[i].text, strlen(table->patterns[i].text) + 1);
            return true;
        }
    }
    build_template(&segments, route);

    pthread_mutex_lock(&table->lock);
    struct service_routes *service = find_service(table, service_name);
    bool admitted = service != NULL && admit_route(service, table->limit, route);
    if (!admitted) {
        __atomic_add_fetch(&table->overflow_count, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&table->lock);

    if (!admitted) {
        memcpy(route, LDTAP_ROUTE_OVERFLOW, sizeof LDTAP_ROUTE_OVERFLOW);
    }
    return admitted;
}

uint64_t ldtap_route_overflow_count(const struct ldtap_route_table *table) {
    return __atomic_load_n(&table->overflow_count, __ATOMIC_RELAXED);
}
