/* Criterion tests for collector/leak_reports.c: a suspect gets a log record when first
 * judged, when its growth doubles and when it reaches a better rank, and not otherwise;
 * a forgotten process starts afresh. */
#include <criterion/criterion.h>

#include "leak_reports.h"

#define MIB (1024u * 1024u)

static struct ldtap_leak_reports *reports;

static void setup(void) {
    reports = ldtap_leak_reports_new();
    cr_assert_not_null(reports);
}
static void teardown(void) {
    ldtap_leak_reports_free(reports);
}

TestSuite(leak_reports, .init = setup, .fini = teardown);

Test(leak_reports, new_then_quiet_until_the_growth_doubles) {
    cr_assert_eq(ldtap_leak_reports_due(reports, 10, 1, 4 * MIB, 1), LDTAP_LEAK_REPORT_NEW);
    for (uint64_t growth = 4 * MIB; growth < 8 * MIB; growth += MIB / 4) {
        cr_assert_eq(ldtap_leak_reports_due(reports, 10, 1, growth, 1), LDTAP_LEAK_REPORT_NONE,
                     "growth %llu is not yet double", (unsigned long long)growth);
    }
    cr_assert_eq(ldtap_leak_reports_due(reports, 10, 1, 8 * MIB, 1), LDTAP_LEAK_REPORT_GREW);
    cr_assert_eq(ldtap_leak_reports_due(reports, 10, 1, 15 * MIB, 1), LDTAP_LEAK_REPORT_NONE,
                 "8 MiB is the base now");
    cr_assert_eq(ldtap_leak_reports_due(reports, 10, 1, 16 * MIB, 1), LDTAP_LEAK_REPORT_GREW);
}

Test(leak_reports, a_steady_leak_gets_one_record_per_doubling) {
    unsigned records = 0;
    for (uint64_t growth = MIB; growth <= 1024u * MIB; growth += MIB) { /* a snapshot per MiB leaked */
        records += ldtap_leak_reports_due(reports, 11, 5, growth, 1) != LDTAP_LEAK_REPORT_NONE;
    }
    cr_assert_eq(records, 11, "1 MiB, then 2, 4, ..., 1024 MiB: %u records", records);
}

Test(leak_reports, better_ranks_are_reported_once_worse_ones_never) {
    cr_assert_eq(ldtap_leak_reports_due(reports, 12, 2, 4 * MIB, 3), LDTAP_LEAK_REPORT_NEW);
    cr_assert_eq(ldtap_leak_reports_due(reports, 12, 2, 5 * MIB, 4), LDTAP_LEAK_REPORT_NONE, "worse");
    cr_assert_eq(ldtap_leak_reports_due(reports, 12, 2, 5 * MIB, 1), LDTAP_LEAK_REPORT_RANK);
    /* Two sites of similar growth trading places keep quiet from now on. */
    for (int flip = 0; flip < 10; flip++) {
        cr_assert_eq(ldtap_leak_reports_due(reports, 12, 2, 5 * MIB, 1 + (flip & 1)), LDTAP_LEAK_REPORT_NONE);
    }
}

Test(leak_reports, sites_and_processes_are_apart_and_forgetting_starts_afresh) {
    cr_assert_eq(ldtap_leak_reports_due(reports, 20, 1, 2 * MIB, 1), LDTAP_LEAK_REPORT_NEW);
    cr_assert_eq(ldtap_leak_reports_due(reports, 20, 2, 2 * MIB, 2), LDTAP_LEAK_REPORT_NEW, "another site");
    cr_assert_eq(ldtap_leak_reports_due(reports, 21, 1, 2 * MIB, 1), LDTAP_LEAK_REPORT_NEW,
                 "another process");
    cr_assert_eq(ldtap_leak_reports_count(reports), 3);
    ldtap_leak_reports_forget(reports, 20);
    cr_assert_eq(ldtap_leak_reports_count(reports), 1);
    cr_assert_eq(ldtap_leak_reports_due(reports, 21, 1, 3 * MIB, 1), LDTAP_LEAK_REPORT_NONE,
                 "the moved entry is still found");
    cr_assert_eq(ldtap_leak_reports_due(reports, 20, 1, 2 * MIB, 1), LDTAP_LEAK_REPORT_NEW,
                 "a later process with the pid is new");
    ldtap_leak_reports_forget(reports, 999); /* unknown: nothing happens */
    cr_assert_eq(ldtap_leak_reports_count(reports), 2);
}
