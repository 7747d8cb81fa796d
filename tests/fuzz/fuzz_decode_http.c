/* libFuzzer harness for collector/decode_http.c: records whose header fields, head bytes
 * and payload length the fuzzer chooses, decoded with a route table that overflows. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode_http.h"
#include "fuzz_payload.h"
#include "ldtap_ring_abi.h"

static struct ldtap_route_table *routes;

/* Fails the run if the span is not something an exporter can use as is. */
static void check_span(const struct ldtap_span *span) {
    if (span->kind != 2 && span->kind != 3) {
        abort();
    }
    fuzz_check_span(span, "http.request.method");
}

/*
 * Input layout: byte 0 picks the mode. Odd: the rest is the payload exactly as a hostile
 * ring would hand it over. Even: the rest is a record header whose kind, times and head
 * lengths are repaired so most inputs get past validation to the head parsers, followed
 * by the head bytes; byte 0 also trims the payload length to test short payloads.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (routes == NULL) {
        char error[256];
        routes = ldtap_route_table_create("/users/{id},/static/*", 50, error, sizeof error);
        if (routes == NULL) {
            abort();
        }
    }
    if (size < 1 || size > 1u << 16) {
        return 0;
    }
    uint8_t mode = data[0];
    data++;
    size--;
    /* An exact-size heap copy so ASan sees any read past the payload. */
    uint8_t *payload = malloc(size ? size : 1);
    memcpy(payload, data, size);
    uint32_t payload_length = (uint32_t)size;

    if ((mode & 1) == 0 && size >= sizeof(struct ldtap_http_span_record)) {
        struct ldtap_http_span_record record;
        memcpy(&record, payload, sizeof record);
        size_t heads = size - sizeof record;
        record.span.kind = (mode & 2) ? LDTAP_SPAN_KIND_SERVER : LDTAP_SPAN_KIND_CLIENT;
        if (record.span.end_time_ns < record.span.start_time_ns) {
            record.span.end_time_ns = record.span.start_time_ns;
        }
        if (record.status_code != 0 && (record.status_code < 100 || record.status_code > 999)) {
            record.status_code = (uint16_t)(100 + record.status_code % 900);
        }
        record.request_head_length = (uint16_t)(heads ? record.request_head_length % (heads + 1) : 0);
        if (record.request_head_length > LDTAP_HTTP_REQUEST_HEAD_MAX) {
            record.request_head_length = LDTAP_HTTP_REQUEST_HEAD_MAX;
        }
        size_t rest = heads - record.request_head_length;
        record.response_head_length = (uint16_t)(record.response_head_length % (rest + 1));
        if (record.response_head_length > LDTAP_HTTP_RESPONSE_HEAD_MAX) {
            record.response_head_length = LDTAP_HTTP_RESPONSE_HEAD_MAX;
        }
        memcpy(payload, &record, sizeof record);
        /* Sometimes claim a shorter payload than the heads need: must be rejected. */
        if ((mode & 4) && payload_length > 0) {
            payload_length -= (uint32_t)(mode >> 3) % payload_length;
        }
    }

    if (payload_length < size) {
        fuzz_shrink_payload(&payload, payload_length);
    }

    struct ldtap_span span;
    memset(&span, 0, sizeof span);
    if (ldtap_decode_http_span(payload, payload_length, routes, (mode & 8) ? "a" : "b", &span)) {
        check_span(&span);
    }
    free(payload);
    return 0;
}
