/* Slowest-statements table for the exit summary: a bounded hash table of statements,
 * each with a latency histogram (summary.h), printed by total time. */
#include "summary_statements.h"

#include <stdlib.h>
#include <string.h>

#include "summary.h"

#define INDEX_SLOTS (2 * LDTAP_SUMMARY_MAX_STATEMENTS) /* a power of two */
#define STATEMENT_COLUMNS 44
#define OTHER_ROW "(other statements)"

struct statement_row {
    char *text;
    uint64_t count;
    uint64_t total_ns;
    uint64_t slow;
    struct ldtap_histogram *latency;
};

struct ldtap_statement_stats {
    size_t row_count;
    struct statement_row rows[LDTAP_SUMMARY_MAX_STATEMENTS + 1]; /* + the overflow row */
    uint16_t index[INDEX_SLOTS];                                 /* row number + 1; 0: empty */
};

struct ldtap_statement_stats *ldtap_statement_stats_new(void) {
    return calloc(1, sizeof(struct ldtap_statement_stats));
}

void ldtap_statement_stats_free(struct ldtap_statement_stats *stats) {
    if (!stats) {
        return;
    }
    for (size_t i = 0; i < stats->row_count; i++) {
        free(stats->rows[i].text);
        ldtap_histogram_free(stats->rows[i].latency);
    }
    free(stats);
}

static size_t text_hash(const char *text) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (; *text; text++) {
        hash = (hash ^ (uint8_t)*text) * 0x100000001b3ull;
    }
    return (size_t)hash;
}

static struct statement_row *new_row(struct ldtap_statement_stats *stats, const char *text) {
    struct statement_row row = {.text = strdup(text), .latency = ldtap_histogram_new()};
    if (!row.text || !row.latency) {
        free(row.text);
        ldtap_histogram_free(row.latency);
        return NULL;
    }
    stats->rows[stats->row_count] = row;
    return &stats->rows[stats->row_count++];
}

static struct statement_row *find_row(struct ldtap_statement_stats *stats, const char *text) {
    size_t slot = text_hash(text) & (INDEX_SLOTS - 1);
    for (; stats->index[slot]; slot = (slot + 1) & (INDEX_SLOTS - 1)) {
        struct statement_row *row = &stats->rows[stats->index[slot] - 1];
        if (strcmp(row->text, text) == 0) {
            return row;
        }
    }
    if (stats->row_count >= LDTAP_SUMMARY_MAX_STATEMENTS) {
        /* The overflow row is the one row outside the index. */
        if (stats->row_count == LDTAP_SUMMARY_MAX_STATEMENTS) {
            return new_row(stats, OTHER_ROW);
        }
        return &stats->rows[LDTAP_SUMMARY_MAX_STATEMENTS];
    }
    struct statement_row *row = new_row(stats, text);
    if (row) {
        stats->index[slot] = (uint16_t)stats->row_count;
    }
    return row;
}

void ldtap_statement_stats_add(struct ldtap_statement_stats *stats, const char *statement,
                               uint64_t duration_ns, bool slow) {
    if (!stats || !statement || !statement[0]) {
        return;
    }
    struct statement_row *row = find_row(stats, statement);
    if (row) {
        row->count++;
        row->total_ns += duration_ns;
        row->slow += slow;
        ldtap_histogram_record(row->latency, duration_ns);
    }
}

static int compare_by_total(const void *left, const void *right) {
    const struct statement_row *a = *(const struct statement_row *const *)left;
    const struct statement_row *b = *(const struct statement_row *const *)right;
    return a->total_ns < b->total_ns ? 1 : a->total_ns > b->total_ns ? -1 : strcmp(a->text, b->text);
}

/* Writes `text` in exactly STATEMENT_COLUMNS columns (one per UTF-8 character), cut with
 * "…" when longer. */
static void print_fitted(FILE *out, const char *text) {
    size_t columns = 0, length = strlen(text), cut = length;
    for (size_t i = 0; i < length; i++) {
        if (((unsigned char)text[i] & 0xc0) != 0x80 && ++columns == STATEMENT_COLUMNS) {
            cut = i; /* where the last column starts, kept for "…" if more follows */
        }
    }
    if (columns > STATEMENT_COLUMNS) {
        fprintf(out, "%.*s\xe2\x80\xa6", (int)cut, text);
        return;
    }
    fprintf(out, "%s%*s", text, (int)(STATEMENT_COLUMNS - columns), "");
}

void ldtap_statement_stats_print(const struct ldtap_statement_stats *stats, FILE *out) {
    if (!stats || stats->row_count == 0) {
        return;
    }
    const struct statement_row *sorted[LDTAP_SUMMARY_MAX_STATEMENTS + 1];
    bool any_slow = false;
    for (size_t i = 0; i < stats->row_count; i++) {
        sorted[i] = &stats->rows[i];
    }
    qsort(sorted, stats->row_count, sizeof *sorted, compare_by_total);
    fprintf(out, "ldtap: slowest statements\n  %-*s%7s%11s%9s\n", STATEMENT_COLUMNS,
            "STATEMENT (BY TOTAL TIME)", "COUNT", "TOTAL ms", "p95 ms");
    for (size_t i = 0; i < stats->row_count && i < LDTAP_SUMMARY_STATEMENTS_PRINTED; i++) {
        const struct statement_row *row = sorted[i];
        fputs("  ", out);
        print_fitted(out, row->text);
        fprintf(out, "%7llu%11.1f%9.2f%s\n", (unsigned long long)row->count, (double)row->total_ns / 1e6,
                ldtap_histogram_quantile(row->latency, 0.95) / 1e6, row->slow ? " *" : "");
        any_slow |= row->slow > 0;
    }
    if (stats->row_count > LDTAP_SUMMARY_STATEMENTS_PRINTED) {
        fprintf(out, "  ... %zu more statements\n", stats->row_count - LDTAP_SUMMARY_STATEMENTS_PRINTED);
    }
    if (any_slow) {
        fputs("  * some executions took at least LDTAP_SLOW_QUERY_MS\n", out);
    }
}
