/* The drain loop's per-ring state: attach (validated open, process identity, resource),
 * read records, decode, summarise, sample, enqueue, and retire dead empty rings. */
#include "drain.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "db_rollup.h"
#include "decode_crash.h"
#include "decode_db.h"
#include "decode_http.h"
#include "decode_log.h"
#include "discovery.h"
#include "exception_join.h"
#include "ldtap_ring.h"
#include "ledger.h"
#include "ring_guard.h"
#include "ring_owner.h"
#include "statement_cache.h"
#include "traceback.h"

/* Bounds one ring's share of a step so that a busy ring cannot starve the others. */
#define RECORDS_PER_STEP 4096
#define RESCAN_INTERVAL_NS 1000000000ull
/* A ring whose header stays invalid this long (its creator died before publishing the
 * magic, or it is not a ring) is reported once and ignored. */
#define OPEN_RETRY_NS 2000000000ull
/* How often each live process's /proc and header counters feed the metric store. */
#define METRICS_INTERVAL_NS 1000000000ull
/* Busy passes run back to back: reading /proc/<pid>/stat on each was measurable. A dead
 * process is noticed this much later at most. */
#define ALIVE_CHECK_NS 100000000ull

enum ring_status { RING_PENDING, RING_ATTACHED, RING_BUSY, RING_IGNORED };

/* Header counters as last read, kept so that they outlive the mapping. */
struct ring_counters {
    uint64_t dropped_ring_full;
    uint64_t unparented_async;
    uint64_t skipped_uncommitted;
    uint64_t invalid_records;
    uint64_t durability_waived; /* ldtap_ledger_waived, kept past the ledger */
};

struct ring_state {
    char name[NAME_MAX + 1];
    enum ring_status status;
    struct ldtap_ring_reader reader;
    struct ldtap_ledger *ledger;     /* owns `reader` while attached */
    int guard_slot;                  /* ring_guard.h slot of the mapping; -1: none */
    bool all_read;                   /* the process is gone and every record it wrote has been read */
    struct ldtap_resource *resource; /* one reference, held while attached */
    char service_name[LDTAP_NAME_BYTES * 2];
    int32_t pid;
    uint64_t process_start_ticks;
    bool process_gone; /* sticky: a pid that died never comes back as the same process */
    uint64_t first_seen_ns;
    uint64_t last_metrics_ns;
    uint64_t last_alive_check_ns;            /* /proc is read at most every ALIVE_CHECK_NS */
    bool reported_gone;                      /* the metric store was told the process ended */
    struct ldtap_db_rollup *db_rollup;       /* per-request query rollups; NULL if out of memory */
    struct ldtap_heap_process *heap_process; /* owned by options.heap; NULL: no heap profiling */
    struct ldtap_exception_join *join;       /* tracebacks and crashes to server spans; NULL: OOM */
    /* The type the summary counted for the last traceback: a chain's next part replaces it. */
    char last_exception_type[64];
    size_t last_exception_type_length;
    struct ring_counters counters;
    struct ring_state *next;
};

struct ldtap_drain {
    struct ldtap_drain_options options;
    char directory[PATH_MAX];
    struct ldtap_discovery *discovery;
    struct ring_state *rings;
    uint64_t last_scan_ns;
    uint64_t last_self_metrics_ns;
    uint64_t decoded;
    uint64_t sampled_out;
    uint64_t undecodable;
    uint64_t corrupt_rings;
    uint64_t retired_rollup_evictions;
    uint64_t records_taken;       /* records read from rings, of any type: tells a busy pass */
    bool finishing;               /* ldtap_drain_finish: read everything, whatever the queue says */
    struct ring_counters retired; /* sums over rings already removed */
    struct ldtap_ring_record *record;
    struct ldtap_span *span;
    /* LOG and CRASH decode scratch: large, so not on the stack. */
    struct ldtap_log_entry *log_entry;
    struct ldtap_traceback *traceback;
    struct ldtap_crash *crash;
};

