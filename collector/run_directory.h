/* The private ring directory of one `ldtap run`: created at start, removed at exit. As
 * root it is shared (ldtap_ring_abi.h), so that processes of CMD that switch to another
 * user (nginx's workers, gunicorn --user) can create their rings in it too. */
#ifndef LDTAP_RUN_DIRECTORY_H
#define LDTAP_RUN_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>

/* Creates `BASE/run-<pid>-XXXXXX`, mode 0700. As root, mode 01733 instead; and when
 * `base_chosen` is false (no --run-dir or LDTAP_RUN_DIR) and other users cannot search
 * their way into BASE, it goes to /dev/shm as `ldtap-run-<pid>-XXXXXX`, where they can.
 * The path goes to `path`. Returns 0, or -1 with a sentence in `error`. */
int ldtap_run_directory_create(const char *base, bool base_chosen, char *path, size_t path_size, char *error,
                               size_t error_size);

/* Whether `path` is a shared run directory that this process created: root-owned, shared
 * mode, named for this process's pid. */
bool ldtap_run_directory_is_ours(const char *path);

/* Removes what is left in the directory (ring files, and the user subdirectories of a
 * shared one with their files), then the directory. Never follows a symlink. */
void ldtap_run_directory_remove(const char *path);

#endif
