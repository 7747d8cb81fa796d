/* The shim's clocks: CLOCK_MONOTONIC read from the CPU's time-stamp counter where the
 * kernel itself keeps time with it, and CLOCK_REALTIME derived from one monotonic read. */
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "process.h"
#include "shim.h"
#include "thread.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#define NS_PER_SECOND 1000000000ull

static uint64_t read_clock(clockid_t clock) {
    struct timespec now;
    clock_gettime(clock, &now);
    return (uint64_t)now.tv_sec * NS_PER_SECOND + (uint64_t)now.tv_nsec;
}

#if defined(__x86_64__)

/*
 * clock_gettime costs 16 to 28 ns here, and a database span reads the clock twice: on a
 * Python sqlite3 loop that was 4% of the program's time. The vDSO itself reads the
 * time-stamp counter and scales it; we do the same with a line of our own,
 *     ns = ns_at + (tsc - tsc_at) * scale / 2^32,
 * redrawn against CLOCK_MONOTONIC every second, so it never strays from the kernel's
 * clock by more than the counter's rate error over one second (the collector compares
 * our times with its own clock, and a record whose end precedes its start is invalid).
 *
 * A new line starts where the old one stood when it was ahead of the kernel (never
 * backwards: spans must not end before they start) and is made a little slower so that it
 * meets the kernel's clock one period later. The first line is drawn after 100 ms of
 * plain clock_gettime reads, which measure the counter's rate.
 *
 * Used only where the kernel's own clocksource is "tsc" (it has checked that the counter
 * is invariant and synchronised across CPUs), and not when the process has made rdtsc
 * trap (prctl PR_SET_TSC, as record-and-replay debuggers do).
 */
#define FIRST_PERIOD_NS (NS_PER_SECOND / 10)
#define PERIOD_NS NS_PER_SECOND

/* A seqlock: `sequence` is odd while a thread redraws; readers retry meanwhile. */
static struct {
    uint64_t sequence;
    uint64_t tsc_at;
    uint64_t ns_at;
    uint64_t scale;     /* nanoseconds per tick, 32.32 fixed point; 0: not measured yet */
    uint64_t redraw_at; /* line nanoseconds; past them the next read redraws */
    /* The last pair read from the kernel's clock, to measure the counter's rate. */
    uint64_t measured_tsc;
    uint64_t measured_ns;
} _Alignas(64) line;

enum { TSC_UNKNOWN, TSC_USABLE, TSC_UNUSABLE };
static int tsc_usability;

