/* Summary aggregation and printing: a row per (service, kind, method + route or
 * destination) with a log-bucketed latency histogram, printed sorted by count. */
#include "summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "ldtap_ring_abi.h"
#include "summary_exceptions.h"
#include "summary_statements.h"

#define HISTOGRAM_GAMMA 1.02
/* gamma^1514 is about 1e13 ns, a little under 3 hours: longer spans land in the last bucket. */
#define HISTOGRAM_BUCKETS 1515
/* Past this many rows every new (method, route) lands in one "(other)" row per service
 * and kind, so a client talking to endless hosts cannot grow the summary forever. */
#define SUMMARY_MAX_ROWS 4096
#define ROWS_PRINTED_PER_SECTION 20
#define LABEL_COLUMNS 32
#define MEMORY_ROWS_PRINTED 20
#define GROWING_MIN_BYTES (10ull * 1024 * 1024)
#define GROWING_MIN_RATIO 0.20
#define MIB (1024.0 * 1024.0)

struct ldtap_histogram {
    uint64_t total;
    uint32_t counts[HISTOGRAM_BUCKETS];
};

struct ldtap_histogram *ldtap_histogram_new(void) { return calloc(1, sizeof(struct ldtap_histogram)); }

void ldtap_histogram_free(struct ldtap_histogram *histogram) { free(histogram); }

void ldtap_histogram_record(struct ldtap_histogram *histogram, uint64_t duration_ns) {
    double bucket = duration_ns <= 1 ? 0.0 : ceil(log((double)duration_ns) / log(HISTOGRAM_GAMMA));
    size_t index = bucket >= HISTOGRAM_BUCKETS - 1 ? HISTOGRAM_BUCKETS - 1 : (size_t)bucket;
    if (histogram->counts[index] < UINT32_MAX) {
        histogram->counts[index]++;
        histogram->total++;
    }
}

double ldtap_histogram_quantile(const struct ldtap_histogram *histogram, double quantile) {
    if (histogram->total == 0) {
        return 0.0;
    }
    uint64_t rank = (uint64_t)ceil(quantile * (double)histogram->total);
    rank = rank == 0 ? 1 : rank;
    uint64_t seen = 0;
    size_t index = 0;
    for (; index < HISTOGRAM_BUCKETS - 1; index++) {
        seen += histogram->counts[index];
        if (seen >= rank) {
            break;
        }
    }
    return index == 0 ? 1.0 : 2.0 * pow(HISTOGRAM_GAMMA, (double)index) / (HISTOGRAM_GAMMA + 1.0);
}

struct summary_row {
    char *service;
    char *label; /* "GET /orders/{id}" or "GET 127.0.0.1:8001" */
    uint8_t kind;
    uint64_t count;
    uint64_t errors;
    struct ldtap_histogram *latency;
};

struct summary_service {
    char *name;
    uint64_t spans;
    uint64_t processes;
    struct ldtap_summary_memory *memory;
    size_t memory_count, memory_capacity;
    bool has_saturation, has_busy_fraction;
    double busy_fraction_max;
    int64_t accept_queue_max;
};

struct ldtap_summary {
    struct summary_row *rows;
    size_t row_count, row_capacity;
    size_t *index; /* open addressing over row numbers + 1; 0 = empty slot */
    size_t index_capacity;
    struct summary_service *services;
    size_t service_count, service_capacity;
    struct ldtap_statement_stats *statements; /* created with the first statement */
    struct ldtap_exception_stats *exceptions; /* created with the first report */
    size_t last_row; /* row number + 1 of the latest span: consecutive spans mostly share it */
};

struct ldtap_summary *ldtap_summary_new(void) { return calloc(1, sizeof(struct ldtap_summary)); }

void ldtap_summary_free(struct ldtap_summary *summary) {
    if (!summary) {
        return;
    }
    for (size_t i = 0; i < summary->row_count; i++) {
        free(summary->rows[i].service);
        free(summary->rows[i].label);
        ldtap_histogram_free(summary->rows[i].latency);
    }
    for (size_t i = 0; i < summary->service_count; i++) {
        free(summary->services[i].name);
        free(summary->services[i].memory);
    }
    ldtap_statement_stats_free(summary->statements);
    ldtap_exception_stats_free(summary->exceptions);
    free(summary->rows);
    free(summary->index);
    free(summary->services);
    free(summary);
}

