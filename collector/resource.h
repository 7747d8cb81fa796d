/* The OpenTelemetry resource of one traced process, built from its ring header and the
 * collector's configuration. */
#ifndef LDTAP_RESOURCE_H
#define LDTAP_RESOURCE_H

#include "ldtap_ring_abi.h"
#include "span.h"

/* telemetry.sdk.language has no registered value for "any language, instrumented from
 * outside": ldtap reports "native" (not "cpp"), since the program may be Python, Ruby or C. */
#define LDTAP_SDK_LANGUAGE "native"

struct ldtap_resource_defaults {
    const char *service_name;         /* OTEL_SERVICE_NAME / --service-name of the collector; NULL */
    const char *resource_attributes;  /* the collector's OTEL_RESOURCE_ATTRIBUTES (validated); NULL */
    const char *fallback_service_name; /* run: basename of CMD; NULL: the executable's name */
    const char *host_name;            /* NULL: gethostname() */
};

/* Builds the resource (reference count 1) of the process that wrote `header`, a copy the
 * caller made of the ring's header (hostile input: every string is bounded here).
 * service.name is, first found: defaults->service_name, the process's own
 * OTEL_SERVICE_NAME (header), service.name in the process's OTEL_RESOURCE_ATTRIBUTES,
 * service.name in the collector's, fallback_service_name, the executable name.
 * OTEL_RESOURCE_ATTRIBUTES of the process win over the collector's; neither can replace
 * process.* or telemetry.sdk.*, which describe facts ldtap observed. Malformed members of
 * the process's list are skipped. NULL when out of memory. */
struct ldtap_resource *ldtap_resource_build(const struct ldtap_ring_header *header,
                                            const struct ldtap_resource_defaults *defaults);

/* The service.name of a built resource ("" if none). */
const char *ldtap_resource_service_name(const struct ldtap_resource *resource);

#endif
