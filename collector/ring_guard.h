/* Survives a ring file truncated under the collector. A traced process owns its ring file
 * and may shrink it while we have it mapped; the next access to a page past the new end
 * raises SIGBUS, which would kill the collector and every other process's telemetry with
 * it. A SIGBUS inside a guarded mapping instead replaces that mapping with zero pages (so
 * the faulting access completes) and marks it truncated, for the drain to drop the ring. */
#ifndef LDTAP_RING_GUARD_H
#define LDTAP_RING_GUARD_H

#include <stdbool.h>
#include <stddef.h>

/* Installs the SIGBUS handler once (any thread; later calls do nothing). False if
 * sigaction failed. */
bool ldtap_ring_guard_install(void);

/* Guards [start, start + length); returns a slot, or -1 when the table is full (the
 * mapping is then unguarded, as before). */
int ldtap_ring_guard_add(void *start, size_t length);

/* True once a SIGBUS hit the slot's mapping: its contents are zeros from then on. */
bool ldtap_ring_guard_truncated(int slot);

/* Forgets the slot (after the mapping is gone). -1 is ignored. */
void ldtap_ring_guard_remove(int slot);

#endif
