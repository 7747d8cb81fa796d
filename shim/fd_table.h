/* Per-descriptor table: one state byte per fd read on every hooked call (the hot
 * check), and a pointer to the connection state of tracked descriptors. */
#ifndef LDTAP_FD_TABLE_H
#define LDTAP_FD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim.h"

struct ldtap_connection;

enum ldtap_fd_state {
    LDTAP_FD_UNTRACKED = 0,
    LDTAP_FD_TRACKED = 1,
    /* Bytes moved on the fd while its connection state was unavailable (in use by another
     * thread, or a signal handler interrupted the shim): the framers lost sync. */
    LDTAP_FD_DESYNC = 2,
    /* A database driver hook (libpq, libmariadb) traces this socket's queries: no framer
     * may trace them again. Never combined with the bits above; not "tracked" for the hot
     * check. Left behind by a close, it is overwritten when the number is next classified. */
    LDTAP_FD_DRIVER = 4,
    /* The program's log output (stderr; stdout with LDTAP_CAPTURE_LOGS; a file named in
     * LDTAP_LOG_FILES): writes are assembled into lines and tracebacks (log.c). Never
     * combined with the bits above; observed by the same hot check as TRACKED. */
    LDTAP_FD_LOG = 8,
};

/* The bits that make a hook look closer at a descriptor. */
#define LDTAP_FD_OBSERVED (LDTAP_FD_TRACKED | LDTAP_FD_LOG)

/* Descriptors at or above the capacity are never tracked. A capacity of zero (before
 * initialisation, when inert, after an internal error) makes every fd untracked. */
extern LDTAP_INTERNAL uint32_t ldtap_fd_capacity;
extern LDTAP_INTERNAL uint8_t *ldtap_fd_states;
/* Connection of each tracked fd; NULL while untracked or taken. Use the functions below. */
extern LDTAP_INTERNAL struct ldtap_connection **ldtap_fd_connections;

/* hot: true when `fd` has any of the state bits in `mask`. No TLS, no lock: a bounds
 * check (negative fds wrap to huge) and one byte load and test. */
LDTAP_HOT static inline bool ldtap_fd_has(int fd, uint8_t mask) {
    uint32_t capacity = __atomic_load_n(&ldtap_fd_capacity, __ATOMIC_RELAXED);
    return LDTAP_UNLIKELY((unsigned)fd < capacity) &&
           LDTAP_UNLIKELY(__atomic_load_n(&ldtap_fd_states[fd], __ATOMIC_RELAXED) & mask);
}

/* hot: the whole cost of a hooked call on an untracked descriptor: a connection or a log
 * stream makes the hook look closer, anything else passes through. */
LDTAP_HOT static inline bool ldtap_fd_is_observed(int fd) { return ldtap_fd_has(fd, LDTAP_FD_OBSERVED); }

/* A descriptor with connection state (accepted or connected socket). */
static inline bool ldtap_fd_is_tracked(int fd) { return ldtap_fd_has(fd, LDTAP_FD_TRACKED); }

/* A log stream (see LDTAP_FD_LOG). */
static inline bool ldtap_fd_is_log(int fd) { return ldtap_fd_has(fd, LDTAP_FD_LOG); }

/* True when a database driver hook has claimed `fd` (see LDTAP_FD_DRIVER). */
static inline bool ldtap_fd_is_driver(int fd) {
    return (unsigned)fd < __atomic_load_n(&ldtap_fd_capacity, __ATOMIC_RELAXED) &&
           __atomic_load_n(&ldtap_fd_states[fd], __ATOMIC_RELAXED) == LDTAP_FD_DRIVER;
}

/* Maps the table, sized from RLIMIT_NOFILE (capped). Returns 0 or -errno. */
int ldtap_fd_table_init(void);

/* Makes every descriptor untracked from now on (the shim disabled itself). */
void ldtap_fd_table_disable(void);

/* Starts tracking `fd` with `connection`. Returns the connection previously attached to
 * that fd (its close was never seen) for the caller to discard, or NULL. */
struct ldtap_connection *ldtap_fd_install(int fd, struct ldtap_connection *connection);

/* Marks a tracked fd as out of sync (bytes moved that the framers did not see). */
void ldtap_fd_mark_desync(int fd);

/* The slow cases of ldtap_fd_give_back: the fd was desynced while the connection was
 * taken (returns false), or it stopped being tracked just as the connection went back
 * (takes it back if nobody else did: returns false then, true otherwise). */
bool ldtap_fd_give_back_desynced(int fd);
bool ldtap_fd_reclaim(int fd, struct ldtap_connection *connection);

/* hot: takes the connection of `fd` for exclusive use by this thread, or NULL (untracked,
 * or another thread holds it: the fd is then marked LDTAP_FD_DESYNC). */
LDTAP_HOT static inline struct ldtap_connection *ldtap_fd_take(int fd) {
    if ((unsigned)fd >= __atomic_load_n(&ldtap_fd_capacity, __ATOMIC_ACQUIRE))
        return NULL;
    struct ldtap_connection *connection =
        __atomic_exchange_n(&ldtap_fd_connections[fd], NULL, __ATOMIC_ACQUIRE);
    if (LDTAP_UNLIKELY(connection == NULL))
        ldtap_fd_mark_desync(fd);
    return connection;
}

/* hot: gives a taken connection back. Returns false when the fd stopped being this
 * connection's meanwhile (closed, reused, desynced): the caller then owns it and must
 * finish it. */
LDTAP_HOT static inline bool ldtap_fd_give_back(int fd, struct ldtap_connection *connection) {
    uint8_t *state = &ldtap_fd_states[fd];
    if (LDTAP_UNLIKELY(__atomic_load_n(state, __ATOMIC_ACQUIRE) != LDTAP_FD_TRACKED))
        return ldtap_fd_give_back_desynced(fd);
    struct ldtap_connection *expected = NULL;
    if (LDTAP_UNLIKELY(!__atomic_compare_exchange_n(&ldtap_fd_connections[fd], &expected, connection, false,
                                                    __ATOMIC_RELEASE, __ATOMIC_RELAXED)))
        return false; /* closed and re-tracked with another connection meanwhile */
    /* A close between the state check and the store above would have found the slot
     * empty and left the connection to us: look again. */
    if (LDTAP_UNLIKELY(__atomic_load_n(state, __ATOMIC_ACQUIRE) != LDTAP_FD_TRACKED))
        return ldtap_fd_reclaim(fd, connection);
    return true;
}

/* Stops tracking `fd`; returns its connection if nobody holds it, for the caller to
 * finish, else NULL (the holder finds out when giving it back). */
struct ldtap_connection *ldtap_fd_untrack(int fd);

/* Hands `fd` to a database driver hook (LDTAP_FD_DRIVER). Returns the connection it was
 * tracked with, for the caller to abandon, or NULL. */
struct ldtap_connection *ldtap_fd_mark_driver(int fd);

/* Makes `fd` a log stream. `standing` (fds 1 and 2 only): it stays one when closed or
 * untracked, since whatever is opened onto that number next is still stdout/stderr.
 * Returns the connection it was tracked with (its close went unseen), for the caller to
 * abandon, or NULL. */
struct ldtap_connection *ldtap_fd_mark_log(int fd, bool standing);

/* One past the highest fd ever tracked: bounds close_range scans. */
uint32_t ldtap_fd_high_water(void);

#endif
