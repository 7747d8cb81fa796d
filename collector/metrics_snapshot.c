/* Metric snapshots for the OTLP exporter: each visited series is copied into one block
 * (point, bucket counts, attributes, their text), because the store's memory is only ours
 * while its lock is held. Delta conversion diffs against the last delivered export. */
#include "metrics_snapshot.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN8(size) (((size) + 7u) & ~(size_t)7u)

void ldtap_metrics_snapshot_init(struct ldtap_metrics_snapshot *snapshot) {
    memset(snapshot, 0, sizeof *snapshot);
}

static bool is_histogram(const struct ldtap_instrument *instrument) {
    return instrument->kind == LDTAP_INSTRUMENT_HISTOGRAM;
}

/* Bytes the copied keys and string values need. */
static size_t text_needed(const struct ldtap_metric_point *point) {
    size_t bytes = 0;
    for (uint16_t i = 0; i < point->attribute_count; i++) {
        const struct ldtap_attribute *attribute = &point->attributes[i];
        bytes += strlen(attribute->key) + 1;
        if (attribute->type == LDTAP_VALUE_STRING) {
            bytes += attribute->string_length;
        }
    }
    return bytes;
}

/* Copies attributes so that keys and strings point into `text` (offsets fit: text_needed
 * was checked against UINT16_MAX). */
static void copy_attributes(struct ldtap_snapshot_point *copy, const struct ldtap_metric_point *point) {
    size_t used = 0;
    for (uint16_t i = 0; i < point->attribute_count; i++) {
        struct ldtap_attribute *attribute = &copy->attributes[i];
        *attribute = point->attributes[i];
        if (attribute->type == LDTAP_VALUE_STRING) {
            memcpy(copy->text + used, point->text + attribute->string_offset, attribute->string_length);
            attribute->string_offset = (uint16_t)used;
            used += attribute->string_length;
        }
        size_t key_length = strlen(point->attributes[i].key);
        memcpy(copy->text + used, point->attributes[i].key, key_length + 1);
        attribute->key = copy->text + used;
        used += key_length + 1;
    }
}

static bool grow(struct ldtap_metrics_snapshot *snapshot) {
    size_t capacity = snapshot->capacity ? snapshot->capacity * 2 : 64;
    struct ldtap_snapshot_point **points = realloc(snapshot->points, capacity * sizeof *points);
    if (!points) {
        return false;
    }
    snapshot->points = points;
    snapshot->capacity = capacity;
    return true;
}

void ldtap_metrics_snapshot_visit(void *context, const struct ldtap_instrument *instrument,
                                  const struct ldtap_metric_point *point) {
    struct ldtap_metrics_snapshot *snapshot = context;
    size_t buckets = is_histogram(instrument) ? (size_t)instrument->bound_count + 1 : 0;
    size_t text_bytes = text_needed(point);
    if (snapshot->failed || text_bytes > UINT16_MAX ||
        (snapshot->count == snapshot->capacity && !grow(snapshot))) {
        snapshot->failed = true;
        return;
    }
    size_t point_bytes = ALIGN8(sizeof(struct ldtap_snapshot_point));
    size_t bucket_bytes = buckets * sizeof(uint64_t);
    size_t attribute_bytes = point->attribute_count * sizeof(struct ldtap_attribute);
    struct ldtap_snapshot_point *copy = calloc(1, point_bytes + bucket_bytes + attribute_bytes + text_bytes);
    if (!copy) {
        snapshot->failed = true;
        return;
    }
    uint8_t *block = (uint8_t *)copy;
    *copy = (struct ldtap_snapshot_point){
        .instrument = instrument,
        /* The store may drop a gone process's resource once collect returns. */
        .resource = (struct ldtap_resource *)point->resource,
        .series_id = point->series_id,
        .start_time_ns = point->start_time_ns,
        .time_ns = point->time_ns,
        .value = point->value,
        .int_value = point->int_value,
        .count = point->count,
        .sum = point->sum,
        .min = point->min,
        .max = point->max,
        .has_min_max = is_histogram(instrument) && point->count > 0,
        .bucket_counts = (uint64_t *)(block + point_bytes),
        .attributes = (struct ldtap_attribute *)(block + point_bytes + bucket_bytes),
        .attribute_count = point->attribute_count,
        .text = (char *)(block + point_bytes + bucket_bytes + attribute_bytes),
        .visit_order = snapshot->count,
    };
    if (copy->resource) {
        ldtap_resource_retain(copy->resource);
    }
    if (buckets) {
        memcpy(copy->bucket_counts, point->bucket_counts, bucket_bytes);
    }
    copy_attributes(copy, point);
    snapshot->points[snapshot->count++] = copy;
}

