/* Heap profiling glue: routes decoded records to each process's heap profile and module
 * map, takes leak snapshots, writes --heap-profile files, prints the leak suspects and
 * hands their log records to the logs pipeline. */
#include "heap_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "buffer.h"
#include "flamegraph.h"
#include "heap_profile.h"
#include "heap_records.h"
#include "leak_log.h"
#include "leak_reports.h"
#include "leak_suspects.h"
#include "pprof.h"
#include "span.h"
#include "symbolize.h"

#define SUMMARY_SUSPECTS 5

static void evict_reported(struct ldtap_heap *heap);

struct ldtap_heap_process {
    int32_t pid, parent_pid;
    uint64_t start_ticks;
    char service_name[256];
    struct ldtap_resource *resource; /* one reference: its log records carry it */
    uint64_t sample_interval;
    uint64_t attached_realtime_ns;
    struct ldtap_heap_profile profile;
    struct ldtap_symbol_process *symbols;
    bool has_module_map; /* MODULE_MAP records arrived: /proc/<pid>/maps is not needed */
    bool gone;
    bool observed_gone; /* the leak tracker has seen its sites as they were at exit */
    bool changed;        /* records since the last profile file */
    bool detached;       /* the drain dropped its pointer: eviction may free it */
    uint32_t files_written;
    struct ldtap_heap_process *next;
};

struct ldtap_heap {
    struct ldtap_heap_options options;
    char *directory;
    struct ldtap_symbolizer *symbolizer;
    struct ldtap_leak_tracker *leaks;
    struct ldtap_leak_reports *reports; /* which suspects had their log record */
    ldtap_heap_log_sink log_sink;       /* NULL: no log records */
    void *log_context;
    struct ldtap_log_entry *log_entry; /* scratch: large, so not on the stack */
    struct ldtap_heap_process *processes;
    uint64_t last_snapshot_ns, last_files_ns;
    bool warned;
    bool evict_exited; /* ldtap collect: forget processes once gone and reported */
    struct ldtap_heap_stack stack;    /* decode scratch: large, so not on the stack */
    struct ldtap_module_map module_map;
};

struct ldtap_heap *ldtap_heap_new(const struct ldtap_heap_options *options) {
    struct ldtap_heap *heap = calloc(1, sizeof *heap);
    if (!heap) {
        return NULL;
    }
    heap->options = *options;
    heap->options.profile_interval_ms =
        options->profile_interval_ms ? options->profile_interval_ms : LDTAP_HEAP_DEFAULT_PROFILE_INTERVAL_MS;
    heap->options.snapshot_interval_ms =
        options->snapshot_interval_ms ? options->snapshot_interval_ms : LDTAP_HEAP_SNAPSHOT_INTERVAL_MS;
    heap->directory = options->profile_directory ? strdup(options->profile_directory) : NULL;
    heap->options.profile_directory = heap->directory;
    heap->symbolizer = ldtap_symbolizer_new();
    heap->leaks = ldtap_leak_tracker_new(NULL);
    heap->reports = ldtap_leak_reports_new();
    heap->log_entry = malloc(sizeof *heap->log_entry);
    if ((options->profile_directory && !heap->directory) || !heap->symbolizer || !heap->leaks ||
        !heap->reports || !heap->log_entry) {
        ldtap_heap_free(heap);
        return NULL;
    }
    return heap;
}

void ldtap_heap_free(struct ldtap_heap *heap) {
    if (!heap) {
        return;
    }
    while (heap->processes) {
        struct ldtap_heap_process *process = heap->processes;
        heap->processes = process->next;
        ldtap_heap_profile_release(&process->profile);
        ldtap_resource_release(process->resource);
        free(process);
    }
    ldtap_symbolizer_free(heap->symbolizer);
    ldtap_leak_tracker_free(heap->leaks);
    ldtap_leak_reports_free(heap->reports);
    free(heap->log_entry);
    free(heap->directory);
    free(heap);
}

