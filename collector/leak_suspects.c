/* Per (process, site) series of estimated live bytes on a shared, self-thinning timeline,
 * and the judgement that turns a series into a leak suspect. */
#include "leak_suspects.h"

#include <stdlib.h>
#include <string.h>

#include "u64_map.h"

/* Bounds memory for programs with very many distinct stacks: later sites are not tracked. */
#define MAX_SERIES 200000u

struct series {
    int32_t pid;
    uint64_t group, site, sample_interval;
    uint32_t first; /* the slot of the process's first snapshot: the site was 0 before it appeared */
    uint32_t last;  /* the slot last observed: after it the process had exited */
    bool exited;    /* its process exited: trailing drops are its teardown */
    uint64_t values[LDTAP_LEAK_HISTORY];
};

struct process {
    int32_t pid;
    uint32_t first;
};

struct ldtap_leak_tracker {
    struct ldtap_leak_options options;
    uint64_t times[LDTAP_LEAK_HISTORY];
    uint32_t slots;        /* used slots; the current snapshot writes slots - 1 */
    uint64_t snapshots;
    struct series *series;
    size_t series_count, series_capacity;
    struct ldtap_u64_map series_by_key;
    struct process *processes;
    size_t process_count, process_capacity;
    struct ldtap_u64_map process_by_pid;
};

struct ldtap_leak_tracker *ldtap_leak_tracker_new(const struct ldtap_leak_options *options) {
    struct ldtap_leak_tracker *tracker = calloc(1, sizeof *tracker);
    if (tracker) {
        tracker->options = options ? *options : LDTAP_LEAK_DEFAULT_OPTIONS;
        ldtap_u64_map_init(&tracker->series_by_key);
        ldtap_u64_map_init(&tracker->process_by_pid);
    }
    return tracker;
}

void ldtap_leak_tracker_free(struct ldtap_leak_tracker *tracker) {
    if (!tracker) {
        return;
    }
    free(tracker->series);
    free(tracker->processes);
    ldtap_u64_map_free(&tracker->series_by_key);
    ldtap_u64_map_free(&tracker->process_by_pid);
    free(tracker);
}

uint64_t ldtap_leak_snapshots(const struct ldtap_leak_tracker *tracker) { return tracker->snapshots; }

/* Keeps the odd slots (1, 3, …, the latest): half the resolution, the same span. */
static void thin_history(struct ldtap_leak_tracker *tracker) {
    uint32_t half = LDTAP_LEAK_HISTORY / 2;
    for (uint32_t j = 0; j < half; j++) {
        tracker->times[j] = tracker->times[2 * j + 1];
    }
    for (size_t i = 0; i < tracker->series_count; i++) {
        struct series *series = &tracker->series[i];
        for (uint32_t j = 0; j < half; j++) {
            series->values[j] = series->values[2 * j + 1];
        }
        series->first /= 2;
        series->last = series->last ? (series->last - 1) / 2 : 0;
    }
    for (size_t i = 0; i < tracker->process_count; i++) {
        tracker->processes[i].first /= 2;
    }
    tracker->slots = half;
}

void ldtap_leak_snapshot_begin(struct ldtap_leak_tracker *tracker, uint64_t time_ns) {
    if (tracker->slots == LDTAP_LEAK_HISTORY) {
        thin_history(tracker);
    }
    uint32_t slot = tracker->slots++;
    tracker->times[slot] = time_ns;
    tracker->snapshots++;
    /* Carry every series forward: one not observed now (its process exited) stays flat. */
    for (size_t i = 0; i < tracker->series_count; i++) {
        struct series *series = &tracker->series[i];
        series->values[slot] = slot > series->first ? series->values[slot - 1] : series->values[slot];
    }
}

void ldtap_leak_snapshot_end(struct ldtap_leak_tracker *tracker) { (void)tracker; }

