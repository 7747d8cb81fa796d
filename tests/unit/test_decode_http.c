/* Tests of collector/decode_http.c: HTTP span records to OpenTelemetry spans (names,
 * attribute sets, status, trace flags) and rejection of invalid records. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "decode_http.h"
#include "ldtap_ring_abi.h"
#include "record_fixture.h"

#define RECORD_BUFFER_BYTES \
    (sizeof(struct ldtap_http_span_record) + LDTAP_HTTP_REQUEST_HEAD_MAX + LDTAP_HTTP_RESPONSE_HEAD_MAX + 64)

static struct ldtap_route_table *routes;
static struct ldtap_span span;
static uint8_t payload[RECORD_BUFFER_BYTES];

static void setup(void) {
    char error[256];
    routes = ldtap_route_table_create(NULL, 100, error, sizeof error);
    cr_assert_not_null(routes);
    memset(&span, 0, sizeof span);
}

static void teardown(void) { ldtap_route_table_free(routes); }

TestSuite(decode_http, .init = setup, .fini = teardown);

/* A record with fixed ids and times, IPv4 endpoints 192.0.2.7:51234 (peer) and
 * 10.0.0.1:8000 (local), and no heads yet. */
static struct ldtap_http_span_record base_record(uint16_t kind, uint16_t status_code) {
    struct ldtap_http_span_record record;
    memset(&record, 0, sizeof record);
    fixture_span_common(&record.span, kind, 250000000ull);
    record.endpoints.family = AF_INET;
    inet_pton(AF_INET, "192.0.2.7", record.endpoints.peer_address);
    inet_pton(AF_INET, "10.0.0.1", record.endpoints.local_address);
    record.endpoints.peer_port = 51234;
    record.endpoints.local_port = 8000;
    record.status_code = status_code;
    return record;
}

/* Lays out header + request head + response head in `payload`; returns the length. */
static uint32_t build(struct ldtap_http_span_record record, const char *request, const char *response) {
    size_t request_length = strlen(request);
    size_t response_length = response ? strlen(response) : 0;
    record.request_head_length = (uint16_t)request_length;
    record.response_head_length = (uint16_t)response_length;
    memset(payload, 0, sizeof payload);
    memcpy(payload, &record, sizeof record);
    memcpy(payload + sizeof record, request, request_length);
    if (response_length) {
        memcpy(payload + sizeof record + request_length, response, response_length);
    }
    return (uint32_t)(sizeof record + request_length + response_length);
}

static bool decode(struct ldtap_http_span_record record, const char *request, const char *response) {
    uint32_t length = build(record, request, response);
    memset(&span, 0, sizeof span);
    return ldtap_decode_http_span(payload, length, routes, "shop", &span);
}

static void expect_string(const char *key, const char *expected) {
    const struct ldtap_attribute *attribute = ldtap_span_find(&span, key);
    cr_assert_not_null(attribute, "missing %s", key);
    cr_assert_eq(attribute->type, LDTAP_VALUE_STRING, "%s is not a string", key);
    cr_expect_eq(attribute->string_length, strlen(expected), "%s: \"%s\" != \"%s\"", key,
                 ldtap_span_string(&span, attribute), expected);
    cr_expect_str_eq(ldtap_span_string(&span, attribute), expected, "%s", key);
}

static void expect_int(const char *key, int64_t expected) {
    const struct ldtap_attribute *attribute = ldtap_span_find(&span, key);
    cr_assert_not_null(attribute, "missing %s", key);
    cr_assert_eq(attribute->type, LDTAP_VALUE_INT, "%s is not an int", key);
    cr_expect_eq(attribute->int_value, expected, "%s: %lld != %lld", key, (long long)attribute->int_value,
                 (long long)expected);
}

static void expect_absent(const char *key) { cr_expect_null(ldtap_span_find(&span, key), "unexpected %s", key); }

static const char SERVER_REQUEST[] = "GET /orders/123?secret=1 HTTP/1.1\r\n"
                                     "Host: shop.example:8080\r\n"
                                     "User-Agent: curl/8.5.0\r\n"
                                     "\r\n";

