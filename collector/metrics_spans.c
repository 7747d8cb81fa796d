/* Span to metric mapping: each decoded span (before sampling) becomes one duration
 * measurement and its body sizes, with the semantic conventions' attributes for its kind. */
#include "metrics_store.h"

#include <string.h>

/* Copies `attribute` (string or integer, as it is) into `set` under `key`. */
static void copy_attribute(struct ldtap_metric_attributes *set, const struct ldtap_span *span, const char *key,
                           const struct ldtap_attribute *attribute) {
    if (!attribute) {
        return;
    }
    if (attribute->type == LDTAP_VALUE_STRING) {
        ldtap_metric_attributes_string(set, key, ldtap_span_string(span, attribute), attribute->string_length);
    } else if (attribute->type == LDTAP_VALUE_INT) {
        ldtap_metric_attributes_int(set, key, attribute->int_value);
    }
}

#define KEYS_MAX 8

static void copy_attributes(struct ldtap_metric_attributes *set, const struct ldtap_span *span,
                            const char *const *keys, size_t count) {
    const struct ldtap_attribute *found[KEYS_MAX];
    set->count = 0;
    set->used = 0;
    set->overflow = false;
    ldtap_span_find_many(span, keys, count, found);
    for (size_t i = 0; i < count; i++) {
        copy_attribute(set, span, keys[i], found[i]);
    }
}

static bool int_attribute(const struct ldtap_span *span, const char *key, int64_t *value) {
    const struct ldtap_attribute *attribute = ldtap_span_find(span, key);
    if (attribute && attribute->type == LDTAP_VALUE_INT && attribute->int_value >= 0) {
        *value = attribute->int_value;
        return true;
    }
    return false;
}

/* url.path, user agents and peer addresses are left out on purpose: unbounded values
 * would make a series per request. http.route is bounded by the route table's limit. */
static const char *const server_keys[] = {"http.request.method",       "url.scheme",
                                          "http.route",                "http.response.status_code",
                                          "network.protocol.version", "error.type"};
static const char *const client_keys[] = {"http.request.method",       "server.address",
                                          "server.port",               "http.response.status_code",
                                          "network.protocol.version", "error.type"};
static const char *const database_keys[] = {"db.system.name",  "db.operation.name", "db.collection.name",
                                            "db.response.status_code", "server.address", "server.port",
                                            "error.type"};
_Static_assert(sizeof server_keys / sizeof *server_keys <= KEYS_MAX &&
                   sizeof client_keys / sizeof *client_keys <= KEYS_MAX &&
                   sizeof database_keys / sizeof *database_keys <= KEYS_MAX,
               "KEYS_MAX too small");

void ldtap_metrics_add_span(struct ldtap_metrics *metrics, const char *service_name, const struct ldtap_span *span) {
    if (!metrics || !span) {
        return;
    }
    double seconds =
        span->end_time_ns > span->start_time_ns ? (double)(span->end_time_ns - span->start_time_ns) / 1e9 : 0.0;
    struct ldtap_metric_attributes set;
    pthread_mutex_lock(&metrics->lock);
    struct ldtap_metric_service *service = ldtap_metrics_service(metrics, service_name, span->resource);
    if (!service) {
        pthread_mutex_unlock(&metrics->lock);
        return;
    }
    enum ldtap_metric_id duration, request_body, response_body;
    if (ldtap_span_find(span, "db.system.name")) {
        copy_attributes(&set, span, database_keys, sizeof database_keys / sizeof database_keys[0]);
        ldtap_metrics_record(metrics, LDTAP_METRIC_DB_CLIENT_DURATION, service->resource, &set, seconds);
        pthread_mutex_unlock(&metrics->lock);
        return;
    }
    if (span->kind == LDTAP_SPAN_KIND_SERVER) {
        copy_attributes(&set, span, server_keys, sizeof server_keys / sizeof server_keys[0]);
        duration = LDTAP_METRIC_HTTP_SERVER_DURATION;
        request_body = LDTAP_METRIC_HTTP_SERVER_REQUEST_BODY;
        response_body = LDTAP_METRIC_HTTP_SERVER_RESPONSE_BODY;
    } else if (span->kind == LDTAP_SPAN_KIND_CLIENT && ldtap_span_find(span, "http.request.method")) {
        copy_attributes(&set, span, client_keys, sizeof client_keys / sizeof client_keys[0]);
        duration = LDTAP_METRIC_HTTP_CLIENT_DURATION;
        request_body = LDTAP_METRIC_HTTP_CLIENT_REQUEST_BODY;
        response_body = LDTAP_METRIC_HTTP_CLIENT_RESPONSE_BODY;
    } else {
        pthread_mutex_unlock(&metrics->lock);
        return;
    }
    ldtap_metrics_record(metrics, duration, service->resource, &set, seconds);
    int64_t bytes;
    /* A body size is recorded only when the decoder knew it (a request without a body
     * and without Content-Length has none). */
    if (int_attribute(span, "http.request.body.size", &bytes)) {
        ldtap_metrics_record(metrics, request_body, service->resource, &set, (double)bytes);
    }
    if (int_attribute(span, "http.response.body.size", &bytes)) {
        ldtap_metrics_record(metrics, response_body, service->resource, &set, (double)bytes);
    }
    pthread_mutex_unlock(&metrics->lock);
}
