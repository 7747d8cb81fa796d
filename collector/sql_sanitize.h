/* SQL sanitising for db.query.text (literals become ?, comments go, whitespace is
 * normalised) and the db.operation.name / db.collection.name found on the same pass. */
#ifndef LDTAP_SQL_SANITIZE_H
#define LDTAP_SQL_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "sql_lexer.h"

#define LDTAP_SQL_OPERATION_BYTES 24
#define LDTAP_SQL_COLLECTION_BYTES 256

struct ldtap_sql_result {
    size_t length;                               /* sanitised bytes written, NUL excluded */
    bool output_full;                            /* the output buffer ran out: the text stops early */
    char operation[LDTAP_SQL_OPERATION_BYTES];   /* upper-case keyword, "" when none */
    char collection[LDTAP_SQL_COLLECTION_BYTES]; /* the one table named, quotes removed, "" when none */
};

/*
 * Sanitises `length` bytes of `sql` (any bytes) into `out` (capacity >= 1, always
 * NUL-terminated) and fills `result`. `input_truncated` says the statement was cut before
 * its end: a name at the very end may be cut too, so fewer collections are reported.
 *
 * Rules:
 * - literals become ?: '…' (with '' and, for MySQL, backslash escapes), E'…', X'…',
 *   B'…', N'…', U&'…', $tag$…$tag$ (PostgreSQL), "…" (MySQL), numbers with decimals
 *   and exponents, a sign where it cannot be an operator (after "=", "(", ",", WHERE…),
 *   hex 0x…; a literal cut by the end of input is still a single ?;
 * - kept as written: keywords (TRUE, FALSE, NULL too), identifiers, "quoted" and
 *   `quoted` names, placeholders ? ?1 $1 :name @name %s %(name)s, operators;
 * - comments (--, #, nested block comments) are removed: they can carry secrets;
 * - one space between tokens, none after "(" "." "::" "[", none before ")" "," ";" "."
 *   "::" "]", none between a name and "(" written against it (function calls);
 * - IN (?, ?, ?) becomes IN (?); VALUES (?, ?), (?, ?) becomes VALUES (?, ?) when every
 *   tuple holds only ? (a tuple with anything else stops the collapse there).
 * The operation is the first keyword from a fixed list (WITH …: the main statement's
 * SELECT/INSERT/UPDATE/DELETE/MERGE); the collection is set when FROM/JOIN/INTO/UPDATE/
 * TABLE name exactly one distinct table and there is no JOIN or derived table. Several
 * statements separated by ";" give neither.
 */
void ldtap_sql_sanitize(const char *sql, size_t length, enum ldtap_sql_dialect dialect, bool input_truncated,
                        char *out, size_t capacity, struct ldtap_sql_result *result);

#endif