Test(decode_http, full_server_record) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 200);
    record.response_body_bytes = 512;
    cr_assert(decode(record, SERVER_REQUEST, "HTTP/1.1 200 OK\r\nContent-Length: 512\r\n\r\n"));

    cr_expect_str_eq(span.name, "GET /orders/{id}");
    cr_expect_eq(span.kind, 2);
    cr_expect_eq(span.status_code, LDTAP_STATUS_UNSET);
    cr_expect_eq(span.trace_flags, 1);
    cr_expect_arr_eq(span.trace_id, record.span.trace_id, 16);
    cr_expect_arr_eq(span.span_id, record.span.span_id, 8);
    cr_expect_arr_eq(span.parent_span_id, record.span.parent_span_id, 8);
    cr_expect_eq(span.start_time_ns, record.span.start_time_ns);
    cr_expect_eq(span.end_time_ns, record.span.end_time_ns);

    const char *expected_keys[] = {"http.request.method", "url.path",          "url.scheme",
                                   "http.route",          "server.address",    "server.port",
                                   "client.address",      "network.peer.address", "network.peer.port",
                                   "network.protocol.version", "user_agent.original", "http.response.status_code",
                                   "http.response.body.size",  "thread.id"};
    cr_expect_eq(span.attribute_count, sizeof expected_keys / sizeof expected_keys[0]);
    for (size_t i = 0; i < sizeof expected_keys / sizeof expected_keys[0]; i++) {
        cr_expect_not_null(ldtap_span_find(&span, expected_keys[i]), "missing %s", expected_keys[i]);
    }
    expect_string("http.request.method", "GET");
    expect_string("url.path", "/orders/123");
    expect_string("url.scheme", "http");
    expect_string("http.route", "/orders/{id}");
    expect_string("server.address", "shop.example");
    expect_int("server.port", 8080);
    expect_string("client.address", "192.0.2.7");
    expect_string("network.peer.address", "192.0.2.7");
    expect_int("network.peer.port", 51234);
    expect_string("network.protocol.version", "1.1");
    expect_string("user_agent.original", "curl/8.5.0");
    expect_int("http.response.status_code", 200);
    expect_int("http.response.body.size", 512);
    expect_int("thread.id", 4242);
    expect_absent("error.type");
    expect_absent("http.request.body.size");
    expect_absent("url.query");
}

Test(decode_http, server_without_host_uses_local_endpoint) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 201);
    record.request_body_bytes = 17;
    cr_assert(decode(record, "POST /api/items HTTP/1.0\r\nContent-Length: 17\r\n\r\n", "HTTP/1.0 201 Created\r\n"));
    cr_expect_str_eq(span.name, "POST /api/items");
    expect_string("server.address", "10.0.0.1");
    expect_int("server.port", 8000);
    expect_string("network.protocol.version", "1.0");
    expect_int("http.request.body.size", 17);
    expect_absent("user_agent.original");
}

Test(decode_http, host_without_port_means_port_80) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 204);
    cr_assert(decode(record, "DELETE /x HTTP/1.1\r\nHost: example.com\r\n\r\n", NULL));
    expect_string("server.address", "example.com");
    expect_int("server.port", 80);
}

Test(decode_http, server_5xx_is_error_4xx_is_not) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 503);
    cr_assert(decode(record, SERVER_REQUEST, "HTTP/1.1 503 Service Unavailable\r\n\r\n"));
    cr_expect_eq(span.status_code, LDTAP_STATUS_ERROR);
    expect_string("error.type", "503");
    expect_int("http.response.status_code", 503);

    record = base_record(LDTAP_SPAN_KIND_SERVER, 404);
    cr_assert(decode(record, SERVER_REQUEST, "HTTP/1.1 404 Not Found\r\n\r\n"));
    cr_expect_eq(span.status_code, LDTAP_STATUS_UNSET);
    expect_absent("error.type");
}

Test(decode_http, server_no_response) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 0);
    record.span.flags = LDTAP_SPAN_FLAG_NO_RESPONSE;
    cr_assert(decode(record, SERVER_REQUEST, NULL));
    cr_expect_eq(span.status_code, LDTAP_STATUS_ERROR);
    expect_string("error.type", "ldtap.no_response");
    expect_absent("http.response.status_code");
    expect_absent("http.response.body.size");

    /* Headers sent, then the connection dropped mid-body: status kept, still an error. */
    record = base_record(LDTAP_SPAN_KIND_SERVER, 200);
    record.span.flags = LDTAP_SPAN_FLAG_NO_RESPONSE;
    cr_assert(decode(record, SERVER_REQUEST, "HTTP/1.1 200 OK\r\n"));
    cr_expect_eq(span.status_code, LDTAP_STATUS_ERROR);
    expect_string("error.type", "ldtap.no_response");
    expect_int("http.response.status_code", 200);
}

