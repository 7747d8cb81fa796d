/* Shared by the decoder tests: the common span head of a record with fixed ids (trace
 * 10..1f, span a0..a7, parent c0..c7), times from 1700000000 s and thread 4242. */
#ifndef LDTAP_TEST_RECORD_FIXTURE_H
#define LDTAP_TEST_RECORD_FIXTURE_H

#include <string.h>

#include "ldtap_ring_abi.h"

static inline void fixture_span_common(struct ldtap_span_common *common, uint16_t kind,
                                       uint64_t duration_ns) {
    memset(common, 0, sizeof *common);
    for (int i = 0; i < 16; i++) {
        common->trace_id[i] = (uint8_t)(0x10 + i);
    }
    for (int i = 0; i < 8; i++) {
        common->span_id[i] = (uint8_t)(0xa0 + i);
        common->parent_span_id[i] = (uint8_t)(0xc0 + i);
    }
    common->start_time_ns = 1700000000000000000ull;
    common->end_time_ns = common->start_time_ns + duration_ns;
    common->thread_id = 4242;
    common->kind = kind;
}

#endif
