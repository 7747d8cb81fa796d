/* Criterion tests for collector/sampler.c: ratios over many random trace ids, edge
 * ratios, and the parent-based samplers. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "ldtap_ring_abi.h"
#include "sampler.h"

static uint64_t state = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void) { /* xorshift64*: deterministic, good enough here */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dull;
}

static void random_trace_id(uint8_t id[16]) {
    for (int half = 0; half < 2; half++) {
        uint64_t value = next_random();
        for (int i = 0; i < 8; i++) {
            id[half * 8 + i] = (uint8_t)(value >> (8 * i));
        }
    }
}

static double kept_share(const struct ldtap_sampler *sampler, int count) {
    int kept = 0;
    uint8_t id[16];
    for (int i = 0; i < count; i++) {
        random_trace_id(id);
        kept += ldtap_sampler_keep(sampler, id, 0);
    }
    return (double)kept / count;
}

Test(sampler, ratio_zero_one_and_quarter) {
    struct ldtap_sampler sampler;
    ldtap_sampler_init(&sampler, LDTAP_SAMPLER_TRACEIDRATIO, 0.0);
    cr_assert_float_eq(kept_share(&sampler, 100000), 0.0, 1e-12);
    ldtap_sampler_init(&sampler, LDTAP_SAMPLER_TRACEIDRATIO, 1.0);
    cr_assert_float_eq(kept_share(&sampler, 100000), 1.0, 1e-12);
    ldtap_sampler_init(&sampler, LDTAP_SAMPLER_TRACEIDRATIO, 0.25);
    /* 200000 draws: standard deviation ~0.001, so 0.005 is five sigma. */
    cr_assert_float_eq(kept_share(&sampler, 200000), 0.25, 0.005);
}

Test(sampler, decision_uses_last_eight_bytes_big_endian) {
    struct ldtap_sampler sampler;
    ldtap_sampler_init(&sampler, LDTAP_SAMPLER_TRACEIDRATIO, 0.5);
    uint8_t id[16] = {0};
    memset(id, 0xff, 8); /* the first half must not matter */
    id[8] = 0x7f;
    id[15] = 0xff;
    cr_assert(ldtap_sampler_keep(&sampler, id, 0));
    id[8] = 0x80;
    id[15] = 0x00;
    cr_assert_not(ldtap_sampler_keep(&sampler, id, 0));
}

Test(sampler, all_spans_of_a_trace_agree) {
    struct ldtap_sampler sampler;
    ldtap_sampler_init(&sampler, LDTAP_SAMPLER_TRACEIDRATIO, 0.3);
    uint8_t id[16];
    for (int i = 0; i < 1000; i++) {
        random_trace_id(id);
        bool first = ldtap_sampler_keep(&sampler, id, 0);
        cr_assert_eq(ldtap_sampler_keep(&sampler, id, LDTAP_SPAN_FLAG_UNPARENTED_ASYNC), first);
    }
}

Test(sampler, always_on_and_off) {
    struct ldtap_sampler on, off;
    ldtap_sampler_init(&on, LDTAP_SAMPLER_ALWAYS_ON, 0.0);
    ldtap_sampler_init(&off, LDTAP_SAMPLER_ALWAYS_OFF, 1.0);
    uint8_t id[16] = {1};
    cr_assert(ldtap_sampler_keep(&on, id, LDTAP_SPAN_FLAG_REMOTE_PARENT));
    cr_assert_not(ldtap_sampler_keep(&off, id, LDTAP_SPAN_FLAG_REMOTE_PARENT | LDTAP_SPAN_FLAG_SAMPLED));
}

Test(sampler, parent_based_follows_remote_parent) {
    const uint16_t remote_sampled = LDTAP_SPAN_FLAG_REMOTE_PARENT | LDTAP_SPAN_FLAG_SAMPLED;
    const uint16_t remote_unsampled = LDTAP_SPAN_FLAG_REMOTE_PARENT;
    enum ldtap_sampler_kind kinds[] = {LDTAP_SAMPLER_PARENTBASED_ALWAYS_ON, LDTAP_SAMPLER_PARENTBASED_ALWAYS_OFF,
                                       LDTAP_SAMPLER_PARENTBASED_TRACEIDRATIO};
    uint8_t id[16];
    for (size_t k = 0; k < 3; k++) {
        struct ldtap_sampler sampler;
        ldtap_sampler_init(&sampler, kinds[k], 0.0);
        random_trace_id(id);
        cr_assert(ldtap_sampler_keep(&sampler, id, remote_sampled));
        cr_assert_not(ldtap_sampler_keep(&sampler, id, remote_unsampled));
        /* The sampled bit alone (no remote parent) does not decide. */
        cr_assert_eq(ldtap_sampler_keep(&sampler, id, LDTAP_SPAN_FLAG_SAMPLED), k == 0);
        /* A local child of a server span with a remote parent follows the caller too. */
        cr_assert(ldtap_sampler_keep(&sampler, id, LDTAP_SPAN_FLAG_UPSTREAM_DECISION | LDTAP_SPAN_FLAG_SAMPLED));
        cr_assert_not(ldtap_sampler_keep(&sampler, id, LDTAP_SPAN_FLAG_UPSTREAM_DECISION));
    }
    struct ldtap_sampler ratio;
    ldtap_sampler_init(&ratio, LDTAP_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.25);
    cr_assert_float_eq(kept_share(&ratio, 200000), 0.25, 0.005);
}