/* Sort key: the resource's first-appearance rank, then visit order (qsort is not stable). */
struct ranked_point {
    size_t rank;
    struct ldtap_snapshot_point *point;
};

static int compare_ranked(const void *left, const void *right) {
    const struct ranked_point *a = left, *b = right;
    if (a->rank != b->rank) {
        return a->rank < b->rank ? -1 : 1;
    }
    return a->point->visit_order < b->point->visit_order ? -1 : a->point->visit_order > b->point->visit_order;
}

void ldtap_metrics_snapshot_order(struct ldtap_metrics_snapshot *snapshot) {
    size_t count = snapshot->count;
    struct ranked_point *ranked = calloc(count ? count : 1, sizeof *ranked);
    const struct ldtap_resource **seen = calloc(count ? count : 1, sizeof *seen);
    if (!ranked || !seen) {
        /* Unordered points only cost extra ResourceMetrics and Metric entries. */
        free(ranked);
        free(seen);
        return;
    }
    size_t distinct = 0;
    for (size_t i = 0; i < count; i++) {
        const struct ldtap_resource *resource = snapshot->points[i]->resource;
        size_t rank = distinct;
        /* Most neighbours share a resource: check the previous point's first. */
        if (i > 0 && snapshot->points[i - 1]->resource == resource) {
            rank = ranked[i - 1].rank;
        } else {
            for (size_t r = 0; r < distinct; r++) {
                if (seen[r] == resource) {
                    rank = r;
                    break;
                }
            }
            if (rank == distinct) {
                seen[distinct++] = resource;
            }
        }
        ranked[i] = (struct ranked_point){rank, snapshot->points[i]};
    }
    qsort(ranked, count, sizeof *ranked, compare_ranked);
    for (size_t i = 0; i < count; i++) {
        snapshot->points[i] = ranked[i].point;
    }
    free(ranked);
    free(seen);
}

size_t ldtap_metrics_snapshot_resource_end(const struct ldtap_metrics_snapshot *snapshot, size_t first) {
    size_t end = first + 1;
    while (end < snapshot->count && snapshot->points[end]->resource == snapshot->points[first]->resource) {
        end++;
    }
    return end;
}

size_t ldtap_metrics_snapshot_instrument_end(const struct ldtap_metrics_snapshot *snapshot, size_t first, size_t end) {
    size_t at = first + 1;
    while (at < end && snapshot->points[at]->instrument == snapshot->points[first]->instrument) {
        at++;
    }
    return at;
}

static void free_point(struct ldtap_snapshot_point *point) {
    if (point->resource) {
        ldtap_resource_release(point->resource);
    }
    free(point);
}

void ldtap_metrics_snapshot_clear(struct ldtap_metrics_snapshot *snapshot) {
    for (size_t i = 0; i < snapshot->count; i++) {
        free_point(snapshot->points[i]);
    }
    snapshot->count = 0;
    snapshot->failed = false;
}

void ldtap_metrics_snapshot_free(struct ldtap_metrics_snapshot *snapshot) {
    ldtap_metrics_snapshot_clear(snapshot);
    free(snapshot->points);
    ldtap_metrics_snapshot_init(snapshot);
}

/* ---- temporality ---- */

bool ldtap_metrics_is_delta(enum ldtap_metrics_temporality preference, enum ldtap_instrument_kind kind) {
    switch (kind) {
    case LDTAP_INSTRUMENT_HISTOGRAM:
        return preference != LDTAP_TEMPORALITY_CUMULATIVE;
    case LDTAP_INSTRUMENT_COUNTER:
        return preference == LDTAP_TEMPORALITY_DELTA;
    default:
        return false;
    }
}

void ldtap_delta_state_free(struct ldtap_delta_state *state) {
    for (size_t i = 0; i < state->count; i++) {
        free(state->entries[i].bucket_counts);
    }
    free(state->entries);
    state->entries = NULL;
    state->count = 0;
}

static int compare_entries(const void *left, const void *right) {
    const struct ldtap_delta_entry *a = left, *b = right;
    return a->series_id < b->series_id ? -1 : a->series_id > b->series_id;
}