static bool grow(void **array, size_t *capacity, size_t needed, size_t element_size) {
    if (needed <= *capacity) {
        return true;
    }
    size_t new_capacity = *capacity ? *capacity * 2 : 16;
    void *grown = realloc(*array, new_capacity * element_size);
    if (!grown) {
        return false;
    }
    *array = grown;
    *capacity = new_capacity;
    return true;
}

static struct summary_service *find_service(struct ldtap_summary *summary, const char *name) {
    for (size_t i = 0; i < summary->service_count; i++) {
        if (strcmp(summary->services[i].name, name) == 0) {
            return &summary->services[i];
        }
    }
    if (!grow((void **)&summary->services, &summary->service_capacity, summary->service_count + 1,
              sizeof *summary->services)) {
        return NULL;
    }
    char *copy = strdup(name);
    if (!copy) {
        return NULL;
    }
    summary->services[summary->service_count] = (struct summary_service){.name = copy};
    return &summary->services[summary->service_count++];
}

void ldtap_summary_add_process(struct ldtap_summary *summary, const char *service_name) {
    struct summary_service *service = find_service(summary, service_name);
    if (service) {
        service->processes++;
    }
}

void ldtap_summary_add_memory(struct ldtap_summary *summary, const char *service_name,
                              const struct ldtap_summary_memory *memory) {
    struct summary_service *service = find_service(summary, service_name);
    if (service && grow((void **)&service->memory, &service->memory_capacity, service->memory_count + 1,
                        sizeof *service->memory)) {
        service->memory[service->memory_count++] = *memory;
    }
}

void ldtap_summary_add_saturation(struct ldtap_summary *summary, const char *service_name, bool has_busy_fraction,
                                  double busy_fraction_max, int64_t accept_queue_max) {
    struct summary_service *service = find_service(summary, service_name);
    if (service) {
        service->has_saturation = has_busy_fraction || accept_queue_max >= 0;
        service->has_busy_fraction = has_busy_fraction;
        service->busy_fraction_max = busy_fraction_max;
        service->accept_queue_max = accept_queue_max;
    }
}

bool ldtap_summary_rss_growing(uint64_t first_bytes, uint64_t last_bytes) {
    if (last_bytes <= first_bytes) {
        return false;
    }
    uint64_t growth = last_bytes - first_bytes;
    return growth > GROWING_MIN_BYTES && (double)growth > GROWING_MIN_RATIO * (double)first_bytes;
}

void ldtap_summary_add_statement(struct ldtap_summary *summary, const char *statement, uint64_t duration_ns,
                                 bool slow) {
    if (!summary->statements) {
        summary->statements = ldtap_statement_stats_new();
    }
    ldtap_statement_stats_add(summary->statements, statement, duration_ns, slow);
}

static size_t hash_key(const char *service, uint8_t kind, const char *label) {
    uint64_t hash = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = service; *p; p++) {
        hash = (hash ^ (uint8_t)*p) * 1099511628211ull;
    }
    hash = (hash ^ kind) * 1099511628211ull;
    for (const char *p = label; *p; p++) {
        hash = (hash ^ (uint8_t)*p) * 1099511628211ull;
    }
    return (size_t)hash;
}

static bool rebuild_index(struct ldtap_summary *summary) {
    size_t capacity = summary->index_capacity ? summary->index_capacity * 2 : 64;
    size_t *index = calloc(capacity, sizeof *index);
    if (!index) {
        return false;
    }
    for (size_t i = 0; i < summary->row_count; i++) {
        const struct summary_row *row = &summary->rows[i];
        size_t slot = hash_key(row->service, row->kind, row->label) & (capacity - 1);
        while (index[slot]) {
            slot = (slot + 1) & (capacity - 1);
        }
        index[slot] = i + 1;
    }
    free(summary->index);
    summary->index = index;
    summary->index_capacity = capacity;
    return true;
}