/* Whether `pid` still runs and is the process that created the ring: field 22 of
 * /proc/<pid>/stat (start time in clock ticks) tells a reused pid; a zombie has exited. */
static bool process_alive(int32_t pid, uint64_t start_ticks) {
    if (pid <= 0) {
        return false;
    }
    char path[64];
    char text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "re");
    if (!file) {
        return false;
    }
    size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[length] = '\0';
    const char *fields = strrchr(text, ')'); /* the command name may contain spaces and ')' */
    if (!fields || fields[1] != ' ') {
        return false;
    }
    char state = fields[2];
    if (state == 'Z' || state == 'X') {
        return false;
    }
    const char *field = fields + 2;
    for (int number = 3; number < 22 && field; number++) {
        field = strchr(field, ' ');
        field = field ? field + 1 : NULL;
    }
    unsigned long long ticks = field ? strtoull(field, NULL, 10) : 0;
    return start_ticks == 0 || ticks == start_ticks;
}

static void warn(const struct ldtap_drain *drain, const char *format, const char *name, const char *detail) {
    if (!drain->options.quiet) {
        fprintf(stderr, "ldtap: warning: ");
        fprintf(stderr, format, drain->directory, name, detail);
        fputc('\n', stderr);
    }
}

static void read_counters(struct ring_state *ring) {
    /* Plain numbers from a hostile mapping: at worst wrong totals, never a wrong access. */
    const volatile struct ldtap_ring_header *header = ring->reader.header;
    ring->counters.dropped_ring_full = header->dropped_ring_full;
    ring->counters.unparented_async = header->unparented_async_spans;
    ring->counters.skipped_uncommitted = header->skipped_uncommitted;
    ring->counters.invalid_records = header->invalid_records;
    ring->counters.durability_waived = ldtap_ledger_waived(ring->ledger);
    ldtap_heap_set_sample_interval(ring->heap_process, header->heap_sample_interval);
}

static void close_reader(struct ring_state *ring) {
    ldtap_ledger_close(ring->ledger); /* closes the reader */
    ring->ledger = NULL;
    ldtap_ring_guard_remove(ring->guard_slot); /* after the unmapping: no access is left */
    ring->guard_slot = -1;
}

static void attach(struct ldtap_drain *drain, struct ring_state *ring, uint64_t now) {
    char path[PATH_MAX + NAME_MAX + 2];
    char error[256] = "";
    snprintf(path, sizeof path, "%s/%s", drain->directory, ring->name);
    int result = ldtap_ring_reader_open(&ring->reader, path, error, sizeof error);
    if (result == -EWOULDBLOCK || result == -EAGAIN) {
        ring->status = RING_BUSY; /* another collector drains it; look again on the next scan */
        return;
    }
    if (result != 0) {
        if (result == -ENOENT) {
            ring->status = RING_IGNORED;
        } else if (now >= ring->first_seen_ns + OPEN_RETRY_NS) { /* first_seen may be later than now */
            warn(drain, "%s/%s: %s; ignoring it", ring->name, error[0] ? error : strerror(-result));
            ring->status = RING_IGNORED;
        }
        return;
    }
    struct ldtap_ring_header header;
    memcpy(&header, ring->reader.header, sizeof header);
    ring->resource = ldtap_resource_build(&header, &drain->options.resource_defaults);
    ring->ledger = ring->resource ? ldtap_ledger_new(&ring->reader) : NULL;
    if (!ring->ledger) {
        ldtap_resource_release(ring->resource);
        ring->resource = NULL;
        ldtap_ring_reader_close(&ring->reader);
        return; /* out of memory: try again on the next step */
    }
    snprintf(ring->service_name, sizeof ring->service_name, "%s",
             ldtap_resource_service_name(ring->resource));
    ring->guard_slot = ldtap_ring_guard_add(ring->reader.header, ring->reader.mapping_size);
    ring->pid = header.pid;
    ring->process_start_ticks = header.process_start_ticks;
    ring->status = RING_ATTACHED;
    if (drain->options.heap) {
        ring->heap_process = ldtap_heap_attach(drain->options.heap, header.pid, header.parent_pid,
                                               header.process_start_ticks, ring->service_name);
        ldtap_heap_set_resource(ring->heap_process, ring->resource);
        /* Now, while the process lives: a crash record is read after it died, and a shim
         * without heap sampling sends no module map to symbolize the crash with. */
        ldtap_heap_process_symbols(ring->heap_process);
    }
    ldtap_summary_add_process(drain->options.summary, ring->service_name);
}

