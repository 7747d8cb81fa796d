/* libFuzzer harness for collector/http_head.c: arbitrary bytes as request and response
 * heads, and every slice the parser returns as input to the Host and target splitters. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"

/* Touches every byte of a slice so ASan flags one pointing outside the input. */
static void check_slice(struct ldtap_http_slice slice, const uint8_t *data, size_t size) {
    if (slice.bytes == NULL) {
        if (slice.length != 0) {
            abort();
        }
        return;
    }
    const uint8_t *start = (const uint8_t *)slice.bytes;
    if (start < data || start + slice.length > data + size) {
        abort();
    }
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < slice.length; i++) {
        sink ^= start[i];
    }
    (void)sink;
}

static void check_headers(const struct ldtap_http_headers *headers, const uint8_t *data, size_t size) {
    check_slice(headers->host, data, size);
    check_slice(headers->user_agent, data, size);
    check_slice(headers->content_type, data, size);
    check_slice(headers->traceparent, data, size);
    struct ldtap_http_slice host;
    uint16_t port;
    if (headers->host.length > 0 && ldtap_http_split_host(headers->host.bytes, headers->host.length, &host, &port)) {
        check_slice(host, data, size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct ldtap_http_request_head request;
    if (ldtap_http_parse_request_head(data, size, &request)) {
        if (request.method.length == 0 || request.method.length > LDTAP_HTTP_METHOD_MAX_BYTES ||
            request.target.length == 0) {
            abort();
        }
        check_slice(request.method, data, size);
        check_slice(request.target, data, size);
        check_headers(&request.headers, data, size);
        struct ldtap_http_slice authority, path;
        ldtap_http_split_target(request.target.bytes, request.target.length, &authority, &path);
        check_slice(authority, data, size);
        if (path.length != 1 || path.bytes[0] != '/') { /* "/" may be a static string */
            check_slice(path, data, size);
        }
    }
    struct ldtap_http_response_head response;
    if (ldtap_http_parse_response_head(data, size, &response)) {
        if (response.status_code < 100 || response.status_code > 999) {
            abort();
        }
        check_headers(&response.headers, data, size);
    }
    struct ldtap_http_slice host;
    uint16_t port;
    if (ldtap_http_split_host((const char *)data, size, &host, &port)) {
        check_slice(host, data, size);
    }
    return 0;
}
