/* Ring discovery in one directory: an initial scan plus inotify, reporting the names of
 * top-level `*.ring` regular files (subdirectories, symlinks and other files are ignored),
 * and, for a root collector in a shared directory (ldtap_ring_abi.h), those in its
 * `uid-<euid>` subdirectories as "uid-<euid>/<file>". */
#ifndef LDTAP_DISCOVERY_H
#define LDTAP_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ldtap_discovery;

/* Called with each ring's name relative to the directory (a file name, or
 * "uid-<euid>/<file>") and its owner. Names may repeat. */
typedef void (*ldtap_ring_found)(const char *name, uid_t owner, void *context);

/* Watches `directory` (which must exist). NULL with a sentence in `error`. */
struct ldtap_discovery *ldtap_discovery_open(const char *directory, char *error, size_t error_size);
void ldtap_discovery_close(struct ldtap_discovery *discovery);

/* The inotify descriptor to poll for readability. */
int ldtap_discovery_fd(const struct ldtap_discovery *discovery);

/* Lists every ring now in the directory. */
void ldtap_discovery_scan(struct ldtap_discovery *discovery, ldtap_ring_found found, void *context);

/* Reports rings named by pending inotify events without blocking; rescans the whole
 * directory when the kernel's event queue overflowed. */
void ldtap_discovery_poll(struct ldtap_discovery *discovery, ldtap_ring_found found, void *context);

#endif
