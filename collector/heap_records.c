/* Validation of heap-profiling payloads: fixed part first, then each variable part's
 * length against the limits in the ABI and against what is left of the payload. Payloads
 * may carry padding to 8 bytes at the end, so "longer than needed" is accepted. */
#include "heap_records.h"

#include <string.h>

bool ldtap_decode_module_map(const uint8_t *payload, size_t length, struct ldtap_module_map *out) {
    if (length < sizeof out->record) {
        return false;
    }
    memcpy(&out->record, payload, sizeof out->record);
    const struct ldtap_module_map_record *record = &out->record;
    if (record->segment_count > LDTAP_MODULE_MAX_SEGMENTS || record->build_id_length > LDTAP_MODULE_BUILD_ID_MAX ||
        record->path_length > LDTAP_MODULE_PATH_MAX || record->module_index >= record->module_count) {
        return false;
    }
    size_t segments_bytes = (size_t)record->segment_count * sizeof(struct ldtap_module_segment);
    size_t needed = sizeof *record + segments_bytes + record->build_id_length + record->path_length;
    if (needed > length) {
        return false;
    }
    memcpy(out->segments, payload + sizeof *record, segments_bytes);
    const uint8_t *path = payload + sizeof *record + segments_bytes + record->build_id_length;
    if (memchr(path, '\0', record->path_length)) {
        return false;
    }
    memcpy(out->path, path, record->path_length);
    out->path[record->path_length] = '\0';
    for (uint16_t i = 0; i < record->segment_count; i++) {
        if (out->segments[i].start + out->segments[i].size < out->segments[i].start) {
            return false; /* wraps around the address space */
        }
    }
    return true;
}

bool ldtap_decode_heap_stack(const uint8_t *payload, size_t length, struct ldtap_heap_stack *out) {
    if (length < sizeof out->record) {
        return false;
    }
    memcpy(&out->record, payload, sizeof out->record);
    uint32_t frames = out->record.frame_count;
    if (out->record.stack_id == 0 || frames == 0 || frames > LDTAP_STACK_MAX_FRAMES ||
        sizeof out->record + (size_t)frames * sizeof(uint64_t) > length) {
        return false;
    }
    memcpy(out->pcs, payload + sizeof out->record, (size_t)frames * sizeof(uint64_t));
    return true;
}

bool ldtap_decode_heap_sample(const uint8_t *payload, size_t length, struct ldtap_heap_sample_record *out) {
    if (length < sizeof *out) {
        return false;
    }
    memcpy(out, payload, sizeof *out);
    return out->address != 0;
}

bool ldtap_decode_heap_free(const uint8_t *payload, size_t length, struct ldtap_heap_free_record *out) {
    if (length < sizeof *out) {
        return false;
    }
    memcpy(out, payload, sizeof *out);
    return out->address != 0;
}
