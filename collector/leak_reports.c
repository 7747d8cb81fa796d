/* The leak-report policy (see leak_reports.h): per (process, site), the growth and the best
 * rank last reported, found by a hash of the pair. */
#include "leak_reports.h"

#include <stdlib.h>

#include "u64_map.h"

struct reported {
    int32_t pid;
    uint32_t best_rank;
    uint64_t site;
    uint64_t growth_bytes; /* at the last record */
};

struct ldtap_leak_reports {
    struct reported *sites;
    size_t count, capacity;
    struct ldtap_u64_map by_key;
};

struct ldtap_leak_reports *ldtap_leak_reports_new(void) {
    struct ldtap_leak_reports *reports = calloc(1, sizeof *reports);
    if (reports) {
        ldtap_u64_map_init(&reports->by_key);
    }
    return reports;
}

void ldtap_leak_reports_free(struct ldtap_leak_reports *reports) {
    if (reports) {
        free(reports->sites);
        ldtap_u64_map_free(&reports->by_key);
        free(reports);
    }
}

static uint64_t key_of(int32_t pid, uint64_t site) {
    return ldtap_u64_mix(ldtap_u64_mix((uint64_t)(uint32_t)pid) ^ site);
}

static enum ldtap_leak_report first_report(struct ldtap_leak_reports *reports, uint64_t key, int32_t pid,
                                           uint64_t site, uint64_t growth_bytes, uint32_t rank) {
    if (!ldtap_array_reserve((void **)&reports->sites, reports->count, &reports->capacity,
                             sizeof *reports->sites) ||
        !ldtap_u64_map_put(&reports->by_key, key, reports->count)) {
        return LDTAP_LEAK_REPORT_NONE; /* better silent than a record every snapshot */
    }
    reports->sites[reports->count++] = (struct reported){pid, rank, site, growth_bytes};
    return LDTAP_LEAK_REPORT_NEW;
}

enum ldtap_leak_report ldtap_leak_reports_due(struct ldtap_leak_reports *reports, int32_t pid, uint64_t site,
                                              uint64_t growth_bytes, uint32_t rank) {
    uint64_t key = key_of(pid, site), index;
    if (!ldtap_u64_map_get(&reports->by_key, key, &index)) {
        return first_report(reports, key, pid, site, growth_bytes, rank);
    }
    struct reported *reported = &reports->sites[index];
    if (reported->pid != pid || reported->site != site) {
        return LDTAP_LEAK_REPORT_NONE; /* a 64-bit key collision: that site stays unreported */
    }
    enum ldtap_leak_report due = LDTAP_LEAK_REPORT_NONE;
    if (growth_bytes / 2 >= reported->growth_bytes) {
        due = LDTAP_LEAK_REPORT_GREW;
    } else if (rank < reported->best_rank) {
        due = LDTAP_LEAK_REPORT_RANK;
    }
    if (due != LDTAP_LEAK_REPORT_NONE) {
        reported->growth_bytes = growth_bytes;
        reported->best_rank = rank < reported->best_rank ? rank : reported->best_rank;
    }
    return due;
}

void ldtap_leak_reports_forget(struct ldtap_leak_reports *reports, int32_t pid) {
    /* Swap-remove; the map follows the moved entry (a put over a present key never allocates). */
    for (size_t i = 0; i < reports->count;) {
        struct reported *reported = &reports->sites[i];
        if (reported->pid != pid) {
            i++;
            continue;
        }
        ldtap_u64_map_remove(&reports->by_key, key_of(pid, reported->site), NULL);
        size_t last = --reports->count;
        if (i != last) {
            *reported = reports->sites[last];
            ldtap_u64_map_put(&reports->by_key, key_of(reported->pid, reported->site), i);
        }
    }
}

size_t ldtap_leak_reports_count(const struct ldtap_leak_reports *reports) {
    return reports->count;
}
