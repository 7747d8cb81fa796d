/* LDTAP_RECORD_CRASH decoding and formatting (see decode_crash.h). */
#include "decode_crash.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define STACKTRACE_BYTES 8192

bool ldtap_decode_crash(const void *payload, size_t length, struct ldtap_crash *crash) {
    if (length < sizeof crash->record) {
        return false;
    }
    memcpy(&crash->record, payload, sizeof crash->record);
    const struct ldtap_crash_record *record = &crash->record;
    size_t pcs_bytes = (size_t)record->frame_count * sizeof crash->pcs[0];
    if (record->frame_count > LDTAP_CRASH_FRAMES_MAX || record->stack_bytes_length > LDTAP_CRASH_STACK_BYTES_MAX ||
        sizeof *record + pcs_bytes + record->stack_bytes_length > length || record->signal <= 0) {
        return false;
    }
    memcpy(crash->pcs, (const char *)payload + sizeof *record, pcs_bytes);
    return true;
}

const char *ldtap_signal_name(int signal, char *buffer, size_t size) {
    switch (signal) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    default: snprintf(buffer, size, "SIG%d", signal); return buffer;
    }
}

/* The si_code names a reader looks up most; others are printed as numbers. */
static const char *code_name(int signal, int code) {
    if (code == SI_USER) return "SI_USER";
    if (code == SI_TKILL) return "SI_TKILL";
    if (code == SI_QUEUE) return "SI_QUEUE";
    if (signal == SIGSEGV) return code == SEGV_MAPERR ? "SEGV_MAPERR" : code == SEGV_ACCERR ? "SEGV_ACCERR" : NULL;
    if (signal == SIGBUS) return code == BUS_ADRALN ? "BUS_ADRALN" : code == BUS_ADRERR ? "BUS_ADRERR" : NULL;
    if (signal == SIGFPE) return code == FPE_INTDIV ? "FPE_INTDIV" : NULL;
    if (signal == SIGILL) return code == ILL_ILLOPC ? "ILL_ILLOPC" : NULL;
    return NULL;
}

size_t ldtap_crash_message(const struct ldtap_crash *crash, char *out, size_t size) {
    const struct ldtap_crash_record *record = &crash->record;
    char name_buffer[16], code_buffer[16];
    const char *code = code_name(record->signal, record->signal_code);
    if (!code) {
        snprintf(code_buffer, sizeof code_buffer, "code %d", (int)record->signal_code);
        code = code_buffer;
    }
    int written;
    if (record->signal_code > 0 && record->signal != SIGABRT) {
        written = snprintf(out, size, "%s (%s) at address 0x%" PRIx64,
                           ldtap_signal_name(record->signal, name_buffer, sizeof name_buffer), code,
                           record->fault_address);
    } else {
        written = snprintf(out, size, "%s (%s) from pid %d",
                           ldtap_signal_name(record->signal, name_buffer, sizeof name_buffer), code,
                           (int)record->sender_pid);
    }
    return written < 0 ? 0 : (size_t)written < size ? (size_t)written : size - 1;
}

size_t ldtap_crash_stacktrace(const struct ldtap_crash *crash, struct ldtap_symbol_process *process,
                              uint32_t max_frames, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < crash->record.frame_count && i < max_frames && used + 1 < size; i++) {
        uint64_t pc = crash->pcs[i];
        /* Every frame but the interrupted instruction is a return address: look up the call. */
        uint64_t lookup = i == 0 || pc == 0 ? pc : pc - 1;
        struct ldtap_symbol symbol = {0};
        char name[512] = "";
        if (process && ldtap_symbolize(process, lookup, &symbol)) {
            ldtap_symbol_format(&symbol, lookup, true, name, sizeof name);
        }
        int written = snprintf(out + used, size - used, "%s#%u 0x%016" PRIx64 "%s%s%s%s", i ? "\n" : "", i, pc,
                               name[0] ? " " : "", name, symbol.module ? " in " : "",
                               symbol.module ? symbol.module : "");
        if (written < 0) {
            break;
        }
        used += (size_t)written < size - used ? (size_t)written : size - used - 1;
    }
    return used;
}

struct ldtap_span_events *ldtap_crash_events(const struct ldtap_crash *crash, struct ldtap_symbol_process *process) {
    struct ldtap_span_events *events = ldtap_span_events_new();
    if (!events) {
        return NULL;
    }
    char name_buffer[16], message[160];
    char stacktrace[STACKTRACE_BYTES];
    const char *type = ldtap_signal_name(crash->record.signal, name_buffer, sizeof name_buffer);
    size_t message_length = ldtap_crash_message(crash, message, sizeof message);
    size_t stack_length = ldtap_crash_stacktrace(crash, process, LDTAP_CRASH_FRAMES_MAX, stacktrace, sizeof stacktrace);
    ldtap_span_events_add(events, "exception", crash->record.time_ns);
    ldtap_span_events_add_string(events, "exception.type", type, strlen(type), 0);
    ldtap_span_events_add_string(events, "exception.message", message, message_length, 0);
    ldtap_span_events_add_string(events, "exception.stacktrace", stacktrace, stack_length, 0);
    return events;
}
