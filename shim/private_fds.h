/* Descriptors the shim's own libraries open must not take the program's low numbers:
 * set this flag around a call that may create them (see hooks/pipe.c). */
#ifndef LDTAP_PRIVATE_FDS_H
#define LDTAP_PRIVATE_FDS_H

#include <stdbool.h>

#include "shim.h"

extern LDTAP_INTERNAL LDTAP_THREAD_LOCAL bool ldtap_relocating_pipes;

#endif
