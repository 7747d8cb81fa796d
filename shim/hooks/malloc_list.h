/* The list of interposed allocation and anonymous-mapping functions: it drives their
 * originals table, resolution and bootstrap stubs (hooks/malloc.c) and, checked by
 * tests/e2e/shim_basics.sh, their entries in shim/libldtap.map. */
#ifndef LDTAP_MALLOC_LIST_H
#define LDTAP_MALLOC_LIST_H

#include <stddef.h>
#include <sys/types.h>

/*
 * X(return type, name, parameters, arguments, bootstrap)
 * `bootstrap` is what a call made while this thread resolves the originals (dlsym may
 * call calloc) does instead: it is served by the static arena in hooks/malloc.c, or by
 * the system call itself for mappings.
 */
#define LDTAP_MALLOC_HOOKS(X)                                                                        \
    X(void *, malloc, (size_t size), (size), bootstrap_allocate(size, 0))                             \
    X(void, free, (void *block), (block), bootstrap_free(block))                                      \
    X(void *, calloc, (size_t count, size_t size), (count, size), bootstrap_calloc(count, size))      \
    X(void *, realloc, (void *block, size_t size), (block, size), bootstrap_realloc(block, size))     \
    X(int, posix_memalign, (void **out, size_t alignment, size_t size), (out, alignment, size),       \
      bootstrap_posix_memalign(out, alignment, size))                                                 \
    X(void *, aligned_alloc, (size_t alignment, size_t size), (alignment, size),                      \
      bootstrap_allocate(size, alignment))                                                            \
    X(void *, memalign, (size_t alignment, size_t size), (alignment, size),                           \
      bootstrap_allocate(size, alignment))                                                            \
    X(void *, valloc, (size_t size), (size), bootstrap_allocate(size, BOOTSTRAP_PAGE))                \
    X(void *, pvalloc, (size_t size), (size), bootstrap_allocate(size, BOOTSTRAP_PAGE))

/* Anonymous private mappings are counted (Python's obmalloc takes its arenas from mmap). */
#define LDTAP_MMAP_HOOKS(X)                                                                          \
    X(void *, mmap, (void *address, size_t length, int protection, int flags, int fd, off_t offset),  \
      (address, length, protection, flags, fd, offset),                                               \
      (void *)syscall(SYS_mmap, address, length, protection, flags, fd, offset))                      \
    X(void *, mmap64, (void *address, size_t length, int protection, int flags, int fd, off_t offset), \
      (address, length, protection, flags, fd, offset),                                               \
      (void *)syscall(SYS_mmap, address, length, protection, flags, fd, offset))                      \
    X(int, munmap, (void *address, size_t length), (address, length),                                 \
      (int)syscall(SYS_munmap, address, length))

/* Written by hand in hooks/malloc.c, with no original to resolve: mremap (variadic) makes
 * the system call itself, which is all glibc's does; reallocarray checks the product and
 * calls realloc's original, because glibc's calls realloc through the PLT (our hook: the
 * block would be counted twice) and jemalloc has none. */
#define LDTAP_HANDWRITTEN_HOOKS(X)                                                                   \
    X(void *, mremap, (void *address, size_t old_length, size_t new_length, int flags, ...), ())     \
    X(void *, reallocarray, (void *block, size_t count, size_t size), ())

/* Every resolved entry, for the originals table. */
#define LDTAP_MALLOC_ORIGINALS(X) LDTAP_MALLOC_HOOKS(X) LDTAP_MMAP_HOOKS(X)

#endif
