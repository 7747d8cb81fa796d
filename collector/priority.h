/* The collector's scheduling priority: lowered on every one of its threads, so that on a
 * machine short of CPUs the traced program runs first and its records wait in the ring. */
#ifndef LDTAP_PRIORITY_H
#define LDTAP_PRIORITY_H

/* Raises the niceness of every thread of this process to at least `niceness` (0: leaves
 * it alone; a thread already nicer keeps its own). Threads created later inherit it from
 * their creator. Failures are ignored: priority is a courtesy, not a requirement. */
void ldtap_priority_lower(int niceness);

#endif
