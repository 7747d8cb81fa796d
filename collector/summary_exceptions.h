/* The exit summary's "crashes and exceptions" section: per service and exception type (a
 * Python class or a signal name), how many, the first message and the first crash stack. */
#ifndef LDTAP_SUMMARY_EXCEPTIONS_H
#define LDTAP_SUMMARY_EXCEPTIONS_H

#include <stddef.h>
#include <stdio.h>

/* Distinct (service, type) rows kept; later new types are counted in one "(other)" row. */
#define LDTAP_SUMMARY_MAX_EXCEPTION_TYPES 64

struct ldtap_exception_stats;

struct ldtap_exception_stats *ldtap_exception_stats_new(void); /* NULL if out of memory */
void ldtap_exception_stats_free(struct ldtap_exception_stats *stats);
/* Counts one report. Texts are not NUL-terminated; `stack` (top frames, one a line) may
 * be empty. The first report of a row keeps its message and stack. */
void ldtap_exception_stats_add(struct ldtap_exception_stats *stats, const char *service, const char *type,
                               size_t type_length, const char *message, size_t message_length, const char *stack,
                               size_t stack_length);
/* Takes one report of `type` back (a chained traceback's earlier part, superseded by the
 * exception that propagated); a row whose count reaches zero goes. */
void ldtap_exception_stats_retract(struct ldtap_exception_stats *stats, const char *service, const char *type,
                                   size_t type_length);
/* Prints the rows by count in at most 80 columns; nothing when empty. */
void ldtap_exception_stats_print(const struct ldtap_exception_stats *stats, FILE *out);

#endif
