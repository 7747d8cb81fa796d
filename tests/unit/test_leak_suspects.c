/* Criterion tests for collector/leak_suspects.c on synthetic snapshots: one growing site
 * among flat and noisy ones ranks first; noise, warm-up steps and short runs are not
 * suspects; siblings are compared; a long run thins its history and still judges; one
 * process's suspects are found alone, and a forgotten process leaves nothing behind. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "leak_suspects.h"

#define MIB (1024u * 1024u)
#define SAMPLE_INTERVAL (512u * 1024u)

static struct ldtap_leak_tracker *tracker;

static void setup(void) {
    tracker = ldtap_leak_tracker_new(NULL);
    cr_assert_not_null(tracker);
}
static void teardown(void) { ldtap_leak_tracker_free(tracker); }

TestSuite(leak_suspects, .init = setup, .fini = teardown);

/* Snapshot `index`: site 1 leaks 2 MiB per interval, site 2 grows slowly, sites 10..29 are
 * steady with sampling noise of a few samples' weight. */
static void observe_process(int32_t pid, int index, bool leaking) {
    ldtap_leak_observe(tracker, pid, 1, 1, (uint64_t)(leaking ? index : 0) * 2 * MIB + 4 * MIB, SAMPLE_INTERVAL);
    ldtap_leak_observe(tracker, pid, 1, 2, (uint64_t)index * 5 * MIB + 1 * MIB, SAMPLE_INTERVAL);
    for (uint64_t site = 10; site < 30; site++) {
        uint64_t noise = (uint64_t)(mrand48() & 7) * SAMPLE_INTERVAL; /* 0..3.5 MiB up and down */
        ldtap_leak_observe(tracker, pid, 1, site, 20 * MIB + noise, SAMPLE_INTERVAL);
    }
}

Test(leak_suspects, growing_site_ranks_first_noise_does_not) {
    srand48(7);
    for (int index = 0; index < 10; index++) {
        ldtap_leak_snapshot_begin(tracker, (uint64_t)index * 1000000000ull);
        observe_process(100, index, true);
        ldtap_leak_snapshot_end(tracker);
    }
    struct ldtap_leak_suspect suspects[8];
    size_t count = ldtap_leak_suspects(tracker, suspects, 8);
    cr_assert_eq(count, 2, "the two growing sites, no noisy one: got %zu", count);
    cr_assert_eq(suspects[0].site, 2, "5 MiB per interval ranks above 2 MiB");
    cr_assert_eq(suspects[1].site, 1);
    cr_assert_eq(suspects[1].growth_bytes, 18u * MIB);
    cr_assert_eq(suspects[1].live_bytes, 22u * MIB);
    cr_assert_eq(suspects[1].intervals, 9);
    cr_assert_float_eq(suspects[1].grew_fraction, 1.0, 1e-9);
    cr_assert_float_eq(suspects[1].growth_per_second, 2.0 * MIB, 1.0);
    cr_assert_not(suspects[0].widespread, "most sites are flat");
}

Test(leak_suspects, noise_alone_is_never_a_suspect) {
    srand48(99);
    for (int index = 0; index < 30; index++) {
        ldtap_leak_snapshot_begin(tracker, (uint64_t)index * 1000000000ull);
        for (uint64_t site = 1; site < 200; site++) {
            uint64_t noise = (uint64_t)(mrand48() & 15) * SAMPLE_INTERVAL;
            ldtap_leak_observe(tracker, 5, 1, site, 10 * MIB + noise, SAMPLE_INTERVAL);
        }
        ldtap_leak_snapshot_end(tracker);
    }
    struct ldtap_leak_suspect suspects[4];
    cr_assert_eq(ldtap_leak_suspects(tracker, suspects, 4), 0);
}

Test(leak_suspects, one_step_of_warm_up_and_short_runs_are_not_suspects) {
    static const uint64_t step[] = {0, 50, 50, 50, 50, 50}; /* a cache filled once */
    for (int index = 0; index < 6; index++) {
        ldtap_leak_snapshot_begin(tracker, (uint64_t)index * 1000000000ull);
        ldtap_leak_observe(tracker, 9, 1, 1, step[index] * MIB, SAMPLE_INTERVAL);
        ldtap_leak_observe(tracker, 9, 1, 2, (uint64_t)index * 10 * MIB, SAMPLE_INTERVAL);
        ldtap_leak_snapshot_end(tracker);
        struct ldtap_leak_suspect suspects[2];
        size_t count = ldtap_leak_suspects(tracker, suspects, 2);
        cr_assert_eq(count, index >= 3 ? 1u : 0u, "snapshot %d: %zu suspects (needs 3 intervals)", index, count);
        if (count) {
            cr_assert_eq(suspects[0].site, 2);
        }
    }
}

