/* The exit summary's "slowest statements" section: per normalised database statement,
 * count, total time and p95, the top ones by total time. */
#ifndef LDTAP_SUMMARY_STATEMENTS_H
#define LDTAP_SUMMARY_STATEMENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Distinct statements kept; later new ones share one "(other statements)" row. */
#define LDTAP_SUMMARY_MAX_STATEMENTS 512
#define LDTAP_SUMMARY_STATEMENTS_PRINTED 10

struct ldtap_statement_stats;

/* NULL if out of memory. */
struct ldtap_statement_stats *ldtap_statement_stats_new(void);
void ldtap_statement_stats_free(struct ldtap_statement_stats *stats);
/* Counts one execution of `statement` (sanitised text); `slow` marks the row. */
void ldtap_statement_stats_add(struct ldtap_statement_stats *stats, const char *statement,
                               uint64_t duration_ns, bool slow);
/* Prints the top statements by total time in at most 80 columns; nothing when empty. */
void ldtap_statement_stats_print(const struct ldtap_statement_stats *stats, FILE *out);

#endif
