/* Leak suspects: snapshots of each allocation site's estimated live bytes over time, per
 * process; a site whose estimate keeps growing (in most intervals since it first held
 * memory, by much more than it ever dropped) is a suspect, ranked by growth and compared
 * with the same site in the process's sibling workers (pre-fork servers). */
#ifndef LDTAP_LEAK_SUSPECTS_H
#define LDTAP_LEAK_SUSPECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Snapshots kept per site; when full, every other one is dropped (the spacing doubles), so
 * a short run keeps fine resolution and a long one still spans its whole life. */
#define LDTAP_LEAK_HISTORY 32u

struct ldtap_leak_options {
    double grew_fraction;       /* share of intervals that must grow (0.75) */
    uint32_t min_intervals;     /* intervals needed before judging (3) */
    uint64_t min_growth_bytes;  /* smallest growth reported (1 MiB) */
    /* Sampling noise: a steady site moves by a few samples' weight, so growth must also
     * exceed this many times the process's mean sampling interval (8). */
    uint32_t noise_samples;
};

#define LDTAP_LEAK_DEFAULT_OPTIONS ((struct ldtap_leak_options){0.75, 3, 1024u * 1024u, 8})

struct ldtap_leak_suspect {
    int32_t pid;
    uint64_t group;          /* what the caller passed: siblings share it (the parent pid) */
    uint64_t site;           /* the caller's site key (a stack id) */
    uint64_t live_bytes;     /* estimate at the latest snapshot */
    uint64_t growth_bytes;   /* latest - first snapshot since the site first held memory */
    double grew_fraction;    /* intervals that grew / intervals */
    uint32_t intervals;      /* since the site first held memory */
    double growth_per_second;
    bool widespread;         /* most of this process's sizable sites grow too (warm-up?) */
    uint32_t growing_peers;  /* siblings where the same site also grows */
    uint32_t flat_peers;     /* siblings where it does not */
    int32_t flat_peer_pid;   /* one of those, 0: none */
};

struct ldtap_leak_tracker;

struct ldtap_leak_tracker *ldtap_leak_tracker_new(const struct ldtap_leak_options *options);
void ldtap_leak_tracker_free(struct ldtap_leak_tracker *tracker);

/* One snapshot: begin, observe every site of every live process, end. `sample_interval`
 * is the process's mean sampling interval in bytes. A site not observed in a snapshot
 * keeps its last value (a process that exited stays as it was). */
void ldtap_leak_snapshot_begin(struct ldtap_leak_tracker *tracker, uint64_t time_ns);
void ldtap_leak_observe(struct ldtap_leak_tracker *tracker, int32_t pid, uint64_t group, uint64_t site,
                        uint64_t live_bytes, uint64_t sample_interval);
void ldtap_leak_snapshot_end(struct ldtap_leak_tracker *tracker);

/* The process exited (call after its last ldtap_leak_observe): it is judged on its life
 * up to its peak, so that the frees of its own teardown (an interpreter freeing every
 * object at exit) do not erase the growth that came before. */
void ldtap_leak_process_exited(struct ldtap_leak_tracker *tracker, int32_t pid);

/* Snapshots taken so far. */
uint64_t ldtap_leak_snapshots(const struct ldtap_leak_tracker *tracker);

/* Writes up to `max` suspects, largest growth first; returns how many. */
size_t ldtap_leak_suspects(const struct ldtap_leak_tracker *tracker, struct ldtap_leak_suspect *suspects, size_t max);
/* The same for one process only. */
size_t ldtap_leak_suspects_of(const struct ldtap_leak_tracker *tracker, int32_t pid,
                              struct ldtap_leak_suspect *suspects, size_t max);

/* Calls `visit` for the `per_process` suspects of largest growth of every process, with
 * their rank in it (1: the largest), processes in pid order. Cheaper than a list per
 * process (one pass over the series); `widespread` and the peer fields are left zero. */
typedef void (*ldtap_leak_visit)(void *context, const struct ldtap_leak_suspect *suspect, uint32_t rank);
void ldtap_leak_visit_ranked(const struct ldtap_leak_tracker *tracker, uint32_t per_process,
                             ldtap_leak_visit visit, void *context);
/* Fills `widespread` and the peer fields of a suspect (a pass over every series). */
void ldtap_leak_suspect_compare(const struct ldtap_leak_tracker *tracker, struct ldtap_leak_suspect *suspect);

/* Forgets every series of the process (it exited and was reported): memory stays bounded
 * in a collector that outlives many processes. Its siblings lose it as a peer. */
void ldtap_leak_forget(struct ldtap_leak_tracker *tracker, int32_t pid);
/* Series tracked (one per process and site). */
size_t ldtap_leak_series_count(const struct ldtap_leak_tracker *tracker);

#endif
