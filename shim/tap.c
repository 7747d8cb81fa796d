/* Glue between the hooks and connection state: takes a tracked fd's connection, feeds
 * it, settles the outcome (keep, stop, give up), and classifies new sockets. */
#include "tap.h"

#include <sys/socket.h>
#include <unistd.h>

#include "fd_table.h"
#include "log.h"
#include "originals.h"
#include "process.h"

/* sendfile() bytes are re-read from the file in chunks of this size, on the stack. */
#define FILE_CHUNK_BYTES 4096

static void stop_tracking(int fd, struct ldtap_connection *connection) {
    struct ldtap_connection *other = ldtap_fd_untrack(fd);
    if (other != NULL && other != connection)
        ldtap_connection_abandon(other); /* fd reused meanwhile: lose that one too, safely */
    ldtap_connection_abandon(connection);
}

/* After feeding: give the connection back, or end it as `result` says. Inlined: it runs
 * on every call on a tracked fd. */
static inline __attribute__((always_inline)) void settle(int fd, struct ldtap_connection *connection,
                                                         enum ldtap_feed_result result) {
    if (LDTAP_LIKELY(result == LDTAP_FEED_CONTINUE) && LDTAP_LIKELY(ldtap_fd_give_back(fd, connection)))
        return;
    if (result == LDTAP_FEED_GIVE_UP)
        LDTAP_COUNT(abandoned_connections, 1);
    stop_tracking(fd, connection);
}

/* The connection of `fd`, if tracked and in sync; a desynced one is dropped here. */
static inline __attribute__((always_inline)) struct ldtap_connection *take(int fd) {
    struct ldtap_connection *connection = ldtap_fd_take(fd);
    if (connection != NULL &&
        LDTAP_UNLIKELY(__atomic_load_n(&ldtap_fd_states[fd], __ATOMIC_ACQUIRE) != LDTAP_FD_TRACKED)) {
        stop_tracking(fd, connection);
        return NULL;
    }
    return connection;
}

void ldtap_tap_vector(int fd, enum ldtap_flow flow, const struct iovec *vector, size_t count,
                      ssize_t result, int flags) {
    if (result <= 0 || (flags & MSG_PEEK))
        return;
    if (ldtap_fd_is_log(fd)) { /* only what the program writes is a log */
        if (flow == LDTAP_OUTBOUND)
            ldtap_log_written(fd, vector, count, (size_t)result);
        return;
    }
    struct ldtap_connection *connection = take(fd);
    if (connection == NULL)
        return;
    ldtap_log_note_activity();
    if (flags & MSG_TRUNC) { /* TCP discarded the bytes without showing them to us */
        settle(fd, connection, LDTAP_FEED_STOP);
        return;
    }
    settle(fd, connection, ldtap_connection_feed_vector(connection, flow, vector, count, (size_t)result));
}

void ldtap_tap_bytes(int fd, enum ldtap_flow flow, const void *bytes, ssize_t result, int flags) {
    struct iovec whole = {(void *)bytes, result > 0 ? (size_t)result : 0};
    ldtap_tap_vector(fd, flow, &whole, 1, result, flags);
}

/* The common sendfile case (a static file's Content-Length body): the outbound framer only
 * counts these bytes, so they need not be read back from the file. */
static bool counts_only(const struct ldtap_connection *connection, uint64_t length) {
    if (connection->protocol != LDTAP_PROTOCOL_HTTP)
        return false;
    if (connection->kind == LDTAP_SPAN_KIND_SERVER)
        return connection->response_parser_ready && ldtap_http_counts_only(&connection->response_parser, length);
    return connection->request_parser_ready && ldtap_http_counts_only(&connection->request_parser, length);
}

/* Feeds `length` stand-in bytes to a framer that only counts them (see counts_only). */
static enum ldtap_feed_result feed_counted_bytes(struct ldtap_connection *connection, size_t length) {
    /* Never written and never read by the framer: untouched .bss, all zero pages. */
    static const uint8_t stand_in[64 * 1024];
    enum ldtap_feed_result outcome = LDTAP_FEED_CONTINUE;
    for (size_t done = 0; done < length && outcome == LDTAP_FEED_CONTINUE;) {
        size_t piece = length - done < sizeof(stand_in) ? length - done : sizeof(stand_in);
        outcome = ldtap_connection_feed(connection, LDTAP_OUTBOUND, stand_in, piece);
        done += piece;
    }
    return outcome;
}

void ldtap_tap_file(int out_fd, int in_fd, int64_t offset, ssize_t result) {
    if (result <= 0 || ldtap_fd_is_log(out_fd)) /* a file copied to a log stream is not read back */
        return;
    struct ldtap_connection *connection = take(out_fd);
    if (connection == NULL)
        return;
    ldtap_log_note_activity();
    if (counts_only(connection, (uint64_t)result)) {
        settle(out_fd, connection, feed_counted_bytes(connection, (size_t)result));
        return;
    }
    /* The kernel copied file bytes we never saw; read the same range back to frame it. */
    if (offset < 0)
        offset = (int64_t)lseek(in_fd, 0, SEEK_CUR) - result;
    uint8_t chunk[FILE_CHUNK_BYTES];
    enum ldtap_feed_result outcome = offset < 0 ? LDTAP_FEED_GIVE_UP : LDTAP_FEED_CONTINUE;
    for (size_t done = 0; done < (size_t)result && outcome == LDTAP_FEED_CONTINUE;) {
        size_t want = (size_t)result - done < sizeof(chunk) ? (size_t)result - done : sizeof(chunk);
        ssize_t got = pread(in_fd, chunk, want, (off_t)offset + (off_t)done);
        if (got <= 0) { /* not a regular file (a pipe, a socket): nothing to re-read */
            outcome = LDTAP_FEED_GIVE_UP;
            break;
        }
        outcome = ldtap_connection_feed(connection, LDTAP_OUTBOUND, chunk, (size_t)got);
        done += (size_t)got;
    }
    settle(out_fd, connection, outcome);
}

static void track(int fd, struct ldtap_connection *connection) {
    struct ldtap_connection *stale =
        connection != NULL ? ldtap_fd_install(fd, connection) : ldtap_fd_untrack(fd);
    if (stale != NULL && stale != connection)
        ldtap_connection_abandon(stale); /* its close went by unseen (a raw syscall) */
}

void ldtap_tap_accepted(int fd, const struct sockaddr *peer, socklen_t peer_length) {
    if (fd >= 0 && ldtap_recording())
        track(fd, ldtap_connection_open(fd, LDTAP_SPAN_KIND_SERVER, peer, peer_length));
}

void ldtap_tap_connected(int fd, const struct sockaddr *peer, socklen_t peer_length) {
    if (ldtap_recording())
        track(fd, ldtap_connection_open(fd, LDTAP_SPAN_KIND_CLIENT, peer, peer_length));
}

void ldtap_tap_closing(int fd) {
    /* A vfork() child (Python's subprocess) closes fds in memory it shares with us. */
    if (!ldtap_in_own_process())
        return;
    if (ldtap_fd_is_log(fd))
        ldtap_log_closing(fd);
    struct ldtap_connection *connection = ldtap_fd_untrack(fd);
    if (connection != NULL)
        ldtap_connection_close(connection);
}

void ldtap_tap_forget(int fd) {
    if (!ldtap_in_own_process())
        return;
    struct ldtap_connection *connection = ldtap_fd_untrack(fd);
    if (connection != NULL)
        ldtap_connection_abandon(connection);
}

void ldtap_tap_nested(int fd) { ldtap_fd_mark_desync(fd); }
