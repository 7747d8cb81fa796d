/* Allocation benchmark for the heap hooks: `pairs N` makes N malloc+free pairs of mixed
 * small sizes (callgrind: instructions per pair); `churn N` keeps 4096 blocks live and
 * replaces one at random N times (wall-clock ratio of a malloc/free-heavy program). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_BLOCKS 4096u

/* Sizes typical of small-object churn, cycled so that every run allocates the same. */
static const unsigned sizes[16] = {16, 24, 32, 48, 64, 96, 128, 160, 200, 256, 24, 40, 72, 512, 1024, 32};

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "pairs") != 0 && strcmp(argv[1], "churn") != 0)) {
        fprintf(stderr, "usage: bench_malloc pairs|churn ITERATIONS\n");
        return 2;
    }
    long iterations = atol(argv[2]);
    if (strcmp(argv[1], "pairs") == 0) {
        for (long i = 0; i < iterations; i++) {
            void *volatile block = malloc(sizes[i & 15]);
            free(block);
        }
        return 0;
    }
    static void *live[LIVE_BLOCKS];
    unsigned state = 12345;
    for (long i = 0; i < iterations; i++) {
        state = state * 1103515245u + 12345u; /* a fixed sequence: same work in every run */
        unsigned slot = (state >> 8) % LIVE_BLOCKS;
        free(live[slot]);
        live[slot] = malloc(sizes[(state >> 4) & 15] * (1u + ((state >> 20) & 3u)));
        if (live[slot] != NULL)
            *(volatile char *)live[slot] = 1;
    }
    for (unsigned slot = 0; slot < LIVE_BLOCKS; slot++)
        free(live[slot]);
    return 0;
}
