/* What the hooks record: each function is called by a hook, inside LDTAP_RECORD (errno
 * preserved, not nested), once the descriptor is known to be tracked or just classified. */
#ifndef LDTAP_TAP_H
#define LDTAP_TAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "connection.h"

/* Bytes a call moved: `result` is its return value, only > 0 counts. `flags` are the
 * recv flags (MSG_PEEK moves nothing; MSG_TRUNC drops bytes we cannot see). */
void ldtap_tap_bytes(int fd, enum ldtap_flow flow, const void *bytes, ssize_t result, int flags);
void ldtap_tap_vector(int fd, enum ldtap_flow flow, const struct iovec *vector, size_t count,
                      ssize_t result, int flags);
/* sendfile(): `result` bytes went from `in_fd` at `offset` (-1: its file position). */
void ldtap_tap_file(int out_fd, int in_fd, int64_t offset, ssize_t result);

/* A new socket: accepted (server side; `peer` is what accept() returned, NULL if unknown)
 * or being connected (client side). */
void ldtap_tap_accepted(int fd, const struct sockaddr *peer, socklen_t peer_length);
void ldtap_tap_connected(int fd, const struct sockaddr *peer, socklen_t peer_length);

/* `fd` is about to be closed (close, dup2/dup3 target, close_range). */
void ldtap_tap_closing(int fd);
/* Stops tracking `fd` without writing spans: it was duplicated (its bytes may now move
 * through another fd), or closed while the shim could not safely finish it. */
void ldtap_tap_forget(int fd);
/* A hooked call on a tracked fd while the shim was already on this thread's stack. */
void ldtap_tap_nested(int fd);

#endif
