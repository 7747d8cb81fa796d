/* The table of original (next in link order) definitions of every hooked function,
 * filled from hooks/hook_list.h by dlsym(RTLD_NEXT). */
#ifndef LDTAP_ORIGINALS_H
#define LDTAP_ORIGINALS_H

#include "hooks/hook_list.h"
#include "shim.h"

struct ldtap_originals {
#define LDTAP_ORIGINAL_POINTER(type, name, parameters, ...) type(*name) parameters;
    LDTAP_HOOKS(LDTAP_ORIGINAL_POINTER)
#undef LDTAP_ORIGINAL_POINTER
};

/* Every entry is always callable: before resolution it points at a stub that resolves
 * the whole table and calls through, so the hot path needs no "resolved yet?" test. */
extern LDTAP_INTERNAL struct ldtap_originals ldtap_originals;

/* hot: the original of `name`. A relaxed atomic load is a plain load on every target we
 * build for; the table is written once per entry with the same value by any racer. */
#define LDTAP_REAL(name) __atomic_load_n(&ldtap_originals.name, __ATOMIC_RELAXED)

/* Resolves every original; idempotent and safe to call from any thread at any time. */
void ldtap_resolve_originals(void);

#endif
