/* Per-thread helpers for span assembly: the kernel thread id, random trace and span ids
 * from a per-thread generator (thread.c), and the clocks (clock.c). */
#ifndef LDTAP_THREAD_H
#define LDTAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint32_t ldtap_thread_id(void);

/* 64 random bits from the thread's generator. */
uint64_t ldtap_random_u64(void);
/* The same for the two sizes every span needs, at a fraction of the cost. */
void ldtap_random_span_id(uint8_t id[8]);
void ldtap_random_trace_id(uint8_t id[16]);
/* Both, for a span that starts a trace. */
void ldtap_random_span_and_trace_id(uint8_t span_id[8], uint8_t trace_id[16]);

/* Decides once, from the constructor, whether the clocks may read the time-stamp counter. */
void ldtap_clock_init(void);

/* True once the clocks read the time-stamp counter (for tests). */
bool ldtap_clock_uses_counter(void);

/* In a forked child: a redraw of the counter's line begun by another thread never ends. */
void ldtap_clock_reset_after_fork(void);

/* CLOCK_MONOTONIC in nanoseconds, for intervals, deadlines and span times: from the
 * time-stamp counter where the kernel keeps time with it, else from the vDSO. */
uint64_t ldtap_monotonic_ns(void);

/* The CLOCK_REALTIME time of a CLOCK_MONOTONIC reading just taken, without a second clock
 * read: what an event that needs both (a request's start: span time and busy period)
 * reads once. Follows a step of the wall clock within a second. */
uint64_t ldtap_realtime_at(uint64_t monotonic_ns);

/* CLOCK_REALTIME in nanoseconds, as ldtap_realtime_at(ldtap_monotonic_ns()). */
uint64_t ldtap_now_ns(void);

/* In a forked child: the thread id changed and the generator must not repeat the
 * parent's sequence. */
void ldtap_thread_reset_after_fork(void);

#endif