static struct summary_row *find_row_indexed(struct ldtap_summary *summary, const char *service, uint8_t kind,
                                    const char *label) {
    if ((summary->row_count + 1) * 10 > summary->index_capacity * 7 && !rebuild_index(summary)) {
        return NULL;
    }
    size_t mask = summary->index_capacity - 1;
    size_t slot = hash_key(service, kind, label) & mask;
    for (; summary->index[slot]; slot = (slot + 1) & mask) {
        struct summary_row *row = &summary->rows[summary->index[slot] - 1];
        if (row->kind == kind && strcmp(row->label, label) == 0 && strcmp(row->service, service) == 0) {
            return row;
        }
    }
    if (summary->row_count >= SUMMARY_MAX_ROWS && strcmp(label, "(other)") != 0) {
        return find_row_indexed(summary, service, kind, "(other)");
    }
    if (!grow((void **)&summary->rows, &summary->row_capacity, summary->row_count + 1, sizeof *summary->rows)) {
        return NULL;
    }
    struct summary_row row = {strdup(service), strdup(label), kind, 0, 0, ldtap_histogram_new()};
    if (!row.service || !row.label || !row.latency) {
        free(row.service);
        free(row.label);
        ldtap_histogram_free(row.latency);
        return NULL;
    }
    summary->rows[summary->row_count++] = row;
    summary->index[slot] = summary->row_count;
    return &summary->rows[summary->row_count - 1];
}

/* The latest span's row first: a program's spans come in runs of one label. */
static struct summary_row *find_row(struct ldtap_summary *summary, const char *service, uint8_t kind,
                                    const char *label) {
    if (summary->last_row) {
        struct summary_row *row = &summary->rows[summary->last_row - 1];
        if (row->kind == kind && strcmp(row->label, label) == 0 && strcmp(row->service, service) == 0) {
            return row;
        }
    }
    struct summary_row *row = find_row_indexed(summary, service, kind, label);
    summary->last_row = row ? (size_t)(row - summary->rows) + 1 : 0;
    return row;
}

/* A label being built: at most LABEL_BYTES - 1 bytes, NUL-terminated. */
#define LABEL_BYTES 512
struct label {
    char text[LABEL_BYTES];
    size_t used;
};

/* Appends at most `length` bytes of `text`, up to a NUL in them (as "%.*s" would), cut to
 * the label's size. Not snprintf: this runs for every span. */
static void append_text(struct label *label, const char *text, size_t length) {
    size_t taken = strnlen(text, length);
    if (taken > LABEL_BYTES - label->used - 1) {
        taken = LABEL_BYTES - label->used - 1;
    }
    memcpy(label->text + label->used, text, taken);
    label->used += taken;
    label->text[label->used] = '\0';
}

/* Appends a string or integer attribute's value (or `fallback`). */
static void append_attribute(struct label *label, const struct ldtap_span *span,
                             const struct ldtap_attribute *attribute, const char *fallback) {
    if (attribute && attribute->type == LDTAP_VALUE_STRING) {
        append_text(label, ldtap_span_string(span, attribute), attribute->string_length);
    } else if (attribute && attribute->type == LDTAP_VALUE_INT) {
        char number[LDTAP_DECIMAL_BYTES];
        append_text(label, number, ldtap_decimal_i64(attribute->int_value, number));
    } else {
        append_text(label, fallback, strlen(fallback));
    }
}

