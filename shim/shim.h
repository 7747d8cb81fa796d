/* Common ground of libldtap.so: hot-path and export markers, the per-thread nesting
 * counter that keeps the shim's own libc calls out of its hooks, and process-wide state. */
#ifndef LDTAP_SHIM_H
#define LDTAP_SHIM_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

/* Runs on every intercepted call: no syscalls, locks or allocation allowed. */
#define LDTAP_HOT __attribute__((hot))
/* The only symbols the shim exports (see shim/libldtap.map). */
#define LDTAP_EXPORT __attribute__((visibility("default")))
/* On extern declarations of the shim's own globals: lets the compiler address them
 * directly (one rip-relative load) instead of assuming they might live in another object. */
#define LDTAP_INTERNAL __attribute__((visibility("hidden")))
#define LDTAP_LIKELY(condition) __builtin_expect(!!(condition), 1)
#define LDTAP_UNLIKELY(condition) __builtin_expect(!!(condition), 0)

/*
 * Thread-local storage uses the initial-exec model on purpose (CMake also passes
 * -ftls-model=initial-exec). libldtap.so is loaded at program start by LD_PRELOAD, so its
 * TLS block is part of the static TLS area and every access is one %fs-relative load.
 * The default (global-dynamic) model would call __tls_get_addr, which may allocate on a
 * thread's first access: that costs cycles on every hook and can recurse into malloc.
 * The price is that the shim cannot be dlopen()ed late; it is never meant to be.
 */
#define LDTAP_THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))

/* Depth of shim code on this thread's stack; only the outermost hook records. */
extern LDTAP_INTERNAL LDTAP_THREAD_LOCAL unsigned ldtap_nesting;

/*
 * Runs `statement` as the outermost shim code on this thread with errno preserved, the
 * part every recording hook repeats. When the shim is already on the stack (a signal
 * handler interrupted it, or the shim's own libc calls), runs `nested_statement` instead.
 */
#define LDTAP_RECORD(statement, nested_statement)                                          \
    do {                                                                                   \
        int ldtap_saved_errno_ = errno;                                                    \
        if (ldtap_nesting++ == 0) {                                                        \
            statement;                                                                     \
        } else {                                                                           \
            nested_statement;                                                              \
        }                                                                                  \
        ldtap_nesting--;                                                                   \
        errno = ldtap_saved_errno_;                                                        \
    } while (0)

/* An internal error: counts it in the ring header (when a ring exists), stops recording
 * for good and lets every call pass through. Never exits. */
void ldtap_fail(void);

/* True when this is the process the shim last initialised (or forked into through
 * pthread_atfork): false in a vfork() child, which shares our memory with its parent.
 * Costs one getpid syscall; used only on close paths of tracked descriptors. */
bool ldtap_in_own_process(void);

#endif