Test(decode_http, status_from_response_head_when_record_has_none) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 0);
    cr_assert(decode(record, SERVER_REQUEST, "HTTP/1.1 502 Bad Gateway\r\n"));
    expect_int("http.response.status_code", 502);
    expect_string("error.type", "502");
}

Test(decode_http, client_record) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_CLIENT, 200);
    record.request_body_bytes = 3;
    record.response_body_bytes = 10;
    cr_assert(decode(record,
                     "PUT /v1/things/9?token=x HTTP/1.1\r\nHost: api.internal:9000\r\nUser-Agent: python-requests/2.31\r\n"
                     "Content-Length: 3\r\n\r\n",
                     "HTTP/1.1 200 OK\r\n\r\n"));
    cr_expect_str_eq(span.name, "PUT");
    cr_expect_eq(span.kind, 3);
    cr_expect_eq(span.status_code, LDTAP_STATUS_UNSET);
    expect_string("http.request.method", "PUT");
    expect_string("url.full", "http://api.internal:9000/v1/things/9");
    expect_string("server.address", "api.internal");
    expect_int("server.port", 9000);
    expect_string("network.peer.address", "192.0.2.7");
    expect_int("network.peer.port", 51234);
    expect_int("http.response.status_code", 200);
    expect_string("network.protocol.version", "1.1");
    expect_int("http.request.body.size", 3);
    expect_int("http.response.body.size", 10);
    expect_string("user_agent.original", "python-requests/2.31");
    expect_int("thread.id", 4242);
    expect_absent("http.route");
    expect_absent("url.path");
    expect_absent("client.address");
    expect_absent("error.type");
}

Test(decode_http, client_errors) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_CLIENT, 404);
    cr_assert(decode(record, "GET /missing HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"));
    cr_expect_eq(span.status_code, LDTAP_STATUS_ERROR);
    expect_string("error.type", "404");

    record = base_record(LDTAP_SPAN_KIND_CLIENT, 0);
    cr_assert(decode(record, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", NULL));
    cr_expect_eq(span.status_code, LDTAP_STATUS_ERROR);
    expect_string("error.type", "ldtap.no_response");
}

Test(decode_http, client_without_host_uses_peer) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_CLIENT, 200);
    cr_assert(decode(record, "GET /x HTTP/1.0\r\n\r\n", NULL));
    expect_string("url.full", "http://192.0.2.7:51234/x");
    expect_string("server.address", "192.0.2.7");
    expect_int("server.port", 51234);

    record.endpoints.peer_port = 80;
    cr_assert(decode(record, "GET /x HTTP/1.0\r\n\r\n", NULL));
    expect_string("url.full", "http://192.0.2.7/x");
}

Test(decode_http, ipv6_endpoints) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_CLIENT, 200);
    record.endpoints.family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8::5", record.endpoints.peer_address);
    inet_pton(AF_INET6, "2001:db8::1", record.endpoints.local_address);
    record.endpoints.peer_port = 8443;
    cr_assert(decode(record, "GET /v6 HTTP/1.1\r\n\r\n", NULL));
    expect_string("network.peer.address", "2001:db8::5");
    expect_string("url.full", "http://[2001:db8::5]:8443/v6");
    expect_string("server.address", "2001:db8::5");

    record.span.kind = LDTAP_SPAN_KIND_SERVER;
    cr_assert(decode(record, "GET /v6 HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n", NULL));
    expect_string("client.address", "2001:db8::5");
    expect_string("server.address", "2001:db8::1");
    expect_int("server.port", 8080);

    /* Dual-stack listener: an IPv4 client appears as ::ffff:a.b.c.d. */
    inet_pton(AF_INET6, "::ffff:198.51.100.9", record.endpoints.peer_address);
    cr_assert(decode(record, "GET /v6 HTTP/1.1\r\n\r\n", NULL));
    expect_string("client.address", "198.51.100.9");
    expect_string("server.address", "2001:db8::1");
    expect_int("server.port", 8000);
}

