/* The per-descriptor table: mmap'd once (never our own allocator), indexed by fd, with
 * atomic take/give-back so two threads never feed one connection's framers at once. */
#include "fd_table.h"

#include <stddef.h>
#include <sys/mman.h>
#include <sys/resource.h>

/* Enough for busy servers; fds beyond it are simply not traced. */
#define LDTAP_FD_CAPACITY_MAX (1u << 16)

uint32_t ldtap_fd_capacity;
uint8_t *ldtap_fd_states;
struct ldtap_connection **ldtap_fd_connections;
static uint32_t fd_high_water;
/* Bit n set: fd n is a standing log stream (see ldtap_fd_mark_log); only fds 1 and 2. */
static uint8_t standing_log_fds;

/* The state an fd returns to when it stops being tracked. */
static uint8_t resting_state(int fd) {
    return fd >= 0 && fd < 8 && (__atomic_load_n(&standing_log_fds, __ATOMIC_RELAXED) >> fd & 1)
               ? LDTAP_FD_LOG
               : LDTAP_FD_UNTRACKED;
}

int ldtap_fd_table_init(void) {
    struct rlimit limit;
    rlim_t wanted = LDTAP_FD_CAPACITY_MAX;
    /* The hard limit, not the soft one: servers often raise their soft limit later. */
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_max != RLIM_INFINITY &&
        limit.rlim_max < wanted)
        wanted = limit.rlim_max < 64 ? 64 : limit.rlim_max;
    uint32_t capacity = (uint32_t)wanted;
    size_t bytes = (size_t)capacity * (1 + sizeof(*ldtap_fd_connections));
    /* Untouched pages cost nothing: only fds actually used are ever faulted in. */
    void *table = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (table == MAP_FAILED)
        return -errno;
    ldtap_fd_connections = table;
    ldtap_fd_states = (uint8_t *)table + (size_t)capacity * sizeof(*ldtap_fd_connections);
    /* Release: a thread that sees the capacity sees the table. */
    __atomic_store_n(&ldtap_fd_capacity, capacity, __ATOMIC_RELEASE);
    return 0;
}

void ldtap_fd_table_disable(void) { __atomic_store_n(&ldtap_fd_capacity, 0, __ATOMIC_RELAXED); }

static bool in_table(int fd) {
    return (unsigned)fd < __atomic_load_n(&ldtap_fd_capacity, __ATOMIC_ACQUIRE);
}

struct ldtap_connection *ldtap_fd_install(int fd, struct ldtap_connection *connection) {
    if (!in_table(fd))
        return connection;
    struct ldtap_connection *stale =
        __atomic_exchange_n(&ldtap_fd_connections[fd], connection, __ATOMIC_ACQ_REL);
    __atomic_store_n(&ldtap_fd_states[fd], LDTAP_FD_TRACKED, __ATOMIC_RELEASE);
    uint32_t high = __atomic_load_n(&fd_high_water, __ATOMIC_RELAXED);
    while ((uint32_t)fd >= high &&
           !__atomic_compare_exchange_n(&fd_high_water, &high, (uint32_t)fd + 1, true,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return stale;
}

bool ldtap_fd_give_back_desynced(int fd) {
    /* Stop tracking, unless the fd was already reused. */
    uint8_t desynced = LDTAP_FD_TRACKED | LDTAP_FD_DESYNC;
    __atomic_compare_exchange_n(&ldtap_fd_states[fd], &desynced, resting_state(fd), false, __ATOMIC_RELEASE,
                                __ATOMIC_RELAXED);
    return false;
}

bool ldtap_fd_reclaim(int fd, struct ldtap_connection *connection) {
    struct ldtap_connection *expected = connection;
    return !__atomic_compare_exchange_n(&ldtap_fd_connections[fd], &expected, NULL, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED);
}

struct ldtap_connection *ldtap_fd_untrack(int fd) {
    if (!in_table(fd))
        return NULL;
    __atomic_store_n(&ldtap_fd_states[fd], resting_state(fd), __ATOMIC_RELEASE);
    return __atomic_exchange_n(&ldtap_fd_connections[fd], NULL, __ATOMIC_ACQ_REL);
}

struct ldtap_connection *ldtap_fd_mark_log(int fd, bool standing) {
    if (!in_table(fd))
        return NULL;
    if (standing && fd < 8)
        __atomic_fetch_or(&standing_log_fds, (uint8_t)(1u << fd), __ATOMIC_RELAXED);
    __atomic_store_n(&ldtap_fd_states[fd], LDTAP_FD_LOG, __ATOMIC_RELEASE);
    return __atomic_exchange_n(&ldtap_fd_connections[fd], NULL, __ATOMIC_ACQ_REL);
}

struct ldtap_connection *ldtap_fd_mark_driver(int fd) {
    if (!in_table(fd))
        return NULL;
    __atomic_store_n(&ldtap_fd_states[fd], LDTAP_FD_DRIVER, __ATOMIC_RELEASE);
    return __atomic_exchange_n(&ldtap_fd_connections[fd], NULL, __ATOMIC_ACQ_REL);
}

void ldtap_fd_mark_desync(int fd) {
    if (!in_table(fd))
        return;
    uint8_t state = __atomic_load_n(&ldtap_fd_states[fd], __ATOMIC_RELAXED);
    while ((state & LDTAP_FD_TRACKED) &&
           !__atomic_compare_exchange_n(&ldtap_fd_states[fd], &state, state | LDTAP_FD_DESYNC,
                                        true, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
    }
}

uint32_t ldtap_fd_high_water(void) { return __atomic_load_n(&fd_high_water, __ATOMIC_RELAXED); }
