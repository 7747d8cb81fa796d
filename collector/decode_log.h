/* Decodes LDTAP_RECORD_LOG records (a captured line or a Python traceback block) into log
 * entries for the OTLP logs exporter, and a traceback into an `exception` span event. */
#ifndef LDTAP_DECODE_LOG_H
#define LDTAP_DECODE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldtap_ring_abi.h"
#include "span.h"
#include "traceback.h"

#define LDTAP_LOG_ENTRY_MAX_ATTRIBUTES 16
#define LDTAP_LOG_ENTRY_TEXT_BYTES (LDTAP_LOG_TRACEBACK_MAX + LDTAP_LOG_PATH_MAX + 64)
#define LDTAP_LOG_SEVERITY_TEXT_BYTES 16

/* One OTLP LogRecord. Fixed size; the body is text[0..body_length), string attributes
 * live in `text` too. Bytes are kept as the program wrote them: encoders repair UTF-8. */
struct ldtap_log_entry {
    uint64_t time_ns;          /* when the line or block was complete (the shim's clock) */
    uint64_t observed_time_ns; /* when the collector read it */
    uint8_t trace_id[16];      /* all zero: written outside any request */
    uint8_t span_id[8];
    uint8_t severity_number; /* enum ldtap_severity */
    uint8_t kind;            /* enum ldtap_log_kind */
    uint16_t body_length;
    uint16_t text_used;
    uint16_t attribute_count;
    const char *event_name; /* a string literal; NULL: the record is no event (LogRecord.event_name) */
    char severity_text[LDTAP_LOG_SEVERITY_TEXT_BYTES]; /* NUL-terminated; "" when unknown */
    struct ldtap_resource *resource; /* not owned by the entry (the exporter retains it) */
    struct ldtap_claim claim;        /* the ring record it came from; the exporter settles it */
    struct ldtap_attribute attributes[LDTAP_LOG_ENTRY_MAX_ATTRIBUTES];
    char text[LDTAP_LOG_ENTRY_TEXT_BYTES];
};

/*
 * Validates the record (sizes, stream, kind, lengths against the ABI's maxima) and fills
 * `entry`: body, severity (guessed for a line, ERROR for a traceback), attributes
 * log.iostream ("stdout"/"stderr") or log.file.path, thread.id, and for a traceback
 * exception.type, exception.message and exception.stacktrace (the whole block). The
 * parsed traceback goes to `traceback` (slices of entry->text). `observed_time_ns` is the
 * collector's CLOCK_REALTIME. False: an invalid record, `entry` unusable.
 */
bool ldtap_decode_log(const void *payload, size_t length, uint64_t observed_time_ns, struct ldtap_log_entry *entry,
                      struct ldtap_traceback *traceback);

/* The `exception` span event for a decoded traceback entry (a new block, reference 1), or
 * NULL when the entry is no traceback, has no exception line, or memory ran out. */
struct ldtap_span_events *ldtap_log_exception_events(const struct ldtap_log_entry *entry);

/* The string value of one of the entry's attributes (not NUL-terminated). */
const char *ldtap_log_entry_string(const struct ldtap_log_entry *entry, const struct ldtap_attribute *attribute);
/* NULL when the entry has no attribute `key`. */
const struct ldtap_attribute *ldtap_log_entry_find(const struct ldtap_log_entry *entry, const char *key);

#endif
