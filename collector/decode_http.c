/* Decodes LDTAP_RECORD_HTTP_SPAN records into server and client spans named and attributed
 * as the stable OpenTelemetry HTTP semantic conventions say. */
#include "decode_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "http_head.h"
#include "record_common.h"
#include "ldtap_ring_abi.h"

/*
 * Decisions a reader should know:
 * - error.type is the status code as text when the status says error (server: 5xx,
 *   client: >= 400); otherwise, when no complete response was seen (status 0 or
 *   LDTAP_SPAN_FLAG_NO_RESPONSE), it is "ldtap.no_response" and the status is ERROR too.
 * - A method outside the nine known ones is "_OTHER" with http.request.method_original,
 *   and the span name uses "HTTP" in its place, as the conventions say.
 * - The record's status_code is authoritative; the response head is read only for a
 *   status when the record has none, and for the protocol version when the request line
 *   was cut before it. A record status outside 100..999 (other than 0) is invalid.
 * - Body sizes are the bytes the shim counted (Content-Length may lie or be absent):
 *   http.request.body.size when a body was seen or announced, http.response.body.size
 *   whenever a response was seen.
 * - server.port defaults to 80 when the Host header has no port: the scheme's default is
 *   what the client addressed. url.scheme is always "http": the record does not say
 *   whether the bytes came through TLS hooks.
 * - An IPv4-mapped IPv6 peer (dual-stack listeners) is written as plain IPv4.
 * - Text from the record is made valid UTF-8 (bad bytes and control characters become
 *   U+FFFD) and capped, so exporters can put it in protobuf strings as is.
 */

#define NO_RESPONSE_ERROR "ldtap.no_response"
#define PATH_MAX_BYTES 512
#define USER_AGENT_MAX_BYTES 512
#define URL_FULL_MAX_BYTES 800
#define HOST_MAX_BYTES 256 /* ldtap_http_split_host accepts at most 255 */
#define ADDRESS_TEXT_BYTES LDTAP_ADDRESS_TEXT_BYTES
#define SHORT_TEXT_BYTES 24 /* scheme, version, error.type, "_OTHER" */

/* Each string attribute takes its bytes plus a NUL of the span's text buffer; the largest
 * possible sum for either kind must fit, or attributes would silently go missing. */
_Static_assert(SHORT_TEXT_BYTES * 4 + (LDTAP_HTTP_METHOD_MAX_BYTES + 1) + PATH_MAX_BYTES + LDTAP_ROUTE_MAX_BYTES +
                       HOST_MAX_BYTES + 2 * ADDRESS_TEXT_BYTES + USER_AGENT_MAX_BYTES <=
                   LDTAP_SPAN_TEXT_BYTES,
               "server span attributes may not fit the span text buffer");
_Static_assert(SHORT_TEXT_BYTES * 4 + (LDTAP_HTTP_METHOD_MAX_BYTES + 1) + URL_FULL_MAX_BYTES + HOST_MAX_BYTES +
                       ADDRESS_TEXT_BYTES + USER_AGENT_MAX_BYTES <=
                   LDTAP_SPAN_TEXT_BYTES,
               "client span attributes may not fit the span text buffer");

static const char *const KNOWN_METHODS[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                            "CONNECT", "OPTIONS", "TRACE", "PATCH"};

/* Record text cleaned and capped at `capacity - 1` bytes. False only when the span's
 * text buffer is full, which the static assertions above rule out. */
static bool add_clean_string(struct ldtap_span *span, const char *key, const char *text, size_t length,
                             size_t capacity) {
    char clean[URL_FULL_MAX_BYTES];
    if (capacity > sizeof clean) {
        capacity = sizeof clean;
    }
    size_t clean_length = ldtap_copy_clean_text(text, length, clean, capacity);
    return ldtap_span_add_string(span, key, clean, clean_length);
}

static bool add_literal(struct ldtap_span *span, const char *key, const char *text) {
    return ldtap_span_add_string(span, key, text, strlen(text));
}

