/* http.route for servers that do not tell us theirs: user patterns first, then a template
 * made by replacing identifier-like path segments, with a cap on distinct routes so
 * metrics never explode in cardinality. */
#ifndef LDTAP_ROUTE_H
#define LDTAP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LDTAP_ROUTE_MAX_BYTES 256
#define LDTAP_ROUTE_DEFAULT_LIMIT 1000
/* The one bucket every route past the limit falls into. */
#define LDTAP_ROUTE_OVERFLOW "/{ldtap.route_overflow}"

struct ldtap_route_table;

/* `patterns` is LDTAP_ROUTES: comma-separated, each starting with '/', segments either
 * literal, `{name}` (one segment) or a final `*` (any rest). `limit` is the number of
 * distinct routes kept per service. NULL with a sentence in `error` naming the bad
 * pattern. */
struct ldtap_route_table *ldtap_route_table_create(const char *patterns, uint32_t limit, char *error,
                                                   size_t error_size);
void ldtap_route_table_free(struct ldtap_route_table *table);

/* Writes the route for `path` (no query string) of `service` into `route` (NUL-terminated,
 * at most LDTAP_ROUTE_MAX_BYTES). Returns false when the cap sent it to the overflow
 * bucket (counted). */
bool ldtap_route_for_path(struct ldtap_route_table *table, const char *service, const char *path,
                          size_t path_length, char route[LDTAP_ROUTE_MAX_BYTES]);

/* Paths sent to the overflow bucket so far. */
uint64_t ldtap_route_overflow_count(const struct ldtap_route_table *table);

#endif
