/* A parser for the Prometheus text exposition format (0.0.4), enough for `ldtap top`:
 * samples with their labels and values; comments and timestamps are skipped. Pure: no
 * allocation, no global state; input is untrusted. */
#ifndef LDTAP_PROMETHEUS_PARSE_H
#define LDTAP_PROMETHEUS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LDTAP_PROM_MAX_LABELS 32
#define LDTAP_PROM_VALUE_BYTES 4096

struct ldtap_prom_label {
    const char *name; /* into the line */
    size_t name_length;
    const char *value; /* unescaped, into the sample's `values` (not NUL-terminated) */
    size_t value_length;
};

struct ldtap_prom_sample {
    const char *name; /* into the line */
    size_t name_length;
    struct ldtap_prom_label labels[LDTAP_PROM_MAX_LABELS];
    uint32_t label_count;
    double value;
    char values[LDTAP_PROM_VALUE_BYTES];
};

enum ldtap_prom_line_kind {
    LDTAP_PROM_LINE_SAMPLE,  /* `sample` is filled */
    LDTAP_PROM_LINE_SKIP,    /* blank line, HELP, TYPE or other comment */
    LDTAP_PROM_LINE_INVALID, /* not the format, or more labels/bytes than the limits */
};

/* One line without its '\n' (a trailing '\r' is tolerated). */
enum ldtap_prom_line_kind ldtap_prom_parse_line(const char *line, size_t length,
                                                struct ldtap_prom_sample *sample);

typedef void (*ldtap_prom_sample_callback)(void *context, const struct ldtap_prom_sample *sample);

/* Calls `callback` for each sample of a whole exposition, in order. Returns the number of
 * invalid lines, which are skipped. `sample` is the caller's scratch space (it is large). */
size_t ldtap_prom_parse(const char *text, size_t length, struct ldtap_prom_sample *sample,
                        ldtap_prom_sample_callback callback, void *context);

/* The label called `name` (NUL-terminated), or NULL. */
const struct ldtap_prom_label *ldtap_prom_find_label(const struct ldtap_prom_sample *sample,
                                                     const char *name);

/* True when the sample's metric name is exactly `name`. */
bool ldtap_prom_name_is(const struct ldtap_prom_sample *sample, const char *name);

#endif