static const struct process *process_for(struct ldtap_leak_tracker *tracker, int32_t pid) {
    uint64_t index;
    if (ldtap_u64_map_get(&tracker->process_by_pid, (uint64_t)(uint32_t)pid, &index)) {
        return &tracker->processes[index];
    }
    if (!ldtap_array_reserve((void **)&tracker->processes, tracker->process_count, &tracker->process_capacity,
                    sizeof *tracker->processes) ||
        !ldtap_u64_map_put(&tracker->process_by_pid, (uint64_t)(uint32_t)pid, tracker->process_count)) {
        return NULL;
    }
    tracker->processes[tracker->process_count] = (struct process){pid, tracker->slots - 1};
    return &tracker->processes[tracker->process_count++];
}

static uint64_t series_key(int32_t pid, uint64_t site) {
    return ldtap_u64_mix(ldtap_u64_mix((uint64_t)(uint32_t)pid) ^ site);
}

void ldtap_leak_observe(struct ldtap_leak_tracker *tracker, int32_t pid, uint64_t group, uint64_t site,
                        uint64_t live_bytes, uint64_t sample_interval) {
    if (tracker->slots == 0) {
        return; /* outside a snapshot */
    }
    uint32_t slot = tracker->slots - 1;
    uint64_t key = series_key(pid, site);
    uint64_t index;
    if (!ldtap_u64_map_get(&tracker->series_by_key, key, &index)) {
        const struct process *process = process_for(tracker, pid);
        if (!process || tracker->series_count >= MAX_SERIES ||
            !ldtap_array_reserve((void **)&tracker->series, tracker->series_count, &tracker->series_capacity,
                        sizeof *tracker->series) ||
            !ldtap_u64_map_put(&tracker->series_by_key, key, tracker->series_count)) {
            return;
        }
        index = tracker->series_count++;
        struct series *series = &tracker->series[index];
        memset(series, 0, sizeof *series); /* zero before it appeared, back to its process's start */
        series->pid = pid;
        series->site = site;
        series->first = process->first;
    }
    struct series *series = &tracker->series[index];
    if (series->pid != pid || series->site != site) {
        return; /* a 64-bit key collision: not worth a second structure */
    }
    series->group = group;
    series->exited = false; /* a new process may have taken an old one's pid */
    series->sample_interval = sample_interval;
    series->values[slot] = live_bytes;
    series->last = slot;
}

struct judgement {
    bool suspect;
    bool sizable; /* large enough that its growth or flatness means something */
    uint64_t growth;
    double grew_fraction;
    uint32_t since;     /* the slot before the site first held memory */
    uint32_t intervals; /* judged: from `since` */
    uint32_t lived;     /* its process's, from its first snapshot */
};

void ldtap_leak_process_exited(struct ldtap_leak_tracker *tracker, int32_t pid) {
    for (size_t i = 0; i < tracker->series_count; i++) {
        if (tracker->series[i].pid == pid) {
            tracker->series[i].exited = true;
        }
    }
}

/* The slot a series is judged up to: its last observation, or for a process that exited,
 * the peak its values fell from in their last intervals (its teardown). The last look,
 * taken once the process was known gone, comes after its death: when it only repeats the
 * snapshot before it (which may already have seen the teardown), it is no interval of its
 * life. */
static uint32_t judged_until(const struct series *series) {
    uint32_t last = series->last;
    if (!series->exited) {
        return last;
    }
    if (last > series->first && series->values[last] == series->values[last - 1]) {
        last--;
    }
    while (last > series->first && series->values[last] < series->values[last - 1]) {
        last--;
    }
    return last;
}

/* The slot before the site first held memory: the intervals before it say nothing about
 * the site, which did not exist yet (a leak on a code path first taken an hour into a
 * daemon's life is judged on that path's hour, not on the daemon's three). */
static uint32_t appeared(const struct series *series, uint32_t last) {
    uint32_t slot = series->first;
    while (slot < last && series->values[slot + 1] == 0) {
        slot++;
    }
    return slot;
}