void ldtap_summary_add_span(struct ldtap_summary *summary, const char *service_name, const struct ldtap_span *span) {
    struct label label; /* not zeroed: 512 bytes a span for one NUL */
    label.used = 0;
    label.text[0] = '\0';
    /* One lookup at a time: keys a span lacks cost a text comparison of every attribute,
     * so only what the label needs is looked up. */
    const struct ldtap_attribute *system = ldtap_span_find(span, "db.system.name");
    bool database = system != NULL;
    append_attribute(&label, span, database ? system : ldtap_span_find(span, "http.request.method"), "?");
    append_text(&label, " ", 1);
    bool client = span->kind == LDTAP_SPAN_KIND_CLIENT;
    const struct ldtap_attribute *server = database || client ? ldtap_span_find(span, "server.address") : NULL;
    if (database && !server) {
        append_attribute(&label, span, ldtap_span_find(span, "db.namespace"), "?"); /* SQLite: the file */
    } else if (client) { /* where the request went */
        append_attribute(&label, span, server, "?");
        append_text(&label, ":", 1);
        append_attribute(&label, span, ldtap_span_find(span, "server.port"), "?");
    } else {
        /* Decoders always set http.route; url.path only covers a decoder that could not. */
        const struct ldtap_attribute *route = ldtap_span_find(span, "http.route");
        append_attribute(&label, span, route ? route : ldtap_span_find(span, "url.path"), "?");
    }
    struct summary_service *service = find_service(summary, service_name);
    struct summary_row *row = find_row(summary, service_name, span->kind, label.text);
    if (service) {
        service->spans++;
    }
    if (row) {
        row->count++;
        row->errors += span->status_code == LDTAP_STATUS_ERROR;
        ldtap_histogram_record(row->latency, span->end_time_ns > span->start_time_ns
                                                 ? span->end_time_ns - span->start_time_ns
                                                 : 0);
    }
}

/* ---- printing ---- */

static int compare_rows_by_count(const void *left, const void *right) {
    const struct summary_row *a = *(const struct summary_row *const *)left;
    const struct summary_row *b = *(const struct summary_row *const *)right;
    return a->count < b->count ? 1 : a->count > b->count ? -1 : strcmp(a->label, b->label);
}

static int compare_services_by_spans(const void *left, const void *right) {
    const struct summary_service *a = left;
    const struct summary_service *b = right;
    return a->spans < b->spans ? 1 : a->spans > b->spans ? -1 : strcmp(a->name, b->name);
}

/* Fits a label in LABEL_COLUMNS bytes, cutting on a UTF-8 character boundary. */
static void fit_label(const char *label, char out[LABEL_COLUMNS + 1]) {
    size_t length = strlen(label);
    if (length <= LABEL_COLUMNS) {
        memcpy(out, label, length + 1);
        return;
    }
    size_t cut = LABEL_COLUMNS - 3;
    while (cut > 0 && ((unsigned char)label[cut] & 0xc0) == 0x80) {
        cut--;
    }
    memcpy(out, label, cut);
    memcpy(out + cut, "...", 4);
}

static void print_section(FILE *out, struct summary_row **rows, size_t count, const char *title) {
    if (count == 0) {
        return;
    }
    qsort(rows, count, sizeof *rows, compare_rows_by_count);
    fprintf(out, "  %-*s%7s%5s%9s%9s%9s\n", LABEL_COLUMNS, title, "COUNT", "ERR", "p50 ms", "p95 ms", "p99 ms");
    uint64_t hidden_spans = 0;
    for (size_t i = 0; i < count; i++) {
        if (i >= ROWS_PRINTED_PER_SECTION) {
            hidden_spans += rows[i]->count;
            continue;
        }
        char label[LABEL_COLUMNS + 1];
        fit_label(rows[i]->label, label);
        fprintf(out, "  %-*s%7llu%5llu%9.2f%9.2f%9.2f\n", LABEL_COLUMNS, label, (unsigned long long)rows[i]->count,
                (unsigned long long)rows[i]->errors, ldtap_histogram_quantile(rows[i]->latency, 0.50) / 1e6,
                ldtap_histogram_quantile(rows[i]->latency, 0.95) / 1e6,
                ldtap_histogram_quantile(rows[i]->latency, 0.99) / 1e6);
    }
    if (count > ROWS_PRINTED_PER_SECTION) {
        fprintf(out, "  ... %zu more rows with %llu spans\n", count - ROWS_PRINTED_PER_SECTION,
                (unsigned long long)hidden_spans);
    }
}

static int64_t memory_growth(const struct ldtap_summary_memory *memory) {
    return (int64_t)memory->rss_last_bytes - (int64_t)memory->rss_first_bytes;
}

static int compare_memory_by_growth(const void *left, const void *right) {
    int64_t a = memory_growth(left), b = memory_growth(right);
    return a < b ? 1 : a > b ? -1 : 0;
}

