/* Reading a traced process's resource use from /proc: memory, CPU, threads, descriptors
 * and the accept queues of the TCP sockets it listens on. Parsers are pure functions over
 * the files' text so that tests can feed them samples. */
#ifndef LDTAP_PROCESS_STATS_H
#define LDTAP_PROCESS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A listening TCP socket as /proc/net/tcp{,6} shows it (state 0A). For a listener the
 * kernel prints the accept queue's length as rx_queue; the backlog limit is not there
 * (tx_queue is the send queue, 0 for a listener: only sock_diag reports the limit). */
struct ldtap_listen_socket {
    uint64_t inode;
    uint16_t port;
    uint32_t accept_queue;
};

#define LDTAP_PROCESS_MAX_LISTEN 16

struct ldtap_process_stats {
    uint64_t rss_bytes;
    uint64_t virtual_bytes;
    double user_seconds;
    double system_seconds;
    uint32_t threads;
    uint32_t open_descriptors;
    uint64_t start_ticks;  /* /proc/<pid>/stat field 22, clock ticks after boot */
    double uptime_seconds; /* since the process started */
    uint32_t listen_count;
    struct ldtap_listen_socket listen[LDTAP_PROCESS_MAX_LISTEN];
};

/* /proc/<pid>/stat: CPU times (ticks converted with `ticks_per_second`), threads, start
 * ticks, virtual size. False when the text is not a stat line. */
bool ldtap_parse_proc_stat(const char *text, long ticks_per_second, struct ldtap_process_stats *stats);

/* /proc/<pid>/status: VmRSS (and VmSize, Threads when stat did not give them). False
 * without a VmRSS line (kernel threads, zombies). */
bool ldtap_parse_proc_status(const char *text, struct ldtap_process_stats *stats);

/* The LISTEN rows of /proc/net/tcp or tcp6 text, up to `capacity`; returns how many. */
size_t ldtap_parse_net_tcp(const char *text, struct ldtap_listen_socket *sockets, size_t capacity);

/* Reads everything for `pid` (expected to have started at `start_ticks`, 0: any).
 * Listening sockets are those whose inode is among the process's descriptors, looked up
 * in its own network namespace. Returns false when the process is gone or unreadable. */
bool ldtap_process_stats_read(int32_t pid, uint64_t start_ticks, struct ldtap_process_stats *stats);

#endif
