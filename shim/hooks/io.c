/* The byte-moving hooks (read, recv family, readv; write, send family, writev; sendfile),
 * generated from LDTAP_IO_HOOKS in hook_list.h: what each records is its last column. */
#include "fd_table.h"
#include "hook_list.h"
#include "originals.h"
#include "shim.h"
#include "tap.h"

/*
 * hot: an untracked fd costs the table check and a tail call to the original. On an
 * observed fd (a connection or a log stream) the call is made first, then its result is
 * recorded; bytes that moved while the shim was already on this thread's stack mark the
 * connection out of sync. A call that moved nothing (EAGAIN on a non-blocking socket, the
 * peer's end of stream) records nothing: it returns at once.
 */
#define LDTAP_IO_HOOK(type, name, parameters, arguments, fd, record)                       \
    LDTAP_HOT LDTAP_EXPORT type name parameters {                                          \
        if (LDTAP_LIKELY(!ldtap_fd_is_observed(fd)))                                       \
            return LDTAP_REAL(name) arguments;                                             \
        type result = LDTAP_REAL(name) arguments;                                          \
        if (result > 0)                                                                    \
            LDTAP_RECORD(record, ldtap_tap_nested(fd));                                    \
        return result;                                                                     \
    }
LDTAP_IO_HOOKS(LDTAP_IO_HOOK)
