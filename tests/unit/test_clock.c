/* The shim's clocks (shim/clock.c, compiled in): the time-stamp counter's line stays
 * within microseconds of the kernel's CLOCK_MONOTONIC across redraws and never runs
 * backwards, on one thread or several. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "thread.h"

/* The one shim function clock.c needs, read with stdio here. */
ssize_t ldtap_read_small_file(const char *path, char *buffer, size_t size) {
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return -1;
    size_t length = fread(buffer, 1, size - 1, file);
    fclose(file);
    buffer[length] = '\0';
    return (ssize_t)length;
}

static uint64_t kernel_ns(clockid_t clock) {
    struct timespec now;
    clock_gettime(clock, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static bool kernel_uses_tsc(void) {
    char source[32] = "";
    return ldtap_read_small_file("/sys/devices/system/clocksource/clocksource0/current_clocksource", source,
                                 sizeof(source)) > 0 &&
           strcmp(source, "tsc\n") == 0;
}

/* Reads for `seconds`, each between two kernel reads: never more than `slack_ns` outside
 * them, never below the previous read. Returns the reads made. */
static uint64_t follow_kernel(double seconds, uint64_t slack_ns) {
    uint64_t end = kernel_ns(CLOCK_MONOTONIC) + (uint64_t)(seconds * 1e9), previous = 0, reads = 0;
    for (;;) {
        uint64_t before = kernel_ns(CLOCK_MONOTONIC);
        uint64_t ours = ldtap_monotonic_ns();
        uint64_t after = kernel_ns(CLOCK_MONOTONIC);
        cr_assert_geq(ours + slack_ns, before, "%llu ns behind the kernel", (unsigned long long)(before - ours));
        cr_assert_leq(ours, after + slack_ns, "%llu ns ahead of the kernel", (unsigned long long)(ours - after));
        cr_assert_geq(ours, previous, "went back %llu ns", (unsigned long long)(previous - ours));
        previous = ours;
        reads++;
        if (after > end)
            return reads;
    }
}

Test(clock, follows_the_kernel_across_redraws) {
    ldtap_clock_init();
    /* 2.5 s: the 100 ms measurement, the first line and two redraws. */
    cr_assert_gt(follow_kernel(2.5, 5000), 1000);
    cr_assert_eq(ldtap_clock_uses_counter(), kernel_uses_tsc(), "the counter is used exactly where the kernel uses it");
}

static void *follow_in_thread(void *unused) {
    (void)unused;
    return (void *)(uintptr_t)follow_kernel(1.5, 5000);
}

Test(clock, threads_never_see_it_go_backwards) {
    ldtap_clock_init();
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, follow_in_thread, NULL), 0);
    for (int i = 0; i < 3; i++) {
        void *reads;
        pthread_join(threads[i], &reads);
        cr_assert_gt((uintptr_t)reads, 100);
    }
}

Test(clock, realtime_is_the_kernel_wall_clock) {
    ldtap_clock_init();
    for (int i = 0; i < 1000; i++) {
        uint64_t before = kernel_ns(CLOCK_REALTIME);
        uint64_t ours = ldtap_now_ns();
        uint64_t after = kernel_ns(CLOCK_REALTIME);
        cr_assert(ours + 20000 >= before && ours <= after + 20000, "realtime %llu outside [%llu, %llu]",
                  (unsigned long long)ours, (unsigned long long)before, (unsigned long long)after);
    }
}
