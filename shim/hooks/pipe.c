/* pipe2 passes straight through, except while the shim itself initialises libunwind, which
 * keeps a pipe open for its memory checks: those two descriptors are moved to high numbers,
 * close-on-exec, so the program never finds descriptors it did not open at 3 and 4. */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "hook_list.h"
#include "originals.h"
#include "private_fds.h"
#include "shim.h"

LDTAP_INTERNAL LDTAP_THREAD_LOCAL bool ldtap_relocating_pipes;

/* Just under the soft descriptor limit: the kernel hands out the lowest free number, so a
 * program reaches these only after opening almost every descriptor it may have. `floor`:
 * the lowest number to move to, or -1 to leave the descriptor where it is. */
static int move_high(int fd, int floor) {
    if (floor < 0)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, floor);
    if (high < 0)
        return fd; /* keep the low one: libunwind still works, the program sees one more fd */
    LDTAP_REAL(close)(fd);
    return high;
}

LDTAP_EXPORT int pipe2(int fds[2], int flags) {
    int result = LDTAP_REAL(pipe2)(fds, flags);
    if (LDTAP_UNLIKELY(ldtap_relocating_pipes) && result == 0) {
        int saved_errno = errno;
        struct rlimit limit;
        int floor = getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur < 64
                        ? -1
                        : (int)(limit.rlim_cur - 16);
        fds[0] = move_high(fds[0], floor);
        fds[1] = move_high(fds[1], floor);
        errno = saved_errno;
    }
    return result;
}
