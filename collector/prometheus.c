/* Renders the metric store as Prometheus text exposition: families named by
 * prometheus_names.c, labels from point attributes and the resource, values escaped. */
#include "prometheus.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resource.h"

/* ---- text output ---- */

/* Shortest text that reads back as the same double; Prometheus spells the specials. */
static void format_double(double value, char *text, size_t size) {
    if (isnan(value)) {
        snprintf(text, size, "NaN");
    } else if (isinf(value)) {
        snprintf(text, size, value > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(text, size, "%.15g", value);
        if (strtod(text, NULL) != value) {
            snprintf(text, size, "%.17g", value);
        }
    }
}

static void append_double(struct ldtap_buffer *out, double value) {
    char text[40];
    format_double(value, text, sizeof text);
    ldtap_buffer_append_cstring(out, text);
}

/* Length of the valid UTF-8 sequence at `text`, 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *text, size_t length) {
    unsigned char lead = text[0];
    size_t need = lead < 0x80             ? 1
                  : (lead & 0xE0) == 0xC0 ? 2
                  : (lead & 0xF0) == 0xE0 ? 3
                  : (lead & 0xF8) == 0xF0 ? 4
                                          : 0;
    if (need == 0 || need > length || (need == 2 && lead < 0xC2) || (need == 4 && lead > 0xF4)) {
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        if ((text[i] & 0xC0) != 0x80) {
            return 0;
        }
    }
    if ((need == 3 && lead == 0xE0 && text[1] < 0xA0) || (need == 3 && lead == 0xED && text[1] >= 0xA0) ||
        (need == 4 && lead == 0xF0 && text[1] < 0x90) || (need == 4 && lead == 0xF4 && text[1] >= 0x90)) {
        return 0; /* overlong, surrogate or beyond U+10FFFF */
    }
    return need;
}

/* Label values escape \, " and newline; HELP text only \ and newline. Bytes that are not
 * UTF-8 (a hostile URL can put any byte in a route) become U+FFFD: Prometheus rejects the
 * whole scrape otherwise. */
static void append_escaped(struct ldtap_buffer *out, const char *text, size_t length, bool quote) {
    const unsigned char *bytes = (const unsigned char *)text;
    size_t i = 0;
    while (i < length) {
        size_t sequence = utf8_sequence(bytes + i, length - i);
        if (sequence == 0) {
            ldtap_buffer_append(out, "\xEF\xBF\xBD", 3);
            i++;
        } else if (bytes[i] == '\\') {
            ldtap_buffer_append(out, "\\\\", 2);
            i++;
        } else if (bytes[i] == '\n') {
            ldtap_buffer_append(out, "\\n", 2);
            i++;
        } else if (bytes[i] == '"' && quote) {
            ldtap_buffer_append(out, "\\\"", 2);
            i++;
        } else {
            ldtap_buffer_append(out, bytes + i, sequence);
            i += sequence;
        }
    }
}

/* ---- labels ---- */

#define MAX_LABELS 48
struct label {
    char name[96];
    const char *value;
    size_t length;
    char number[40]; /* the value's text when it is not a string */
};

struct label_set {
    struct label labels[MAX_LABELS];
    uint32_t count;
};

static struct label *label_add(struct label_set *set, const char *name, const char *value, size_t length) {
    if (set->count >= MAX_LABELS) {
        return NULL;
    }
    struct label *label = &set->labels[set->count++];
    snprintf(label->name, sizeof label->name, "%s", name);
    label->value = value;
    label->length = length;
    return label;
}

static void label_add_attribute(struct label_set *set, const struct ldtap_attribute *attribute,
                                const char *text) {
    char name[96];
    ldtap_prometheus_label_name(attribute->key, name, sizeof name);
    struct label *label = label_add(set, name, "", 0);
    if (!label) {
        return;
    }
    switch (attribute->type) {
    case LDTAP_VALUE_STRING:
        label->value = text + attribute->string_offset;
        label->length = attribute->string_length;
        return;
    case LDTAP_VALUE_INT:
        snprintf(label->number, sizeof label->number, "%" PRId64, attribute->int_value);
        break;
    case LDTAP_VALUE_DOUBLE:
        format_double(attribute->double_value, label->number, sizeof label->number);
        break;
    default:
        snprintf(label->number, sizeof label->number, "%s", attribute->bool_value ? "true" : "false");
        break;
    }
    label->value = label->number;
    label->length = strlen(label->number);
}

/* Writes {a="x",b="y"[,le="..."]}. Labels whose names collide after sanitising are
 * written once with their values joined by ';', as the specification says. */