static struct judgement judge(const struct ldtap_leak_tracker *tracker, const struct series *series) {
    struct judgement result = {0};
    uint32_t last = judged_until(series); /* a process that exited is judged on its life only */
    uint64_t threshold = tracker->options.min_growth_bytes;
    uint64_t noise = series->sample_interval * tracker->options.noise_samples;
    threshold = noise > threshold ? noise : threshold;
    result.sizable = series->values[last] >= threshold;
    result.since = appeared(series, last);
    result.lived = last - series->first;
    if (last <= result.since) {
        return result;
    }
    result.intervals = last - result.since;
    uint32_t grew = 0;
    uint64_t dropped = 0;
    for (uint32_t slot = result.since + 1; slot <= last; slot++) {
        uint64_t before = series->values[slot - 1], after = series->values[slot];
        grew += after > before;
        dropped += before > after ? before - after : 0;
    }
    uint64_t first = series->values[result.since], latest = series->values[last];
    result.growth = latest > first ? latest - first : 0;
    result.grew_fraction = (double)grew / result.intervals;
    /* A steady site's estimate goes up and down by similar amounts; a leak's barely drops. */
    result.suspect = result.intervals >= tracker->options.min_intervals &&
                     result.grew_fraction >= tracker->options.grew_fraction && result.growth >= threshold &&
                     result.growth > 2 * dropped;
    return result;
}

static int by_growth(const void *left, const void *right) {
    const struct ldtap_leak_suspect *a = left, *b = right;
    return a->growth_bytes > b->growth_bytes ? -1 : a->growth_bytes < b->growth_bytes;
}

static void compare_with_peers(const struct ldtap_leak_tracker *tracker, struct ldtap_leak_suspect *suspect) {
    for (size_t i = 0; i < tracker->series_count; i++) {
        const struct series *peer = &tracker->series[i];
        if (peer->site != suspect->site || peer->group != suspect->group || peer->pid == suspect->pid) {
            continue;
        }
        struct judgement judgement = judge(tracker, peer);
        if (judgement.suspect) {
            suspect->growing_peers++;
        } else if (judgement.lived >= tracker->options.min_intervals) {
            /* A sibling that lived as long is flat there, even where its site never held
             * memory at a snapshot (allocated and freed within a request). */
            suspect->flat_peers++;
            suspect->flat_peer_pid = suspect->flat_peer_pid ? suspect->flat_peer_pid : peer->pid;
        }
    }
}

/* Most sizable sites of the process grow as well: the whole heap grows (warm-up, caches). */
static bool widespread_growth(const struct ldtap_leak_tracker *tracker, int32_t pid) {
    size_t sizable = 0, growing = 0;
    for (size_t i = 0; i < tracker->series_count; i++) {
        if (tracker->series[i].pid == pid) {
            struct judgement judgement = judge(tracker, &tracker->series[i]);
            sizable += judgement.sizable;
            growing += judgement.suspect;
        }
    }
    return sizable >= 3 && growing * 2 > sizable;
}

/* Every suspect of process `pid`, or of every process when `every_process`, unsorted and
 * without peers; NULL when there is none or memory ran out. */
static struct ldtap_leak_suspect *collect_suspects(const struct ldtap_leak_tracker *tracker,
                                                   bool every_process, int32_t pid, size_t *count_out) {
    struct ldtap_leak_suspect *all = NULL;
    size_t count = 0, capacity = 0;
    for (size_t i = 0; i < tracker->series_count; i++) {
        const struct series *series = &tracker->series[i];
        if (!every_process && series->pid != pid) {
            continue;
        }
        struct judgement judgement = judge(tracker, series);
        if (!judgement.suspect || !ldtap_array_reserve((void **)&all, count, &capacity, sizeof *all)) {
            continue;
        }
        uint32_t last = judged_until(series);
        uint64_t elapsed = tracker->times[last] - tracker->times[judgement.since];
        all[count++] = (struct ldtap_leak_suspect){
            .pid = series->pid,
            .group = series->group,
            .site = series->site,
            .live_bytes = series->values[last],
            .growth_bytes = judgement.growth,
            .grew_fraction = judgement.grew_fraction,
            .intervals = judgement.intervals,
            .growth_per_second = elapsed ? (double)judgement.growth * 1e9 / (double)elapsed : 0,
        };
    }
    *count_out = count;
    return all;
}