/* What both span kinds need from the record, decoded once. */
struct http_exchange {
    const struct ldtap_http_span_record *record;
    struct ldtap_http_request_head request;
    struct ldtap_http_slice path; /* origin-form path without query, or empty */
    bool has_host;                /* from an absolute-form target, else the Host header */
    struct ldtap_http_slice host_text; /* host[:port] as sent, validated */
    struct ldtap_http_slice host;
    uint16_t host_port;
    uint16_t status_code;
    uint8_t version_major, version_minor;
    bool has_version;
    bool has_peer, has_local;
    char peer[ADDRESS_TEXT_BYTES];
    char local[ADDRESS_TEXT_BYTES];
    const char *method_label; /* for the span name: the known method or "HTTP" */
};

static bool find_host(struct http_exchange *exchange) {
    struct ldtap_http_slice authority, path;
    const struct ldtap_http_request_head *request = &exchange->request;
    ldtap_http_split_target(request->target.bytes, request->target.length, &authority, &path);
    if (path.length > 0 && path.bytes[0] == '/') {
        exchange->path = path;
    }
    /* RFC 9112 3.2.2: an absolute-form target's authority overrides Host. CONNECT's
     * authority-form target names the server too. */
    struct ldtap_http_slice candidates[3] = {authority, request->headers.host, {0}};
    if (request->method.length == 7 && memcmp(request->method.bytes, "CONNECT", 7) == 0) {
        candidates[2] = request->target;
    }
    for (size_t i = 0; i < 3; i++) {
        if (candidates[i].length > 0 &&
            ldtap_http_split_host(candidates[i].bytes, candidates[i].length, &exchange->host, &exchange->host_port)) {
            exchange->has_host = true;
            exchange->host_text = candidates[i];
            return true;
        }
    }
    return false;
}

static bool add_method(struct ldtap_span *span, struct http_exchange *exchange) {
    const struct ldtap_http_slice method = exchange->request.method;
    for (size_t i = 0; i < sizeof KNOWN_METHODS / sizeof KNOWN_METHODS[0]; i++) {
        if (strlen(KNOWN_METHODS[i]) == method.length && memcmp(KNOWN_METHODS[i], method.bytes, method.length) == 0) {
            exchange->method_label = KNOWN_METHODS[i];
            return add_literal(span, "http.request.method", KNOWN_METHODS[i]);
        }
    }
    exchange->method_label = "HTTP";
    return add_literal(span, "http.request.method", "_OTHER") &&
           add_clean_string(span, "http.request.method_original", method.bytes, method.length,
                            LDTAP_HTTP_METHOD_MAX_BYTES + 1);
}

static void set_name(struct ldtap_span *span, const char *method_label, const char *route) {
    size_t used = ldtap_copy_clean_text(method_label, strlen(method_label), span->name, sizeof span->name);
    if (route && used + 2 < sizeof span->name) {
        span->name[used++] = ' ';
        ldtap_copy_clean_text(route, strlen(route), span->name + used, sizeof span->name - used);
    }
}

static int64_t clamp_to_int64(uint64_t value) { return value > INT64_MAX ? INT64_MAX : (int64_t)value; }