static void ring_found(const char *name, uid_t owner, void *context) {
    struct ldtap_drain *drain = context;
    for (struct ring_state *ring = drain->rings; ring; ring = ring->next) {
        if (strcmp(ring->name, name) == 0) {
            if (ring->status == RING_BUSY) {
                ring->status = RING_PENDING;
            }
            return;
        }
    }
    /* After the lookup: proving another user's ring reads /proc, once is enough. */
    if (!ldtap_ring_owner_accepted(drain->directory, name, owner, drain->options.all_users)) {
        return;
    }
    struct ring_state *ring = calloc(1, sizeof *ring);
    if (!ring || strlen(name) >= sizeof ring->name) {
        free(ring);
        return;
    }
    strcpy(ring->name, name);
    ring->reader.fd = -1;
    ring->guard_slot = -1;
    ring->first_seen_ns = ldtap_monotonic_ns();
    ring->db_rollup = ldtap_db_rollup_new();
    ring->join = ldtap_exception_join_new();
    ring->next = drain->rings;
    drain->rings = ring;
}

/* Decodes by record type into drain->span; a database span also fills `statement`. */
static bool decode_record(struct ldtap_drain *drain, struct ring_state *ring,
                          struct ldtap_db_statement *statement) {
    const struct ldtap_ring_record *record = drain->record;
    if (record->payload_length < sizeof(struct ldtap_span_common)) {
        return false;
    }
    if (record->type == LDTAP_RECORD_DB_SPAN) {
        return ldtap_decode_db_span(record->payload, record->payload_length, &drain->options.database,
                                    drain->span, statement);
    }
    return record->type == LDTAP_RECORD_HTTP_SPAN &&
           ldtap_decode_http_span(record->payload, record->payload_length, drain->options.routes,
                                  ring->service_name, drain->span);
}

static bool is_heap_record(uint32_t type) {
    return type == LDTAP_RECORD_MODULE_MAP || type == LDTAP_RECORD_HEAP_STACK ||
           type == LDTAP_RECORD_HEAP_SAMPLE || type == LDTAP_RECORD_HEAP_FREE;
}

/* What follows metrics for every span (ldtap_span_sink): sampling, then the exporter. The
 * exception join calls it too, for the error spans it held back. */
static void export_span(void *context, struct ldtap_span *span, uint16_t record_flags) {
    struct ldtap_drain *drain = context;
    if (!ldtap_sampler_keep(drain->options.sampler, span->trace_id, record_flags)) {
        drain->sampled_out++;
        ldtap_claim_settle(&span->claim);
        return;
    }
    if (drain->options.exporter) {
        /* Takes the claim; a full queue counts its own drops. */
        ldtap_exporter_enqueue(drain->options.exporter, span);
    } else {
        ldtap_claim_settle(&span->claim);
    }
}

/* A line or traceback: a traceback inside a request becomes that span's exception event;
 * every record becomes a log entry for the logs exporter. */