static void write_labels(struct ldtap_buffer *out, const struct label_set *set, const char *le) {
    if (set->count == 0 && !le) {
        return;
    }
    ldtap_buffer_append_byte(out, '{');
    bool first = true;
    for (uint32_t i = 0; i < set->count; i++) {
        const struct label *label = &set->labels[i];
        bool written_before = false;
        for (uint32_t j = 0; j < i && !written_before; j++) {
            written_before = strcmp(set->labels[j].name, label->name) == 0;
        }
        if (written_before || (le && strcmp(label->name, "le") == 0)) {
            continue;
        }
        if (!first) {
            ldtap_buffer_append_byte(out, ',');
        }
        first = false;
        ldtap_buffer_append_cstring(out, label->name);
        ldtap_buffer_append(out, "=\"", 2);
        append_escaped(out, label->value, label->length, true);
        for (uint32_t j = i + 1; j < set->count; j++) {
            if (strcmp(set->labels[j].name, label->name) == 0) {
                ldtap_buffer_append_byte(out, ';');
                append_escaped(out, set->labels[j].value, set->labels[j].length, true);
            }
        }
        ldtap_buffer_append_byte(out, '"');
    }
    if (le) {
        ldtap_buffer_append_cstring(out, first ? "le=\"" : ",le=\"");
        ldtap_buffer_append_cstring(out, le);
        ldtap_buffer_append_byte(out, '"');
    }
    ldtap_buffer_append_byte(out, '}');
}

static const struct ldtap_attribute *resource_find(const struct ldtap_resource *resource, const char *key) {
    for (uint16_t i = 0; resource && i < resource->attribute_count; i++) {
        if (strcmp(resource->attributes[i].key, key) == 0) {
            return &resource->attributes[i];
        }
    }
    return NULL;
}

/* job is service.namespace/service.name (the specification's mapping), service_name the
 * bare name: a scraping Prometheus renames our job to exported_job, so dashboards group by
 * service_name. */
static void add_identity_labels(struct label_set *set, const struct ldtap_resource *resource, char *job,
                                size_t job_size) {
    const struct ldtap_attribute *name = resource_find(resource, "service.name");
    const struct ldtap_attribute *space = resource_find(resource, "service.namespace");
    if (!name || name->type != LDTAP_VALUE_STRING) {
        return;
    }
    const char *service = ldtap_resource_string(resource, name);
    if (space && space->type == LDTAP_VALUE_STRING) {
        snprintf(job, job_size, "%.*s/%.*s", (int)space->string_length,
                 ldtap_resource_string(resource, space), (int)name->string_length, service);
        label_add(set, "job", job, strlen(job));
    } else {
        label_add(set, "job", service, name->string_length);
    }
    label_add(set, "service_name", service, name->string_length);
}

/* ---- families ---- */

static const char *type_name(enum ldtap_instrument_kind kind) {
    switch (kind) {
    case LDTAP_INSTRUMENT_COUNTER:
        return "counter";
    case LDTAP_INSTRUMENT_HISTOGRAM:
        return "histogram";
    default:
        return "gauge"; /* up-down counters too: Prometheus counters never decrease */
    }
}

static void remember_resource(struct ldtap_prometheus_render *render, const struct ldtap_resource *resource) {
    for (uint32_t i = 0; i < render->seen_count; i++) {
        if (render->seen[i] == resource) {
            return;
        }
    }
    if (render->seen_count >= sizeof render->seen / sizeof render->seen[0]) {
        return;
    }
    render->seen[render->seen_count++] = resource;
    /* target_info carries the resource's descriptive attributes once, instead of on every
     * series; the identity ones are already job/service_name. */
    struct label_set set;
    set.count = 0;
    char job[256];
    add_identity_labels(&set, resource, job, sizeof job);
    for (uint16_t i = 0; i < resource->attribute_count; i++) {
        const char *key = resource->attributes[i].key;
        if (strcmp(key, "service.name") != 0 && strcmp(key, "service.namespace") != 0) {
            label_add_attribute(&set, &resource->attributes[i], resource->text);
        }
    }
    ldtap_buffer_append_cstring(&render->target_info, "target_info");
    write_labels(&render->target_info, &set, NULL);
    ldtap_buffer_append_cstring(&render->target_info, " 1\n");
}

void ldtap_prometheus_render_begin(struct ldtap_prometheus_render *render, struct ldtap_buffer *out) {
    memset(render, 0, sizeof *render);
    render->out = out;
    ldtap_buffer_init(&render->target_info);
}