Test(leak_suspects, compares_sibling_workers) {
    srand48(3);
    for (int index = 0; index < 8; index++) {
        ldtap_leak_snapshot_begin(tracker, (uint64_t)index * 1000000000ull);
        observe_process(201, index, false);
        observe_process(202, index, true);
        observe_process(203, index, false);
        ldtap_leak_snapshot_end(tracker);
    }
    struct ldtap_leak_suspect suspects[8];
    size_t count = ldtap_leak_suspects(tracker, suspects, 8);
    size_t found = 0;
    for (size_t i = 0; i < count; i++) {
        if (suspects[i].site == 1) {
            found++;
            cr_assert_eq(suspects[i].pid, 202);
            cr_assert_eq(suspects[i].flat_peers, 2);
            cr_assert_eq(suspects[i].growing_peers, 0);
            cr_assert(suspects[i].flat_peer_pid == 201 || suspects[i].flat_peer_pid == 203);
        } else {
            cr_assert_eq(suspects[i].site, 2);
            cr_assert_eq(suspects[i].growing_peers, 2, "site 2 grows in every worker");
        }
    }
    cr_assert_eq(found, 1);
}

Test(leak_suspects, process_exit_and_late_sites) {
    for (int index = 0; index < 12; index++) {
        ldtap_leak_snapshot_begin(tracker, (uint64_t)index * 1000000000ull);
        if (index < 6) { /* exits after six snapshots while leaking: stays a suspect */
            ldtap_leak_observe(tracker, 300, 1, 1, (uint64_t)index * 4 * MIB, SAMPLE_INTERVAL);
        }
        ldtap_leak_observe(tracker, 301, 1, 7, 8 * MIB, SAMPLE_INTERVAL);
        if (index >= 8) { /* a site that appears late in a live process grows from zero */
            ldtap_leak_observe(tracker, 301, 1, 8, 64 * MIB, SAMPLE_INTERVAL);
        }
        ldtap_leak_snapshot_end(tracker);
    }
    struct ldtap_leak_suspect suspects[4];
    size_t count = ldtap_leak_suspects(tracker, suspects, 4);
    cr_assert_eq(count, 1, "one jump from zero is not steady growth");
    cr_assert_eq(suspects[0].pid, 300, "judged on its life: it grew in every interval until it exited");
    cr_assert_eq(suspects[0].intervals, 5);
    cr_assert_eq(suspects[0].live_bytes, 20u * MIB);
}

Test(leak_suspects, long_runs_thin_the_history) {
    for (int index = 0; index < 1000; index++) {
        ldtap_leak_snapshot_begin(tracker, (uint64_t)index * 10000000000ull);
        ldtap_leak_observe(tracker, 1, 1, 1, (uint64_t)index * MIB, SAMPLE_INTERVAL);
        ldtap_leak_observe(tracker, 1, 1, 2, 30 * MIB, SAMPLE_INTERVAL);
        ldtap_leak_snapshot_end(tracker);
    }
    cr_assert_eq(ldtap_leak_snapshots(tracker), 1000);
    struct ldtap_leak_suspect suspects[2];
    cr_assert_eq(ldtap_leak_suspects(tracker, suspects, 2), 1);
    cr_assert_eq(suspects[0].site, 1);
    cr_assert_eq(suspects[0].live_bytes, 999u * MIB, "the latest snapshot survives thinning");
    cr_assert_lt(suspects[0].intervals, LDTAP_LEAK_HISTORY);
    cr_assert_float_eq(suspects[0].growth_per_second, MIB / 10.0, MIB / 100.0);
}

