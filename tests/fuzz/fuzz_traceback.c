/* libFuzzer harness for collector/traceback.c: any bytes as a traceback block; every
 * slice the parser returns must lie inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "traceback.h"

static void check_slice(const char *slice, size_t length, const uint8_t *data, size_t size) {
    if (length && (slice < (const char *)data || slice + length > (const char *)data + size)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size copy so ASan catches any read past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) {
        return 0;
    }
    memcpy(copy, data, size);
    struct ldtap_traceback traceback;
    enum ldtap_traceback_result result = ldtap_traceback_parse((const char *)copy, size, &traceback);
    check_slice(traceback.type, traceback.type_length, copy, size);
    check_slice(traceback.message, traceback.message_length, copy, size);
    if (traceback.frame_count > LDTAP_TRACEBACK_MAX_FRAMES || traceback.frame_count > traceback.frames_seen ||
        (result == LDTAP_TRACEBACK_NONE && traceback.traceback_count != 0)) {
        abort();
    }
    for (uint32_t i = 0; i < traceback.frame_count; i++) {
        const struct ldtap_traceback_frame *frame = &traceback.frames[i];
        check_slice(frame->file, frame->file_length, copy, size);
        check_slice(frame->function, frame->function_length, copy, size);
        check_slice(frame->source, frame->source_length, copy, size);
    }
    free(copy);
    return 0;
}
