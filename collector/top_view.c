/* `ldtap top`'s model and screen: scrapes aggregated per route, database operation,
 * worker and service; rates and quantiles from the difference between two scrapes. */
#include "top_view.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus_parse.h"

#define MAX_BOUNDS 32
#define MAX_GROUPS 512
#define MAX_WORKERS 256
#define MAX_SERVICES 64
#define TEXT_BYTES 160

/* One histogram summed over every series with the same service and route (or database
 * operation): all methods, status codes and workers together. */
struct histogram_group {
    char service[64];
    char name[TEXT_BYTES];
    double count, errors, sum;
    uint32_t bound_count;
    double bounds[MAX_BOUNDS];  /* finite upper bounds, ascending */
    double buckets[MAX_BOUNDS]; /* cumulative counts at those bounds */
};

struct worker {
    long pid;
    char service[64];
    double rss, cpu_seconds, busy_seconds, busy_fraction, active;
    bool has_busy_fraction;
    bool has_memory; /* an instrumented process, not the collector's own health series */
    bool has_busy_time;
};

struct service_state {
    char service[64];
    double busy_fraction, accept_queue;
    bool has_busy_fraction, has_accept_queue;
};

struct ldtap_top_snapshot {
    double time;
    struct histogram_group routes[MAX_GROUPS];
    uint32_t route_count;
    struct histogram_group operations[MAX_GROUPS];
    uint32_t operation_count;
    struct worker workers[MAX_WORKERS];
    uint32_t worker_count;
    struct service_state services[MAX_SERVICES];
    uint32_t service_count;
    double records_drained, records_dropped, export_failures, rings_attached;
    size_t invalid_lines;
};

/* ---- aggregation ---- */

static void label_text(const struct ldtap_prom_sample *sample, const char *name, char *text, size_t size) {
    const struct ldtap_prom_label *label = ldtap_prom_find_label(sample, name);
    snprintf(text, size, "%.*s", label ? (int)label->value_length : 0, label ? label->value : "");
}

static bool has_label(const struct ldtap_prom_sample *sample, const char *name) {
    return ldtap_prom_find_label(sample, name) != NULL;
}

static struct histogram_group *find_group(struct histogram_group *groups, uint32_t *count,
                                          const char *service, const char *name) {
    for (uint32_t i = 0; i < *count; i++) {
        if (strcmp(groups[i].service, service) == 0 && strcmp(groups[i].name, name) == 0) {
            return &groups[i];
        }
    }
    if (*count >= MAX_GROUPS) {
        return NULL;
    }
    struct histogram_group *group = &groups[(*count)++];
    memset(group, 0, sizeof *group);
    snprintf(group->service, sizeof group->service, "%s", service);
    snprintf(group->name, sizeof group->name, "%s", name);
    return group;
}

/* Index of `bound` in the group, inserted in order when new; -1 when full. */
static int bound_index(struct histogram_group *group, double bound) {
    uint32_t at = 0;
    while (at < group->bound_count && group->bounds[at] < bound) {
        at++;
    }
    if (at < group->bound_count && group->bounds[at] == bound) {
        return (int)at;
    }
    if (group->bound_count >= MAX_BOUNDS) {
        return -1;
    }
    memmove(&group->bounds[at + 1], &group->bounds[at], (group->bound_count - at) * sizeof(double));
    memmove(&group->buckets[at + 1], &group->buckets[at], (group->bound_count - at) * sizeof(double));
    group->bounds[at] = bound;
    group->buckets[at] = 0;
    group->bound_count++;
    return (int)at;
}

/* Adds one _bucket, _count or _sum sample of a histogram family to its group. */
static void add_histogram_sample(struct histogram_group *group, const struct ldtap_prom_sample *sample,
                                 size_t family_length, bool is_error) {
    const char *suffix = sample->name + family_length;
    if (strncmp(suffix, "_bucket", 7) == 0) {
        char le[32];
        label_text(sample, "le", le, sizeof le);
        double bound = strtod(le, NULL);
        int index = isfinite(bound) && le[0] ? bound_index(group, bound) : -1;
        if (index >= 0) {
            group->buckets[index] += sample->value;
        }
    } else if (strncmp(suffix, "_count", 6) == 0) {
        group->count += sample->value;
        group->errors += is_error ? sample->value : 0;
    } else if (strncmp(suffix, "_sum", 4) == 0) {
        group->sum += sample->value;
    }
}

