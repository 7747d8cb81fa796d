/* A known allocation pattern for the heap counters (tests/e2e/heap_shim.sh): `heap_counts
 * ROUNDS` runs THREADS threads; every round each makes ALLOCATIONS_PER_ROUND allocations
 * through every entry of the malloc family but pvalloc (jemalloc has none) and frees as
 * many blocks (one of them later, on the main thread). Everything is freed before exit, so two runs differ in
 * counts by exactly ROUNDS x THREADS x ALLOCATIONS_PER_ROUND, and live bytes (the
 * allocator's own figure, its caches included) do not grow with ROUNDS. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define ALLOCATIONS_PER_ROUND 10 /* and as many frees, realloc counting one of each */

static long rounds;
static void **handed_over[THREADS]; /* one block per round, freed by the main thread */

static void *churn(void *argument) {
    long thread = (long)argument;
    for (long round = 0; round < rounds; round++) {
        char *small = malloc(24 + (size_t)(round % 200));          /* +1 allocation */
        char *zeroed = calloc(3, 40);                              /* +1 */
        small = realloc(small, 5000 + (size_t)(round % 3) * 1000); /* +1, +1 free */
        void *aligned = NULL;
        if (posix_memalign(&aligned, 64, 100) != 0) /* +1 */
            abort();
        char *aligned_256 = aligned_alloc(256, 512); /* +1 */
        char *aligned_128 = memalign(128, 77);       /* +1 */
        char *large = malloc(200000);                /* +1: mmapped, then not */
        char *page = valloc(100);                    /* +1 */
        char *array = reallocarray(NULL, 10, 10);    /* +1 */
        handed_over[thread][round] = malloc(64);     /* +1, freed later */
        if (!small || !zeroed || !aligned_256 || !aligned_128 || !large || !page || !array)
            abort();
        memset(large, 1, 4096);
        if (realloc(zeroed, 0) != NULL) /* +1 free */
            abort();
        free(NULL);  /* nothing */
        free(small); /* +7 frees */
        free(aligned);
        free(aligned_256);
        free(aligned_128);
        free(large);
        free(page);
        free(array);
    }
    return NULL;
}

int main(int argc, char **argv) {
    rounds = argc > 1 ? atol(argv[1]) : 1000;
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++) {
        handed_over[i] = calloc((size_t)rounds, sizeof(void *));
        if (!handed_over[i] || pthread_create(&threads[i], NULL, churn, (void *)i) != 0)
            return 1;
    }
    for (long i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        for (long round = 0; round < rounds; round++)
            free(handed_over[i][round]);
        free(handed_over[i]);
    }
    printf("%ld allocations and frees per run\n", rounds * THREADS * ALLOCATIONS_PER_ROUND);
    return 0;
}