Test(decode_http, unix_socket_has_no_addresses) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 200);
    record.endpoints.family = AF_UNIX;
    cr_assert(decode(record, "GET /sock HTTP/1.1\r\n\r\n", NULL));
    expect_absent("client.address");
    expect_absent("network.peer.address");
    expect_absent("server.address");
}

Test(decode_http, trace_flags) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 200);
    record.span.flags = LDTAP_SPAN_FLAG_REMOTE_PARENT;
    cr_assert(decode(record, SERVER_REQUEST, NULL));
    cr_expect_eq(span.trace_flags, 0);
    record.span.flags = LDTAP_SPAN_FLAG_REMOTE_PARENT | LDTAP_SPAN_FLAG_SAMPLED;
    cr_assert(decode(record, SERVER_REQUEST, NULL));
    cr_expect_eq(span.trace_flags, 1);
    record.span.flags = 0;
    cr_assert(decode(record, SERVER_REQUEST, NULL));
    cr_expect_eq(span.trace_flags, 1);
}

Test(decode_http, unknown_methods) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 207);
    cr_assert(decode(record, "PROPFIND /dav/1 HTTP/1.1\r\n\r\n", NULL));
    expect_string("http.request.method", "_OTHER");
    expect_string("http.request.method_original", "PROPFIND");
    cr_expect_str_eq(span.name, "HTTP /dav/{id}");

    cr_assert(decode(record, "get /a HTTP/1.1\r\n\r\n", NULL)); /* methods are case-sensitive */
    expect_string("http.request.method", "_OTHER");
    expect_string("http.request.method_original", "get");
}

Test(decode_http, without_route_table_name_is_method) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 200);
    uint32_t length = build(record, SERVER_REQUEST, NULL);
    memset(&span, 0, sizeof span);
    cr_assert(ldtap_decode_http_span(payload, length, NULL, "shop", &span));
    cr_expect_str_eq(span.name, "GET");
    expect_absent("http.route");
    expect_string("url.path", "/orders/123");
}

Test(decode_http, absolute_form_target) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 200);
    cr_assert(decode(record, "GET http://proxy.example:3128/p/7?q HTTP/1.1\r\nHost: other\r\n\r\n", NULL));
    expect_string("url.path", "/p/7");
    expect_string("server.address", "proxy.example");
    expect_int("server.port", 3128);
}

Test(decode_http, hostile_text_becomes_valid_utf8) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 200);
    cr_assert(decode(record, "GET /caf\xc3\xa9/\xff\xfe HTTP/1.1\r\nUser-Agent: bad\xc0\xafua\r\nHost: a\"b\r\n\r\n",
                     NULL));
    expect_string("url.path", "/caf\xc3\xa9/\xef\xbf\xbd\xef\xbf\xbd");
    expect_string("user_agent.original", "bad\xef\xbf\xbd\xef\xbf\xbdua");
    expect_string("server.address", "10.0.0.1"); /* invalid Host ignored */
}

Test(decode_http, long_values_are_capped) {
    char request[LDTAP_HTTP_REQUEST_HEAD_MAX + 1];
    int used = snprintf(request, sizeof request, "GET /");
    memset(request + used, 'p', 600);
    used += 600;
    used += snprintf(request + used, sizeof request - (size_t)used, " HTTP/1.1\r\nUser-Agent: ");
    memset(request + used, 'u', 300);
    used += 300;
    snprintf(request + used, sizeof request - (size_t)used, "\r\n\r\n");
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 200);
    cr_assert(decode(record, request, NULL));
    const struct ldtap_attribute *path = ldtap_span_find(&span, "url.path");
    cr_assert_not_null(path);
    cr_expect_eq(path->string_length, 511);
    cr_expect_not_null(ldtap_span_find(&span, "http.route"));
    cr_expect_lt(strlen(span.name), sizeof span.name);
    expect_int("thread.id", 4242); /* attributes after the long ones still fit */
}

Test(decode_http, truncated_request_line) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 200);
    record.span.flags = LDTAP_SPAN_FLAG_REQUEST_HEAD_TRUNCATED;
    cr_assert(decode(record, "GET /a/very/long/pa", "HTTP/1.1 200 OK\r\n"));
    expect_string("url.path", "/a/very/long/pa");
    expect_string("network.protocol.version", "1.1"); /* from the response */
}

