/* Tests of collector/summary_statements.c: the slowest-statements section's order, its
 * 80-column layout, the slow mark and the bound on distinct statements. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "summary_statements.h"

static char *print_to_string(const struct ldtap_statement_stats *stats) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    ldtap_statement_stats_print(stats, out);
    fclose(out);
    return text;
}

/* Columns of a UTF-8 line: one per character. */
static size_t columns(const char *line, size_t length) {
    size_t count = 0;
    for (size_t i = 0; i < length; i++) {
        count += ((unsigned char)line[i] & 0xc0) != 0x80;
    }
    return count;
}

Test(summary_statements, ordered_by_total_time_within_80_columns) {
    struct ldtap_statement_stats *stats = ldtap_statement_stats_new();
    for (int i = 0; i < 100; i++) {
        ldtap_statement_stats_add(stats, "SELECT * FROM shop_order WHERE id = ?", 1000000, false);
    }
    ldtap_statement_stats_add(
        stats, "UPDATE stock SET n = n - ? WHERE sku = ? AND warehouse_id = ? AND x = ?", 900000000, true);
    ldtap_statement_stats_add(stats, "", 5, false); /* ignored */
    char *text = print_to_string(stats);
    const char *update = strstr(text, "UPDATE stock");
    const char *select = strstr(text, "SELECT * FROM shop_order");
    cr_assert(update && select && update < select, "%s", text);
    cr_expect_not_null(strstr(text, "\xe2\x80\xa6"), "the long statement is cut with an ellipsis");
    cr_expect_not_null(strstr(text, " *\n"), "the slow row is marked");
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        cr_assert_not_null(end);
        cr_expect_leq(columns(line, (size_t)(end - line)), 80, "%.*s", (int)(end - line), line);
        line = end + 1;
    }
    free(text);
    ldtap_statement_stats_free(stats);
}

Test(summary_statements, bounded_with_an_overflow_row) {
    struct ldtap_statement_stats *stats = ldtap_statement_stats_new();
    char statement[64];
    for (int i = 0; i < LDTAP_SUMMARY_MAX_STATEMENTS + 50; i++) {
        snprintf(statement, sizeof statement, "SELECT c%d FROM t", i);
        ldtap_statement_stats_add(stats, statement, 1000 + (uint64_t)i, false);
    }
    char *text = print_to_string(stats);
    cr_expect_not_null(strstr(text, "(other statements)"), "%s", text);
    cr_expect_not_null(strstr(text, "more statements"));
    free(text);
    ldtap_statement_stats_free(stats);
    text = print_to_string(NULL);
    cr_expect_str_eq(text, "");
    free(text);
}