/* Attributes both kinds share, after the kind-specific ones. */
static bool add_common(struct ldtap_span *span, const struct http_exchange *exchange) {
    const struct ldtap_http_span_record *record = exchange->record;
    bool ok = true;
    if (exchange->has_peer) {
        ok &= add_literal(span, "network.peer.address", exchange->peer);
        if (record->endpoints.peer_port) {
            ok &= ldtap_span_add_int(span, "network.peer.port", record->endpoints.peer_port);
        }
    }
    if (exchange->has_version) {
        char version[SHORT_TEXT_BYTES];
        /* "1.1", "1.0"; HTTP/2 and later are written with the major number only. */
        if (exchange->version_major >= 2) {
            snprintf(version, sizeof version, "%u", exchange->version_major);
        } else {
            snprintf(version, sizeof version, "%u.%u", exchange->version_major, exchange->version_minor);
        }
        ok &= add_literal(span, "network.protocol.version", version);
    }
    const struct ldtap_http_slice user_agent = exchange->request.headers.user_agent;
    if (user_agent.length > 0) {
        ok &= add_clean_string(span, "user_agent.original", user_agent.bytes, user_agent.length, USER_AGENT_MAX_BYTES);
    }
    if (record->request_body_bytes > 0 || exchange->request.headers.has_content_length) {
        ok &= ldtap_span_add_int(span, "http.request.body.size", clamp_to_int64(record->request_body_bytes));
    }
    if (exchange->status_code) {
        ok &= ldtap_span_add_int(span, "http.response.status_code", exchange->status_code);
        ok &= ldtap_span_add_int(span, "http.response.body.size", clamp_to_int64(record->response_body_bytes));
    }
    ok &= ldtap_span_add_int(span, "thread.id", record->span.thread_id);

    /* Server spans: only 5xx is the server's fault; client spans: any 4xx/5xx failed. */
    uint16_t error_from = span->kind == LDTAP_SPAN_KIND_SERVER ? 500 : 400;
    if (exchange->status_code >= error_from) {
        char code[SHORT_TEXT_BYTES];
        snprintf(code, sizeof code, "%u", exchange->status_code);
        span->status_code = LDTAP_STATUS_ERROR;
        ok &= add_literal(span, "error.type", code);
    } else if (exchange->status_code == 0 || (record->span.flags & LDTAP_SPAN_FLAG_NO_RESPONSE)) {
        span->status_code = LDTAP_STATUS_ERROR;
        ok &= add_literal(span, "error.type", NO_RESPONSE_ERROR);
    }
    return ok;
}

static bool decode_server(struct ldtap_span *span, struct http_exchange *exchange, struct ldtap_route_table *routes,
                          const char *service_name) {
    bool ok = add_method(span, exchange);
    char route[LDTAP_ROUTE_MAX_BYTES];
    bool has_route = false;
    if (exchange->path.length > 0) {
        char path[PATH_MAX_BYTES];
        size_t path_length = ldtap_copy_clean_text(exchange->path.bytes, exchange->path.length, path, sizeof path);
        ok &= ldtap_span_add_string(span, "url.path", path, path_length);
        if (routes) {
            ldtap_route_for_path(routes, service_name, path, path_length, route);
            has_route = true;
        }
    }
    ok &= add_literal(span, "url.scheme", "http");
    if (has_route) {
        ok &= add_clean_string(span, "http.route", route, strlen(route), LDTAP_ROUTE_MAX_BYTES);
    }
    set_name(span, exchange->method_label, has_route ? route : NULL);

    if (exchange->has_host) {
        ok &= ldtap_span_add_string(span, "server.address", exchange->host.bytes, exchange->host.length);
        ok &= ldtap_span_add_int(span, "server.port", exchange->host_port ? exchange->host_port : 80);
    } else if (exchange->has_local) {
        ok &= add_literal(span, "server.address", exchange->local);
        if (exchange->record->endpoints.local_port) {
            ok &= ldtap_span_add_int(span, "server.port", exchange->record->endpoints.local_port);
        }
    }
    if (exchange->has_peer) {
        ok &= add_literal(span, "client.address", exchange->peer);
    }
    return ok && add_common(span, exchange);
}