static bool handle_log(struct ldtap_drain *drain, struct ring_state *ring, struct ldtap_claim *claim,
                       uint64_t now) {
    const struct ldtap_ring_record *record = drain->record;
    struct ldtap_log_entry *entry = drain->log_entry;
    if (!ldtap_decode_log(record->payload, record->payload_length, ldtap_realtime_ns(), entry,
                          drain->traceback)) {
        return false;
    }
    entry->resource = ring->resource;
    entry->claim = *claim; /* the log record is what the ring is owed for it */
    *claim = (struct ldtap_claim){0};
    struct ldtap_span_events *events = ldtap_log_exception_events(entry);
    if (events) {
        const struct ldtap_attribute *type = ldtap_log_entry_find(entry, "exception.type");
        const struct ldtap_attribute *message = ldtap_log_entry_find(entry, "exception.message");
        const char *type_text = ldtap_log_entry_string(entry, type);
        /* A chain's later part: the summary counts the exception that propagated, once. */
        if (ring->last_exception_type_length &&
            ldtap_traceback_starts_chained(entry->text, entry->body_length)) {
            ldtap_summary_retract_exception(drain->options.summary, ring->service_name,
                                            ring->last_exception_type, ring->last_exception_type_length);
        }
        ldtap_summary_add_exception(drain->options.summary, ring->service_name, type_text,
                                    type->string_length,
                                    message ? ldtap_log_entry_string(entry, message) : "",
                                    message ? message->string_length : 0, NULL, 0);
        ring->last_exception_type_length = type->string_length < sizeof ring->last_exception_type
                                               ? type->string_length
                                               : sizeof ring->last_exception_type;
        memcpy(ring->last_exception_type, type_text, ring->last_exception_type_length);
        ldtap_exception_join_report(ring->join, entry->span_id, events, now);
    }
    if (drain->options.log_exporter) {
        /* Takes the claim; a full queue counts its own drops. */
        ldtap_log_exporter_enqueue(drain->options.log_exporter, entry);
    } else {
        ldtap_claim_settle(&entry->claim);
    }
    return true;
}

/* A fatal signal: its symbolized stack goes to the crashed request's span and the summary. */
static bool handle_crash(struct ldtap_drain *drain, struct ring_state *ring, uint64_t now) {
    const struct ldtap_ring_record *record = drain->record;
    struct ldtap_crash *crash = drain->crash;
    if (!ldtap_decode_crash(record->payload, record->payload_length, crash)) {
        return false;
    }
    struct ldtap_symbol_process *symbols = ldtap_heap_process_symbols(ring->heap_process);
    char buffer[16], message[128], stack[1024];
    const char *name = ldtap_signal_name(crash->record.signal, buffer, sizeof buffer);
    size_t message_length = ldtap_crash_message(crash, message, sizeof message);
    size_t stack_length = ldtap_crash_stacktrace(crash, symbols, 5, stack, sizeof stack);
    ldtap_summary_add_exception(drain->options.summary, ring->service_name, name, strlen(name), message,
                                message_length, stack, stack_length);
    ldtap_exception_join_report(ring->join, crash->record.span_id, ldtap_crash_events(crash, symbols), now);
    return true;
}

/* `claim` pins the record in the ring: it moves to the span or log entry made from the
 * record, or, for a record that goes nowhere else, is settled here (see handle_record). */
