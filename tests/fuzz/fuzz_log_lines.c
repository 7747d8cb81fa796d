/* libFuzzer harness for shim/proto/log_lines.c: arbitrary bytes, split into writes where
 * the fuzzer chooses, must give bounded, consistent events and never touch memory out of
 * bounds. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log_lines.h"

static unsigned open_blocks;
volatile uint8_t fuzz_log_lines_sink; /* keeps the byte reads below from being optimised out */

static void check_piece(void *context, const struct ldtap_log_piece *piece) {
    (void)context;
    if (piece->event == LDTAP_LOG_EVENT_TRACEBACK_BEGIN) {
        if (open_blocks++ != 0)
            abort(); /* a block began inside another */
        return;
    }
    uint32_t cap = piece->event == LDTAP_LOG_EVENT_LINE ? LDTAP_LOG_LINE_MAX : LDTAP_LOG_TRACEBACK_MAX;
    if (piece->length > cap || piece->length > piece->full_length)
        abort();
    if ((piece->length < piece->full_length) != ((piece->flags & LDTAP_LOG_FLAG_TRUNCATED) != 0))
        abort();
    if (piece->length > 0 && memchr(piece->text, '\n', piece->length) != NULL &&
        piece->event == LDTAP_LOG_EVENT_LINE)
        abort();
    if (piece->event == LDTAP_LOG_EVENT_TRACEBACK) {
        if (open_blocks-- != 1)
            abort(); /* a block ended that never began */
        /* A block starts at its header, a group's at its header or headerless exception
         * line, a chained one at the chaining sentence. */
        static const char *const plain_starts[] = {"Traceback", "  + Exception Group Traceback", "  | "};
        static const char *const chained_starts[] = {"During handling", "The above exception"};
        bool chained = piece->flags & LDTAP_LOG_FLAG_CHAINED;
        const char *const *starts = chained ? chained_starts : plain_starts;
        unsigned start_count = chained ? 2 : 3, matched = 0;
        for (unsigned i = 0; i < start_count; i++)
            matched +=
                piece->length >= strlen(starts[i]) && strncmp(piece->text, starts[i], strlen(starts[i])) == 0;
        if (matched == 0)
            abort();
    }
    /* Touch every byte so the sanitizer sees any overread. */
    for (uint32_t i = 0; i < piece->length; i++)
        fuzz_log_lines_sink ^= (uint8_t)piece->text[i];
}

/* Byte 0: bit 0 emit_lines; the rest of byte 0 and byte 1 seed the write sizes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct ldtap_log_lines lines;
    if (size < 2)
        return 0;
    ldtap_log_lines_reset(&lines, data[0] & 1);
    unsigned seed = (unsigned)data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    open_blocks = 0;
    while (size > 0) {
        seed = seed * 1103515245u + 12345u;
        size_t step = 1 + (seed >> 16) % 97;
        if (step > size)
            step = size;
        ldtap_log_lines_feed(&lines, (const char *)data, step, check_piece, NULL);
        data += step;
        size -= step;
    }
    ldtap_log_lines_finish(&lines, check_piece, NULL);
    if (open_blocks != 0 || ldtap_log_lines_pending(&lines))
        abort();
    return 0;
}
