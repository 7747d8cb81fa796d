/* Remembers how recent raw database statements were described (sanitised text, operation,
 * collection), so a statement a program runs over and over is sanitised once. */
#ifndef LDTAP_STATEMENT_CACHE_H
#define LDTAP_STATEMENT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode_db.h"
#include "redis_command.h"
#include "sql_sanitize.h"

/* A statement as it will be reported; what decode_db.c works out from the raw text. */
struct ldtap_statement_description {
    char text[LDTAP_DB_QUERY_TEXT_MAX_BYTES]; /* NUL-terminated */
    size_t length;
    char operation[LDTAP_REDIS_OPERATION_BYTES];
    char collection[LDTAP_SQL_COLLECTION_BYTES];
    bool cut; /* sanitising or the cap lost the end of the text */
};

/* Sets of four entries each; 64 sets hold the 256 most recently used distinct statements
 * (an application has a few hundred shapes, and statements whose literals vary miss
 * anyway). */
#define LDTAP_STATEMENT_CACHE_SETS 64

struct ldtap_statement_cache;

/* `set_count` is a power of two (tests use 1 to make every statement collide). NULL if out
 * of memory. */
struct ldtap_statement_cache *ldtap_statement_cache_new(size_t set_count);
void ldtap_statement_cache_free(struct ldtap_statement_cache *cache);

/*
 * `kind` stands for whatever besides the bytes decides the description (the database
 * system, whether the statement was cut): an entry matches only with the same kind, length
 * and bytes. find: true with `description` filled when stored; store: keeps a copy,
 * replacing the least recently used entry of its set (nothing happens when out of memory).
 */
bool ldtap_statement_cache_find(struct ldtap_statement_cache *cache, uint32_t kind, const char *raw,
                                size_t raw_length, struct ldtap_statement_description *description);
void ldtap_statement_cache_store(struct ldtap_statement_cache *cache, uint32_t kind, const char *raw,
                                 size_t raw_length, const struct ldtap_statement_description *description);

#endif
