/* When a leak suspect deserves an OTLP log record: a backend user wants to hear when a site
 * is first judged a suspect and again when it gets materially worse, not every second. */
#ifndef LDTAP_LEAK_REPORTS_H
#define LDTAP_LEAK_REPORTS_H

#include <stddef.h>
#include <stdint.h>

enum ldtap_leak_report {
    LDTAP_LEAK_REPORT_NONE,
    LDTAP_LEAK_REPORT_NEW,  /* first judged a suspect */
    LDTAP_LEAK_REPORT_GREW, /* its growth at least doubled since its last record */
    LDTAP_LEAK_REPORT_RANK, /* it reached a better rank in its process than any it was reported at */
};

struct ldtap_leak_reports;

/* NULL when out of memory. */
struct ldtap_leak_reports *ldtap_leak_reports_new(void);
void ldtap_leak_reports_free(struct ldtap_leak_reports *reports);

/* Whether the suspect (process `pid`, `site`, growth so far, rank among its process's
 * suspects, 1: the largest) is due a record now, and why; a due record counts as sent.
 * Doubling keeps a steady leak to one record per doubling of its growth (about 10 from
 * 1 MiB to 1 GiB); ranks only improve, so rank changes add at most one record per rank.
 * A suspect that stops growing and later resumes is not new. Out of memory: NONE. */
enum ldtap_leak_report ldtap_leak_reports_due(struct ldtap_leak_reports *reports, int32_t pid, uint64_t site,
                                              uint64_t growth_bytes, uint32_t rank);

/* Forgets the process's sites (it exited and was reported; a later process may reuse the pid). */
void ldtap_leak_reports_forget(struct ldtap_leak_reports *reports, int32_t pid);

/* Sites remembered (tests, and the bound it keeps). */
size_t ldtap_leak_reports_count(const struct ldtap_leak_reports *reports);

#endif