static bool has_family(const struct ldtap_prom_sample *sample, const char *family) {
    size_t length = strlen(family);
    return sample->name_length > length && memcmp(sample->name, family, length) == 0 &&
           sample->name[length] == '_';
}

static struct worker *find_worker(struct ldtap_top_snapshot *snapshot,
                                  const struct ldtap_prom_sample *sample) {
    char pid_text[24];
    label_text(sample, "pid", pid_text, sizeof pid_text);
    long pid = strtol(pid_text, NULL, 10);
    if (pid <= 0) {
        return NULL;
    }
    for (uint32_t i = 0; i < snapshot->worker_count; i++) {
        if (snapshot->workers[i].pid == pid) {
            return &snapshot->workers[i];
        }
    }
    if (snapshot->worker_count >= MAX_WORKERS) {
        return NULL;
    }
    struct worker *worker = &snapshot->workers[snapshot->worker_count++];
    memset(worker, 0, sizeof *worker);
    worker->pid = pid;
    label_text(sample, "service_name", worker->service, sizeof worker->service);
    return worker;
}

static struct service_state *find_service(struct ldtap_top_snapshot *snapshot, const char *name) {
    for (uint32_t i = 0; i < snapshot->service_count; i++) {
        if (strcmp(snapshot->services[i].service, name) == 0) {
            return &snapshot->services[i];
        }
    }
    if (snapshot->service_count >= MAX_SERVICES) {
        return NULL;
    }
    struct service_state *service = &snapshot->services[snapshot->service_count++];
    memset(service, 0, sizeof *service);
    snprintf(service->service, sizeof service->service, "%s", name);
    return service;
}

static void add_route_sample(struct ldtap_top_snapshot *snapshot, const struct ldtap_prom_sample *sample,
                             size_t family_length) {
    char service[64], route[TEXT_BYTES], status[16];
    label_text(sample, "service_name", service, sizeof service);
    label_text(sample, "http_route", route, sizeof route);
    label_text(sample, "http_response_status_code", status, sizeof status);
    if (!route[0]) {
        snprintf(route, sizeof route, "(no route)");
    }
    /* Server errors are 5xx (the HTTP semantic conventions); no status at all but an
     * error.type means the request failed before a response. */
    bool is_error = atoi(status) >= 500 || (!status[0] && has_label(sample, "error_type"));
    struct histogram_group *group = find_group(snapshot->routes, &snapshot->route_count, service, route);
    if (group) {
        add_histogram_sample(group, sample, family_length, is_error);
    }
}

static void add_operation_sample(struct ldtap_top_snapshot *snapshot, const struct ldtap_prom_sample *sample,
                                 size_t family_length) {
    char service[64], system[32], operation[64], collection[64], name[TEXT_BYTES];
    label_text(sample, "service_name", service, sizeof service);
    label_text(sample, "db_system_name", system, sizeof system);
    label_text(sample, "db_operation_name", operation, sizeof operation);
    label_text(sample, "db_collection_name", collection, sizeof collection);
    snprintf(name, sizeof name, "%s %s%s%s", system, operation[0] ? operation : "?", collection[0] ? " " : "",
             collection);
    struct histogram_group *group =
        find_group(snapshot->operations, &snapshot->operation_count, service, name);
    if (group) {
        add_histogram_sample(group, sample, family_length, has_label(sample, "error_type"));
    }
}

