/* Worker saturation counters in the ring header: server requests in flight and the time
 * during which at least one was, so the collector can tell a busy worker from an idle one. */
#ifndef LDTAP_SATURATION_H
#define LDTAP_SATURATION_H

#include <stdint.h>

/* `count` server requests began (their first byte was read) or ended (answered, abandoned
 * or cut by a close) at `monotonic_ns`, a CLOCK_MONOTONIC reading the caller took anyway. */
void ldtap_requests_started(uint32_t count, uint64_t monotonic_ns);
void ldtap_requests_finished(uint32_t count, uint64_t monotonic_ns);

#endif
