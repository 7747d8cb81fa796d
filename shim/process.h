/* Process-wide lifecycle of the shim: start-up checks and configuration, the process's
 * ring (created on the first record, again in each forked child), and fork handling. */
#ifndef LDTAP_PROCESS_H
#define LDTAP_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "fd_table.h"
#include "ldtap_ring.h"

/* The ring of this process once it exists (NULL before, and in a forked child until it
 * makes its own): read on every record, so ldtap_process_ring is one load when it hits. */
extern LDTAP_INTERNAL struct ldtap_ring_writer *ldtap_ready_ring;
struct ldtap_ring_writer *ldtap_process_ring_slow(void);

/* The ring of this process, created on first use; a thread that finds another one
 * creating it waits for it (bounded, once per process). NULL when there is none to be
 * had (creation failed: shim disabled; or took longer than the bound). */
static inline struct ldtap_ring_writer *ldtap_process_ring(void) {
    struct ldtap_ring_writer *ready = __atomic_load_n(&ldtap_ready_ring, __ATOMIC_ACQUIRE);
    return LDTAP_LIKELY(ready != NULL) ? ready : ldtap_process_ring_slow();
}

/* The ring if it exists already; never creates one (for counters that must not make a
 * process grow a ring by themselves). */
struct ldtap_ring_writer *ldtap_process_ring_if_ready(void);

/* Reads a small /proc or /sys file into `buffer` (NUL-terminated); returns bytes read or
 * -1. Uses the originals: these descriptors are the shim's own. */
ssize_t ldtap_read_small_file(const char *path, char *buffer, size_t size);

/* True while the shim records: started, not inert, no internal error so far. */
static inline bool ldtap_recording(void) {
    return __atomic_load_n(&ldtap_fd_capacity, __ATOMIC_RELAXED) != 0;
}

/* Adds `delta` to a producer counter of the ring header, e.g. LDTAP_COUNT(shim_errors, 1). */
#define LDTAP_COUNT(field, delta)                                                          \
    do {                                                                                   \
        struct ldtap_ring_writer *ldtap_counted_ring_ = ldtap_process_ring();              \
        if (ldtap_counted_ring_ != NULL)                                                   \
            __atomic_fetch_add(&ldtap_counted_ring_->header->field, (delta),               \
                               __ATOMIC_RELAXED);                                          \
    } while (0)

#endif