static void handle_record_claimed(struct ldtap_drain *drain, struct ring_state *ring,
                                  struct ldtap_claim *claim, uint64_t now) {
    const struct ldtap_ring_record *record = drain->record;
    if (record->type == LDTAP_RECORD_LOG || record->type == LDTAP_RECORD_CRASH) {
        bool valid = record->type == LDTAP_RECORD_LOG ? handle_log(drain, ring, claim, now)
                                                      : handle_crash(drain, ring, now);
        drain->undecodable += !valid;
        return;
    }
    if (is_heap_record(record->type)) {
        bool valid = !drain->options.heap ||
                     ldtap_heap_handle_record(drain->options.heap, ring->heap_process, record->type,
                                              record->payload, record->payload_length);
        drain->undecodable += !valid;
        return;
    }
    struct ldtap_span *span = drain->span;
    memset(span, 0, sizeof *span);
    span->resource = ring->resource;
    struct ldtap_db_statement statement;
    if (!decode_record(drain, ring, &statement)) {
        drain->undecodable++;
        return;
    }
    drain->decoded++;
    /* Before anything reads the span: a server span gets its requests' query rollup. */
    ldtap_db_rollup_observe(ring->db_rollup, span, now);
    if (record->type == LDTAP_RECORD_DB_SPAN) {
        ldtap_summary_add_statement(drain->options.summary, statement.text,
                                    span->end_time_ns - span->start_time_ns, statement.slow);
    }
    ldtap_summary_add_span(drain->options.summary, ring->service_name, span);
    ldtap_metrics_add_span(drain->options.metrics, ring->service_name,
                           span); /* before sampling: exact counts */
    struct ldtap_span_common common;
    memcpy(&common, record->payload, sizeof common);
    span->claim = *claim; /* moves with the span: into the join or the exporter */
    *claim = (struct ldtap_claim){0};
    /* An error server span may wait in the join for its traceback; the rest go on now. */
    if (!ldtap_exception_join_span(ring->join, span, common.flags, now, export_span, drain)) {
        export_span(drain, span, common.flags);
    }
    ldtap_span_events_release(span->events); /* the exporter and the join took their own */
    span->events = NULL;
}

static void handle_record(struct ldtap_drain *drain, struct ring_state *ring, struct ldtap_claim claim,
                          uint64_t now) {
    handle_record_claimed(drain, ring, &claim, now);
    ldtap_claim_settle(&claim); /* still here: nothing made of the record needs delivering */
}

/* Hands the ring header's counters to the metric store, which reads /proc as well. */
static void sample_process(struct ldtap_drain *drain, struct ring_state *ring, bool alive) {
    /* Plain numbers from a hostile mapping, read without ordering: a torn busy period
     * costs one noisy sample of a fraction, never a wrong access. */
    const volatile struct ldtap_ring_header *header = ring->reader.header;
    uint64_t now = ldtap_monotonic_ns();
    int64_t in_flight = header->in_flight_requests;
    uint64_t busy = header->busy_time_ns, busy_since = header->busy_since_ns;
    if (in_flight > 0 && busy_since != 0 && now > busy_since) {
        busy += now - busy_since; /* the current busy period so far */
    }
    struct ldtap_process_sample sample = {
        .pid = ring->pid,
        .parent_pid = header->parent_pid,
        .process_start_ticks = ring->process_start_ticks,
        .resource = ring->resource,
        .service_name = ring->service_name,
        .in_flight_requests = in_flight,
        .busy_time_ns = busy,
        .has_served = header->busy_time_ns > 0,
        .committed_records = header->committed_records,
        .dropped_ring_full = header->dropped_ring_full,
        .dropped_too_large = header->dropped_too_large,
        .unparented_async_spans = header->unparented_async_spans,
        .sampled_at_ns = now,
        /* All heap counters stay zero while the shim's heap hooks are off. */
        .has_heap = header->heap_allocations != 0 || header->anon_mmap_bytes != 0,
        .heap_live_bytes = header->heap_live_bytes,
        .anon_mmap_bytes = header->anon_mmap_bytes,
        .heap_allocations = header->heap_allocations,
        .heap_frees = header->heap_frees,
        .heap_allocated_bytes = header->heap_allocated_bytes,
    };
    ldtap_metrics_update_process(drain->options.metrics, &sample, alive);
}

static void sample_self(struct ldtap_drain *drain) {
    struct ldtap_summary_totals totals = {0};
    ldtap_drain_totals(drain, &totals);
    struct ldtap_self_sample sample = {
        .records_drained = drain->decoded + drain->undecodable,
        .invalid_records = totals.invalid_records,
        .skipped_uncommitted = totals.skipped_uncommitted,
        .rings_corrupt = drain->corrupt_rings,
    };
    for (const struct ring_state *ring = drain->rings; ring; ring = ring->next) {
        sample.rings_attached += ring->status == RING_ATTACHED;
    }
    if (drain->options.exporter) {
        struct ldtap_export_stats stats;
        ldtap_exporter_get_stats(drain->options.exporter, &stats);
        sample.spans_exported = stats.exported_spans;
        sample.spans_dropped_queue_full = stats.dropped_queue_full;
        sample.spans_dropped_after_retries = stats.dropped_after_retries;
        sample.export_failures = stats.failed_requests;
    }
    ldtap_metrics_update_self(drain->options.metrics, &sample);
}

