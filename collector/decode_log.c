/* LDTAP_RECORD_LOG decoding (see decode_log.h): record validation, severity, attributes
 * named by the OpenTelemetry log and exception conventions. */
#include "decode_log.h"

#include <stddef.h>
#include <string.h>

#include "log_severity.h"

/* Room for the attribute strings that are not slices of the body. */
_Static_assert(LDTAP_LOG_TRACEBACK_MAX + LDTAP_LOG_PATH_MAX + sizeof "stderr" + 2 <= LDTAP_LOG_ENTRY_TEXT_BYTES,
               "a log entry's text buffer must hold the largest record");
_Static_assert(LDTAP_LOG_ENTRY_TEXT_BYTES <= UINT16_MAX, "attribute offsets are 16 bits");

static void add_slice(struct ldtap_log_entry *entry, const char *key, size_t offset, size_t length) {
    if (entry->attribute_count < LDTAP_LOG_ENTRY_MAX_ATTRIBUTES) {
        entry->attributes[entry->attribute_count++] = (struct ldtap_attribute){
            .key = key,
            .type = LDTAP_VALUE_STRING,
            .string_offset = (uint16_t)offset,
            .string_length = (uint16_t)length,
        };
    }
}

/* Copies `value` after what the text holds (the static assertions guarantee room). */
static void add_copied(struct ldtap_log_entry *entry, const char *key, const char *value, size_t length) {
    if (entry->text_used + length > sizeof entry->text) {
        return;
    }
    memcpy(entry->text + entry->text_used, value, length);
    add_slice(entry, key, entry->text_used, length);
    entry->text_used = (uint16_t)(entry->text_used + length);
}

static void add_int(struct ldtap_log_entry *entry, const char *key, int64_t value) {
    if (entry->attribute_count < LDTAP_LOG_ENTRY_MAX_ATTRIBUTES) {
        entry->attributes[entry->attribute_count++] =
            (struct ldtap_attribute){.key = key, .type = LDTAP_VALUE_INT, .int_value = value};
    }
}

static void set_severity(struct ldtap_log_entry *entry, uint8_t number, const char *text, size_t length) {
    if (length >= sizeof entry->severity_text) {
        length = sizeof entry->severity_text - 1;
    }
    entry->severity_number = number;
    memcpy(entry->severity_text, text, length);
    entry->severity_text[length] = '\0';
}

static void add_exception(struct ldtap_log_entry *entry, const char *text, size_t length,
                          struct ldtap_traceback *traceback) {
    if (ldtap_traceback_parse(text, length, traceback) != LDTAP_TRACEBACK_NONE && traceback->type_length) {
        add_slice(entry, "exception.type", (size_t)(traceback->type - entry->text), traceback->type_length);
        add_slice(entry, "exception.message",
                  traceback->message ? (size_t)(traceback->message - entry->text) : 0, traceback->message_length);
    }
    add_slice(entry, "exception.stacktrace", 0, length);
}

bool ldtap_decode_log(const void *payload, size_t length, uint64_t observed_time_ns, struct ldtap_log_entry *entry,
                      struct ldtap_traceback *traceback) {
    struct ldtap_log_record record;
    if (length < sizeof record) {
        return false;
    }
    memcpy(&record, payload, sizeof record);
    bool is_file = record.stream == LDTAP_LOG_STREAM_FILE;
    size_t text_max = record.kind == LDTAP_LOG_KIND_TRACEBACK ? LDTAP_LOG_TRACEBACK_MAX : LDTAP_LOG_LINE_MAX;
    if ((record.kind != LDTAP_LOG_KIND_LINE && record.kind != LDTAP_LOG_KIND_TRACEBACK) ||
        (record.stream != LDTAP_LOG_STREAM_STDOUT && record.stream != LDTAP_LOG_STREAM_STDERR && !is_file) ||
        record.text_length > text_max || record.path_length > LDTAP_LOG_PATH_MAX ||
        (!is_file && record.path_length != 0) ||
        sizeof record + (size_t)record.text_length + record.path_length > length) {
        return false;
    }
    const char *text = (const char *)payload + sizeof record;
    memset(entry, 0, offsetof(struct ldtap_log_entry, text));
    entry->time_ns = record.time_ns;
    entry->observed_time_ns = observed_time_ns;
    entry->kind = (uint8_t)record.kind;
    memcpy(entry->trace_id, record.trace_id, sizeof entry->trace_id);
    memcpy(entry->span_id, record.span_id, sizeof entry->span_id);
    memcpy(entry->text, text, record.text_length);
    entry->body_length = record.text_length;
    entry->text_used = record.text_length;
    if (is_file) {
        add_copied(entry, "log.file.path", text + record.text_length, record.path_length);
    } else {
        const char *stream = record.stream == LDTAP_LOG_STREAM_STDOUT ? "stdout" : "stderr";
        add_copied(entry, "log.iostream", stream, strlen(stream));
    }
    add_int(entry, "thread.id", record.thread_id);
    if (record.kind == LDTAP_LOG_KIND_TRACEBACK) {
        set_severity(entry, LDTAP_SEVERITY_ERROR, "ERROR", 5);
        add_exception(entry, entry->text, entry->body_length, traceback);
    } else {
        struct ldtap_log_severity severity = ldtap_log_severity_guess(entry->text, entry->body_length);
        set_severity(entry, (uint8_t)severity.number, severity.text ? severity.text : "", severity.text_length);
    }
    return true;
}

const char *ldtap_log_entry_string(const struct ldtap_log_entry *entry, const struct ldtap_attribute *attribute) {
    return entry->text + attribute->string_offset;
}

const struct ldtap_attribute *ldtap_log_entry_find(const struct ldtap_log_entry *entry, const char *key) {
    for (uint16_t i = 0; i < entry->attribute_count; i++) {
        if (strcmp(entry->attributes[i].key, key) == 0) {
            return &entry->attributes[i];
        }
    }
    return NULL;
}

/* Copies the entry's attribute `key` (if any) into the event being built. The stack
 * trace goes last and may be cut to the room left; the others must fit whole. */
static void copy_to_event(struct ldtap_span_events *events, const struct ldtap_log_entry *entry, const char *key,
                          bool may_cut) {
    const struct ldtap_attribute *attribute = ldtap_log_entry_find(entry, key);
    if (attribute) {
        ldtap_span_events_add_string(events, key, ldtap_log_entry_string(entry, attribute), attribute->string_length,
                                     may_cut ? 0 : attribute->string_length);
    }
}

struct ldtap_span_events *ldtap_log_exception_events(const struct ldtap_log_entry *entry) {
    if (entry->kind != LDTAP_LOG_KIND_TRACEBACK || !ldtap_log_entry_find(entry, "exception.type")) {
        return NULL;
    }
    struct ldtap_span_events *events = ldtap_span_events_new();
    if (!events) {
        return NULL;
    }
    ldtap_span_events_add(events, "exception", entry->time_ns);
    copy_to_event(events, entry, "exception.type", false);
    copy_to_event(events, entry, "exception.message", false);
    copy_to_event(events, entry, "exception.stacktrace", true);
    return events;
}