/* One row per process, largest growth first:
 *   PROCESS     ROLE    RSS FIRST  RSS LAST     GROWTH      %
 *   pid 4242    worker   21.3 MiB 121.5 MiB +100.2 MiB  +470% growing */
static void print_memory(FILE *out, const struct summary_service *service) {
    if (service->memory_count == 0) {
        return;
    }
    qsort(service->memory, service->memory_count, sizeof *service->memory, compare_memory_by_growth);
    fprintf(out, "  %-12s%-7s%10s%10s%11s%7s\n", "PROCESS", "ROLE", "RSS FIRST", "RSS LAST", "GROWTH", "%");
    bool any_growing = false;
    for (size_t i = 0; i < service->memory_count && i < MEMORY_ROWS_PRINTED; i++) {
        const struct ldtap_summary_memory *memory = &service->memory[i];
        char process[16], first[16], last[16], growth[16], percent[16];
        snprintf(process, sizeof process, "pid %d", (int)memory->pid);
        snprintf(first, sizeof first, "%.1f MiB", (double)memory->rss_first_bytes / MIB);
        snprintf(last, sizeof last, "%.1f MiB", (double)memory->rss_last_bytes / MIB);
        snprintf(growth, sizeof growth, "%+.1f MiB", (double)memory_growth(memory) / MIB);
        if (memory->rss_first_bytes > 0) {
            snprintf(percent, sizeof percent, "%+.0f%%",
                     100.0 * (double)memory_growth(memory) / (double)memory->rss_first_bytes);
        } else {
            snprintf(percent, sizeof percent, "-");
        }
        bool growing = ldtap_summary_rss_growing(memory->rss_first_bytes, memory->rss_last_bytes);
        any_growing |= growing;
        fprintf(out, "  %-12s%-7s%10s%10s%11s%7s%s\n", process, memory->is_master ? "master" : "worker", first, last,
                growth, percent, growing ? " growing" : "");
    }
    if (service->memory_count > MEMORY_ROWS_PRINTED) {
        fprintf(out, "  ... %zu more processes\n", service->memory_count - MEMORY_ROWS_PRINTED);
    }
    if (any_growing) {
        fputs("  growing: RSS grew by more than 10 MiB and by more than 20%\n", out);
    }
}

static void print_saturation(FILE *out, const struct summary_service *service) {
    if (!service->has_saturation) {
        return;
    }
    fputs("  saturation:", out);
    if (service->has_busy_fraction) {
        fprintf(out, " busy fraction max %.2f (1: all busy)", service->busy_fraction_max);
    }
    if (service->accept_queue_max >= 0) {
        fprintf(out, "%s accept queue max %lld", service->has_busy_fraction ? ";" : "",
                (long long)service->accept_queue_max);
    }
    fputc('\n', out);
}

static void print_service(FILE *out, const struct ldtap_summary *summary, const struct summary_service *service,
                          struct summary_row **scratch) {
    fprintf(out, "ldtap: %s \xe2\x80\x94 %llu span%s from %llu process%s\n", service->name,
            (unsigned long long)service->spans, service->spans == 1 ? "" : "s",
            (unsigned long long)service->processes, service->processes == 1 ? "" : "es");
    static const struct {
        uint8_t kind;
        const char *title;
    } sections[] = {{2, "SERVER ROUTE"}, {3, "CLIENT"}};
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        size_t count = 0;
        for (size_t i = 0; i < summary->row_count; i++) {
            const struct summary_row *row = &summary->rows[i];
            if (row->kind == sections[s].kind && strcmp(row->service, service->name) == 0) {
                scratch[count++] = &summary->rows[i];
            }
        }
        print_section(out, scratch, count, sections[s].title);
    }
    print_memory(out, service);
    print_saturation(out, service);
}

/* Prints "ldtap: " lines of `items` separated by "; ", wrapped before 80 columns. */
static void print_items(FILE *out, char items[][96], size_t count) {
    size_t column = 0;
    for (size_t i = 0; i < count; i++) {
        size_t length = strlen(items[i]);
        if (column > 0 && column + 2 + length > 79) {
            fputc('\n', out);
            column = 0;
        }
        column += (size_t)fprintf(out, "%s%s", column == 0 ? "ldtap: " : "; ", items[i]);
    }
    if (column > 0) {
        fputc('\n', out);
    }
}

