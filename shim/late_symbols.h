/* Originals of the database client libraries' functions (hooks/db_list.h), found in
 * whichever loaded object defines them, including libraries dlopen()ed late with
 * RTLD_LOCAL that dlsym(RTLD_NEXT) cannot see. */
#ifndef LDTAP_LATE_SYMBOLS_H
#define LDTAP_LATE_SYMBOLS_H

#include <stdbool.h>

#include "db_list.h"
#include "shim.h"

struct ldtap_db_originals {
#define LDTAP_DB_ORIGINAL_POINTER(type, name, parameters, ...) type(*name) parameters;
#define LDTAP_DB_ORIGINAL_LIST(library, list) list(LDTAP_DB_ORIGINAL_POINTER)
    LDTAP_DB_LISTS(LDTAP_DB_ORIGINAL_LIST)
#undef LDTAP_DB_ORIGINAL_LIST
#undef LDTAP_DB_ORIGINAL_POINTER
};

/* The hooks' own prototypes, so that a definition that strays from the list fails to build. */
#define LDTAP_DB_HOOK_PROTOTYPE(type, name, parameters, ...) type name parameters;
#define LDTAP_DB_HOOK_PROTOTYPES(library, list) list(LDTAP_DB_HOOK_PROTOTYPE)
LDTAP_DB_HOOK_LISTS(LDTAP_DB_HOOK_PROTOTYPES)
#undef LDTAP_DB_HOOK_PROTOTYPES
#undef LDTAP_DB_HOOK_PROTOTYPE

/* Every entry is always callable: until found it points at a stub that looks its own
 * symbol up and calls through (or fails the call as "not available" if nothing defines it). */
extern LDTAP_INTERNAL struct ldtap_db_originals ldtap_db_originals;

/* hot: the original of `name` (relaxed: written once, with the same value by any racer). */
#define LDTAP_DB_REAL(name) __atomic_load_n(&ldtap_db_originals.name, __ATOMIC_RELAXED)

/* Per library: 0 not looked up yet, 1 every hook and helper found, 2 some missing. */
extern LDTAP_INTERNAL int ldtap_late_library_states[LDTAP_LIBRARY_COUNT];

/* Looks every entry of `library` up once (walks the loaded objects under the loader's
 * lock) and returns whether all were found. */
bool ldtap_late_library_resolve(enum ldtap_db_library library);

/* hot: true when `library`'s calls can be traced; one load after the first call. */
LDTAP_HOT static inline bool ldtap_late_library_ready(enum ldtap_db_library library) {
    int state = __atomic_load_n(&ldtap_late_library_states[library], __ATOMIC_ACQUIRE);
    if (LDTAP_LIKELY(state != 0))
        return state == 1;
    return ldtap_late_library_resolve(library);
}

/* The definition of function `name` in the first loaded object other than libldtap.so
 * that defines it (load order, as the dynamic linker's global lookup), or NULL. */
void *ldtap_late_symbol(const char *name);

#endif