static bool decode_client(struct ldtap_span *span, struct http_exchange *exchange) {
    bool ok = add_method(span, exchange);
    set_name(span, exchange->method_label, NULL);
    const struct ldtap_net_endpoints *endpoints = &exchange->record->endpoints;

    char authority[HOST_MAX_BYTES + ADDRESS_TEXT_BYTES];
    authority[0] = '\0';
    if (exchange->has_host) {
        snprintf(authority, sizeof authority, "%.*s", (int)exchange->host_text.length, exchange->host_text.bytes);
    } else if (exchange->has_peer) {
        const char *open = endpoints->family == AF_INET6 && strchr(exchange->peer, ':') ? "[" : "";
        const char *close = *open ? "]" : "";
        if (endpoints->peer_port && endpoints->peer_port != 80) {
            snprintf(authority, sizeof authority, "%s%s%s:%u", open, exchange->peer, close, endpoints->peer_port);
        } else {
            snprintf(authority, sizeof authority, "%s%s%s", open, exchange->peer, close);
        }
    }
    if (authority[0]) {
        char url[URL_FULL_MAX_BYTES];
        int prefix = snprintf(url, sizeof url, "http://%s", authority);
        size_t length = (size_t)prefix;
        if (exchange->path.length > 0) {
            length += ldtap_copy_clean_text(exchange->path.bytes, exchange->path.length, url + length,
                                            sizeof url - length);
        }
        ok &= ldtap_span_add_string(span, "url.full", url, length);
    }

    if (exchange->has_host) {
        ok &= ldtap_span_add_string(span, "server.address", exchange->host.bytes, exchange->host.length);
        ok &= ldtap_span_add_int(span, "server.port", exchange->host_port ? exchange->host_port : 80);
    } else if (exchange->has_peer) {
        ok &= add_literal(span, "server.address", exchange->peer);
        if (endpoints->peer_port) {
            ok &= ldtap_span_add_int(span, "server.port", endpoints->peer_port);
        }
    }
    return ok && add_common(span, exchange);
}

/* Length and field checks; true when `record` can be decoded. */
static bool record_is_valid(const struct ldtap_http_span_record *record, uint32_t payload_length) {
    if (record->request_head_length > LDTAP_HTTP_REQUEST_HEAD_MAX ||
        record->response_head_length > LDTAP_HTTP_RESPONSE_HEAD_MAX) {
        return false;
    }
    if ((size_t)payload_length - sizeof *record < (size_t)record->request_head_length + record->response_head_length) {
        return false;
    }
    if (record->span.kind != LDTAP_SPAN_KIND_SERVER && record->span.kind != LDTAP_SPAN_KIND_CLIENT) {
        return false;
    }
    if (record->span.end_time_ns < record->span.start_time_ns) {
        return false;
    }
    return record->status_code == 0 || (record->status_code >= 100 && record->status_code <= 999);
}

bool ldtap_decode_http_span(const uint8_t *payload, uint32_t payload_length, struct ldtap_route_table *routes,
                            const char *service_name, struct ldtap_span *span) {
    struct ldtap_http_span_record record;
    if (payload == NULL || span == NULL || payload_length < sizeof record) {
        return false;
    }
    /* The payload sits at whatever alignment the reader copied it to. */
    memcpy(&record, payload, sizeof record);
    if (!record_is_valid(&record, payload_length)) {
        return false;
    }
    const uint8_t *request_bytes = payload + sizeof record;
    const uint8_t *response_bytes = request_bytes + record.request_head_length;

    struct http_exchange exchange = {.record = &record, .status_code = record.status_code};
    if (!ldtap_http_parse_request_head(request_bytes, record.request_head_length, &exchange.request)) {
        return false;
    }
    struct ldtap_http_response_head response;
    bool has_response_head = ldtap_http_parse_response_head(response_bytes, record.response_head_length, &response);
    if (exchange.status_code == 0 && has_response_head) {
        exchange.status_code = response.status_code;
    }
    exchange.has_version = exchange.request.has_version;
    exchange.version_major = exchange.request.version_major;
    exchange.version_minor = exchange.request.version_minor;
    if (!exchange.has_version && has_response_head) {
        exchange.has_version = true;
        exchange.version_major = response.version_major;
        exchange.version_minor = response.version_minor;
    }
    find_host(&exchange);
    exchange.has_peer = ldtap_format_address(record.endpoints.family, record.endpoints.peer_address, exchange.peer);
    exchange.has_local = ldtap_format_address(record.endpoints.family, record.endpoints.local_address, exchange.local);

    ldtap_span_copy_common(span, &record.span);

    if (record.span.kind == LDTAP_SPAN_KIND_SERVER) {
        return decode_server(span, &exchange, routes, service_name);
    }
    return decode_client(span, &exchange);
}
