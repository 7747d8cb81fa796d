/* Shared ring directories (see ldtap_ring_abi.h): recognising one, and the names of the
 * per-user subdirectories that processes of other users create in it. */
#ifndef LDTAP_SHARED_DIRECTORY_H
#define LDTAP_SHARED_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* A directory owned by root with exactly LDTAP_RING_SHARED_DIRECTORY_MODE. */
bool ldtap_shared_directory(const struct stat *status);

/* Whether the `length` bytes of `name` are exactly "uid-<decimal>" (no sign, no leading
 * zero, within uid_t, not the invalid uid -1); the uid goes to `uid`. */
bool ldtap_user_subdirectory_uid(const char *name, size_t length, uid_t *uid);

#endif
