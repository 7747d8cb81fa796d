/* Live heap bytes as the next allocator itself counts them (glibc's mallinfo2, jemalloc's
 * stats.allocated, tcmalloc's generic.current_allocated_bytes), so that no hook has to
 * size each block it sees. Read by heap.c when it folds, every 100 ms or 4 MiB
 * requested, for at most 1% of the time. */
#include <dlfcn.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"

enum statistics_source {
    SOURCE_UNKNOWN = 0, /* the originals are not resolved yet */
    SOURCE_LOOK_FOR_GLIBC,
    SOURCE_LOOK_FOR_OTHER,
    SOURCE_LOOKING, /* one thread looks the functions up */
    SOURCE_NONE,
    SOURCE_GLIBC,
    SOURCE_JEMALLOC,
    SOURCE_TCMALLOC,
};

static int source; /* enum statistics_source */
static struct mallinfo2 (*glibc_mallinfo2)(void);
static int (*jemalloc_mallctl)(const char *name, void *old_value, size_t *old_length, void *new_value,
                               size_t new_length);
static int (*tcmalloc_property)(const char *name, size_t *value);

void ldtap_heap_statistics_choose(bool glibc, bool allocator_ahead) {
    /* No lookup here: this runs while the originals are resolved, perhaps inside another
     * allocator holding its lock, and a failed dlsym allocates its error message. An
     * allocator ahead of the shim never reaches the hooks, and is not asked either. */
    int chosen = allocator_ahead ? SOURCE_NONE : glibc ? SOURCE_LOOK_FOR_GLIBC : SOURCE_LOOK_FOR_OTHER;
    __atomic_store_n(&source, chosen, __ATOMIC_RELEASE);
}

/* Looks the statistics function up (from a fold: no allocator lock is held). Found after
 * the shim in the search order, as the allocator itself was. */
static int look_up(int wanted) {
    int chosen = SOURCE_NONE;
    void *found;
    if (wanted == SOURCE_LOOK_FOR_GLIBC) {
        if ((found = dlsym(RTLD_NEXT, "mallinfo2")) != NULL) {
            glibc_mallinfo2 = (struct mallinfo2(*)(void))found;
            chosen = SOURCE_GLIBC;
        }
    } else if ((found = dlsym(RTLD_NEXT, "mallctl")) != NULL) {
        jemalloc_mallctl = (int (*)(const char *, void *, size_t *, void *, size_t))found;
        chosen = SOURCE_JEMALLOC;
    } else if ((found = dlsym(RTLD_NEXT, "MallocExtension_GetNumericProperty")) != NULL) {
        tcmalloc_property = (int (*)(const char *, size_t *))found;
        chosen = SOURCE_TCMALLOC;
    }
    __atomic_store_n(&source, chosen, __ATOMIC_RELEASE);
    return chosen;
}

bool ldtap_heap_statistics_live_bytes(int64_t *live_bytes) {
    int current = __atomic_load_n(&source, __ATOMIC_ACQUIRE);
    if ((current == SOURCE_LOOK_FOR_GLIBC || current == SOURCE_LOOK_FOR_OTHER) &&
        __atomic_compare_exchange_n(&source, &current, SOURCE_LOOKING, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED))
        current = look_up(current);
    switch (current) {
    case SOURCE_GLIBC: {
        /* Bytes of chunks in use (tcache entries included: glibc counts them as in use)
         * plus its mmapped chunks. It walks the free lists under each arena's lock, which
         * is why it is read rarely (heap.c). */
        struct mallinfo2 info = glibc_mallinfo2();
        *live_bytes = (int64_t)(info.uordblks + info.hblkhd);
        return true;
    }
    case SOURCE_JEMALLOC: {
        /* jemalloc's statistics are a snapshot refreshed by writing "epoch". */
        uint64_t epoch = 1;
        size_t allocated = 0, length = sizeof allocated;
        if (jemalloc_mallctl("epoch", NULL, NULL, &epoch, sizeof epoch) != 0 ||
            jemalloc_mallctl("stats.allocated", &allocated, &length, NULL, 0) != 0)
            return false;
        *live_bytes = (int64_t)allocated;
        return true;
    }
    case SOURCE_TCMALLOC: {
        size_t allocated = 0;
        if (!tcmalloc_property("generic.current_allocated_bytes", &allocated))
            return false;
        *live_bytes = (int64_t)allocated;
        return true;
    }
    default:
        return false;
    }
}
