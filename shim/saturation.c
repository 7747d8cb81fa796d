/* Worker saturation counters in the ring header: in-flight server requests and busy time
 * (at least one request in flight), written at request start and end, never per syscall. */
#include "saturation.h"

#include "process.h"

void ldtap_requests_started(uint32_t count, uint64_t monotonic_ns) {
    struct ldtap_ring_writer *ring = ldtap_process_ring();
    if (ring == NULL || count == 0)
        return;
    struct ldtap_ring_header *header = ring->header;
    /* The thread that takes the count off zero opens a busy period. Two threads racing
     * through zero and back can misplace a period's start by the width of the race: the
     * collector reads a fraction, so that error is noise, and no lock is worth it. */
    if (__atomic_fetch_add(&header->in_flight_requests, (int64_t)count, __ATOMIC_ACQ_REL) == 0)
        __atomic_store_n(&header->busy_since_ns, monotonic_ns, __ATOMIC_RELEASE);
}

void ldtap_requests_finished(uint32_t count, uint64_t monotonic_ns) {
    struct ldtap_ring_writer *ring = ldtap_process_ring();
    if (ring == NULL || count == 0)
        return;
    struct ldtap_ring_header *header = ring->header;
    int64_t before = __atomic_fetch_sub(&header->in_flight_requests, (int64_t)count, __ATOMIC_ACQ_REL);
    if (before == (int64_t)count) { /* the last request in flight: close the busy period */
        uint64_t since = __atomic_load_n(&header->busy_since_ns, __ATOMIC_ACQUIRE);
        if (since != 0 && monotonic_ns > since)
            __atomic_fetch_add(&header->busy_time_ns, monotonic_ns - since, __ATOMIC_RELAXED);
    }
}