static void add_sample(void *context, const struct ldtap_prom_sample *sample) {
    struct ldtap_top_snapshot *snapshot = context;
    static const char routes[] = "http_server_request_duration_seconds";
    static const char operations[] = "db_client_operation_duration_seconds";
    if (has_family(sample, routes)) {
        add_route_sample(snapshot, sample, sizeof routes - 1);
        return;
    }
    if (has_family(sample, operations)) {
        add_operation_sample(snapshot, sample, sizeof operations - 1);
        return;
    }
    struct worker *worker = has_label(sample, "pid") ? find_worker(snapshot, sample) : NULL;
    char service_name[64];
    label_text(sample, "service_name", service_name, sizeof service_name);
    if (worker && ldtap_prom_name_is(sample, "process_memory_usage_bytes")) {
        worker->rss += sample->value;
        worker->has_memory = true;
    } else if (worker && ldtap_prom_name_is(sample, "process_cpu_time_seconds_total")) {
        worker->cpu_seconds += sample->value;
    } else if (worker && ldtap_prom_name_is(sample, "ldtap_worker_busy_time_seconds_total")) {
        worker->busy_seconds += sample->value;
        worker->has_busy_time = true;
    } else if (worker && ldtap_prom_name_is(sample, "ldtap_worker_busy_fraction_ratio")) {
        worker->busy_fraction = sample->value;
        worker->has_busy_fraction = true;
    } else if (worker && ldtap_prom_name_is(sample, "http_server_active_requests")) {
        worker->active += sample->value;
    } else if (ldtap_prom_name_is(sample, "ldtap_service_busy_fraction_ratio")) {
        struct service_state *service = find_service(snapshot, service_name);
        if (service) {
            service->busy_fraction = sample->value;
            service->has_busy_fraction = true;
        }
    } else if (ldtap_prom_name_is(sample, "ldtap_listen_accept_queue")) {
        struct service_state *service = find_service(snapshot, service_name);
        if (service) {
            service->accept_queue += sample->value;
            service->has_accept_queue = true;
        }
    } else if (ldtap_prom_name_is(sample, "ldtap_records_drained_total")) {
        snapshot->records_drained += sample->value;
    } else if (ldtap_prom_name_is(sample, "ldtap_records_dropped_total")) {
        snapshot->records_dropped += sample->value;
    } else if (ldtap_prom_name_is(sample, "ldtap_export_failures_total")) {
        snapshot->export_failures += sample->value;
    } else if (ldtap_prom_name_is(sample, "ldtap_rings_attached")) {
        snapshot->rings_attached += sample->value;
    }
}

struct ldtap_top_snapshot *ldtap_top_snapshot_parse(const char *text, size_t length, double time_seconds) {
    struct ldtap_top_snapshot *snapshot = calloc(1, sizeof *snapshot);
    struct ldtap_prom_sample *sample = malloc(sizeof *sample);
    if (snapshot && sample) {
        snapshot->time = time_seconds;
        snapshot->invalid_lines = ldtap_prom_parse(text, length, sample, add_sample, snapshot);
    } else {
        free(snapshot);
        snapshot = NULL;
    }
    free(sample);
    return snapshot;
}

void ldtap_top_snapshot_free(struct ldtap_top_snapshot *snapshot) {
    free(snapshot);
}

double ldtap_top_quantile(double quantile, const double *bounds, const double *counts, size_t bound_count,
                          double total) {
    if (!(total > 0) || bound_count == 0) {
        return NAN;
    }
    double rank = quantile * total;
    double below = 0;
    for (size_t i = 0; i < bound_count; i++) {
        if (counts[i] >= rank && counts[i] > below) {
            /* As Prometheus: the first bucket starts at 0 when its bound is positive. */
            double lower = i == 0 ? (bounds[0] > 0 ? 0 : bounds[0]) : bounds[i - 1];
            return lower + (bounds[i] - lower) * (rank - below) / (counts[i] - below);
        }
        below = counts[i];
    }
    return bounds[bound_count - 1];
}

/* ---- differences between scrapes ---- */

static const struct histogram_group *find_same_group(const struct histogram_group *groups, uint32_t count,
                                                     const struct histogram_group *wanted) {
    for (uint32_t i = 0; i < count; i++) {
        if (strcmp(groups[i].service, wanted->service) == 0 && strcmp(groups[i].name, wanted->name) == 0) {
            return &groups[i];
        }
    }
    return NULL;
}

