/* The collector's decoded span: what decoders produce from ring records and what the
 * summary, the metrics and every exporter read. Fixed size, no heap pointers except the
 * shared resource, so queues are bounded by count and copying a span is one memcpy. */
#ifndef LDTAP_SPAN_H
#define LDTAP_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

enum ldtap_value_type { LDTAP_VALUE_STRING, LDTAP_VALUE_INT, LDTAP_VALUE_DOUBLE, LDTAP_VALUE_BOOL };

/* An attribute's value lives in the owner's `text` buffer (strings) or inline. A span's
 * keys are string literals (semantic-convention names); a resource's keys are copied into
 * its text buffer (OTEL_RESOURCE_ATTRIBUTES names are not literals) and `key` points there,
 * NUL-terminated. */
struct ldtap_attribute {
    const char *key;
    uint8_t type; /* enum ldtap_value_type */
    bool bool_value;
    uint16_t string_offset; /* into the owner's text buffer */
    uint16_t string_length;
    int64_t int_value;
    double double_value;
};

/* Resource of one traced process: service.name, process.*, host.name, telemetry.sdk.*,
 * OTEL_RESOURCE_ATTRIBUTES. Shared by that process's spans; reference-counted because
 * spans can wait in an export queue after the process and its ring are gone. */
#define LDTAP_RESOURCE_MAX_ATTRIBUTES 32
#define LDTAP_RESOURCE_TEXT_BYTES 4096
struct ldtap_resource {
    /* Alone on its cache line: the drain thread takes a reference for every span it
     * queues while the export thread reads the attributes below (and drops references),
     * and sharing a line made every reference a cache miss (perf: 11% of the collector
     * under redis-benchmark). ldtap_resource_new aligns the block. */
    _Alignas(64) int reference_count; /* atomic */
    _Alignas(64) uint16_t attribute_count;
    uint16_t text_used;
    struct ldtap_attribute attributes[LDTAP_RESOURCE_MAX_ATTRIBUTES];
    char text[LDTAP_RESOURCE_TEXT_BYTES];
};

/* Span events (the `exception` event above all) carry far more text than a span's
 * attributes (a traceback is up to 8 KiB), and few spans have any. So they live in a
 * separate fixed-size, reference-counted block that a span points to only when it has
 * events: every span stays small and bounded, and copying a span is a memcpy plus
 * ldtap_span_events_retain, as for the resource. Once a span is handed to an exporter
 * its events are never changed. Keys are string literals. */
#define LDTAP_SPAN_MAX_EVENTS 4
#define LDTAP_SPAN_EVENT_MAX_ATTRIBUTES 16 /* over all events of a span */
#define LDTAP_SPAN_EVENTS_TEXT_BYTES 12288
struct ldtap_span_event {
    uint64_t time_ns;
    const char *name;
    uint16_t first_attribute; /* a run of the block's attributes */
    uint16_t attribute_count;
};
struct ldtap_span_events {
    int reference_count; /* atomic */
    uint16_t event_count;
    uint16_t attribute_count;
    uint16_t text_used;
    struct ldtap_span_event events[LDTAP_SPAN_MAX_EVENTS];
    struct ldtap_attribute attributes[LDTAP_SPAN_EVENT_MAX_ATTRIBUTES];
    char text[LDTAP_SPAN_EVENTS_TEXT_BYTES];
};

enum ldtap_status_code { LDTAP_STATUS_UNSET = 0, LDTAP_STATUS_OK = 1, LDTAP_STATUS_ERROR = 2 };

#define LDTAP_SPAN_MAX_ATTRIBUTES 24
#define LDTAP_SPAN_TEXT_BYTES 2048
#define LDTAP_SPAN_NAME_BYTES 128
struct ldtap_span {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_span_id[8]; /* all zero: root */
    uint64_t start_time_ns;    /* unix epoch nanoseconds */
    uint64_t end_time_ns;
    uint8_t kind;        /* OTLP SpanKind number: 2 server, 3 client */
    uint8_t status_code; /* enum ldtap_status_code */
    uint8_t trace_flags; /* W3C flags; bit 0 sampled */
    uint16_t attribute_count;
    uint16_t text_used;
    char name[LDTAP_SPAN_NAME_BYTES];
    struct ldtap_resource *resource; /* holds one reference while the span lives */
    struct ldtap_span_events *events; /* NULL: no events; else holds one reference */
    struct ldtap_claim claim;          /* the ring record it came from; moves with the span */
    struct ldtap_attribute attributes[LDTAP_SPAN_MAX_ATTRIBUTES];
    char text[LDTAP_SPAN_TEXT_BYTES];
};

/* Attribute builders: return false (and add nothing) when the attribute table or the text
 * buffer is full; strings are copied. */
bool ldtap_span_add_string(struct ldtap_span *span, const char *key, const char *value, size_t length);
bool ldtap_span_add_int(struct ldtap_span *span, const char *key, int64_t value);
bool ldtap_span_add_double(struct ldtap_span *span, const char *key, double value);
bool ldtap_span_add_bool(struct ldtap_span *span, const char *key, bool value);
/* NULL when the span has no attribute `key`. */
const struct ldtap_attribute *ldtap_span_find(const struct ldtap_span *span, const char *key);
/* Looks up `count` keys at once: found[i] is the attribute `keys[i]`, or NULL. One pass
 * over the span's attributes, so a key that is absent costs no more than one present. */
void ldtap_span_find_many(const struct ldtap_span *span, const char *const *keys, size_t count,
                          const struct ldtap_attribute **found);
/* The string value of an attribute of `span` (not NUL-terminated: use string_length). */
const char *ldtap_span_string(const struct ldtap_span *span, const struct ldtap_attribute *attribute);

/* A new empty event block with reference count 1 (NULL if out of memory). */
struct ldtap_span_events *ldtap_span_events_new(void);
void ldtap_span_events_retain(struct ldtap_span_events *events);
void ldtap_span_events_release(struct ldtap_span_events *events);
/* Starts an event named `name` (a literal) at `time_ns`; false when the block is full. */
bool ldtap_span_events_add(struct ldtap_span_events *events, const char *name, uint64_t time_ns);
/* A string attribute of the last event. The value is cut to the text room left (never
 * below `min_length` bytes: then nothing is added and false returned); bytes are kept as
 * they are (newlines included): encoders repair UTF-8. */
bool ldtap_span_events_add_string(struct ldtap_span_events *events, const char *key, const char *value,
                                  size_t length, size_t min_length);
/* The string value of one of the block's attributes (not NUL-terminated). */
const char *ldtap_span_events_string(const struct ldtap_span_events *events,
                                     const struct ldtap_attribute *attribute);

bool ldtap_resource_add_string(struct ldtap_resource *resource, const char *key, const char *value,
                               size_t length);
bool ldtap_resource_add_int(struct ldtap_resource *resource, const char *key, int64_t value);
const char *ldtap_resource_string(const struct ldtap_resource *resource,
                                  const struct ldtap_attribute *attribute);
/* A new resource with reference count 1 (calloc; NULL if out of memory). */
struct ldtap_resource *ldtap_resource_new(void);
void ldtap_resource_retain(struct ldtap_resource *resource);
void ldtap_resource_release(struct ldtap_resource *resource);
/* Drops `count` references at once (an exporter retiring a batch of one process's spans):
 * one atomic operation instead of one per span, on a counter the drain keeps raising. */
void ldtap_resource_release_many(struct ldtap_resource *resource, int count);

#endif
