/* Allocation and anonymous-mapping hooks: call through to the next allocator, count each
 * block's chunk bytes per thread, and hand crossings of the byte budget to heap.c. Also
 * the originals table for these functions and the bootstrap arena used while resolving it. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dlfcn.h>
#include <gnu/libc-version.h>

#include "heap.h"
#include "ldtap_ring_abi.h"
#include "malloc_list.h"
#include "shim.h"

/*
 * Other allocators preloaded with ldtap (tested with Debian's libjemalloc2 and
 * libtcmalloc-minimal4, tests/e2e/heap_shim.sh and scripts/bench_heap.sh):
 *   LD_PRELOAD=libldtap.so:libjemalloc.so.2 (ldtap first): the hooks wrap jemalloc as they
 *     wrap glibc (they never look inside a block); live bytes come from its statistics.
 *     jemalloc maps its extents with mmap through the PLT, so they also show in
 *     anon_mmap_bytes.
 *   LD_PRELOAD=libjemalloc.so.2:libldtap.so (ldtap second): the program's malloc is
 *     jemalloc's and never reaches ldtap: no heap counters or samples, everything else works.
 *     Functions jemalloc lacks (reallocarray, pvalloc) do reach our hooks and do what they
 *     would without ldtap: reallocarray goes to the program's realloc (jemalloc's).
 * The same holds for tcmalloc (which also exports __libc_malloc: glibc is recognised by
 * the object defining gnu_get_libc_version, never by that name).
 */

/* ---- bootstrap arena: serves this thread's allocations while it resolves originals ---- */

#define BOOTSTRAP_ARENA_BYTES (64u * 1024u)
#define BOOTSTRAP_PAGE 4096u
#define BOOTSTRAP_HEADER 16u /* each block is preceded by its size, keeping 16-byte alignment */

static _Alignas(BOOTSTRAP_PAGE) unsigned char bootstrap_arena[BOOTSTRAP_ARENA_BYTES];
static size_t bootstrap_used; /* bytes handed out, advanced with CAS by any thread */

bool ldtap_heap_is_bootstrap_block(const void *block) {
    return (const unsigned char *)block >= bootstrap_arena &&
           (const unsigned char *)block < bootstrap_arena + BOOTSTRAP_ARENA_BYTES;
}

static bool bootstrap_slot_free(const unsigned char *block) {
    size_t slot = ldtap_heap_mark_slot(block);
    return slot != 0 && __atomic_load_n(&ldtap_heap_marks[slot], __ATOMIC_RELAXED) == 0;
}

/* A zeroed block of `size` bytes aligned to `alignment` (0: 16), marked so that free()
 * recognises it; NULL with ENOMEM once the arena is spent. Never reused. */
static void *bootstrap_allocate(size_t size, size_t alignment) {
    if (alignment < BOOTSTRAP_HEADER)
        alignment = BOOTSTRAP_HEADER;
    if ((alignment & (alignment - 1)) != 0 || alignment > BOOTSTRAP_PAGE || size > BOOTSTRAP_ARENA_BYTES) {
        errno = alignment > BOOTSTRAP_PAGE ? EINVAL : ENOMEM;
        return NULL;
    }
    size_t used = __atomic_load_n(&bootstrap_used, __ATOMIC_RELAXED);
    for (;;) {
        size_t start = (used + BOOTSTRAP_HEADER + alignment - 1) & ~(alignment - 1);
        /* Skip starts the mark table cannot hold (slot 0 is reserved for NULL, or taken). */
        while (start < BOOTSTRAP_ARENA_BYTES && !bootstrap_slot_free(bootstrap_arena + start))
            start += alignment;
        size_t end = (start + size + BOOTSTRAP_HEADER - 1) & ~(size_t)(BOOTSTRAP_HEADER - 1);
        if (end > BOOTSTRAP_ARENA_BYTES) {
            errno = ENOMEM;
            return NULL;
        }
        if (__atomic_compare_exchange_n(&bootstrap_used, &used, end, false, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED)) {
            unsigned char *block = bootstrap_arena + start;
            memcpy(block - sizeof(size_t), &size, sizeof(size_t));
            if (ldtap_heap_mark(block))
                return block;
            used = end; /* another thread took the slot meanwhile: this space is lost */
        }
    }
}

