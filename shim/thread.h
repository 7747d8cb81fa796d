/* Per-thread helpers for span assembly: the kernel thread id, random trace and span ids
 * from a per-thread generator, and the clocks. None of them is on the hot path. */
#ifndef LDTAP_THREAD_H
#define LDTAP_THREAD_H

#include <stddef.h>
#include <stdint.h>

uint32_t ldtap_thread_id(void);

/* Fills `bytes` with random bytes, never all zero (W3C ids must not be). */
void ldtap_random_id(uint8_t *bytes, size_t length);

/* CLOCK_REALTIME in nanoseconds (vDSO: no syscall). */
uint64_t ldtap_now_ns(void);

/* CLOCK_MONOTONIC in nanoseconds (vDSO: no syscall), for intervals and deadlines. */
uint64_t ldtap_monotonic_ns(void);

/* In a forked child: the thread id changed and the generator must not repeat the
 * parent's sequence. */
void ldtap_thread_reset_after_fork(void);

#endif