static void print_totals(FILE *out, const struct ldtap_summary_totals *totals) {
    unsigned long long dropped = totals->dropped_ring_full + totals->dropped_queue_full + totals->dropped_after_retries;
    if (totals->export_disabled) {
        fprintf(out, "ldtap: %llu spans decoded; export disabled (OTEL_TRACES_EXPORTER=none); dropped: %llu\n",
                (unsigned long long)totals->decoded, dropped);
    } else if (totals->exported == totals->decoded) {
        fprintf(out, "ldtap: %llu spans %s %s; dropped: %llu\n", (unsigned long long)totals->exported,
                totals->to_file ? "written to" : "exported to", totals->destination, dropped);
    } else {
        fprintf(out, "ldtap: %llu spans decoded, %llu %s %s; dropped: %llu\n", (unsigned long long)totals->decoded,
                (unsigned long long)totals->exported, totals->to_file ? "written to" : "exported to",
                totals->destination, dropped);
    }
    const struct {
        uint64_t value;
        const char *what;
    } details[] = {
        {totals->sampled_out, "sampled out"},
        {totals->dropped_ring_full, "dropped (ring full)"},
        {totals->dropped_queue_full, "dropped (export queue full)"},
        {totals->dropped_after_retries, "dropped (export failed after retries)"},
        {totals->invalid_records, "invalid records"},
        {totals->skipped_uncommitted, "uncommitted records skipped"},
        {totals->unparented_async, "unparented async spans"},
        {totals->route_overflow, "paths over the route limit"},
        {totals->corrupt_rings, "corrupt rings skipped"},
        {totals->durability_waived, "spans not crash-safe (ring under pressure)"},
        {totals->db_rollup_evictions, "query rollups evicted"},
    };
    char items[sizeof details / sizeof details[0]][96];
    size_t count = 0;
    for (size_t i = 0; i < sizeof details / sizeof details[0]; i++) {
        if (details[i].value) {
            snprintf(items[count++], sizeof items[0], "%s: %llu", details[i].what,
                     (unsigned long long)details[i].value);
        }
    }
    print_items(out, items, count);
}

void ldtap_summary_add_exception(struct ldtap_summary *summary, const char *service_name, const char *type,
                                 size_t type_length, const char *message, size_t message_length, const char *stack,
                                 size_t stack_length) {
    if (!summary->exceptions) {
        summary->exceptions = ldtap_exception_stats_new();
    }
    if (summary->exceptions) {
        ldtap_exception_stats_add(summary->exceptions, service_name, type, type_length, message, message_length,
                                  stack, stack_length);
    }
}

void ldtap_summary_retract_exception(struct ldtap_summary *summary, const char *service_name, const char *type,
                                     size_t type_length) {
    if (summary->exceptions) {
        ldtap_exception_stats_retract(summary->exceptions, service_name, type, type_length);
    }
}

void ldtap_summary_print(const struct ldtap_summary *summary, const struct ldtap_summary_totals *totals, FILE *out) {
    struct summary_service *services = NULL;
    struct summary_row **scratch = calloc(summary->row_count + 1, sizeof *scratch);
    if (summary->service_count) {
        services = malloc(summary->service_count * sizeof *services);
    }
    if (services && scratch) {
        memcpy(services, summary->services, summary->service_count * sizeof *services);
        qsort(services, summary->service_count, sizeof *services, compare_services_by_spans);
        for (size_t i = 0; i < summary->service_count; i++) {
            print_service(out, summary, &services[i], scratch);
        }
    }
    if (summary->service_count == 0) {
        fputs("ldtap: no traced process wrote a ring\n", out);
    }
    free(services);
    free(scratch);
    ldtap_statement_stats_print(summary->statements, out);
    ldtap_exception_stats_print(summary->exceptions, out);
    print_totals(out, totals);
    fflush(out);
}