/* While we still hold the ring's lock: no other collector drains it meanwhile. */
static void remove_ring_file(const struct ldtap_drain *drain, const struct ring_state *ring) {
    char path[PATH_MAX + NAME_MAX + 2];
    snprintf(path, sizeof path, "%s/%s", drain->directory, ring->name);
    unlink(path);
}

/* The span queue is full: better to leave the records in the ring (it holds them safely,
 * and a restarted collector reads them too) than to read them only to drop their spans.
 * Up to half the ring: past that its producers would soon have to drop instead, and the
 * metrics with them, so reading goes on and the queue counts what it cannot take. */
static bool hold_back(const struct ldtap_drain *drain, struct ring_state *ring) {
    if (drain->finishing || !drain->options.exporter || !ldtap_exporter_is_full(drain->options.exporter)) {
        return false;
    }
    uint64_t data_size;
    uint64_t backlog = ldtap_ledger_backlog_bytes(ring->ledger, &data_size);
    return backlog < data_size / 2;
}

/* Returns false when the ring was retired (its state freed by the caller). */
static bool drain_ring(struct ldtap_drain *drain, struct ring_state *ring, uint64_t now) {
    /* Liveness first: a process found dead now wrote everything it ever will, so the
     * ring being empty after this pass means it can be removed. At every pass while
     * finishing: a process that exited just before us must not leave its ring behind
     * for want of a look. */
    if (!ring->process_gone && (drain->finishing || now - ring->last_alive_check_ns >= ALIVE_CHECK_NS)) {
        ring->last_alive_check_ns = now;
        ring->process_gone = !process_alive(ring->pid, ring->process_start_ticks);
    }
    if (ldtap_ring_guard_truncated(ring->guard_slot)) {
        warn(drain, "%s/%s: %s", ring->name, "the ring file was truncated while attached; dropping the ring");
        drain->corrupt_rings++;
        close_reader(ring);
        ring->status = RING_IGNORED;
        return true;
    }
    for (int taken = 0; taken < RECORDS_PER_STEP && !hold_back(drain, ring); taken++) {
        struct ldtap_claim claim;
        enum ldtap_ring_read_status status =
            ldtap_ledger_next(ring->ledger, drain->record, !ring->process_gone, now, &claim);
        if (status == LDTAP_RING_READ_EMPTY) {
            break;
        }
        if (status == LDTAP_RING_READ_CORRUPT) {
            read_counters(ring);
            warn(drain, "%s/%s: %s", ring->name, "the ring is corrupt; skipping the rest of it");
            drain->corrupt_rings++;
            close_reader(ring);
            ring->status = RING_IGNORED;
            return true;
        }
        if (status == LDTAP_RING_READ_RECORD) {
            drain->records_taken++;
            handle_record(drain, ring, claim, now);
        }
    }
    read_counters(ring);
    ldtap_exception_join_expire(ring->join, now, false, export_span, drain);
    if (drain->options.metrics && ring->process_gone && !ring->reported_gone) {
        sample_process(drain, ring, false);
        ring->reported_gone = true;
    } else if (drain->options.metrics && !ring->process_gone &&
               now - ring->last_metrics_ns >= METRICS_INTERVAL_NS) {
        sample_process(drain, ring, true);
        ring->last_metrics_ns = now;
    }
    if (!ring->all_read) {
        if (!ring->process_gone || !ldtap_ledger_is_read(ring->ledger)) {
            return true;
        }
        ring->all_read = true;
        /* Everything it wrote is in: no report can come for a held span any more. */
        ldtap_exception_join_expire(ring->join, now, true, export_span, drain);
        if (drain->options.heap) {
            ldtap_heap_process_exited(drain->options.heap, ring->heap_process);
        }
    }
    /* The file goes once the exporters have settled every record in it. */
    if (!ldtap_ledger_is_empty(ring->ledger)) {
        return true;
    }
    remove_ring_file(drain, ring);
    close_reader(ring);
    return false;
}