Test(leak_suspects, suspects_of_one_process_and_forgetting_it) {
    srand48(5);
    for (int index = 0; index < 8; index++) {
        ldtap_leak_snapshot_begin(tracker, (uint64_t)index * 1000000000ull);
        observe_process(401, index, false);
        observe_process(402, index, true);
        observe_process(403, index, true);
        ldtap_leak_snapshot_end(tracker);
    }
    size_t per_process = 22; /* sites 1, 2 and 10..29 */
    cr_assert_eq(ldtap_leak_series_count(tracker), 3 * per_process);
    struct ldtap_leak_suspect suspects[8];
    size_t count = ldtap_leak_suspects_of(tracker, 402, suspects, 8);
    cr_assert_eq(count, 2, "site 1 and site 2 of pid 402");
    for (size_t i = 0; i < count; i++) {
        cr_assert_eq(suspects[i].pid, 402);
        if (suspects[i].site == 1) {
            cr_assert_eq(suspects[i].growing_peers, 1, "403 leaks at the same site");
            cr_assert_eq(suspects[i].flat_peers, 1, "401 does not");
        }
    }

    /* 402 exited and was reported: its series go, the others' are untouched. */
    ldtap_leak_forget(tracker, 402);
    cr_assert_eq(ldtap_leak_series_count(tracker), 2 * per_process);
    cr_assert_eq(ldtap_leak_suspects_of(tracker, 402, suspects, 8), 0);
    count = ldtap_leak_suspects_of(tracker, 403, suspects, 8);
    cr_assert_eq(count, 2);
    for (size_t i = 0; i < count; i++) {
        if (suspects[i].site == 1) {
            cr_assert_eq(suspects[i].growing_peers, 0, "the forgotten sibling is no peer any more");
            cr_assert_eq(suspects[i].live_bytes, 7u * 2 * MIB + 4 * MIB);
        }
    }
    /* The moved series are still found by key: later snapshots update them in place. */
    ldtap_leak_snapshot_begin(tracker, 8 * 1000000000ull);
    observe_process(401, 8, false);
    observe_process(403, 8, true);
    ldtap_leak_snapshot_end(tracker);
    cr_assert_eq(ldtap_leak_series_count(tracker), 2 * per_process);
    count = ldtap_leak_suspects_of(tracker, 403, suspects, 8);
    for (size_t i = 0; i < count; i++) {
        if (suspects[i].site == 1) {
            cr_assert_eq(suspects[i].live_bytes, 8u * 2 * MIB + 4 * MIB);
        }
    }
    ldtap_leak_forget(tracker, 401);
    ldtap_leak_forget(tracker, 403);
    ldtap_leak_forget(tracker, 999); /* unknown: nothing happens */
    cr_assert_eq(ldtap_leak_series_count(tracker), 0);
}

Test(leak_suspects, teardown_at_exit_does_not_erase_a_leak) {
    /* Both processes grow 3 MiB per interval, then free everything: 500 by exiting (an
     * interpreter's teardown), 501 while it lives on (a real release). */
    for (int index = 0; index < 10; index++) {
        ldtap_leak_snapshot_begin(tracker, (uint64_t)index * 1000000000ull);
        uint64_t grown = index < 8 ? (uint64_t)index * 3 * MIB : 0;
        if (index < 9) {
            ldtap_leak_observe(tracker, 500, 1, 1, grown, SAMPLE_INTERVAL);
        }
        if (index == 8) {
            ldtap_leak_process_exited(tracker, 500);
        }
        ldtap_leak_observe(tracker, 501, 1, 1, grown, SAMPLE_INTERVAL);
        ldtap_leak_snapshot_end(tracker);
    }
    struct ldtap_leak_suspect suspects[4];
    size_t count = ldtap_leak_suspects(tracker, suspects, 4);
    cr_assert_eq(count, 1, "the live process released its memory: no suspect");
    cr_assert_eq(suspects[0].pid, 500);
    cr_assert_eq(suspects[0].live_bytes, 21u * MIB, "judged up to its peak, before the teardown");
    cr_assert_eq(suspects[0].intervals, 7);
    cr_assert_eq(suspects[0].flat_peers + suspects[0].growing_peers, 1, "501 is a peer either way");
}

/* The flake of tests/e2e/worker_memory.sh: the snapshot before the last look already saw
 * the teardown's frees (the process was not yet known gone), and the last look repeats
 * it. The leak before the teardown must still be judged, up to its peak. */
Test(leak_suspects, last_look_repeating_the_teardown_does_not_erase_a_leak) {
    static const uint64_t mib[] = {0, 3, 6, 9, 12, 15, 18, 21, 0, 0};
    for (int index = 0; index < 10; index++) {
        ldtap_leak_snapshot_begin(tracker, (uint64_t)index * 1000000000ull);
        ldtap_leak_observe(tracker, 600, 1, 1, mib[index] * MIB, SAMPLE_INTERVAL);
        if (index == 9) {
            ldtap_leak_process_exited(tracker, 600);
        }
        ldtap_leak_snapshot_end(tracker);
    }
    struct ldtap_leak_suspect suspects[2];
    cr_assert_eq(ldtap_leak_suspects(tracker, suspects, 2), 1, "the teardown seen twice hid the leak");
    cr_assert_eq(suspects[0].live_bytes, 21u * MIB, "judged up to its peak");
    cr_assert_eq(suspects[0].intervals, 7);
}

