/* libFuzzer harness for collector/decode_log.c: LDTAP_RECORD_LOG payloads as a hostile ring
 * hands them over, or (byte 0 even) with lengths repaired so most inputs reach the
 * traceback parser and the severity guesser; then both OTLP logs encoders. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "decode_log.h"
#include "ldtap_ring_abi.h"
#include "otlp_logs.h"

static struct ldtap_log_entry entry;

static void check_entry(void) {
    if (entry.body_length > entry.text_used || entry.text_used > sizeof entry.text ||
        entry.attribute_count > LDTAP_LOG_ENTRY_MAX_ATTRIBUTES ||
        memchr(entry.severity_text, '\0', sizeof entry.severity_text) == NULL) {
        abort();
    }
    for (uint16_t i = 0; i < entry.attribute_count; i++) {
        const struct ldtap_attribute *attribute = &entry.attributes[i];
        if (attribute->type == LDTAP_VALUE_STRING &&
            (size_t)attribute->string_offset + attribute->string_length > entry.text_used) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1u << 15) {
        return 0;
    }
    uint8_t mode = data[0];
    data++;
    size--;
    uint8_t *payload = malloc(size + sizeof(struct ldtap_log_record));
    if (!payload) {
        return 0;
    }
    size_t length = size;
    memcpy(payload, data, size);
    if (!(mode & 1) && size >= sizeof(struct ldtap_log_record)) {
        struct ldtap_log_record record;
        memcpy(&record, payload, sizeof record);
        size_t text = size - sizeof record;
        record.kind = (mode & 2) ? LDTAP_LOG_KIND_TRACEBACK : LDTAP_LOG_KIND_LINE;
        record.stream = (uint16_t)(1 + (mode >> 2) % 3);
        size_t text_max = record.kind == LDTAP_LOG_KIND_TRACEBACK ? LDTAP_LOG_TRACEBACK_MAX : LDTAP_LOG_LINE_MAX;
        record.path_length = record.stream == LDTAP_LOG_STREAM_FILE ? (uint16_t)(text < 16 ? text : 16) : 0;
        text -= record.path_length;
        record.text_length = (uint16_t)(text < text_max ? text : text_max);
        memcpy(payload, &record, sizeof record);
    }
    struct ldtap_traceback traceback;
    if (ldtap_decode_log(payload, length, 1, &entry, &traceback)) {
        check_entry();
        struct ldtap_span_events *events = ldtap_log_exception_events(&entry);
        ldtap_span_events_release(events);
        const struct ldtap_log_entry *entries[1] = {&entry};
        struct ldtap_buffer out;
        ldtap_buffer_init(&out);
        ldtap_otlp_logs_protobuf_encode(&out, entries, 1);
        ldtap_buffer_reset(&out);
        ldtap_otlp_logs_json_encode(&out, entries, 1);
        ldtap_buffer_free(&out);
    }
    free(payload);
    return 0;
}