static size_t bootstrap_size(const void *block) {
    size_t size;
    memcpy(&size, (const unsigned char *)block - sizeof(size_t), sizeof(size_t));
    return size;
}

static void bootstrap_free(void *block) {
    (void)block; /* arena blocks are never reused */
}

static void *bootstrap_calloc(size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return bootstrap_allocate(total, 0); /* the arena is zero and never reused */
}

static void *bootstrap_realloc(void *block, size_t total) {
    void *moved = bootstrap_allocate(total, 0);
    if (moved != NULL && block != NULL && ldtap_heap_is_bootstrap_block(block)) {
        size_t old_size = bootstrap_size(block);
        memcpy(moved, block, old_size < total ? old_size : total);
    }
    return moved;
}

static int bootstrap_posix_memalign(void **out, size_t alignment, size_t size) {
    void *block = bootstrap_allocate(size, alignment);
    if (block == NULL)
        return errno;
    *out = block;
    return 0;
}

/* ---- originals ---- */

struct malloc_originals {
#define ORIGINAL_POINTER(type, name, parameters, ...) type(*name) parameters;
    LDTAP_MALLOC_ORIGINALS(ORIGINAL_POINTER)
#undef ORIGINAL_POINTER
};

static struct malloc_originals originals;
/* The program's realloc when it is not ours (an allocator preloaded ahead of ldtap): only
 * the functions that allocator lacks reach our hooks then, reallocarray among them. */
static void *(*realloc_ahead_of_us)(void *block, size_t size);
/* Set on a thread while it resolves: its allocations then come from the arena. */
static LDTAP_THREAD_LOCAL bool resolving_here;

/* A plain read: each pointer changes once, from its stub to the original, and a thread
 * that still sees the stub is served correctly by it (an atomic load would keep the
 * compiler from calling through memory directly, one instruction more per hook). */
#define REAL(name) (originals.name)

static void resolve_malloc_originals(void);

/* Stubs that run until resolution: resolve, then call through; or, if this thread is the
 * one resolving (dlsym called back into us), serve the call from the arena. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define LAZY_STUB(type, name, parameters, arguments, bootstrap)                                              \
    static type lazy_##name parameters {                                                                     \
        if (resolving_here)                                                                                  \
            return bootstrap;                                                                                \
        resolve_malloc_originals();                                                                          \
        return REAL(name) arguments;                                                                         \
    }
LDTAP_MALLOC_ORIGINALS(LAZY_STUB)
#undef LAZY_STUB
#pragma GCC diagnostic pop

static void resolve_malloc_originals(void) {
    int saved_errno = errno;
    resolving_here = true;
    ldtap_nesting++;
    struct malloc_originals found;
#define RESOLVE(type, name, ...) found.name = (__typeof__(found.name))dlsym(RTLD_NEXT, #name);
    LDTAP_MALLOC_ORIGINALS(RESOLVE)
#undef RESOLVE
    /* Only the malloc family is essential; a missing one (a foreign libc) leaves the
     * stubs in place, which is fatal only if the program calls it. */
    /* glibc's malloc lives in the object that defines gnu_get_libc_version; tcmalloc and
     * jemalloc also export __libc_malloc, so that name cannot tell. */
    Dl_info next_malloc, libc, program_realloc, self;
    bool glibc = found.malloc != NULL && found.free != NULL &&
                 dladdr((void *)found.malloc, &next_malloc) != 0 &&
                 dladdr((void *)gnu_get_libc_version, &libc) != 0 && next_malloc.dli_fbase == libc.dli_fbase;
    void *global_realloc = dlsym(RTLD_DEFAULT, "realloc");
    if (global_realloc != NULL && dladdr(global_realloc, &program_realloc) != 0 &&
        dladdr((void *)resolve_malloc_originals, &self) != 0 && program_realloc.dli_fbase != self.dli_fbase)
        __atomic_store_n(&realloc_ahead_of_us, (void *(*)(void *, size_t))global_realloc, __ATOMIC_RELEASE);
