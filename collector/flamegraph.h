/* An SVG flame graph of a process's live heap, rendered by ldtap itself: stacks merged
 * into a tree by function name, widths by estimated live bytes, hover titles with bytes. */
#ifndef LDTAP_FLAMEGRAPH_H
#define LDTAP_FLAMEGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "heap_profile.h"
#include "symbolize.h"

/* Appends a complete SVG document to `out`; `title` is shown at the top (any bytes:
 * escaped). False when memory ran out. */
bool ldtap_flamegraph_render(const struct ldtap_heap_profile *profile, struct ldtap_symbol_process *symbols,
                             const char *title, struct ldtap_buffer *out);

/* "512 B", "1.5 KiB", "12.3 MiB", "2.0 GiB". Returns `out`. */
char *ldtap_format_bytes(uint64_t bytes, char *out, size_t size);

#endif
