/* Stack capture for the shim: program counters of the current thread's stack, usable from
 * malloc hooks and from signal handlers (heap sampling, crash capture). */
#ifndef LDTAP_STACK_H
#define LDTAP_STACK_H

#include <stdbool.h>
#include <stdint.h>

#include "shim.h"

/* Loads the unwinder (libunwind.so.8, privately: see stack.c). Call from the constructor
 * only: it uses dlopen, which is neither async-signal-safe nor safe inside a malloc
 * hook. Idempotent. Returns true when captures can return frames. */
bool ldtap_stack_init(void);

/*
 * Writes up to `max_frames` program counters of the calling thread's stack into `pcs`,
 * innermost first, and returns how many. Async-signal-safe once ldtap_stack_init has run
 * (before that, or without libunwind, it returns 0); takes no lock of its own and does
 * not allocate with malloc.
 *   ucontext == NULL: starts at the caller of the shim. Frames inside libldtap.so are
 *     left out, so pcs[0] is the return address in the code that called the hooked
 *     function.
 *   ucontext != NULL: a signal handler's third argument; pcs[0] is the interrupted
 *     instruction (LDTAP_STACK_FLAG_FIRST_IS_EXACT is set in *flags) and the walk
 *     continues through the interrupted code's callers.
 * `flags` (may be NULL) receives enum ldtap_stack_flag bits from ldtap_ring_abi.h:
 * LDTAP_STACK_FLAG_TRUNCATED when the stack was deeper than max_frames.
 */
unsigned ldtap_stack_capture(uint64_t *pcs, unsigned max_frames, const void *ucontext,
                             uint32_t *flags);

/* True on a thread while it captures a stack (ucontext == NULL) with every signal blocked
 * by the shim: hooks/signal.c then answers libunwind's own sigprocmask calls without a
 * system call. */
extern LDTAP_INTERNAL LDTAP_THREAD_LOCAL bool ldtap_stack_signals_blocked;

#endif
