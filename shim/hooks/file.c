/* open/open64/openat/openat64 (and the fortified __open_2/__open64_2): pass through, and
 * when LDTAP_LOG_FILES names files, make a descriptor opened on one a log stream. */
#include <fcntl.h>
#include <stdarg.h>

#include "hook_list.h"
#include "log.h"
#include "originals.h"
#include "shim.h"

/* The mode argument exists only with O_CREAT or O_TMPFILE; reading it otherwise would
 * read whatever the caller left in that register or stack slot (harmless, but noisy). */
#define MODE_ARGUMENT(flags, mode)                                                         \
    int mode = 0;                                                                          \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                                                 \
        va_list arguments;                                                                 \
        va_start(arguments, flags);                                                        \
        mode = va_arg(arguments, int);                                                     \
        va_end(arguments);                                                                 \
    }

/* Without LDTAP_LOG_FILES an open costs one flag load on top of the original. */
static int opened(int fd, const char *path) {
    if (LDTAP_UNLIKELY(__atomic_load_n(&ldtap_log_files_named, __ATOMIC_RELAXED)) && fd >= 0)
        LDTAP_RECORD(ldtap_log_opened(fd, path), (void)0);
    return fd;
}

LDTAP_EXPORT int open(const char *path, int flags, ...) {
    MODE_ARGUMENT(flags, mode)
    return opened(LDTAP_REAL(open)(path, flags, mode), path);
}

LDTAP_EXPORT int open64(const char *path, int flags, ...) {
    MODE_ARGUMENT(flags, mode)
    return opened(LDTAP_REAL(open64)(path, flags, mode), path);
}

/* A path relative to `directory` is compared as written: LDTAP_LOG_FILES paths are
 * absolute, so only an absolute path can match. */
LDTAP_EXPORT int openat(int directory, const char *path, int flags, ...) {
    MODE_ARGUMENT(flags, mode)
    return opened(LDTAP_REAL(openat)(directory, path, flags, mode), path);
}

LDTAP_EXPORT int openat64(int directory, const char *path, int flags, ...) {
    MODE_ARGUMENT(flags, mode)
    return opened(LDTAP_REAL(openat64)(directory, path, flags, mode), path);
}

LDTAP_EXPORT int __open_2(const char *path, int flags) { return opened(LDTAP_REAL(__open_2)(path, flags), path); }

LDTAP_EXPORT int __open64_2(const char *path, int flags) {
    return opened(LDTAP_REAL(__open64_2)(path, flags), path);
}
