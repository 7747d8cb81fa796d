/* Head sampling in the collector, decided from the trace id so that every span of a
 * trace (from any process) gets the same answer. */
#ifndef LDTAP_SAMPLER_H
#define LDTAP_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct ldtap_sampler {
    enum ldtap_sampler_kind kind;
    bool ratio_keeps_all;     /* ratio 1: the threshold below cannot express 2^64 */
    uint64_t ratio_threshold; /* keep when the trace id's low 64 bits are below this */
};

/* `ratio` is used by the *traceidratio kinds only; it must be within 0..1. */
void ldtap_sampler_init(struct ldtap_sampler *sampler, enum ldtap_sampler_kind kind, double ratio);

/* Whether a span is exported. `record_flags` are the ring record's enum ldtap_span_flag
 * bits: parent-based samplers follow LDTAP_SPAN_FLAG_SAMPLED when the span has a remote
 * parent (LDTAP_SPAN_FLAG_REMOTE_PARENT) and use the root decision otherwise. */
bool ldtap_sampler_keep(const struct ldtap_sampler *sampler, const uint8_t trace_id[16], uint16_t record_flags);

#endif