struct ldtap_heap_process *ldtap_heap_attach(struct ldtap_heap *heap, int32_t pid, int32_t parent_pid,
                                             uint64_t start_ticks, const char *service_name) {
    for (struct ldtap_heap_process *process = heap->processes; process; process = process->next) {
        if (process->pid == pid && process->start_ticks == start_ticks) {
            return process;
        }
    }
    struct ldtap_heap_process *process = calloc(1, sizeof *process);
    if (!process) {
        return NULL;
    }
    process->symbols = ldtap_symbolizer_process(heap->symbolizer, pid, start_ticks);
    if (!process->symbols) {
        free(process);
        return NULL;
    }
    process->pid = pid;
    process->parent_pid = parent_pid;
    process->start_ticks = start_ticks;
    snprintf(process->service_name, sizeof process->service_name, "%s", service_name ? service_name : "");
    process->attached_realtime_ns = ldtap_realtime_ns();
    ldtap_heap_profile_init(&process->profile);
    process->next = heap->processes;
    heap->processes = process;
    return process;
}

void ldtap_heap_set_log_sink(struct ldtap_heap *heap, ldtap_heap_log_sink sink, void *context) {
    if (heap) {
        heap->log_sink = sink;
        heap->log_context = context;
    }
}

void ldtap_heap_set_resource(struct ldtap_heap_process *process, struct ldtap_resource *resource) {
    if (process && process->resource != resource) {
        ldtap_resource_retain(resource);
        ldtap_resource_release(process->resource);
        process->resource = resource;
    }
}

void ldtap_heap_set_sample_interval(struct ldtap_heap_process *process, uint64_t sample_interval) {
    if (process) {
        process->sample_interval = sample_interval;
    }
}

static void add_module_map(struct ldtap_heap_process *process, const struct ldtap_module_map *map) {
    if (map->record.flags & LDTAP_MODULE_FLAG_NO_FILE) {
        return;
    }
    process->has_module_map = true;
    for (uint16_t i = 0; i < map->record.segment_count; i++) {
        const struct ldtap_module_segment *segment = &map->segments[i];
        ldtap_symbol_process_add_mapping(process->symbols, map->path, segment->start, segment->start + segment->size,
                                         segment->file_offset);
    }
}

struct ldtap_symbol_process *ldtap_heap_process_symbols(struct ldtap_heap_process *process) {
    if (process && !process->has_module_map && !process->gone) {
        /* No module map arrived (dropped, heap sampling off, an older shim): the live
         * process's own, read once. */
        process->has_module_map = ldtap_symbol_process_load_proc_maps(process->symbols, process->pid) > 0;
    }
    return process ? process->symbols : NULL;
}

bool ldtap_heap_handle_record(struct ldtap_heap *heap, struct ldtap_heap_process *process, uint32_t type,
                              const uint8_t *payload, size_t length) {
    if (!process) {
        return true; /* out of memory at attach: counted nowhere, as for other records */
    }
    process->changed = true;
    switch (type) {
    case LDTAP_RECORD_MODULE_MAP:
        if (!ldtap_decode_module_map(payload, length, &heap->module_map)) {
            return false;
        }
        add_module_map(process, &heap->module_map);
        return true;
    case LDTAP_RECORD_HEAP_STACK:
        if (!ldtap_decode_heap_stack(payload, length, &heap->stack)) {
            return false;
        }
        ldtap_heap_process_symbols(process);
        ldtap_heap_profile_add_stack(&process->profile, heap->stack.record.stack_id, heap->stack.pcs,
                                     heap->stack.record.frame_count, heap->stack.record.flags);
        return true;
    case LDTAP_RECORD_HEAP_SAMPLE: {
        struct ldtap_heap_sample_record sample;
        if (!ldtap_decode_heap_sample(payload, length, &sample)) {
            return false;
        }
        ldtap_heap_profile_sample(&process->profile, sample.address, sample.size, sample.weight_bytes,
                                  sample.stack_id);
        return true;
    }
    case LDTAP_RECORD_HEAP_FREE: {
        struct ldtap_heap_free_record free_record;
        if (!ldtap_decode_heap_free(payload, length, &free_record)) {
            return false;
        }
        ldtap_heap_profile_free(&process->profile, free_record.address);
        return true;
    }
    default:
        return false;
    }
}

