/* Module maps: snapshots of the process's loaded objects written to the ring so that the
 * collector can symbolize stacks after the process has exited. */
#ifndef LDTAP_MODULES_H
#define LDTAP_MODULES_H

#include "ldtap_ring.h"

/* Writes a new generation of LDTAP_RECORD_MODULE_MAP records into `ring` if none was
 * written yet or objects were loaded or unloaded since the last one (dl_iterate_phdr's
 * adds/subs counters). Not async-signal-safe (dl_iterate_phdr takes the loader's lock);
 * no malloc. If another thread is writing a snapshot, returns at once. */
void ldtap_modules_refresh(struct ldtap_ring_writer *ring);

/* The first snapshot if none was written to this process's ring yet (one load otherwise).
 * Called after span records so that crash stacks can be symbolized even when heap
 * sampling, which refreshes the maps with every new stack, is off. Not for signal handlers. */
void ldtap_modules_ensure(struct ldtap_ring_writer *ring);

/* In a forked child: its ring is new, so the next refresh writes a snapshot. */
void ldtap_modules_reset_after_fork(void);

#endif
