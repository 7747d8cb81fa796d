/* Listening TCP sockets of the collector's network namespace, from the kernel's sock_diag
 * netlink interface (process_stats.c falls back to /proc/<pid>/net/tcp elsewhere). */
#ifndef LDTAP_SOCK_DIAG_H
#define LDTAP_SOCK_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "process_stats.h"

/* True when process `pid` is in the collector's own network namespace. */
bool ldtap_shares_network_namespace(int32_t pid);

/* The IPv4 and IPv6 TCP listeners of our namespace, up to `capacity`: their inode, port
 * and accept queue length. -1 when netlink is unavailable (the caller reads /proc). */
ssize_t ldtap_sock_diag_listeners(struct ldtap_listen_socket *table, size_t capacity);

#endif
