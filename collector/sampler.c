/* OTEL_TRACES_SAMPLER in the collector: always_on/off, traceidratio and the parent-based
 * variants, all pure functions of the trace id and the record's parent flags. */
#include "sampler.h"

#include "ldtap_ring_abi.h"

void ldtap_sampler_init(struct ldtap_sampler *sampler, enum ldtap_sampler_kind kind, double ratio) {
    sampler->kind = kind;
    sampler->ratio_keeps_all = ratio >= 1.0;
    /* ratio x 2^64, computed in double: exact enough (53 bits) for any ratio a user types. */
    sampler->ratio_threshold = ratio <= 0.0 || ratio >= 1.0 ? 0 : (uint64_t)(ratio * 18446744073709551616.0);
}

/* traceidratio: the trace id's last 8 bytes read as a big-endian integer are below
 * ratio x 2^64. Those are the bytes W3C trace-context level 2 makes random, and every
 * OpenTelemetry SDK compares the same bytes, so a trace continued from one keeps the same
 * decision here. */
static bool ratio_keeps(const struct ldtap_sampler *sampler, const uint8_t trace_id[16]) {
    if (sampler->ratio_keeps_all) {
        return true;
    }
    uint64_t low = 0;
    for (int i = 8; i < 16; i++) {
        low = (low << 8) | trace_id[i];
    }
    return low < sampler->ratio_threshold;
}

bool ldtap_sampler_keep(const struct ldtap_sampler *sampler, const uint8_t trace_id[16], uint16_t record_flags) {
    /* A span whose trace came in with a traceparent follows the caller's sampled flag,
     * whether its own parent is that caller (server span) or a local span (client span). */
    bool remote_parent = (record_flags & (LDTAP_SPAN_FLAG_REMOTE_PARENT | LDTAP_SPAN_FLAG_UPSTREAM_DECISION)) != 0;
    bool parent_sampled = (record_flags & LDTAP_SPAN_FLAG_SAMPLED) != 0;
    switch (sampler->kind) {
    case LDTAP_SAMPLER_ALWAYS_ON:
        return true;
    case LDTAP_SAMPLER_ALWAYS_OFF:
        return false;
    case LDTAP_SAMPLER_TRACEIDRATIO:
        return ratio_keeps(sampler, trace_id);
    case LDTAP_SAMPLER_PARENTBASED_ALWAYS_ON:
        return remote_parent ? parent_sampled : true;
    case LDTAP_SAMPLER_PARENTBASED_ALWAYS_OFF:
        return remote_parent ? parent_sampled : false;
    case LDTAP_SAMPLER_PARENTBASED_TRACEIDRATIO:
        return remote_parent ? parent_sampled : ratio_keeps(sampler, trace_id);
    }
    return true;
}
