/* Prometheus text exposition (format 0.0.4) of the metric store, with the OpenTelemetry
 * "Prometheus and OpenMetrics Compatibility" name, unit and label translation. */
#ifndef LDTAP_PROMETHEUS_H
#define LDTAP_PROMETHEUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "metrics.h"

#define LDTAP_PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The Prometheus metric family name of an instrument: dots and other invalid characters
 * become '_' (runs collapsed), the unit's Prometheus suffix is appended unless already
 * there ("s" -> _seconds, "By" -> _bytes, "1" -> _ratio for gauges, "{...}" dropped,
 * "a/b" -> _a_per_b), counters end in _total. Returns false if `size` is too small. */
bool ldtap_prometheus_family_name(const struct ldtap_instrument *instrument, char *name, size_t size);

/* A label name from an attribute key: invalid characters become '_', a leading digit gets
 * a "key_" prefix, and a leading '_' one "key" (names starting "__" are Prometheus's). */
void ldtap_prometheus_label_name(const char *key, char *name, size_t size);

/* One rendering in progress. The store's visitor is ldtap_prometheus_visit; tests may
 * call it directly with hand-made points. */
struct ldtap_prometheus_render {
    struct ldtap_buffer *out;
    const struct ldtap_instrument *current; /* family whose HELP/TYPE were written last */
    char family[256];                       /* its translated name */
    struct ldtap_buffer target_info;        /* one target_info sample per resource */
    const struct ldtap_resource *seen[256]; /* resources already in target_info */
    uint32_t seen_count;
};

void ldtap_prometheus_render_begin(struct ldtap_prometheus_render *render, struct ldtap_buffer *out);
/* An ldtap_metric_visitor; `context` is the struct ldtap_prometheus_render. */
void ldtap_prometheus_visit(void *context, const struct ldtap_instrument *instrument,
                            const struct ldtap_metric_point *point);
/* Appends the target_info family and frees the render's own memory. False when an
 * allocation failed anywhere (the output is then incomplete). */
bool ldtap_prometheus_render_end(struct ldtap_prometheus_render *render);

/* The whole exposition of `metrics` appended to `out`. False when out of memory. */
bool ldtap_prometheus_render(struct ldtap_metrics *metrics, struct ldtap_buffer *out);

#endif
