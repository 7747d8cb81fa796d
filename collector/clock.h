/* The collector's clocks, in nanoseconds: one place for what every module reads. */
#ifndef LDTAP_CLOCK_H
#define LDTAP_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC: intervals, deadlines, ages; never steps with the wall clock. */
uint64_t ldtap_monotonic_ns(void);

/* CLOCK_REALTIME since the Unix epoch: timestamps that leave the collector. */
uint64_t ldtap_realtime_ns(void);

#endif