static void retire(struct ldtap_drain *drain, struct ring_state *ring) {
    drain->retired.dropped_ring_full += ring->counters.dropped_ring_full;
    drain->retired.unparented_async += ring->counters.unparented_async;
    drain->retired.skipped_uncommitted += ring->counters.skipped_uncommitted;
    drain->retired.invalid_records += ring->counters.invalid_records;
    drain->retired.durability_waived += ring->counters.durability_waived;
    if (ring->status == RING_ATTACHED) {
        /* At exit, after the exporters stopped: a ring whose records are all settled is
         * done with; one still owed (a live process, or spans the exporters could not
         * deliver in time) stays for the next collector. */
        if (ring->all_read && ldtap_ledger_is_empty(ring->ledger)) {
            remove_ring_file(drain, ring);
        }
        close_reader(ring);
    }
    ldtap_heap_detach(drain->options.heap, ring->heap_process); /* heap state may go now */
    drain->retired_rollup_evictions += ldtap_db_rollup_evictions(ring->db_rollup);
    ldtap_db_rollup_free(ring->db_rollup);
    ldtap_exception_join_free(ring->join);
    ldtap_resource_release(ring->resource);
    free(ring);
}

size_t ldtap_drain_step(struct ldtap_drain *drain) {
    uint64_t now = ldtap_monotonic_ns();
    uint64_t taken_before = drain->records_taken;
    ldtap_discovery_poll(drain->discovery, ring_found, drain);
    if (now - drain->last_scan_ns >= RESCAN_INTERVAL_NS) {
        drain->last_scan_ns = now;
        ldtap_discovery_scan(drain->discovery, ring_found, drain);
    }
    for (struct ring_state **link = &drain->rings; *link;) {
        struct ring_state *ring = *link;
        if (ring->status == RING_PENDING) {
            attach(drain, ring, now);
        }
        if (ring->status == RING_ATTACHED && !drain_ring(drain, ring, now)) {
            *link = ring->next;
            ring->status = RING_IGNORED; /* already closed */
            retire(drain, ring);
            continue;
        }
        link = &ring->next;
    }
    if (drain->options.metrics && now - drain->last_self_metrics_ns >= METRICS_INTERVAL_NS) {
        drain->last_self_metrics_ns = now;
        sample_self(drain);
    }
    if (drain->options.heap) {
        ldtap_heap_tick(drain->options.heap, now);
    }
    return (size_t)(drain->records_taken - taken_before);
}

struct ldtap_drain *ldtap_drain_create(const struct ldtap_drain_options *options, char *error,
                                       size_t error_size) {
    struct ldtap_drain *drain = calloc(1, sizeof *drain);
    if (!drain || !(drain->record = malloc(sizeof *drain->record)) ||
        !(drain->span = malloc(sizeof *drain->span)) ||
        !(drain->log_entry = malloc(sizeof *drain->log_entry)) ||
        !(drain->traceback = malloc(sizeof *drain->traceback)) ||
        !(drain->crash = malloc(sizeof *drain->crash))) {
        snprintf(error, error_size, "out of memory");
        ldtap_drain_destroy(drain);
        return NULL;
    }
    drain->options = *options;
    /* Without it every statement is sanitised afresh: slower, never different. */
    drain->options.database.statements = ldtap_statement_cache_new(LDTAP_STATEMENT_CACHE_SETS);
    snprintf(drain->directory, sizeof drain->directory, "%s", options->directory);
    ldtap_ring_guard_install(); /* a traced process must not be able to kill us with truncate */
    drain->discovery = ldtap_discovery_open(options->directory, error, error_size);
    if (!drain->discovery) {
        ldtap_drain_destroy(drain);
        return NULL;
    }
    drain->last_scan_ns = ldtap_monotonic_ns();
    ldtap_discovery_scan(drain->discovery, ring_found, drain);
    return drain;
}

