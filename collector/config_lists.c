/* The comma-separated lists and URLs of OpenTelemetry variables: k=v lists with
 * percent-encoding (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS) and endpoints. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void set_error(char *error, size_t error_size, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, error_size, format, arguments);
    va_end(arguments);
}

/* http:// or https://, a non-empty host, an optional numeric port, no spaces. */
bool ldtap_url_is_valid(const char *url) {
    const char *rest = NULL;
    if (strncasecmp(url, "http://", 7) == 0) {
        rest = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        rest = url + 8;
    } else {
        return false;
    }
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            return false;
        }
    }
    size_t authority = strcspn(rest, "/?#");
    const char *host_end = rest + authority;
    if (rest[0] == '[') { /* IPv6 literal */
        const char *close = memchr(rest, ']', authority);
        if (!close || close == rest + 1) {
            return false;
        }
        host_end = close + 1;
    } else {
        const char *colon = memchr(rest, ':', authority);
        if (colon) {
            host_end = colon;
        }
        if (host_end == rest || memchr(rest, '@', authority)) {
            return false;
        }
    }
    if (host_end < rest + authority) {
        if (*host_end != ':' || host_end + 1 == rest + authority) {
            return false;
        }
        char port[8] = {0};
        size_t port_length = (size_t)(rest + authority - host_end - 1);
        if (port_length >= sizeof port) {
            return false;
        }
        memcpy(port, host_end + 1, port_length);
        char *end = NULL;
        unsigned long port_number = isdigit((unsigned char)port[0]) ? strtoul(port, &end, 10) : 0;
        if (port_number == 0 || port_number > 65535 || *end != '\0') {
            return false;
        }
    }
    return true;
}

char *ldtap_otlp_url_from_base(const char *base, const char *signal_path) {
    size_t length = strlen(base);
    while (length > 0 && base[length - 1] == '/') {
        length--;
    }
    size_t path_length = strlen(signal_path);
    char *url = malloc(length + path_length + 1);
    if (url) {
        memcpy(url, base, length);
        memcpy(url + length, signal_path, path_length + 1);
    }
    return url;
}

char *ldtap_traces_url_from_base(const char *base) {
    return ldtap_otlp_url_from_base(base, "/v1/traces");
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Trims spaces and tabs and percent-decodes [begin, end) into `out` (NUL-terminated). */
static bool decode_member_part(const char *begin, const char *end, char *out) {
    while (begin < end && (*begin == ' ' || *begin == '\t')) {
        begin++;
    }
    while (end > begin && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    size_t used = 0;
    for (const char *p = begin; p < end; p++) {
        if (*p != '%') {
            out[used++] = *p;
            continue;
        }
        int high = p + 2 < end ? hex_value(p[1]) : -1;
        int low = high >= 0 ? hex_value(p[2]) : -1;
        if (low < 0) {
            return false;
        }
        out[used++] = (char)(high * 16 + low);
        p += 2;
    }
    out[used] = '\0';
    return true;
}

bool ldtap_parse_pairs(const char *list, const char *source, ldtap_pair_callback callback, void *context,
                       char *error, size_t error_size) {
    size_t list_length = strlen(list);
    char *key = malloc(list_length + 1);
    char *value = malloc(list_length + 1);
    bool ok = key && value;
    if (!ok) {
        set_error(error, error_size, "%s: out of memory", source);
    }
    const char *member = list;
    while (ok && *member) {
        const char *member_end = member + strcspn(member, ",");
        const char *equals = memchr(member, '=', (size_t)(member_end - member));
        bool blank = strspn(member, " \t") >= (size_t)(member_end - member);
        if (!blank) {
            if (!equals) {
                set_error(error, error_size, "%s: '%.*s' has no '='; use key=value pairs separated by commas", source,
                          (int)(member_end - member), member);
                ok = false;
            } else if (!decode_member_part(member, equals, key) || !decode_member_part(equals + 1, member_end, value)) {
                set_error(error, error_size, "%s: '%.*s' has a bad %%-escape; use %%XX with two hex digits", source,
                          (int)(member_end - member), member);
                ok = false;
            } else if (key[0] == '\0') {
                set_error(error, error_size, "%s: '%.*s' has an empty key; use key=value pairs separated by commas",
                          source, (int)(member_end - member), member);
                ok = false;
            } else {
                ok = callback(key, value, context, error, error_size);
            }
        }
        member = *member_end ? member_end + 1 : member_end;
    }
    free(key);
    free(value);
    return ok;
}

/* ---- headers ---- */

struct header_list {
    char **lines;
    size_t count;
    const char *source;
};

static bool valid_header_name(const char *name) {
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p)) {
            return false;
        }
    }
    return true;
}

static bool add_header(const char *key, const char *value, void *context, char *error, size_t error_size) {
    struct header_list *list = context;
    if (!valid_header_name(key)) {
        set_error(error, error_size, "%s: '%s' is not a valid HTTP header name", list->source, key);
        return false;
    }
    if (strpbrk(value, "\r\n")) {
        set_error(error, error_size, "%s: the value of '%s' contains a line break", list->source, key);
        return false;
    }
    size_t key_length = strlen(key);
    for (size_t i = 0; i < list->count; i++) { /* a later definition of a name replaces it */
        if (strncasecmp(list->lines[i], key, key_length) == 0 && list->lines[i][key_length] == ':') {
            free(list->lines[i]);
            list->lines[i] = list->lines[--list->count];
            list->lines[list->count] = NULL;
            break;
        }
    }
    char **grown = realloc(list->lines, (list->count + 2) * sizeof *grown);
    char *line = malloc(key_length + strlen(value) + 3);
    if (!grown || !line) {
        free(line);
        if (grown) {
            list->lines = grown;
        }
        set_error(error, error_size, "%s: out of memory", list->source);
        return false;
    }
    sprintf(line, "%s: %s", key, value);
    list->lines = grown;
    list->lines[list->count++] = line;
    list->lines[list->count] = NULL;
    return true;
}

bool ldtap_parse_headers(const char *list, const char *source, char ***lines, char *error, size_t error_size) {
    struct header_list headers = {.lines = *lines, .source = source};
    while (headers.lines && headers.lines[headers.count]) {
        headers.count++;
    }
    bool ok = ldtap_parse_pairs(list, source, add_header, &headers, error, error_size);
    *lines = headers.lines;
    return ok;
}
