/* The collector's heap profiling: per-process sampled heaps and module maps fed by the
 * drain, periodic leak-suspect snapshots, pprof and SVG files for --heap-profile DIR, and
 * the "leak suspects" section of the exit summary. Used from the drain's thread only. */
#ifndef LDTAP_HEAP_H
#define LDTAP_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LDTAP_HEAP_DEFAULT_PROFILE_INTERVAL_MS 30000u
/* Leak history resolution; the history thins itself (leak_suspects.h), so a fine start
 * costs nothing on long runs and lets a 5-second run show a trend. */
#define LDTAP_HEAP_SNAPSHOT_INTERVAL_MS 1000u

struct ldtap_heap_options {
    const char *profile_directory; /* --heap-profile DIR; NULL: no files */
    uint32_t profile_interval_ms;  /* between files of one process; 0: the default */
    uint32_t snapshot_interval_ms; /* between leak snapshots; 0: the default */
    bool quiet;                    /* no warnings (a directory that cannot be written) */
};

struct ldtap_heap;
struct ldtap_heap_process;
struct ldtap_symbol_process;
struct ldtap_resource;
struct ldtap_log_entry;

/* Receives each leak suspect's log record when it is due (leak_reports.h), from the
 * drain's thread. The entry is the heap's scratch: the sink copies what it keeps. */
typedef void (*ldtap_heap_log_sink)(void *context, struct ldtap_log_entry *entry);

struct ldtap_heap *ldtap_heap_new(const struct ldtap_heap_options *options);
void ldtap_heap_free(struct ldtap_heap *heap);

/* The state of the process (pid, start_ticks), created when first attached; it outlives
 * the ring so that the summary and the last profile can still be made. NULL when out of
 * memory (heap records of that process are then ignored). */
struct ldtap_heap_process *ldtap_heap_attach(struct ldtap_heap *heap, int32_t pid, int32_t parent_pid,
                                             uint64_t start_ticks, const char *service_name);
/* Where leak-suspect log records go; none until set. */
void ldtap_heap_set_log_sink(struct ldtap_heap *heap, ldtap_heap_log_sink sink, void *context);
/* The OpenTelemetry resource of the process (retained): its log records carry it. */
void ldtap_heap_set_resource(struct ldtap_heap_process *process, struct ldtap_resource *resource);
/* The ring header's heap_sample_interval (read again at each metrics sample). */
void ldtap_heap_set_sample_interval(struct ldtap_heap_process *process, uint64_t sample_interval);
/* One MODULE_MAP, HEAP_STACK, HEAP_SAMPLE or HEAP_FREE record; false when it does not
 * decode (the caller counts it as invalid). */
bool ldtap_heap_handle_record(struct ldtap_heap *heap, struct ldtap_heap_process *process, uint32_t type,
                              const uint8_t *payload, size_t length);
/* The process's module map, for crash stacks: MODULE_MAP records when the shim sent any
 * (heap sampling does), else the live process's /proc/<pid>/maps read now. NULL when the
 * process could not be attached. */
struct ldtap_symbol_process *ldtap_heap_process_symbols(struct ldtap_heap_process *process);
/* The process is gone: its last profile is written (with --heap-profile). */
void ldtap_heap_process_exited(struct ldtap_heap *heap, struct ldtap_heap_process *process);
/* The drain no longer refers to `process` (its ring is retired): with eviction on, the
 * process may now be freed once it is gone and reported. */
void ldtap_heap_detach(struct ldtap_heap *heap, struct ldtap_heap_process *process);

/* For `ldtap collect`, which outlives any number of processes: a process that exited is
 * reported (last profile files, its leak suspects on stderr unless quiet) and then
 * forgotten entirely, once its last leak snapshot is taken and the drain has detached
 * it. Off (`ldtap run`): every process is kept for the exit summary. */
void ldtap_heap_set_evict_exited(struct ldtap_heap *heap, bool evict);
/* Processes whose heap state is held (tests, and the bound it keeps). */
size_t ldtap_heap_process_count(const struct ldtap_heap *heap);

/* Leak snapshots and periodic profile files when due; `now_ns` is CLOCK_MONOTONIC. */
void ldtap_heap_tick(struct ldtap_heap *heap, uint64_t now_ns);
/* At exit: a last snapshot and the last profile of every process. */
void ldtap_heap_finish(struct ldtap_heap *heap);

/* The "leak suspects" section: top sites by growth; nothing when no heap data arrived. */
void ldtap_heap_print_summary(struct ldtap_heap *heap, FILE *out);

#endif
