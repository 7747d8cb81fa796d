/* Decodes LDTAP_RECORD_CRASH records (a fatal signal and its stack) and turns them into
 * the crashed request's `exception` span event and the exit summary's crash report. */
#ifndef LDTAP_DECODE_CRASH_H
#define LDTAP_DECODE_CRASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldtap_ring_abi.h"
#include "span.h"
#include "symbolize.h"

struct ldtap_crash {
    struct ldtap_crash_record record;
    uint64_t pcs[LDTAP_CRASH_FRAMES_MAX]; /* record.frame_count of them, innermost first */
};

/* Validates sizes and counts against the ABI; false for an invalid record. */
bool ldtap_decode_crash(const void *payload, size_t length, struct ldtap_crash *crash);

/* "SIGSEGV", "SIGABRT", … or "SIG<number>" (written to `buffer`, >= 16 bytes). */
const char *ldtap_signal_name(int signal, char *buffer, size_t size);

/* "SIGSEGV (SEGV_MAPERR) at address 0x0" and the like. Returns the length written. */
size_t ldtap_crash_message(const struct ldtap_crash *crash, char *out, size_t size);

/* One line per frame, "#0 0x… function+0x12 (file.c:34) in /lib/…", at most
 * `max_frames`; symbolized through `process` when not NULL, raw addresses otherwise
 * (return addresses are looked up at pc - 1). Returns the length written. */
size_t ldtap_crash_stacktrace(const struct ldtap_crash *crash, struct ldtap_symbol_process *process,
                              uint32_t max_frames, char *out, size_t size);

/* The `exception` event for the crashed span: exception.type the signal name,
 * exception.message, exception.stacktrace. A new block (reference 1) or NULL. */
struct ldtap_span_events *ldtap_crash_events(const struct ldtap_crash *crash, struct ldtap_symbol_process *process);

#endif
