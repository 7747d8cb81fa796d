/* The OTLP log record of a leak suspect: an event (ldtap.heap.leak_suspect, severity WARN)
 * naming the site's code and carrying its estimated live bytes, growth and rank. */
#ifndef LDTAP_LEAK_LOG_H
#define LDTAP_LEAK_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "decode_log.h"
#include "heap_profile.h"
#include "leak_reports.h"
#include "leak_suspects.h"
#include "symbolize.h"

#define LDTAP_LEAK_EVENT_NAME "ldtap.heap.leak_suspect"

/* The frame that names a site: its innermost frame outside the C/C++ runtimes (a strdup or
 * an operator new says less than its caller), symbolized at `*address` (a return address
 * minus one: file:line is the call's). False when the site's stack has not arrived. */
bool ldtap_leak_site_frame(struct ldtap_symbol_process *symbols, const struct ldtap_heap_site *site,
                           struct ldtap_symbol *symbol, uint64_t *address);

/*
 * Fills `entry` (the caller sets entry->resource, its process's): time_ns, severity WARN,
 * event name, a one-line body ("new leak suspect in pid 42: leak_some_bytes (leaky.c:48)
 * holds ~20.0 MiB, +20.0 MiB at 4.0 MiB/s, rank 1 in its process") and the attributes
 * event.name, code.function.name, code.file.path and code.line.number (those known),
 * process.pid, ldtap.heap.live_bytes, ldtap.heap.growth_bytes, ldtap.heap.growth_rate
 * (bytes per second), ldtap.heap.leak_rank, and when the suspect was compared with its
 * sibling workers ldtap.heap.flat_workers, ldtap.heap.growing_workers, and
 * ldtap.heap.widespread_growth when most of its process's heap grows too. `site` may be
 * NULL (its stack never arrived): the body then says so.
 */
void ldtap_leak_log_entry(struct ldtap_log_entry *entry, const struct ldtap_leak_suspect *suspect,
                          uint32_t rank, enum ldtap_leak_report reason, struct ldtap_symbol_process *symbols,
                          const struct ldtap_heap_site *site, uint64_t time_ns);

#endif