#define PUBLISH(type, name, ...)                                                                             \
    if (found.name != NULL)                                                                                  \
        __atomic_store_n(&originals.name, found.name, __ATOMIC_RELEASE);
    LDTAP_MALLOC_ORIGINALS(PUBLISH)
#undef PUBLISH
    /* Only now may frees skip the slow path: every block the hooks see from here on comes
     * from the allocator just published (earlier ones came from the arena). */
    if (found.malloc != NULL && found.free != NULL)
        ldtap_heap_open_fast_free(bootstrap_arena, __atomic_load_n(&bootstrap_used, __ATOMIC_ACQUIRE));
    ldtap_heap_statistics_choose(glibc, __atomic_load_n(&realloc_ahead_of_us, __ATOMIC_RELAXED) != NULL);
    ldtap_nesting--;
    resolving_here = false;
    errno = saved_errno;
}

static struct malloc_originals originals = {
#define LAZY_ENTRY(type, name, ...) .name = lazy_##name,
    LDTAP_MALLOC_ORIGINALS(LAZY_ENTRY)
#undef LAZY_ENTRY
};

/* ---- the allocation family ---- */

/* hot: an allocation made by a call into the allocator (blocks it could not make are not
 * counted); returns `block`. */
static inline void *allocated(void *block, size_t size, unsigned function) {
    if (block != NULL && ldtap_heap_allocation_spent(size))
        return ldtap_heap_after_budget(block, size, function);
    return block;
}

static __attribute__((noinline)) void *malloc_after_budget(size_t size) {
    return ldtap_heap_after_budget(REAL(malloc)(size), size, LDTAP_HEAP_MALLOC);
}

/* hot: counted before the call, so that it ends in a jump to the allocator. */
LDTAP_EXPORT LDTAP_HOT void *malloc(size_t size) {
    if (ldtap_heap_allocation_spent(size))
        return malloc_after_budget(size);
    return REAL(malloc)(size);
}

static __attribute__((noinline)) void free_after_budget(void *block) {
    ldtap_heap_after_free_budget();
    REAL(free)(block);
}

/* Blocks the free filter stops: NULL, the arena's, marked ones, their slot neighbours,
 * and every block until the originals are resolved. */
static __attribute__((noinline)) void free_slowly(void *block) {
    if (block == NULL || ldtap_heap_is_bootstrap_block(block))
        return;
    if (ldtap_heap_is_marked(block))
        ldtap_heap_forget_sample(block);
    if (ldtap_heap_free_spent())
        ldtap_heap_after_free_budget();
    REAL(free)(block);
}

/* hot: no frame of its own; every exit is a jump (to the allocator or a slow path). */
LDTAP_EXPORT LDTAP_HOT void free(void *block) {
    if (LDTAP_UNLIKELY(!ldtap_heap_may_free_fast(block)))
        return free_slowly(block);
    if (ldtap_heap_free_spent())
        return free_after_budget(block);
    REAL(free)(block);
}

LDTAP_EXPORT void *calloc(size_t count, size_t size) {
    return allocated(REAL(calloc)(count, size), count * size, LDTAP_HEAP_CALLOC);
}

static void *reallocate(void *block, size_t size) {
    if (block == NULL)
        return allocated(REAL(realloc)(NULL, size), size, LDTAP_HEAP_REALLOC);
    if (LDTAP_UNLIKELY(ldtap_heap_is_bootstrap_block(block))) { /* move it to the real heap */
        if (size == 0)
            return NULL;
        void *moved = REAL(malloc)(size);
        if (moved != NULL) {
            size_t old_size = bootstrap_size(block);
            memcpy(moved, block, old_size < size ? old_size : size);
        }
        return allocated(moved, size, LDTAP_HEAP_REALLOC);
    }
    if (LDTAP_UNLIKELY(ldtap_heap_is_marked(block)))
        ldtap_heap_forget_sample(block); /* before the allocator may reuse the address */
    void *moved = REAL(realloc)(block, size);
    /* glibc frees the block on realloc(p, 0) and returns NULL; other failures keep it. */
    if ((moved != NULL || size == 0) && ldtap_heap_free_spent())
        ldtap_heap_after_free_budget();
    return allocated(moved, size, LDTAP_HEAP_REALLOC);
}

