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

/* True when every hook and helper of `library` was found, so its calls can be traced.
 * The first call per library walks the loaded objects (takes the loader's lock); later
 * calls are one load. */
bool ldtap_late_library_ready(enum ldtap_db_library library);

/* The definition of function `name` in the first loaded object other than libldtap.so
 * that defines it (load order, as the dynamic linker's global lookup), or NULL. */
void *ldtap_late_symbol(const char *name);

#endif