Test(decode_http, invalid_records) {
    struct ldtap_http_span_record good = base_record(LDTAP_SPAN_KIND_SERVER, 200);
    uint32_t length = build(good, SERVER_REQUEST, "HTTP/1.1 200 OK\r\n");
    cr_assert(ldtap_decode_http_span(payload, length, routes, "shop", &span));

    /* Payload shorter than the record or its heads. */
    cr_expect_not(ldtap_decode_http_span(payload, sizeof(struct ldtap_http_span_record) - 1, routes, "shop", &span));
    cr_expect_not(ldtap_decode_http_span(payload, length - 1, routes, "shop", &span));
    cr_expect_not(ldtap_decode_http_span(payload, 0, routes, "shop", &span));
    cr_expect_not(ldtap_decode_http_span(NULL, length, routes, "shop", &span));

    struct ldtap_http_span_record bad;
    /* Each length field too large, with the payload long enough to hold it. */
    bad = good;
    uint32_t request_length = (uint32_t)strlen(SERVER_REQUEST);
    memcpy(payload, &bad, sizeof bad);
    ((struct ldtap_http_span_record *)(void *)payload)->request_head_length = LDTAP_HTTP_REQUEST_HEAD_MAX + 1;
    cr_expect_not(ldtap_decode_http_span(payload, sizeof payload, routes, "shop", &span));
    build(good, SERVER_REQUEST, "HTTP/1.1 200 OK\r\n");
    ((struct ldtap_http_span_record *)(void *)payload)->response_head_length = LDTAP_HTTP_RESPONSE_HEAD_MAX + 1;
    cr_expect_not(ldtap_decode_http_span(payload, sizeof payload, routes, "shop", &span));
    build(good, SERVER_REQUEST, "HTTP/1.1 200 OK\r\n");
    ((struct ldtap_http_span_record *)(void *)payload)->request_head_length = 0xffff;
    cr_expect_not(ldtap_decode_http_span(payload, sizeof payload, routes, "shop", &span));
    build(good, SERVER_REQUEST, "HTTP/1.1 200 OK\r\n");
    ((struct ldtap_http_span_record *)(void *)payload)->response_head_length = 0xffff;
    cr_expect_not(ldtap_decode_http_span(payload, sizeof payload, routes, "shop", &span));
    /* Lengths within the maxima but beyond this payload. */
    length = build(good, SERVER_REQUEST, NULL);
    ((struct ldtap_http_span_record *)(void *)payload)->request_head_length = (uint16_t)(request_length + 1);
    cr_expect_not(ldtap_decode_http_span(payload, length, routes, "shop", &span));
    length = build(good, SERVER_REQUEST, NULL);
    ((struct ldtap_http_span_record *)(void *)payload)->response_head_length = 1;
    cr_expect_not(ldtap_decode_http_span(payload, length, routes, "shop", &span));

    uint16_t bad_kinds[] = {0, 1, 4, 5, 0xffff};
    for (size_t i = 0; i < sizeof bad_kinds / sizeof bad_kinds[0]; i++) {
        bad = good;
        bad.span.kind = bad_kinds[i];
        cr_expect_not(decode(bad, SERVER_REQUEST, NULL), "kind %u accepted", bad_kinds[i]);
    }
    bad = good;
    bad.span.end_time_ns = bad.span.start_time_ns - 1;
    cr_expect_not(decode(bad, SERVER_REQUEST, NULL));
    uint16_t bad_statuses[] = {1, 99, 1000, 0xffff};
    for (size_t i = 0; i < sizeof bad_statuses / sizeof bad_statuses[0]; i++) {
        bad = good;
        bad.status_code = bad_statuses[i];
        cr_expect_not(decode(bad, SERVER_REQUEST, NULL), "status %u accepted", bad_statuses[i]);
    }
    cr_expect_not(decode(good, "", NULL));
    cr_expect_not(decode(good, "NOT A REQUEST\r\n\r\n", NULL));
    cr_expect_not(decode(good, "\x01\x02\x03", NULL));
}

Test(decode_http, payload_need_not_be_aligned) {
    struct ldtap_http_span_record record = base_record(LDTAP_SPAN_KIND_SERVER, 200);
    uint32_t length = build(record, SERVER_REQUEST, NULL);
    uint8_t *shifted = malloc(length + 1);
    memcpy(shifted + 1, payload, length);
    cr_expect(ldtap_decode_http_span(shifted + 1, length, routes, "shop", &span));
    free(shifted);
}