static bool kernel_keeps_time_with_tsc(void) {
    char clocksource[32];
    ssize_t length = ldtap_read_small_file("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                                           clocksource, sizeof(clocksource));
    int tsc_mode = 0;
    return length == 4 && memcmp(clocksource, "tsc\n", 4) == 0 && prctl(PR_GET_TSC, &tsc_mode, 0, 0, 0) == 0 &&
           tsc_mode == PR_TSC_ENABLE;
}

void ldtap_clock_init(void) {
    int saved_errno = errno;
    __atomic_store_n(&tsc_usability, kernel_keeps_time_with_tsc() ? TSC_USABLE : TSC_UNUSABLE,
                     __ATOMIC_RELAXED);
    errno = saved_errno;
}

static uint64_t line_at(uint64_t tsc, uint64_t tsc_at, uint64_t ns_at, uint64_t scale) {
    /* A counter a few ticks behind the one the line was drawn on (another CPU) reads as
     * the line's start rather than wrapping around. */
    uint64_t ticks = tsc > tsc_at ? tsc - tsc_at : 0;
    return ns_at + (uint64_t)(((unsigned __int128)ticks * scale) >> 32);
}

/* The counter's midpoint around one read of the kernel's clock. */
static uint64_t read_pair(uint64_t *ns) {
    uint64_t before = __rdtsc();
    *ns = read_clock(CLOCK_MONOTONIC);
    uint64_t after = __rdtsc();
    return before + (after - before) / 2;
}

/* Called with the seqlock held (sequence odd). Returns the new line's value now. */
static uint64_t draw_line(void) {
    uint64_t kernel_ns;
    uint64_t tsc = read_pair(&kernel_ns);
    uint64_t previous_tsc = line.measured_tsc, previous_ns = line.measured_ns;
    line.measured_tsc = tsc;
    line.measured_ns = kernel_ns;
    if (previous_ns == 0 || tsc <= previous_tsc || kernel_ns <= previous_ns) {
        /* Reads stay on clock_gettime until then. */
        __atomic_store_n(&line.redraw_at, kernel_ns + FIRST_PERIOD_NS, __ATOMIC_RELAXED);
        return kernel_ns;
    }
    uint64_t rate = (uint64_t)(((unsigned __int128)(kernel_ns - previous_ns) << 32) / (tsc - previous_tsc));
    uint64_t start = kernel_ns;
    if (line.scale != 0) {
        uint64_t predicted = line_at(tsc, line.tsc_at, line.ns_at, line.scale);
        start = predicted > kernel_ns ? predicted : kernel_ns;
    }
    /* Meet the kernel's clock at kernel_ns + PERIOD_NS, a period's worth of ticks later. */
    uint64_t period_ticks = rate != 0 ? (uint64_t)(((unsigned __int128)PERIOD_NS << 32) / rate) : 0;
    uint64_t ahead = start - kernel_ns;
    uint64_t scale = rate;
    if (ahead < PERIOD_NS / 2 && period_ticks != 0)
        scale = (uint64_t)(((unsigned __int128)(PERIOD_NS - ahead) << 32) / period_ticks);
    __atomic_store_n(&line.tsc_at, tsc, __ATOMIC_RELAXED);
    __atomic_store_n(&line.ns_at, start, __ATOMIC_RELAXED);
    __atomic_store_n(&line.scale, scale != 0 ? scale : 1, __ATOMIC_RELAXED);
    __atomic_store_n(&line.redraw_at, kernel_ns + PERIOD_NS, __ATOMIC_RELAXED);
    return start;
}

/* The slow path: no line yet, or one due for redrawing. Returns the time, or 0 when
 * another thread is redrawing (the caller reads again: the kernel's clock may be a little
 * behind a line already read on this thread). */
static __attribute__((noinline, cold)) uint64_t monotonic_slow(uint64_t sequence, bool consistent,
                                                              bool measured, uint64_t redraw_at) {
    if (!consistent)
        return 0;
    if (!measured) {
        uint64_t now = read_clock(CLOCK_MONOTONIC);
        if (now < redraw_at) /* still timing the counter against the kernel's clock */
            return now;
    }
    if (!__atomic_compare_exchange_n(&line.sequence, &sequence, sequence + 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return 0;
    uint64_t now = draw_line();
    __atomic_store_n(&line.sequence, sequence + 2, __ATOMIC_RELEASE);
    return now;
}

/* Reads while another thread redraws (a hundred nanoseconds) before giving up on the
 * line: a signal handler that interrupted this very thread's redraw would wait forever. */
#define REDRAW_WAIT_READS 1000

uint64_t ldtap_monotonic_ns(void) {
    if (LDTAP_UNLIKELY(__atomic_load_n(&tsc_usability, __ATOMIC_RELAXED) != TSC_USABLE))
        return read_clock(CLOCK_MONOTONIC);
    for (unsigned reads = 0; reads < REDRAW_WAIT_READS; reads++) {
        uint64_t sequence = __atomic_load_n(&line.sequence, __ATOMIC_ACQUIRE);
        uint64_t tsc = __rdtsc();
        uint64_t tsc_at = __atomic_load_n(&line.tsc_at, __ATOMIC_RELAXED);
        uint64_t ns_at = __atomic_load_n(&line.ns_at, __ATOMIC_RELAXED);
        uint64_t scale = __atomic_load_n(&line.scale, __ATOMIC_RELAXED);
        uint64_t redraw_at = __atomic_load_n(&line.redraw_at, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        bool consistent = (sequence & 1) == 0 && sequence == __atomic_load_n(&line.sequence, __ATOMIC_RELAXED);
        if (LDTAP_LIKELY(consistent && scale != 0)) {
            uint64_t ns = line_at(tsc, tsc_at, ns_at, scale);
            if (LDTAP_LIKELY(ns < redraw_at))
                return ns;
        }
        uint64_t now = monotonic_slow(sequence, consistent, scale != 0, redraw_at);
        if (now != 0)
            return now;
    }
    return read_clock(CLOCK_MONOTONIC);
}

bool ldtap_clock_uses_counter(void) {
    return __atomic_load_n(&tsc_usability, __ATOMIC_RELAXED) == TSC_USABLE &&
           __atomic_load_n(&line.scale, __ATOMIC_RELAXED) != 0;
}

void ldtap_clock_reset_after_fork(void) {
    /* The forking thread may have been the only one; a redraw another thread had begun
     * never ends in the child. */
    if (line.sequence & 1)
        line.sequence++;
}

#else

void ldtap_clock_init(void) {}
bool ldtap_clock_uses_counter(void) { return false; }
void ldtap_clock_reset_after_fork(void) {}

uint64_t ldtap_monotonic_ns(void) { return read_clock(CLOCK_MONOTONIC); }

#endif

/*
 * CLOCK_REALTIME minus CLOCK_MONOTONIC, so that one monotonic read serves both as an
 * interval clock and as a span time. NTP's slewing changes both clocks alike; a step of the
 * wall clock (settimeofday, an NTP step) does not move the monotonic one, so the offset is
 * measured again once it is a second old: span times follow a step within a second.
 * Threads racing to measure it store equally good values; a reader may mix an old offset
 * with a new expiry, which only delays the next measurement.
 */
static uint64_t realtime_offset_ns;
static uint64_t offset_expires_ns; /* monotonic; 0: never measured */

static __attribute__((noinline, cold)) uint64_t measure_realtime_offset(void) {
    uint64_t before = ldtap_monotonic_ns();
    uint64_t realtime = read_clock(CLOCK_REALTIME);
    uint64_t after = ldtap_monotonic_ns();
    uint64_t offset = realtime - (before + (after - before) / 2);
    __atomic_store_n(&realtime_offset_ns, offset, __ATOMIC_RELAXED);
    __atomic_store_n(&offset_expires_ns, after + NS_PER_SECOND, __ATOMIC_RELAXED);
    return offset;
}

uint64_t ldtap_realtime_at(uint64_t monotonic_ns) {
    if (LDTAP_UNLIKELY(monotonic_ns >= __atomic_load_n(&offset_expires_ns, __ATOMIC_RELAXED)))
        return monotonic_ns + measure_realtime_offset();
    return monotonic_ns + __atomic_load_n(&realtime_offset_ns, __ATOMIC_RELAXED);
}

uint64_t ldtap_now_ns(void) {
    return ldtap_realtime_at(ldtap_monotonic_ns());
}