/* A flat end before the exit is life, not teardown: a site that stopped growing long ago
 * is no suspect, whether its process lives on or exits without a teardown. */
Test(leak_suspects, flat_end_of_an_exited_process_still_counts) {
    for (int index = 0; index < 12; index++) {
        ldtap_leak_snapshot_begin(tracker, (uint64_t)index * 1000000000ull);
        uint64_t grown = (uint64_t)(index < 4 ? index : 4) * 4 * MIB; /* grows 4 intervals, then flat */
        ldtap_leak_observe(tracker, 700, 1, 1, grown, SAMPLE_INTERVAL);
        if (index == 11) {
            ldtap_leak_process_exited(tracker, 700);
        }
        ldtap_leak_snapshot_end(tracker);
    }
    struct ldtap_leak_suspect suspects[2];
    cr_assert_eq(ldtap_leak_suspects(tracker, suspects, 2), 0, "4 of 10 intervals grew");
}

/* A worker idles for a while before the leaking code path is first taken (its sibling
 * booted late, or the path is rare): it is judged from when the site first held memory. */
Test(leak_suspects, site_judged_from_when_it_first_held_memory) {
    for (int index = 0; index < 20; index++) {
        ldtap_leak_snapshot_begin(tracker, (uint64_t)index * 1000000000ull);
        uint64_t grown = index < 8 ? 0 : (uint64_t)(index - 7) * 2 * MIB;
        ldtap_leak_observe(tracker, 800, 1, 1, grown, SAMPLE_INTERVAL);
        ldtap_leak_observe(tracker, 800, 1, 2, 16 * MIB, SAMPLE_INTERVAL); /* present from the start */
        /* Its sibling runs the same code but frees every block before the next snapshot. */
        ldtap_leak_observe(tracker, 801, 1, 1, 0, SAMPLE_INTERVAL);
        ldtap_leak_snapshot_end(tracker);
    }
    struct ldtap_leak_suspect suspects[2];
    cr_assert_eq(ldtap_leak_suspects(tracker, suspects, 2), 1);
    cr_assert_eq(suspects[0].pid, 800);
    cr_assert_eq(suspects[0].intervals, 12, "slots 7 (still empty) to 19");
    cr_assert_float_eq(suspects[0].grew_fraction, 1.0, 1e-9);
    cr_assert_float_eq(suspects[0].growth_per_second, 2.0 * MIB, 1.0, "over its own 12 seconds");
    cr_assert_eq(suspects[0].flat_peers, 1, "a sibling whose site never held memory at a snapshot is flat");
    cr_assert_eq(suspects[0].flat_peer_pid, 801);
}

struct visited {
    int32_t pid[8];
    uint64_t site[8];
    uint32_t rank[8];
    size_t count;
};

static void remember(void *context, const struct ldtap_leak_suspect *suspect, uint32_t rank) {
    struct visited *visited = context;
    cr_assert_lt(visited->count, 8);
    visited->pid[visited->count] = suspect->pid;
    visited->site[visited->count] = suspect->site;
    visited->rank[visited->count++] = rank;
}

Test(leak_suspects, visit_ranks_within_each_process) {
    for (int index = 0; index < 6; index++) {
        ldtap_leak_snapshot_begin(tracker, (uint64_t)index * 1000000000ull);
        for (uint64_t site = 1; site <= 3; site++) { /* site 3 grows fastest */
            ldtap_leak_observe(tracker, 910, 1, site, (uint64_t)index * site * 2 * MIB, SAMPLE_INTERVAL);
        }
        ldtap_leak_observe(tracker, 905, 1, 7, (uint64_t)index * MIB * 3 / 2, SAMPLE_INTERVAL);
        ldtap_leak_snapshot_end(tracker);
    }
    struct visited visited = {0};
    ldtap_leak_visit_ranked(tracker, 2, remember, &visited);
    cr_assert_eq(visited.count, 3, "pid 905's one suspect and pid 910's two largest");
    cr_assert_eq(visited.pid[0], 905);
    cr_assert_eq(visited.rank[0], 1);
    cr_assert_eq(visited.pid[1], 910);
    cr_assert_eq(visited.site[1], 3);
    cr_assert_eq(visited.rank[1], 1);
    cr_assert_eq(visited.site[2], 2);
    cr_assert_eq(visited.rank[2], 2);
}
