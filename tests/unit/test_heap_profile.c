/* Criterion tests for collector/heap_profile.c: sample/free accounting, scaling by the
 * shim's weights, unknown and repeated frees, lost frees, and the unbiasedness of the
 * estimate for N blocks of size S under exponential byte sampling. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "heap_profile.h"

static struct ldtap_heap_profile profile;

static void setup(void) { ldtap_heap_profile_init(&profile); }
static void teardown(void) { ldtap_heap_profile_release(&profile); }

TestSuite(heap_profile, .init = setup, .fini = teardown);

Test(heap_profile, sample_and_free_accounting) {
    static const uint64_t pcs[] = {0x1000, 0x2000, 0x3000};
    cr_assert(ldtap_heap_profile_add_stack(&profile, 7, pcs, 3, 0));
    cr_assert(ldtap_heap_profile_sample(&profile, 0xa0, 100, 400, 7));
    cr_assert(ldtap_heap_profile_sample(&profile, 0xb0, 200, 200, 7));
    const struct ldtap_heap_site *site = ldtap_heap_profile_site(&profile, 7);
    cr_assert_not_null(site);
    cr_assert_eq(site->depth, 3);
    cr_assert_eq(site->pcs[2], 0x3000);
    cr_assert_eq(site->live_bytes, 600);
    cr_assert_float_eq(site->live_objects, 5.0, 1e-9, "400/100 + 200/200 blocks");
    cr_assert_eq(site->live_samples, 2);
    cr_assert(ldtap_heap_profile_free(&profile, 0xa0));
    cr_assert_eq(site->live_bytes, 200);
    cr_assert_float_eq(site->live_objects, 1.0, 1e-9);
    cr_assert_eq(site->alloc_bytes, 600, "cumulative totals never shrink");
    cr_assert_float_eq(site->alloc_objects, 5.0, 1e-9);
    cr_assert(ldtap_heap_profile_free(&profile, 0xb0));
    cr_assert_eq(site->live_bytes, 0);
    cr_assert_eq(site->live_objects, 0.0);
    cr_assert_eq(ldtap_heap_profile_live_bytes(&profile), 0);
}

Test(heap_profile, unknown_and_double_frees_are_ignored) {
    cr_assert(ldtap_heap_profile_sample(&profile, 0xa0, 64, 1024, 1));
    cr_assert_not(ldtap_heap_profile_free(&profile, 0xdead));
    cr_assert(ldtap_heap_profile_free(&profile, 0xa0));
    cr_assert_not(ldtap_heap_profile_free(&profile, 0xa0));
    cr_assert_eq(profile.stats.unknown_frees, 2);
    cr_assert_eq(profile.stats.frees, 1);
    cr_assert_eq(ldtap_heap_profile_live_bytes(&profile), 0);
}

Test(heap_profile, stack_arriving_late_or_twice) {
    cr_assert(ldtap_heap_profile_sample(&profile, 0xa0, 10, 10, 99));
    const struct ldtap_heap_site *site = ldtap_heap_profile_site(&profile, 99);
    cr_assert_not_null(site);
    cr_assert_null(site->pcs, "the stack record was dropped: a site without frames");
    static const uint64_t first[] = {1, 2}, second[] = {3};
    cr_assert(ldtap_heap_profile_add_stack(&profile, 99, first, 2, 0));
    cr_assert(ldtap_heap_profile_add_stack(&profile, 99, second, 1, 0));
    site = ldtap_heap_profile_site(&profile, 99);
    cr_assert_eq(site->depth, 2, "the first copy is kept");
    cr_assert_eq(site->live_bytes, 10);
}

Test(heap_profile, reused_address_replaces_the_lost_sample) {
    cr_assert(ldtap_heap_profile_sample(&profile, 0xa0, 100, 1000, 1));
    cr_assert(ldtap_heap_profile_sample(&profile, 0xa0, 50, 500, 2));
    cr_assert_eq(ldtap_heap_profile_site(&profile, 1)->live_bytes, 0);
    cr_assert_eq(ldtap_heap_profile_site(&profile, 2)->live_bytes, 500);
    cr_assert_eq(profile.stats.replaced_samples, 1);
    cr_assert_geq(ldtap_heap_profile_site(&profile, 2)->live_bytes, 50, "weight below size is raised to size");
}

Test(heap_profile, many_blocks_through_the_free_list) {
    for (int round = 0; round < 3; round++) {
        for (uint64_t i = 0; i < 5000; i++) {
            cr_assert(ldtap_heap_profile_sample(&profile, 0x10000 + i * 16, 16, 32, i % 7 + 1));
        }
        for (uint64_t i = 0; i < 5000; i += 2) {
            cr_assert(ldtap_heap_profile_free(&profile, 0x10000 + i * 16));
        }
        for (uint64_t i = 1; i < 5000; i += 2) {
            cr_assert(ldtap_heap_profile_free(&profile, 0x10000 + i * 16));
        }
    }
    cr_assert_eq(ldtap_heap_profile_live_bytes(&profile), 0);
    cr_assert_leq(profile.block_count, 5000, "freed blocks are reused");
}

/* The shim's sampler: exponential countdown of mean T over the byte stream, weight
 * s / (1 - exp(-s/T)). N blocks of S bytes kept live must be estimated within 10%
 * (the noise is about 1/sqrt(samples): the test keeps ~1000 samples live). */
Test(heap_profile, estimate_of_n_blocks_of_size_s_is_unbiased) {
    const double mean_interval = 512.0 * 1024.0;
    const uint64_t sizes[] = {48, 4096, 100000};
    srand48(12345);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct ldtap_heap_profile one;
        ldtap_heap_profile_init(&one);
        uint64_t size = sizes[k];
        uint64_t blocks = (512ull * 1024 * 1024) / size; /* 512 MiB: ~1000 samples, 3% noise */
        double countdown = -log(1.0 - drand48()) * mean_interval;
        for (uint64_t i = 0; i < blocks; i++) {
            countdown -= (double)size;
            if (countdown <= 0) {
                while (countdown <= 0) {
                    countdown += -log(1.0 - drand48()) * mean_interval;
                }
                uint64_t weight = (uint64_t)llround((double)size / (1.0 - exp(-(double)size / mean_interval)));
                cr_assert(ldtap_heap_profile_sample(&one, 0x100000 + i * 64, size, weight, 1));
            }
        }
        const struct ldtap_heap_site *site = ldtap_heap_profile_site(&one, 1);
        double truth = (double)(blocks * size);
        cr_assert_not_null(site);
        cr_assert_lt(fabs((double)site->live_bytes - truth) / truth, 0.10, "size %lu: %lu vs %.0f", (unsigned long)size,
                     (unsigned long)site->live_bytes, truth);
        cr_assert_lt(fabs(site->live_objects - (double)blocks) / (double)blocks, 0.10);
        ldtap_heap_profile_release(&one);
    }
}