LDTAP_EXPORT void *realloc(void *block, size_t size) {
    return reallocate(block, size);
}

LDTAP_EXPORT void *reallocarray(void *block, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL; /* as glibc: the block is kept */
    }
    /* With an allocator ahead of us, this may be the first call to reach our hooks. */
    if (__atomic_load_n(&originals.realloc, __ATOMIC_ACQUIRE) == lazy_realloc && !resolving_here)
        resolve_malloc_originals();
    void *(*other_realloc)(void *, size_t) = __atomic_load_n(&realloc_ahead_of_us, __ATOMIC_ACQUIRE);
    if (other_realloc != NULL)
        return other_realloc(block, total); /* its blocks, never seen by our hooks */
    return reallocate(block, total);
}

LDTAP_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
    int error = REAL(posix_memalign)(out, alignment, size);
    if (error == 0)
        allocated(*out, size, LDTAP_HEAP_ALIGNED);
    return error;
}

LDTAP_EXPORT void *aligned_alloc(size_t alignment, size_t size) {
    return allocated(REAL(aligned_alloc)(alignment, size), size, LDTAP_HEAP_ALIGNED);
}

LDTAP_EXPORT void *memalign(size_t alignment, size_t size) {
    return allocated(REAL(memalign)(alignment, size), size, LDTAP_HEAP_ALIGNED);
}

LDTAP_EXPORT void *valloc(size_t size) {
    return allocated(REAL(valloc)(size), size, LDTAP_HEAP_ALIGNED);
}

LDTAP_EXPORT void *pvalloc(size_t size) {
    return allocated(REAL(pvalloc)(size), size, LDTAP_HEAP_ALIGNED);
}

/* ---- anonymous mappings: counted, never sampled ---- */

/* Counts `mapped` when it is an anonymous private mapping of the program. The shim's own
 * mappings (ring, unwinder) are made with ldtap_nesting > 0: not counted. */
static void *mapped_by_program(void *mapped, size_t length, int flags, int fd) {
    if (mapped != MAP_FAILED && ldtap_nesting == 0 && (flags & MAP_ANONYMOUS) != 0 &&
        (flags & MAP_PRIVATE) != 0 && fd == -1)
        LDTAP_RECORD(ldtap_heap_note_mapping(mapped, length), (void)0);
    return mapped;
}

LDTAP_EXPORT void *mmap(void *address, size_t length, int protection, int flags, int fd, off_t offset) {
    return mapped_by_program(REAL(mmap)(address, length, protection, flags, fd, offset), length, flags, fd);
}

LDTAP_EXPORT void *mmap64(void *address, size_t length, int protection, int flags, int fd, off_t offset) {
    return mapped_by_program(REAL(mmap64)(address, length, protection, flags, fd, offset), length, flags, fd);
}

LDTAP_EXPORT int munmap(void *address, size_t length) {
    int result = REAL(munmap)(address, length);
    if (result == 0 && ldtap_nesting == 0)
        LDTAP_RECORD(ldtap_heap_note_unmapping(address, length), (void)0);
    return result;
}

LDTAP_EXPORT void *mremap(void *address, size_t old_length, size_t new_length, int flags, ...) {
    void *new_address = NULL;
    if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
        va_list arguments;
        va_start(arguments, flags);
        new_address = va_arg(arguments, void *);
        va_end(arguments);
    }
    void *moved = (void *)syscall(SYS_mremap, address, old_length, new_length, flags, new_address);
    if (moved != MAP_FAILED && ldtap_nesting == 0 && (flags & MREMAP_DONTUNMAP) == 0)
        LDTAP_RECORD(ldtap_heap_note_remapping(address, old_length, moved, new_length), (void)0);
    return moved;
}