static void write_family_header(struct ldtap_prometheus_render *render,
                                const struct ldtap_instrument *instrument) {
    struct ldtap_buffer *out = render->out;
    render->current = instrument;
    if (!ldtap_prometheus_family_name(instrument, render->family, sizeof render->family)) {
        render->family[0] = '\0';
        return;
    }
    const char *help =
        instrument->description && instrument->description[0] ? instrument->description : instrument->name;
    ldtap_buffer_append_cstring(out, "# HELP ");
    ldtap_buffer_append_cstring(out, render->family);
    ldtap_buffer_append_byte(out, ' ');
    append_escaped(out, help, strlen(help), false);
    ldtap_buffer_append(out, "\n# TYPE ", 8);
    ldtap_buffer_append_cstring(out, render->family);
    ldtap_buffer_append_byte(out, ' ');
    ldtap_buffer_append_cstring(out, type_name(instrument->kind));
    ldtap_buffer_append_byte(out, '\n');
}

static void write_histogram(struct ldtap_buffer *out, const char *family,
                            const struct ldtap_instrument *instrument, const struct ldtap_metric_point *point,
                            const struct label_set *set) {
    uint64_t cumulative = 0;
    char le[40];
    for (uint32_t i = 0; i <= instrument->bound_count; i++) {
        cumulative += point->bucket_counts ? point->bucket_counts[i] : 0;
        if (i < instrument->bound_count) {
            format_double(instrument->bounds[i], le, sizeof le);
        } else {
            snprintf(le, sizeof le, "+Inf");
        }
        ldtap_buffer_append_cstring(out, family);
        ldtap_buffer_append_cstring(out, "_bucket");
        write_labels(out, set, le);
        ldtap_buffer_append_format(out, " %" PRIu64 "\n", cumulative);
    }
    ldtap_buffer_append_cstring(out, family);
    ldtap_buffer_append_cstring(out, "_sum");
    write_labels(out, set, NULL);
    ldtap_buffer_append_byte(out, ' ');
    append_double(out, point->sum);
    ldtap_buffer_append_byte(out, '\n');
    ldtap_buffer_append_cstring(out, family);
    ldtap_buffer_append_cstring(out, "_count");
    write_labels(out, set, NULL);
    /* The +Inf bucket, so that _count and the last bucket can never disagree. */
    ldtap_buffer_append_format(out, " %" PRIu64 "\n", cumulative);
}

void ldtap_prometheus_visit(void *context, const struct ldtap_instrument *instrument,
                            const struct ldtap_metric_point *point) {
    struct ldtap_prometheus_render *render = context;
    if (instrument != render->current) {
        write_family_header(render, instrument);
    }
    if (!render->family[0]) {
        return;
    }
    struct label_set set;
    set.count = 0;
    char job[256];
    if (point->resource) {
        add_identity_labels(&set, point->resource, job, sizeof job);
        const struct ldtap_attribute *pid = resource_find(point->resource, "process.pid");
        if (pid) {
            label_add_attribute(&set, pid, point->resource->text);
            snprintf(set.labels[set.count - 1].name, sizeof set.labels[0].name, "pid");
        }
        remember_resource(render, point->resource);
    }
    for (uint16_t i = 0; i < point->attribute_count; i++) {
        label_add_attribute(&set, &point->attributes[i], point->text);
    }
    struct ldtap_buffer *out = render->out;
    if (instrument->kind == LDTAP_INSTRUMENT_HISTOGRAM) {
        write_histogram(out, render->family, instrument, point, &set);
        return;
    }
    ldtap_buffer_append_cstring(out, render->family);
    write_labels(out, &set, NULL);
    if (instrument->is_integer) {
        ldtap_buffer_append_format(out, " %" PRId64 "\n", point->int_value);
    } else {
        ldtap_buffer_append_byte(out, ' ');
        append_double(out, point->value);
        ldtap_buffer_append_byte(out, '\n');
    }
}

bool ldtap_prometheus_render_end(struct ldtap_prometheus_render *render) {
    if (render->target_info.length > 0) {
        ldtap_buffer_append_cstring(render->out,
                                    "# HELP target_info Target metadata\n# TYPE target_info gauge\n");
        ldtap_buffer_append(render->out, render->target_info.data, render->target_info.length);
    }
    bool ok = !render->out->failed && !render->target_info.failed;
    ldtap_buffer_free(&render->target_info);
    return ok;
}

bool ldtap_prometheus_render(struct ldtap_metrics *metrics, struct ldtap_buffer *out) {
    struct ldtap_prometheus_render render;
    ldtap_prometheus_render_begin(&render, out);
    ldtap_metrics_collect(metrics, ldtap_prometheus_visit, &render);
    return ldtap_prometheus_render_end(&render);
}
