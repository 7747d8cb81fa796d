/* Connection state pool (mmap'd once, lock-free free list) and the connection
 * lifecycle: classification of a new socket, close, abandon. */
#include "connection.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>

#include "process.h"
#include "saturation.h"
#include "thread.h"

/* Connections traced at once; more are simply not traced. Pages of the pool are only
 * faulted in as connections use them. */
#define POOL_CAPACITY 1024u

static struct ldtap_connection *pool;
/* Free list head: bits 0..31 index + 1 (0: empty), bits 32..63 a tag bumped on every
 * change so a pop racing with pop+push of the same node fails its CAS (ABA). */
static uint64_t free_top;
/* Entries never used yet, handed out in order so untouched pages stay untouched. */
static uint32_t never_used;

int ldtap_connection_pool_init(void) {
    void *mapping = mmap(NULL, POOL_CAPACITY * sizeof(struct ldtap_connection), PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping == MAP_FAILED)
        return -errno;
    pool = mapping;
    return 0;
}

static struct ldtap_connection *pool_take(void) {
    uint64_t top = __atomic_load_n(&free_top, __ATOMIC_ACQUIRE);
    while ((uint32_t)top != 0) {
        struct ldtap_connection *node = &pool[(uint32_t)top - 1];
        uint64_t next = ((top >> 32) + 1) << 32 | __atomic_load_n(&node->next_free, __ATOMIC_RELAXED);
        if (__atomic_compare_exchange_n(&free_top, &top, next, true, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
            return node;
    }
    uint32_t index = __atomic_fetch_add(&never_used, 1, __ATOMIC_RELAXED);
    if (index >= POOL_CAPACITY) {
        __atomic_store_n(&never_used, POOL_CAPACITY, __ATOMIC_RELAXED);
        return NULL;
    }
    return &pool[index];
}

void ldtap_connection_free(struct ldtap_connection *connection) {
    /* Every exchange of this connection is over, for threads still remembering one. */
    __atomic_store_n(&connection->finished_below, UINT64_MAX, __ATOMIC_RELEASE);
    uint32_t link = (uint32_t)(connection - pool) + 1;
    uint64_t top = __atomic_load_n(&free_top, __ATOMIC_RELAXED);
    do {
        __atomic_store_n(&connection->next_free, (uint32_t)top, __ATOMIC_RELAXED);
    } while (!__atomic_compare_exchange_n(&free_top, &top, ((top >> 32) + 1) << 32 | link, true,
                                          __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

bool ldtap_copy_address(const struct sockaddr_storage *address, uint8_t out[16], uint16_t *port) {
    if (address->ss_family == AF_INET) {
        const struct sockaddr_in *inet = (const struct sockaddr_in *)address;
        memcpy(out, &inet->sin_addr, 4);
        *port = ntohs(inet->sin_port);
        return true;
    }
    if (address->ss_family == AF_INET6) {
        const struct sockaddr_in6 *inet6 = (const struct sockaddr_in6 *)address;
        memcpy(out, &inet6->sin6_addr, 16);
        *port = ntohs(inet6->sin6_port);
        return true;
    }
    return false;
}

static bool is_tcp(int fd) {
    int type = 0, protocol = 0;
    socklen_t length = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM)
        return false;
    length = sizeof(protocol);
    return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) == 0 && protocol == IPPROTO_TCP;
}

/* An AF_INET or AF_INET6 address accept() returned whole. */
static bool is_accepted_inet_peer(const struct sockaddr *peer, socklen_t peer_length) {
    if (peer == NULL || peer_length < sizeof(sa_family_t))
        return false;
    return (peer->sa_family == AF_INET && peer_length >= sizeof(struct sockaddr_in)) ||
           (peer->sa_family == AF_INET6 && peer_length >= sizeof(struct sockaddr_in6));
}

struct ldtap_connection *ldtap_connection_open(int fd, enum ldtap_span_kind kind,
                                               const struct sockaddr *peer, socklen_t peer_length) {
    struct sockaddr_storage local = {0}, remote = {0};
    socklen_t local_length = sizeof(local), remote_length = sizeof(remote);
    /* What accept() returned spares three syscalls of the four: an internet socket that
     * accepts is a TCP one (or MPTCP or SCTP, whose bytes the framer judges like any), and
     * its peer is known. Left: its local address. */
    bool accepted_inet = kind == LDTAP_SPAN_KIND_SERVER && is_accepted_inet_peer(peer, peer_length);
    if (getsockname(fd, (struct sockaddr *)&local, &local_length) != 0 ||
        (local.ss_family != AF_INET && local.ss_family != AF_INET6) || (!accepted_inet && !is_tcp(fd)))
        return NULL; /* unix sockets and everything else: not traced */
    if (accepted_inet) {
        memcpy(&remote, peer, peer_length < sizeof(remote) ? peer_length : sizeof(remote));
    } else if (getpeername(fd, (struct sockaddr *)&remote, &remote_length) != 0) {
        /* Non-blocking connect still in progress: the address asked for is the peer. */
        memset(&remote, 0, sizeof(remote));
        if (peer != NULL && peer_length <= sizeof(remote))
            memcpy(&remote, peer, peer_length);
    }
    struct ldtap_connection *connection = pool_take();
    if (connection == NULL)
        return NULL;
    memset(connection, 0, offsetof(struct ldtap_connection, exchanges));
    connection->kind = (uint16_t)kind;
    /* We trace clients of databases, not servers: what is read on an accepted socket is
     * HTTP or nothing (a PostgreSQL or Redis server under the shim is left alone). */
    connection->protocol = kind == LDTAP_SPAN_KIND_SERVER ? LDTAP_PROTOCOL_HTTP : LDTAP_PROTOCOL_UNKNOWN;
    connection->endpoints.family = local.ss_family;
    ldtap_copy_address(&local, connection->endpoints.local_address, &connection->endpoints.local_port);
    ldtap_copy_address(&remote, connection->endpoints.peer_address, &connection->endpoints.peer_port);
    /* Nothing in flight: threads remembering exchanges of this memory's previous
     * connection see them over; the first exchange lowers the watermark to its serial. */
    __atomic_store_n(&connection->finished_below, UINT64_MAX, __ATOMIC_RELEASE);
    return connection;
}

void ldtap_connection_close(struct ldtap_connection *connection) {
    if (connection->protocol == LDTAP_PROTOCOL_WIRE) {
        ldtap_wire_connection_close(connection);
        ldtap_connection_free(connection);
        return;
    }
    if (connection->count > 0 && connection->response_parser_ready &&
        ldtap_http_frame_close(&connection->response_parser) == LDTAP_HTTP_MESSAGE_COMPLETE)
        ldtap_exchange_finish(connection, 0); /* a response delimited by the close */
    while (connection->count > 0)
        ldtap_exchange_finish(connection, LDTAP_SPAN_FLAG_NO_RESPONSE);
    ldtap_connection_free(connection);
}

void ldtap_connection_abandon(struct ldtap_connection *connection) {
    if (connection->kind == LDTAP_SPAN_KIND_SERVER && connection->count > 0)
        ldtap_requests_finished(connection->count, ldtap_monotonic_ns());
    ldtap_connection_free(connection);
}
