/* Resolution of the originals table: once from the constructor, or lazily by the first
 * hooked call that arrives before it (another library's constructor may run first). */
#include "originals.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>

#include "shim.h"

/* Stubs for calls that arrive before resolution: resolve, then call through. */
#define LDTAP_LAZY_STUB(type, name, parameters, arguments, ...)                            \
    static type lazy_##name parameters {                                                   \
        ldtap_resolve_originals();                                                         \
        return LDTAP_REAL(name) arguments;                                                 \
    }
LDTAP_HOOKS(LDTAP_LAZY_STUB)
#undef LDTAP_LAZY_STUB

/* Stubs for a function this libc lacks (e.g. close_range before glibc 2.34): nothing
 * in the program can be calling the libc version, but our export must not crash. The
 * failure value is -1 in the return type (SIG_ERR for the signal() family). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define LDTAP_MISSING_STUB(type, name, parameters, ...)                                    \
    static type missing_##name parameters {                                                \
        errno = ENOSYS;                                                                    \
        return (type)(intptr_t)-1;                                                         \
    }
LDTAP_HOOKS(LDTAP_MISSING_STUB)
#undef LDTAP_MISSING_STUB
#pragma GCC diagnostic pop

struct ldtap_originals ldtap_originals = {
#define LDTAP_LAZY_ENTRY(type, name, ...) .name = lazy_##name,
    LDTAP_HOOKS(LDTAP_LAZY_ENTRY)
#undef LDTAP_LAZY_ENTRY
};

/* dlsym does not call any hooked function, and we do not hook malloc, so resolving here
 * cannot recurse into this table. The nesting counter keeps any libc call dlsym makes
 * from being recorded all the same. */
void ldtap_resolve_originals(void) {
    int saved_errno = errno;
    ldtap_nesting++;
#define LDTAP_RESOLVE(type, name, ...)                                                     \
    {                                                                                      \
        __typeof__(ldtap_originals.name) original = missing_##name;                        \
        void *symbol = dlsym(RTLD_NEXT, #name);                                            \
        if (symbol != NULL)                                                                \
            original = (__typeof__(original))symbol;                                       \
        __atomic_store_n(&ldtap_originals.name, original, __ATOMIC_RELAXED);               \
    }
    LDTAP_HOOKS(LDTAP_RESOLVE)
#undef LDTAP_RESOLVE
    ldtap_nesting--;
    errno = saved_errno;
}
