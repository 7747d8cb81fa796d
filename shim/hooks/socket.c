/* Connection lifecycle hooks: accept/accept4 and connect classify a new socket; close,
 * dup*, close_range keep the fd table true to the kernel's descriptor table. */
#include <errno.h>
#include <stdbool.h>
#include <linux/close_range.h>

#include "fd_table.h"
#include "hook_list.h"
#include "originals.h"
#include "shim.h"
#include "tap.h"

/* The peer address accept() wrote for the program, when it asked for one and it fit: the
 * connection then needs no getpeername(). */
static void record_accepted(int accepted, const struct sockaddr *address, const socklen_t *length,
                            socklen_t capacity) {
    bool whole = address != NULL && length != NULL && *length <= capacity;
    LDTAP_RECORD(ldtap_tap_accepted(accepted, whole ? address : NULL, whole ? *length : 0), (void)0);
}

LDTAP_EXPORT int accept(int fd, __SOCKADDR_ARG address, socklen_t *restrict length) {
    socklen_t capacity = length != NULL ? *length : 0;
    int accepted = LDTAP_REAL(accept)(fd, address, length);
    if (accepted >= 0)
        record_accepted(accepted, address.__sockaddr__, length, capacity);
    return accepted;
}

LDTAP_EXPORT int accept4(int fd, __SOCKADDR_ARG address, socklen_t *restrict length, int flags) {
    socklen_t capacity = length != NULL ? *length : 0;
    int accepted = LDTAP_REAL(accept4)(fd, address, length, flags);
    if (accepted >= 0)
        record_accepted(accepted, address.__sockaddr__, length, capacity);
    return accepted;
}

/* A non-blocking connect (EINPROGRESS) is a connection too: bytes follow once it is up.
 * So is a blocking one interrupted by a signal handler (EINTR): the kernel goes on
 * connecting in the background and the program polls for it rather than calling connect
 * again (POSIX); untracked, its requests were lost without a trace or a count. */
LDTAP_EXPORT int connect(int fd, __CONST_SOCKADDR_ARG address, socklen_t length) {
    int result = LDTAP_REAL(connect)(fd, address, length);
    if (result == 0 || errno == EINPROGRESS || errno == EINTR)
        LDTAP_RECORD(ldtap_tap_connected(fd, address.__sockaddr__, length), (void)0);
    return result;
}

/* Untracked before the real close (a log stream's pending lines end too): once closed, another thread may get the same number
 * from accept() and track it, and we must not end that connection instead. */
LDTAP_EXPORT int close(int fd) {
    if (LDTAP_UNLIKELY(ldtap_fd_is_observed(fd)))
        LDTAP_RECORD(ldtap_tap_closing(fd), ldtap_tap_forget(fd));
    return LDTAP_REAL(close)(fd);
}

LDTAP_EXPORT int dup(int fd) {
    int duplicate = LDTAP_REAL(dup)(fd);
    if (duplicate >= 0 && LDTAP_UNLIKELY(ldtap_fd_is_tracked(fd)))
        LDTAP_RECORD(ldtap_tap_forget(fd), ldtap_tap_forget(fd));
    return duplicate;
}

/* dup2/dup3 close `new_fd` first (unless it equals `fd`), then make it a copy of `fd`. */
static void before_duplicate_onto(int fd, int new_fd) {
    if (new_fd != fd && ldtap_fd_is_observed(new_fd))
        LDTAP_RECORD(ldtap_tap_closing(new_fd), ldtap_tap_forget(new_fd));
}

static void after_duplicate_onto(int fd, int new_fd, int result) {
    if (result >= 0 && new_fd != fd && ldtap_fd_is_tracked(fd))
        LDTAP_RECORD(ldtap_tap_forget(fd), ldtap_tap_forget(fd));
}

LDTAP_EXPORT int dup2(int fd, int new_fd) {
    before_duplicate_onto(fd, new_fd);
    int result = LDTAP_REAL(dup2)(fd, new_fd);
    after_duplicate_onto(fd, new_fd, result);
    return result;
}

LDTAP_EXPORT int dup3(int fd, int new_fd, int flags) {
    before_duplicate_onto(fd, new_fd);
    int result = LDTAP_REAL(dup3)(fd, new_fd, flags);
    after_duplicate_onto(fd, new_fd, result);
    return result;
}

/* With CLOSE_RANGE_CLOEXEC nothing closes now (exec discards our state anyway). The scan
 * stops at the highest fd ever tracked: close_range(3, ~0U, 0) is common before exec. */
LDTAP_EXPORT int close_range(unsigned int first, unsigned int last, int flags) {
    unsigned int end = ldtap_fd_high_water();
    if (!(flags & CLOSE_RANGE_CLOEXEC) && first < end) {
        unsigned int scan_last = last < end ? last : end - 1;
        for (unsigned int fd = first; fd <= scan_last; fd++)
            if (ldtap_fd_is_observed((int)fd))
                LDTAP_RECORD(ldtap_tap_closing((int)fd), ldtap_tap_forget((int)fd));
    }
    return LDTAP_REAL(close_range)(first, last, flags);
}
