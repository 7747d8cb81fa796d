/* Log and traceback capture (LDTAP_RECORD_LOG): which descriptors are log streams, the
 * per-thread line assembly of what is written to them, and the rate-limited records. */
#ifndef LDTAP_LOG_H
#define LDTAP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ldtap_ring_abi.h"
#include "shim.h"

/* Bumped on this thread by every byte a tracked socket moves and every span begun. A log
 * write that finds it where it was when a request finished here came right after that
 * request, with nothing else in between (see log.c). Initial-exec TLS: one %fs access. */
extern LDTAP_INTERNAL LDTAP_THREAD_LOCAL uint64_t ldtap_log_activity;

static inline void ldtap_log_note_activity(void) {
    ldtap_log_activity++;
}

/* The server span `span` was answered with `status_code` and finished on this thread;
 * `alone`: this thread served no other request at any time while it was in flight. */
void ldtap_log_request_finished(const struct ldtap_span_common *span, uint16_t status_code, bool alone);

/* True when LDTAP_LOG_FILES named at least one usable path: only then do the open hooks
 * compare paths. */
extern LDTAP_INTERNAL bool ldtap_log_files_named;

/* Reads LDTAP_CAPTURE_LOGS and LDTAP_LOG_FILES (invalid items are ignored) and marks fd 2
 * (and fd 1 when stdout is captured) as log streams. Called once, recording on. */
void ldtap_log_init(void);

/* `result` bytes of `vector` were written to the log stream `fd` by this thread. */
void ldtap_log_written(int fd, const struct iovec *vector, size_t count, size_t result);

/* `fd` was just opened as `path`: makes it a log stream when LDTAP_LOG_FILES names it. */
void ldtap_log_opened(int fd, const char *path);

/* The log stream `fd` is about to close: this thread's pending lines for it are written
 * (an open traceback flagged INCOMPLETE). Other threads' pending lines for it end when
 * those threads next write a log stream or exit. */
void ldtap_log_closing(int fd);

/* The calling thread ends: its pending lines are written and its area given back. */
void ldtap_log_thread_exit(void);

/* In a forked child: other threads' areas are free again, this thread's pending bytes
 * belong to the parent. */
void ldtap_log_after_fork_child(void);

#endif
