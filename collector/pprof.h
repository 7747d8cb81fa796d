/* Heap profiles in pprof's format: a perftools.profiles.Profile (profile.proto) with the
 * sample types alloc_objects, alloc_space, inuse_objects and inuse_space, symbolized
 * locations, functions and mappings, written gzipped as `go tool pprof` expects. */
#ifndef LDTAP_PPROF_H
#define LDTAP_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "heap_profile.h"
#include "symbolize.h"

struct ldtap_pprof_options {
    uint64_t time_ns;         /* when the profile was taken (CLOCK_REALTIME) */
    uint64_t duration_ns;     /* since the process started */
    uint64_t sample_interval; /* the shim's mean sampling interval in bytes: the period */
};

/* Profile field numbers (profile.proto), shared with the test's reader. */
enum ldtap_pprof_field {
    LDTAP_PPROF_SAMPLE_TYPE = 1,
    LDTAP_PPROF_SAMPLE = 2,
    LDTAP_PPROF_MAPPING = 3,
    LDTAP_PPROF_LOCATION = 4,
    LDTAP_PPROF_FUNCTION = 5,
    LDTAP_PPROF_STRING_TABLE = 6,
    LDTAP_PPROF_TIME_NANOS = 9,
    LDTAP_PPROF_DURATION_NANOS = 10,
    LDTAP_PPROF_PERIOD_TYPE = 11,
    LDTAP_PPROF_PERIOD = 12,
    LDTAP_PPROF_DEFAULT_SAMPLE_TYPE = 14,
};

/* Value order in every Sample, as Go's heap profiles have it. */
enum ldtap_pprof_value { LDTAP_PPROF_ALLOC_OBJECTS, LDTAP_PPROF_ALLOC_SPACE, LDTAP_PPROF_INUSE_OBJECTS,
                         LDTAP_PPROF_INUSE_SPACE, LDTAP_PPROF_VALUES };

/* Appends the uncompressed Profile message for `profile` to `out`; `symbols` may be NULL
 * (addresses only). False when memory ran out. */
bool ldtap_pprof_encode(const struct ldtap_heap_profile *profile, struct ldtap_symbol_process *symbols,
                        const struct ldtap_pprof_options *options, struct ldtap_buffer *out);

/* Writes `length` bytes gzip-compressed to `path` (through a temporary file renamed into
 * place, so a reader never sees half a profile). 0, or a negative errno. */
int ldtap_write_gzip_file(const char *path, const uint8_t *data, size_t length);

#endif