/* The service name as a file-name part: anything but [A-Za-z0-9._-] becomes '_'. */
static void file_safe(const char *text, char *out, size_t size) {
    size_t length = 0;
    for (; *text && length + 1 < size; text++) {
        char c = *text;
        bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
        out[length++] = safe ? c : '_';
    }
    out[length] = '\0';
    if (length == 0 || out[0] == '.') {
        snprintf(out, size, "process");
    }
}

static void warn_once(struct ldtap_heap *heap, const char *path, int error) {
    if (!heap->warned && !heap->options.quiet) {
        fprintf(stderr, "ldtap: warning: --heap-profile: cannot write %s: %s\n", path, strerror(error));
    }
    heap->warned = true;
}

static void write_files(struct ldtap_heap *heap, struct ldtap_heap_process *process) {
    process->changed = false;
    if (!heap->directory || process->profile.site_count == 0) {
        return;
    }
    char service[128], path[4096];
    file_safe(process->service_name, service, sizeof service);
    int prefix = snprintf(path, sizeof path, "%s/heap-%s-%d-%u", heap->directory, service, (int)process->pid,
                          process->files_written);
    if (prefix < 0 || (size_t)prefix + 8 >= sizeof path) {
        return;
    }
    process->files_written++;
    struct ldtap_buffer buffer;
    ldtap_buffer_init(&buffer);
    uint64_t now = ldtap_realtime_ns();
    struct ldtap_pprof_options options = {
        .time_ns = now,
        .duration_ns = now > process->attached_realtime_ns ? now - process->attached_realtime_ns : 0,
        .sample_interval = process->sample_interval,
    };
    strcpy(path + prefix, ".pb.gz");
    int result = ldtap_pprof_encode(&process->profile, process->symbols, &options, &buffer)
                     ? ldtap_write_gzip_file(path, buffer.data, buffer.length)
                     : -ENOMEM;
    if (result != 0) {
        warn_once(heap, path, -result);
    }
    ldtap_buffer_reset(&buffer);
    char title[512];
    snprintf(title, sizeof title, "Live heap of %s, pid %d", process->service_name, (int)process->pid);
    strcpy(path + prefix, ".svg");
    FILE *file = NULL;
    if (ldtap_flamegraph_render(&process->profile, process->symbols, title, &buffer) && (file = fopen(path, "we"))) {
        bool written = fwrite(buffer.data, 1, buffer.length, file) == buffer.length;
        if (fclose(file) != 0 || !written) {
            warn_once(heap, path, EIO);
        }
    } else {
        warn_once(heap, path, file ? ENOMEM : errno);
    }
    ldtap_buffer_free(&buffer);
}

void ldtap_heap_process_exited(struct ldtap_heap *heap, struct ldtap_heap_process *process) {
    if (process && !process->gone) {
        process->gone = true;
        if (process->changed) {
            write_files(heap, process);
        }
    }
}

void ldtap_heap_detach(struct ldtap_heap *heap, struct ldtap_heap_process *process) {
    (void)heap;
    if (process) {
        process->detached = true; /* freed by the next tick that finds it reported */
    }
}

void ldtap_heap_set_evict_exited(struct ldtap_heap *heap, bool evict) {
    if (heap) {
        heap->evict_exited = evict;
    }
}

size_t ldtap_heap_process_count(const struct ldtap_heap *heap) {
    size_t count = 0;
    for (const struct ldtap_heap_process *process = heap ? heap->processes : NULL; process; process = process->next) {
        count++;
    }
    return count;
}

static void report_suspects(struct ldtap_heap *heap, uint64_t time_ns);