/* current - previous, or current alone when there is no previous or the counters were
 * reset (the collector restarted). */
static void group_delta(const struct histogram_group *previous, const struct histogram_group *current,
                        struct histogram_group *delta) {
    *delta = *current;
    if (!previous || previous->count > current->count) {
        return;
    }
    delta->count -= previous->count;
    delta->errors -= previous->errors;
    delta->sum -= previous->sum;
    for (uint32_t i = 0; i < delta->bound_count; i++) {
        for (uint32_t j = 0; j < previous->bound_count; j++) {
            if (previous->bounds[j] == delta->bounds[i]) {
                delta->buckets[i] -= previous->buckets[j];
                break;
            }
        }
    }
}

/* ---- the screen ---- */

struct screen {
    struct ldtap_buffer *out;
    int width;
    int lines_left;
};

static void line(struct screen *screen, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void line(struct screen *screen, const char *format, ...) {
    if (screen->lines_left <= 0) {
        return;
    }
    char text[1024];
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(text, sizeof text, format, arguments);
    va_end(arguments);
    length = length < 0 ? 0 : length >= (int)sizeof text ? (int)sizeof text - 1 : length;
    length = length > screen->width ? screen->width : length;
    ldtap_buffer_append(screen->out, text, (size_t)length);
    ldtap_buffer_append_byte(screen->out, '\n');
    screen->lines_left--;
}

/* Labels come from the network: only printable ASCII reaches the terminal (an escape
 * sequence in a route must not drive it), cut to `width` with '~' marking the cut. */
static const char *printable(const char *text, int width, char *copy, size_t size) {
    size_t length = 0;
    for (; text[length] && length + 1 < size && (int)length < width; length++) {
        unsigned char c = (unsigned char)text[length];
        copy[length] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (text[length] && length > 0) {
        copy[length - 1] = '~';
    }
    copy[length] = '\0';
    return copy;
}

static const char *duration_text(double seconds, char *text, size_t size) {
    if (!isfinite(seconds) || seconds < 0) {
        snprintf(text, size, "-");
    } else if (seconds < 1e-3) {
        snprintf(text, size, "%.0fus", seconds * 1e6);
    } else if (seconds < 1) {
        snprintf(text, size, "%.1fms", seconds * 1e3);
    } else {
        snprintf(text, size, "%.2fs", seconds);
    }
    return text;
}

static const char *number_text(double value, const char *format, char *text, size_t size) {
    if (!isfinite(value)) {
        snprintf(text, size, "-");
    } else if (value >= 1e7) {
        snprintf(text, size, "%.1fM", value / 1e6);
    } else {
        snprintf(text, size, format, value);
    }
    return text;
}

static const char *bytes_text(double bytes, char *text, size_t size) {
    static const char units[] = "KMGT";
    double value = bytes / 1024;
    int unit = 0;
    while (value >= 1024 && unit < 3) {
        value /= 1024;
        unit++;
    }
    snprintf(text, size, "%.1f%c", value, units[unit]);
    return text;
}

struct row {
    const struct histogram_group *group;
    struct histogram_group window; /* since the previous scrape, or since start */
    double rate;                   /* per second; NaN before the second scrape */
    double sort_key;
};

static int by_sort_key(const void *left, const void *right) {
    double a = ((const struct row *)left)->sort_key, b = ((const struct row *)right)->sort_key;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* Rows of `groups` with their windows, sorted by `sort_key` (rate or p95) descending. */
static struct row *make_rows(const struct histogram_group *groups, uint32_t count,
                             const struct histogram_group *previous_groups, uint32_t previous_count,
                             double interval, bool by_latency) {
    struct row *rows = calloc(count ? count : 1, sizeof *rows);
    for (uint32_t i = 0; rows && i < count; i++) {
        struct row *row = &rows[i];
        row->group = &groups[i];
        const struct histogram_group *before =
            previous_groups ? find_same_group(previous_groups, previous_count, &groups[i]) : NULL;
        group_delta(before, &groups[i], &row->window);
        row->rate = previous_groups && interval > 0 ? row->window.count / interval : NAN;
        if (!(row->window.count > 0)) {
            row->window = groups[i]; /* idle: latency since start rather than nothing */
        }
        double p95 = ldtap_top_quantile(0.95, row->window.bounds, row->window.buckets,
                                        row->window.bound_count, row->window.count);
        row->sort_key = by_latency ? (isfinite(p95) ? p95 : -1)
                                   : (isfinite(row->rate) ? row->rate * 1e12 : 0) + groups[i].count;
    }
    if (rows) {
        qsort(rows, count, sizeof *rows, by_sort_key);
    }
    return rows;
}

static void quantile_texts(const struct histogram_group *window, char texts[3][16]) {
    static const double quantiles[3] = {0.5, 0.95, 0.99};
    for (int i = 0; i < 3; i++) {
        duration_text(ldtap_top_quantile(quantiles[i], window->bounds, window->buckets, window->bound_count,
                                         window->count),
                      texts[i], sizeof texts[i]);
    }
}

static void render_routes(struct screen *screen, const struct row *rows, uint32_t count, int room) {
    int route_width = 22 + (screen->width - 80);
    line(screen, "%-10s %-*s %7s %7s %5s %7s %7s %7s", "SERVICE", route_width, "ROUTE", "REQS", "REQ/s",
         "ERR%", "P50", "P95", "P99");
    if (count == 0) {
        line(screen, "(no HTTP server requests yet)");
    }
    for (uint32_t i = 0; i < count && (int)i < room; i++) {
        const struct row *row = &rows[i];
        char service[16], route[256], total[16], rate[16], errors[16], quantiles[3][16];
        quantile_texts(&row->window, quantiles);
        double error_share = row->window.count > 0 ? 100 * row->window.errors / row->window.count : NAN;
        line(screen, "%-10s %-*s %7s %7s %5s %7s %7s %7s",
             printable(row->group->service, 10, service, sizeof service), route_width,
             printable(row->group->name, route_width, route, sizeof route),
             number_text(row->group->count, "%.0f", total, sizeof total),
             number_text(row->rate, "%.1f", rate, sizeof rate),
             number_text(error_share, "%.1f", errors, sizeof errors), quantiles[0], quantiles[1],
             quantiles[2]);
    }
    if ((int)count > room) {
        line(screen, "  ... %u more routes", (unsigned)(count - (uint32_t)room));
    }
}

static const struct worker *find_same_worker(const struct ldtap_top_snapshot *snapshot, long pid) {
    for (uint32_t i = 0; snapshot && i < snapshot->worker_count; i++) {
        if (snapshot->workers[i].pid == pid) {
            return &snapshot->workers[i];
        }
    }
    return NULL;
}

static void render_workers(struct screen *screen, const struct ldtap_top_snapshot *previous,
                           const struct ldtap_top_snapshot *current, double interval, int room) {
    if (current->worker_count == 0 && current->service_count == 0) {
        return;
    }
    line(screen, "%s", "");
    line(screen, "%-8s %-20s %9s %7s %7s %7s", "PID", "SERVICE", "RSS", "CPU%", "BUSY%", "ACTIVE");
    for (uint32_t i = 0, shown = 0; i < current->worker_count && (int)shown < room; i++) {
        const struct worker *worker = &current->workers[i];
        if (!worker->has_memory) {
            continue;
        }
        shown++;
        const struct worker *before = find_same_worker(previous, worker->pid);
        double cpu =
            before && interval > 0 ? 100 * (worker->cpu_seconds - before->cpu_seconds) / interval : NAN;
        double busy = worker->has_busy_fraction ? 100 * worker->busy_fraction
                      : worker->has_busy_time && before && interval > 0
                          ? 100 * (worker->busy_seconds - before->busy_seconds) / interval
                          : NAN;
        char service[32], rss[16], cpu_text[16], busy_text[16], active[16];
        line(screen, "%-8ld %-20s %9s %7s %7s %7s", worker->pid,
             printable(worker->service, 20, service, sizeof service),
             bytes_text(worker->rss, rss, sizeof rss), number_text(cpu, "%.1f", cpu_text, sizeof cpu_text),
             number_text(busy, "%.1f", busy_text, sizeof busy_text),
             number_text(worker->active, "%.0f", active, sizeof active));
    }
    for (uint32_t i = 0; i < current->service_count && i < 4; i++) {
        const struct service_state *service = &current->services[i];
        char name[32], busy[16], queue[16];
        line(screen, "service %s: busy %s%%, accept queue %s",
             printable(service->service, 30, name, sizeof name),
             number_text(service->has_busy_fraction ? 100 * service->busy_fraction : NAN, "%.0f", busy,
                         sizeof busy),
             number_text(service->has_accept_queue ? service->accept_queue : NAN, "%.0f", queue,
                         sizeof queue));
    }
}

static void render_operations(struct screen *screen, const struct row *rows, uint32_t count, int room) {
    if (count == 0) {
        return;
    }
    int name_width = 36 + (screen->width - 80);
    line(screen, "%s", "");
    line(screen, "%-*s %-10s %7s %7s %7s %7s", name_width, "SLOWEST DB OPERATIONS", "SERVICE", "COUNT",
         "OPS/s", "P95", "P99");
    for (uint32_t i = 0; i < count && (int)i < room; i++) {
        const struct row *row = &rows[i];
        char name[256], service[16], total[16], rate[16], quantiles[3][16];
        quantile_texts(&row->window, quantiles);
        line(screen, "%-*s %-10s %7s %7s %7s %7s", name_width,
             printable(row->group->name, name_width, name, sizeof name),
             printable(row->group->service, 10, service, sizeof service),
             number_text(row->group->count, "%.0f", total, sizeof total),
             number_text(row->rate, "%.1f", rate, sizeof rate), quantiles[1], quantiles[2]);
    }
}

void ldtap_top_render(const struct ldtap_top_snapshot *previous, const struct ldtap_top_snapshot *current,
                      const char *title, int width, int height, struct ldtap_buffer *out) {
    struct screen screen = {out,
                            width < 80     ? 80
                            : width > 1000 ? 1000
                                           : width,
                            height > 0 ? height : 1 << 30};
    double interval = previous ? current->time - previous->time : 0;
    char title_text[1024];
    line(&screen, "%s", printable(title, screen.width, title_text, sizeof title_text));
    line(&screen, "%s", "");
    /* Room for routes: what the other sections leave, but never fewer than 3 rows. */
    int workers = current->worker_count + current->service_count > 0
                      ? 2 + (int)(current->worker_count < 8 ? current->worker_count : 8) +
                            (int)(current->service_count < 4 ? current->service_count : 4)
                      : 0;
    int operations = current->operation_count > 0
                         ? 2 + (int)(current->operation_count < 5 ? current->operation_count : 5)
                         : 0;
    int route_room = screen.lines_left - 4 - workers - operations;
    route_room = route_room < 3 ? 3 : route_room;
    struct row *routes = make_rows(current->routes, current->route_count, previous ? previous->routes : NULL,
                                   previous ? previous->route_count : 0, interval, false);
    struct row *slowest =
        make_rows(current->operations, current->operation_count, previous ? previous->operations : NULL,
                  previous ? previous->operation_count : 0, interval, true);
    if (routes) {
        render_routes(&screen, routes, current->route_count, route_room);
    }
    render_workers(&screen, previous, current, interval, height > 0 ? 8 : 1 << 30);
    if (slowest) {
        render_operations(&screen, slowest, current->operation_count, height > 0 ? 5 : 10);
    }
    free(routes);
    free(slowest);
    line(&screen, "%s", "");
    char invalid[64] = "";
    if (current->invalid_lines) {
        snprintf(invalid, sizeof invalid, ", %zu bad lines", current->invalid_lines);
    }
    line(&screen, "ldtap: %.0f records drained, %.0f dropped, %.0f rings, %.0f export failures%s",
         current->records_drained, current->records_dropped, current->rings_attached,
         current->export_failures, invalid);
}
