/* A test program for tests/e2e/heap_profile.sh: steady allocations (allocated and freed)
 * in several functions and a deliberate leak in leak_some_bytes. Runs for argv[1] seconds
 * (default 6) and prints the bytes it leaked as "leaked_bytes N" on stdout. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEADY_SLOTS 256

static void *steady_small[STEADY_SLOTS];
static void *steady_large[STEADY_SLOTS / 8];
static void *leaked_list; /* a chain through the leaked blocks keeps them reachable */
static uint64_t leaked_bytes;
static volatile char sink; /* keeps the compiler from removing temporary_work's malloc/free pair */

static uint64_t now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* noinline keeps each function a frame of its own at -O1, as a real program's would be. */
__attribute__((noinline)) static void churn_small_buffers(unsigned round) {
    unsigned slot = round % STEADY_SLOTS;
    free(steady_small[slot]);
    steady_small[slot] = malloc(64 + round % 512);
    memset(steady_small[slot], 1, 64);
}

__attribute__((noinline)) static void churn_large_buffers(unsigned round) {
    unsigned slot = round % (STEADY_SLOTS / 8);
    free(steady_large[slot]);
    steady_large[slot] = calloc(1, 16384 + (round % 7) * 1024);
}

__attribute__((noinline)) static void temporary_work(unsigned round) {
    char *scratch = malloc(4096 + round % 4096);
    memset(scratch, (int)round, 4096);
    sink = scratch[round % 4096];
    free(scratch);
}

__attribute__((noinline)) void leak_some_bytes(unsigned round) {
    size_t size = 2048 + (round % 16) * 256;
    void **block = malloc(size);
    memset(block, 2, size);
    *block = leaked_list;
    leaked_list = block;
    leaked_bytes += size;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 6.0;
    uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
    struct timespec pause = {0, 200 * 1000}; /* 0.2 ms: about 4 MiB/s leaked */
    for (unsigned round = 0; now_ns() < end; round++) {
        churn_small_buffers(round);
        churn_large_buffers(round);
        temporary_work(round);
        if (round % 2 == 0) {
            leak_some_bytes(round);
        }
        nanosleep(&pause, NULL);
    }
    printf("leaked_bytes %llu\n", (unsigned long long)leaked_bytes);
    fflush(stdout);
    return 0;
}