static void snapshot(struct ldtap_heap *heap) {
    bool any = false;
    for (const struct ldtap_heap_process *process = heap->processes; process && !any; process = process->next) {
        any = process->profile.site_count > 0;
    }
    if (!any) {
        return; /* no heap data at all: keep the history for when it comes */
    }
    uint64_t time_ns = ldtap_realtime_ns();
    ldtap_leak_snapshot_begin(heap->leaks, time_ns);
    for (struct ldtap_heap_process *process = heap->processes; process; process = process->next) {
        if (process->observed_gone) {
            continue; /* its series stay as they were when it exited */
        }
        process->observed_gone = process->gone; /* one last look at what it left behind */
        for (size_t i = 0; i < process->profile.site_count; i++) {
            const struct ldtap_heap_site *site = &process->profile.sites[i];
            ldtap_leak_observe(heap->leaks, process->pid, (uint64_t)(uint32_t)process->parent_pid, site->stack_id,
                               site->live_bytes, process->sample_interval);
        }
        if (process->observed_gone) {
            ldtap_leak_process_exited(heap->leaks, process->pid);
        }
    }
    ldtap_leak_snapshot_end(heap->leaks);
    report_suspects(heap, time_ns);
}

void ldtap_heap_tick(struct ldtap_heap *heap, uint64_t now_ns) {
    if (now_ns - heap->last_snapshot_ns >= (uint64_t)heap->options.snapshot_interval_ms * 1000000ull) {
        heap->last_snapshot_ns = now_ns;
        snapshot(heap);
        if (heap->evict_exited) {
            evict_reported(heap);
        }
    }
    if (heap->directory && now_ns - heap->last_files_ns >= (uint64_t)heap->options.profile_interval_ms * 1000000ull) {
        if (heap->last_files_ns != 0) { /* not at start: the first files come one interval in */
            for (struct ldtap_heap_process *process = heap->processes; process; process = process->next) {
                if (process->changed && !process->gone) {
                    write_files(heap, process);
                }
            }
        }
        heap->last_files_ns = now_ns;
    }
}

void ldtap_heap_finish(struct ldtap_heap *heap) {
    snapshot(heap);
    for (struct ldtap_heap_process *process = heap->processes; process; process = process->next) {
        if (process->changed || process->files_written == 0) {
            write_files(heap, process);
        }
    }
}

static void print_suspect(struct ldtap_heap *heap, const struct ldtap_leak_suspect *suspect, size_t rank,
                          FILE *out);

/* Writes what is left to say about an exited process before it is forgotten: its last
 * profile files (when records came after them) and its leak suspects. */
static void final_report(struct ldtap_heap *heap, struct ldtap_heap_process *process) {
    if (process->changed) {
        write_files(heap, process);
    }
    struct ldtap_leak_suspect suspects[SUMMARY_SUSPECTS];
    size_t count = ldtap_leak_suspects_of(heap->leaks, process->pid, suspects, SUMMARY_SUSPECTS);
    if (count == 0 || heap->options.quiet) {
        return;
    }
    fprintf(stderr, "ldtap: leak suspects of pid %d (%s), which exited:\n", (int)process->pid,
            process->service_name);
    for (size_t i = 0; i < count; i++) {
        print_suspect(heap, &suspects[i], i + 1, stderr);
    }
}

/* Frees every process that exited, had its last look from the leak tracker and is no
 * longer referred to by the drain; its leak series go too. */
static void evict_reported(struct ldtap_heap *heap) {
    for (struct ldtap_heap_process **link = &heap->processes; *link;) {
        struct ldtap_heap_process *process = *link;
        /* Without sites it has nothing for the leak tracker to look at. */
        bool looked_at = process->observed_gone || process->profile.site_count == 0;
        if (!process->gone || !looked_at || !process->detached) {
            link = &process->next;
            continue;
        }
        final_report(heap, process);
        ldtap_leak_forget(heap->leaks, process->pid);
        ldtap_leak_reports_forget(heap->reports, process->pid);
        *link = process->next;
        ldtap_symbolizer_forget(heap->symbolizer, process->symbols);
        ldtap_heap_profile_release(&process->profile);
        ldtap_resource_release(process->resource);
        free(process);
    }
}

static struct ldtap_heap_process *process_of(struct ldtap_heap *heap, int32_t pid) {
    for (struct ldtap_heap_process *process = heap->processes; process; process = process->next) {
        if (process->pid == pid) {
            return process;
        }
    }
    return NULL;
}