int ldtap_drain_poll_fd(const struct ldtap_drain *drain) {
    return ldtap_discovery_fd(drain->discovery);
}

bool ldtap_drain_finish(struct ldtap_drain *drain, uint32_t grace_ms) {
    uint64_t deadline = ldtap_monotonic_ns() + (uint64_t)grace_ms * 1000000ull;
    /* Rings of dead processes always reach empty (uncommitted records are skipped), but a
     * hostile ring could keep "committing": never wait past this. */
    uint64_t hard_deadline = deadline + 5000000000ull;
    drain->finishing = true;
    for (;;) {
        ldtap_drain_step(drain);
        bool waiting_for_dead = false, waiting_for_live = false;
        for (struct ring_state *ring = drain->rings; ring; ring = ring->next) {
            /* Read is enough: what the exporters still owe is theirs to flush. */
            if (ring->status == RING_PENDING || (ring->status == RING_ATTACHED && !ring->all_read)) {
                waiting_for_dead |= ring->process_gone;
                waiting_for_live |= !ring->process_gone;
            }
        }
        bool done = !waiting_for_dead && !waiting_for_live;
        uint64_t now = ldtap_monotonic_ns();
        if (done || (!waiting_for_dead && now >= deadline) || now >= hard_deadline) {
            /* Live processes' held spans go out now: the exporter stops after this. */
            for (struct ring_state *ring = drain->rings; ring; ring = ring->next) {
                ldtap_exception_join_expire(ring->join, now, true, export_span, drain);
            }
            if (drain->options.metrics) {
                sample_self(drain); /* the final totals, for a last scrape or export */
            }
            return done;
        }
        if (!waiting_for_dead) {
            nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
        }
    }
}

void ldtap_drain_totals(const struct ldtap_drain *drain, struct ldtap_summary_totals *totals) {
    struct ring_counters sum = drain->retired;
    totals->db_rollup_evictions += drain->retired_rollup_evictions;
    for (const struct ring_state *ring = drain->rings; ring; ring = ring->next) {
        totals->db_rollup_evictions += ldtap_db_rollup_evictions(ring->db_rollup);
        sum.dropped_ring_full += ring->counters.dropped_ring_full;
        sum.unparented_async += ring->counters.unparented_async;
        sum.skipped_uncommitted += ring->counters.skipped_uncommitted;
        sum.invalid_records += ring->counters.invalid_records;
        sum.durability_waived += ring->counters.durability_waived;
    }
    totals->decoded += drain->decoded;
    totals->sampled_out += drain->sampled_out;
    totals->dropped_ring_full += sum.dropped_ring_full;
    totals->unparented_async += sum.unparented_async;
    totals->skipped_uncommitted += sum.skipped_uncommitted;
    totals->invalid_records += sum.invalid_records + drain->undecodable;
    totals->corrupt_rings += drain->corrupt_rings;
    totals->durability_waived += sum.durability_waived;
}

void ldtap_drain_destroy(struct ldtap_drain *drain) {
    if (!drain) {
        return;
    }
    while (drain->rings) {
        struct ring_state *ring = drain->rings;
        drain->rings = ring->next;
        retire(drain, ring);
    }
    ldtap_discovery_close(drain->discovery);
    ldtap_statement_cache_free(drain->options.database.statements);
    free(drain->record);
    free(drain->span);
    free(drain->log_entry);
    free(drain->traceback);
    free(drain->crash);
    free(drain);
}
