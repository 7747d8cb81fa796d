/* Turns an LDTAP_RECORD_HTTP_SPAN record into an OpenTelemetry span following the stable
 * HTTP semantic conventions. The record is untrusted: every length is checked first. */
#ifndef LDTAP_DECODE_HTTP_H
#define LDTAP_DECODE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "route.h"
#include "span.h"

/* Fills `span` (which the caller zeroed and whose `resource` it set; the service name is
 * used to scope routes). Returns false, leaving `span` unusable, when the payload is not
 * a valid HTTP span record. */
bool ldtap_decode_http_span(const uint8_t *payload, uint32_t payload_length, struct ldtap_route_table *routes,
                            const char *service_name, struct ldtap_span *span);

#endif
