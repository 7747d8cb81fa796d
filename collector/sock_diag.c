/* Listening TCP sockets from the kernel's sock_diag netlink interface, which dumps only
 * listeners: /proc/net/tcp lists every socket of the namespace, TIME_WAIT included. */
#include "sock_diag.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <stdio.h>

enum { TCP_STATE_LISTEN = 10 }; /* include/net/tcp_states.h, not exported to user space */

bool ldtap_shares_network_namespace(int32_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
    struct stat ours, theirs;
    return stat("/proc/self/ns/net", &ours) == 0 && stat(path, &theirs) == 0 && ours.st_dev == theirs.st_dev &&
           ours.st_ino == theirs.st_ino;
}

static bool request_listeners(int socket_fd, uint8_t family) {
    struct {
        struct nlmsghdr header;
        struct inet_diag_req_v2 request;
    } message = {
        .header = {.nlmsg_len = sizeof message,
                   .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                   .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                   .nlmsg_seq = family},
        .request = {.sdiag_family = family, .sdiag_protocol = IPPROTO_TCP, .idiag_states = 1u << TCP_STATE_LISTEN},
    };
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    return sendto(socket_fd, &message, sizeof message, 0, (struct sockaddr *)&kernel, sizeof kernel) ==
           (ssize_t)sizeof message;
}

/* Reads the dump's answers to its end; false on an error or a malformed answer. */
static bool read_listeners(int socket_fd, struct ldtap_listen_socket *table, size_t capacity, size_t *count) {
    _Alignas(struct nlmsghdr) char buffer[16384];
    for (;;) {
        ssize_t received = recv(socket_fd, buffer, sizeof buffer, 0);
        if (received <= 0) {
            return false;
        }
        size_t left = (size_t)received;
        for (struct nlmsghdr *header = (struct nlmsghdr *)buffer; NLMSG_OK(header, left);
             header = NLMSG_NEXT(header, left)) {
            if (header->nlmsg_type == NLMSG_DONE) {
                return true;
            }
            if (header->nlmsg_type == NLMSG_ERROR || header->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
                header->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
                return false;
            }
            const struct inet_diag_msg *socket_info = NLMSG_DATA(header);
            /* For a listener, rqueue is the accept queue's length (as /proc's rx_queue). */
            if (socket_info->idiag_state == TCP_STATE_LISTEN && *count < capacity) {
                table[(*count)++] = (struct ldtap_listen_socket){.inode = socket_info->idiag_inode,
                                                                  .port = ntohs(socket_info->id.idiag_sport),
                                                                  .accept_queue = socket_info->idiag_rqueue};
            }
        }
    }
}

ssize_t ldtap_sock_diag_listeners(struct ldtap_listen_socket *table, size_t capacity) {
    int socket_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (socket_fd < 0) {
        return -1;
    }
    /* The kernel answers at once; the bound only guards against one that never does. */
    struct timeval timeout = {.tv_sec = 1};
    setsockopt(socket_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    size_t count = 0;
    bool ok = request_listeners(socket_fd, AF_INET) && read_listeners(socket_fd, table, capacity, &count) &&
              request_listeners(socket_fd, AF_INET6) && read_listeners(socket_fd, table, capacity, &count);
    close(socket_fd);
    return ok ? (ssize_t)count : -1;
}