void ldtap_leak_suspect_compare(const struct ldtap_leak_tracker *tracker,
                                struct ldtap_leak_suspect *suspect) {
    suspect->widespread = widespread_growth(tracker, suspect->pid);
    suspect->growing_peers = suspect->flat_peers = 0;
    suspect->flat_peer_pid = 0;
    compare_with_peers(tracker, suspect);
}

static size_t find_suspects(const struct ldtap_leak_tracker *tracker, bool every_process, int32_t pid,
                            struct ldtap_leak_suspect *suspects, size_t max) {
    size_t count;
    struct ldtap_leak_suspect *all = collect_suspects(tracker, every_process, pid, &count);
    if (count > 1) {
        qsort(all, count, sizeof *all, by_growth);
    }
    size_t written = count < max ? count : max;
    for (size_t i = 0; i < written; i++) {
        suspects[i] = all[i];
        ldtap_leak_suspect_compare(tracker, &suspects[i]);
    }
    free(all);
    return written;
}

static int by_process_then_growth(const void *left, const void *right) {
    const struct ldtap_leak_suspect *a = left, *b = right;
    if (a->pid != b->pid) {
        return a->pid < b->pid ? -1 : 1;
    }
    return by_growth(left, right);
}

void ldtap_leak_visit_ranked(const struct ldtap_leak_tracker *tracker, uint32_t per_process,
                             ldtap_leak_visit visit, void *context) {
    size_t count;
    struct ldtap_leak_suspect *all = collect_suspects(tracker, true, 0, &count);
    if (count > 1) {
        qsort(all, count, sizeof *all, by_process_then_growth);
    }
    uint32_t rank = 0;
    for (size_t i = 0; i < count; i++) {
        rank = i > 0 && all[i].pid == all[i - 1].pid ? rank + 1 : 1;
        if (rank <= per_process) {
            visit(context, &all[i], rank);
        }
    }
    free(all);
}

size_t ldtap_leak_suspects(const struct ldtap_leak_tracker *tracker, struct ldtap_leak_suspect *suspects,
                           size_t max) {
    return find_suspects(tracker, true, 0, suspects, max);
}

size_t ldtap_leak_suspects_of(const struct ldtap_leak_tracker *tracker, int32_t pid,
                              struct ldtap_leak_suspect *suspects, size_t max) {
    return find_suspects(tracker, false, pid, suspects, max);
}

size_t ldtap_leak_series_count(const struct ldtap_leak_tracker *tracker) { return tracker->series_count; }

void ldtap_leak_forget(struct ldtap_leak_tracker *tracker, int32_t pid) {
    /* Swap-remove: the last series takes the freed index, and the map follows it (a put
     * over an existing key never allocates). */
    for (size_t i = 0; i < tracker->series_count;) {
        struct series *series = &tracker->series[i];
        if (series->pid != pid) {
            i++;
            continue;
        }
        ldtap_u64_map_remove(&tracker->series_by_key, series_key(series->pid, series->site), NULL);
        size_t last = --tracker->series_count;
        if (i != last) {
            *series = tracker->series[last];
            ldtap_u64_map_put(&tracker->series_by_key, series_key(series->pid, series->site), i);
        }
    }
    uint64_t index;
    if (ldtap_u64_map_remove(&tracker->process_by_pid, (uint64_t)(uint32_t)pid, &index)) {
        size_t last = --tracker->process_count;
        if (index != last) {
            tracker->processes[index] = tracker->processes[last];
            ldtap_u64_map_put(&tracker->process_by_pid, (uint64_t)(uint32_t)tracker->processes[index].pid, index);
        }
    }
}