/* The site's name (ldtap_leak_site_frame) with file:line when known. */
static void site_label(struct ldtap_heap_process *process, const struct ldtap_heap_site *site, char *out,
                       size_t size) {
    struct ldtap_symbol symbol;
    uint64_t address;
    if (ldtap_leak_site_frame(process->symbols, site, &symbol, &address)) {
        ldtap_symbol_format(&symbol, address, true, out, size);
    } else {
        snprintf(out, size, "[stack not received]");
    }
}

struct report_context {
    struct ldtap_heap *heap;
    uint64_t time_ns;
};

static void report_suspect(void *context, const struct ldtap_leak_suspect *found, uint32_t rank) {
    struct report_context *report = context;
    struct ldtap_heap *heap = report->heap;
    struct ldtap_heap_process *process = process_of(heap, found->pid);
    enum ldtap_leak_report reason =
        process ? ldtap_leak_reports_due(heap->reports, found->pid, found->site, found->growth_bytes, rank)
                : LDTAP_LEAK_REPORT_NONE;
    if (reason == LDTAP_LEAK_REPORT_NONE) {
        return;
    }
    struct ldtap_leak_suspect suspect = *found;
    ldtap_leak_suspect_compare(heap->leaks, &suspect); /* only now: a pass over every series */
    ldtap_leak_log_entry(heap->log_entry, &suspect, rank, reason, process->symbols,
                         ldtap_heap_profile_site(&process->profile, suspect.site), report->time_ns);
    heap->log_entry->resource = process->resource;
    heap->log_sink(heap->log_context, heap->log_entry);
}

/* Each process's largest suspects, as log records when due (leak_reports.h). */
static void report_suspects(struct ldtap_heap *heap, uint64_t time_ns) {
    if (heap->log_sink) {
        struct report_context context = {heap, time_ns};
        ldtap_leak_visit_ranked(heap->leaks, SUMMARY_SUSPECTS, report_suspect, &context);
    }
}

void ldtap_heap_print_summary(struct ldtap_heap *heap, FILE *out) {
    if (!heap || ldtap_leak_snapshots(heap->leaks) == 0) {
        return;
    }
    struct ldtap_leak_suspect suspects[SUMMARY_SUSPECTS];
    size_t count = ldtap_leak_suspects(heap->leaks, suspects, SUMMARY_SUSPECTS);
    fprintf(out, "\nleak suspects (sites whose estimated live heap kept growing): %s\n", count ? "" : "none");
    for (size_t i = 0; i < count; i++) {
        print_suspect(heap, &suspects[i], i + 1, out);
    }
}

/* Two lines per site keep the table within 80 columns whatever the name's length. */
static void print_suspect(struct ldtap_heap *heap, const struct ldtap_leak_suspect *suspect, size_t rank,
                          FILE *out) {
    struct ldtap_heap_process *process = process_of(heap, suspect->pid);
    char label[512] = "?", live[32], growth[32], rate[32], peers[96] = "";
    if (process) {
        site_label(process, ldtap_heap_profile_site(&process->profile, suspect->site), label, sizeof label);
    }
    ldtap_format_bytes(suspect->live_bytes, live, sizeof live);
    ldtap_format_bytes(suspect->growth_bytes, growth, sizeof growth);
    ldtap_format_bytes((uint64_t)suspect->growth_per_second, rate, sizeof rate);
    if (suspect->flat_peers) {
        snprintf(peers, sizeof peers, "; flat in %u other worker(s), e.g. pid %d", suspect->flat_peers,
                 (int)suspect->flat_peer_pid);
    } else if (suspect->growing_peers) {
        snprintf(peers, sizeof peers, "; grows in %u other worker(s) too", suspect->growing_peers);
    }
    fprintf(out, "  %zu. %s\n", rank, label);
    fprintf(out, "     pid %d  live %s  +%s (%s/s)%s%s\n", (int)suspect->pid, live, growth, rate, peers,
            suspect->widespread ? "; most of its heap grows too" : "");
}