static const struct ldtap_delta_entry *find_entry(const struct ldtap_delta_state *state, uint64_t series_id) {
    struct ldtap_delta_entry key = {.series_id = series_id};
    return state->count ? bsearch(&key, state->entries, state->count, sizeof key, compare_entries) : NULL;
}

/* Records the cumulative values of every delta point, before they are diffed. */
static bool remember_cumulative(const struct ldtap_metrics_snapshot *snapshot, struct ldtap_delta_state *next) {
    size_t delta_points = 0;
    for (size_t i = 0; i < snapshot->count; i++) {
        delta_points += snapshot->points[i]->delta;
    }
    next->entries = calloc(delta_points ? delta_points : 1, sizeof *next->entries);
    if (!next->entries) {
        return false;
    }
    for (size_t i = 0; i < snapshot->count; i++) {
        const struct ldtap_snapshot_point *point = snapshot->points[i];
        if (!point->delta) {
            continue;
        }
        struct ldtap_delta_entry *entry = &next->entries[next->count++];
        *entry = (struct ldtap_delta_entry){point->series_id, point->start_time_ns, point->time_ns, point->count,
                                            point->sum, point->value, point->int_value, 0, NULL};
        if (is_histogram(point->instrument)) {
            entry->bucket_total = point->instrument->bound_count + 1;
            entry->bucket_counts = malloc(entry->bucket_total * sizeof(uint64_t));
            if (!entry->bucket_counts) {
                ldtap_delta_state_free(next);
                return false;
            }
            memcpy(entry->bucket_counts, point->bucket_counts, entry->bucket_total * sizeof(uint64_t));
        }
    }
    qsort(next->entries, next->count, sizeof *next->entries, compare_entries);
    return true;
}

/* Whether `before` is an earlier state of the same run of the series: otherwise the store
 * reset it (or reused the id) and the whole cumulative value is new. */
static bool continues(const struct ldtap_snapshot_point *point, const struct ldtap_delta_entry *before) {
    if (!before || before->start_time_ns != point->start_time_ns) {
        return false;
    }
    if (!is_histogram(point->instrument)) {
        return point->instrument->is_integer ? point->int_value >= before->int_value : point->value >= before->value;
    }
    if (point->count < before->count || before->bucket_total != point->instrument->bound_count + 1) {
        return false;
    }
    for (uint32_t i = 0; i < before->bucket_total; i++) {
        if (point->bucket_counts[i] < before->bucket_counts[i]) {
            return false;
        }
    }
    return true;
}

/* Turns a cumulative point into its change since `before`; false when nothing changed. */
static bool to_delta(struct ldtap_snapshot_point *point, const struct ldtap_delta_entry *before) {
    if (!continues(point, before)) {
        return is_histogram(point->instrument)  ? point->count > 0
               : point->instrument->is_integer ? point->int_value != 0
                                               : point->value != 0.0;
    }
    point->start_time_ns = before->time_ns;
    if (!is_histogram(point->instrument)) {
        point->int_value -= before->int_value;
        point->value -= before->value;
        return point->instrument->is_integer ? point->int_value != 0 : point->value != 0.0;
    }
    point->count -= before->count;
    point->sum -= before->sum;
    for (uint32_t i = 0; i < before->bucket_total; i++) {
        point->bucket_counts[i] -= before->bucket_counts[i];
    }
    /* Cumulative extremes say nothing about this interval's; min and max are optional. */
    point->has_min_max = false;
    return point->count > 0;
}

bool ldtap_metrics_snapshot_apply_temporality(struct ldtap_metrics_snapshot *snapshot,
                                              enum ldtap_metrics_temporality preference,
                                              const struct ldtap_delta_state *previous,
                                              struct ldtap_delta_state *next) {
    next->entries = NULL;
    next->count = 0;
    for (size_t i = 0; i < snapshot->count; i++) {
        snapshot->points[i]->delta = ldtap_metrics_is_delta(preference, snapshot->points[i]->instrument->kind);
    }
    if (!remember_cumulative(snapshot, next)) {
        return false;
    }
    size_t kept = 0;
    for (size_t i = 0; i < snapshot->count; i++) {
        struct ldtap_snapshot_point *point = snapshot->points[i];
        if (point->delta && !to_delta(point, find_entry(previous, point->series_id))) {
            free_point(point);
            continue;
        }
        snapshot->points[kept++] = point;
    }
    snapshot->count = kept;
    return true;
}
