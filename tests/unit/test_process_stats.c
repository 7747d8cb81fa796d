/* Criterion tests for collector/process_stats.c: the /proc parsers on sample text, and
 * the reader on the test's own process, including a listener with un-accepted connections. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "process_stats.h"
#include "sock_diag.h"

/* A command name with spaces and ')' must not shift the fields. */
static const char sample_stat[] =
    "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 2000 0 3 0 250 50 0 0 20 0 7 0 12345 1048576 300 "
    "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

Test(process_stats, parses_stat_fields) {
    struct ldtap_process_stats stats = {0};
    cr_assert(ldtap_parse_proc_stat(sample_stat, 100, &stats));
    cr_assert_float_eq(stats.user_seconds, 2.5, 1e-9);
    cr_assert_float_eq(stats.system_seconds, 0.5, 1e-9);
    cr_assert_eq(stats.threads, 7);
    cr_assert_eq(stats.start_ticks, 12345);
    cr_assert_eq(stats.virtual_bytes, 1048576);
}

Test(process_stats, rejects_truncated_stat) {
    struct ldtap_process_stats stats = {0};
    cr_assert_not(ldtap_parse_proc_stat("4242 (prog) S 1 2 3", 100, &stats));
    cr_assert_not(ldtap_parse_proc_stat("no parenthesis here", 100, &stats));
    cr_assert_not(ldtap_parse_proc_stat(sample_stat, 0, &stats));
}

Test(process_stats, parses_status_memory) {
    static const char status[] = "Name:\tpython3\nState:\tS (sleeping)\nVmPeak:\t  40000 kB\nVmSize:\t  "
                                 "39000 kB\nVmRSS:\t    2048 kB\nThreads:\t3\n";
    struct ldtap_process_stats stats = {0};
    cr_assert(ldtap_parse_proc_status(status, &stats));
    cr_assert_eq(stats.rss_bytes, 2048u * 1024u);
    cr_assert_eq(stats.virtual_bytes, 39000u * 1024u, "VmSize fills in when stat did not");
    cr_assert_eq(stats.threads, 3);
    cr_assert_not(ldtap_parse_proc_status("Name:\tkthreadd\nState:\tS\n", &stats), "no VmRSS: kernel thread");
}

Test(process_stats, parses_listen_rows_of_net_tcp) {
    static const char table[] =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:46CB 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 1249896 4 "
        "0000000000000000 100 0 0 10 0\n"
        "   1: 0100007F:90DA 0100007F:89AD 06 00000000:00000000 03:00000546 00000000     0        0 0 3 "
        "00000000899108aa\n"
        "   2: 00000000:1F90 00000000:0000 0A 00000000:0000000C 00:00000000 00000000     0        0 777 1 "
        "0000000000000000 100 0 0 10 0\n";
    struct ldtap_listen_socket sockets[4];
    cr_assert_eq(ldtap_parse_net_tcp(table, sockets, 4), 2, "only the LISTEN (0A) rows");
    cr_assert_eq(sockets[0].port, 18123);
    cr_assert_eq(sockets[0].accept_queue, 3);
    cr_assert_eq(sockets[0].inode, 1249896);
    cr_assert_eq(sockets[1].port, 8080);
    cr_assert_eq(sockets[1].accept_queue, 12);
    cr_assert_eq(sockets[1].inode, 777);
    cr_assert_eq(ldtap_parse_net_tcp(table, sockets, 1), 1, "capacity is respected");
}

Test(process_stats, parses_tcp6_rows) {
    static const char table[] =
        "  sl  local_address                         remote_address                        st tx_queue rx_queue "
        "tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000002 "
        "00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0\n";
    struct ldtap_listen_socket sockets[2];
    cr_assert_eq(ldtap_parse_net_tcp(table, sockets, 2), 1);
    cr_assert_eq(sockets[0].port, 8081);
    cr_assert_eq(sockets[0].accept_queue, 2);
    cr_assert_eq(sockets[0].inode, 4242);
}

Test(process_stats, reads_own_process) {
    struct ldtap_process_stats stats;
    cr_assert(ldtap_process_stats_read(getpid(), 0, &stats));
    cr_assert_gt(stats.rss_bytes, 0);
    cr_assert_geq(stats.threads, 1);
    cr_assert_geq(stats.open_descriptors, 3);
    cr_assert_gt(stats.virtual_bytes, stats.rss_bytes);
    cr_assert_gt(stats.start_ticks, 0);
    cr_assert_geq(stats.uptime_seconds, 0);
    cr_assert_not(ldtap_process_stats_read(getpid(), stats.start_ticks + 1, &stats), "another start: pid reused");
}

static int listen_on_loopback(uint16_t *port) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(listener, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(listener, (struct sockaddr *)&address, sizeof address), 0);
    cr_assert_eq(listen(listener, 16), 0);
    socklen_t length = sizeof address;
    getsockname(listener, (struct sockaddr *)&address, &length);
    *port = ntohs(address.sin_port);
    return listener;
}

static int connect_to(uint16_t port) {
    int client = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(client, (struct sockaddr *)&address, sizeof address), 0);
    return client;
}

/* The accept queue of our listener on `port` in a fresh read; -1 when not listed. */
static int64_t queue_of(uint16_t port) {
    struct ldtap_process_stats stats;
    cr_assert(ldtap_process_stats_read(getpid(), 0, &stats));
    for (uint32_t i = 0; i < stats.listen_count; i++) {
        if (stats.listen[i].port == port) {
            return stats.listen[i].accept_queue;
        }
    }
    return -1;
}

Test(process_stats, listener_with_three_waiting_connections) {
    uint16_t port;
    int listener = listen_on_loopback(&port);
    int clients[3];
    for (int i = 0; i < 3; i++) {
        clients[i] = connect_to(port);
    }
    int64_t queue = queue_of(port);
    cr_assert_neq(queue, -1, "the listener on port %u is among the process's sockets", port);
    cr_assert_eq(queue, 3);
    for (int i = 0; i < 3; i++) {
        close(clients[i]);
    }
    close(listener);
}

/* Reads a whole small file into `buffer`. */
static void read_whole(const char *path, char *buffer, size_t size) {
    FILE *file = fopen(path, "r");
    cr_assert_not_null(file, "%s", path);
    size_t length = fread(buffer, 1, size - 1, file);
    buffer[length] = '\0';
    fclose(file);
}

static const struct ldtap_listen_socket *find_port(const struct ldtap_listen_socket *table, size_t count,
                                                   uint16_t port) {
    for (size_t i = 0; i < count; i++) {
        if (table[i].port == port) {
            return &table[i];
        }
    }
    return NULL;
}

Test(process_stats, sock_diag_sees_what_proc_net_tcp_shows) {
    cr_assert(ldtap_shares_network_namespace(getpid()));
    uint16_t port;
    int listener = listen_on_loopback(&port);
    int client = connect_to(port);

    static struct ldtap_listen_socket from_kernel[1024], from_proc[1024];
    ssize_t kernel_count = ldtap_sock_diag_listeners(from_kernel, 1024);
    cr_assert_gt(kernel_count, 0);
    static char text[1 << 20];
    read_whole("/proc/self/net/tcp", text, sizeof text);
    size_t proc_count = ldtap_parse_net_tcp(text, from_proc, 1024);
    const struct ldtap_listen_socket *ours = find_port(from_kernel, (size_t)kernel_count, port);
    const struct ldtap_listen_socket *theirs = find_port(from_proc, proc_count, port);
    cr_assert_not_null(ours, "sock_diag lists the listener on port %u", port);
    cr_assert_not_null(theirs);
    cr_assert_eq(ours->inode, theirs->inode);
    cr_assert_eq(ours->accept_queue, 1);
    cr_assert_eq(theirs->accept_queue, 1);
    for (ssize_t i = 0; i < kernel_count; i++) {
        cr_assert_neq(from_kernel[i].inode, 0, "only real listeners");
    }
    close(client);
    close(listener);
}

Test(process_stats, namespace_check_fails_for_a_missing_process) {
    cr_assert_not(ldtap_shares_network_namespace(0x7ffffff0), "no such process");
}

/* Reads after the first reuse what it found (no readlink of every descriptor) while the
 * namespace's listeners stay the same, and look again when they change. */
Test(process_stats, listeners_held_are_remembered_and_looked_at_again_on_change) {
    uint16_t first_port, second_port;
    int first = listen_on_loopback(&first_port);
    cr_assert_eq(queue_of(first_port), 0, "the full look finds it");
    int client = connect_to(first_port);
    cr_assert_eq(queue_of(first_port), 1, "the remembered listener shows its current queue");
    int second = listen_on_loopback(&second_port);
    cr_assert_eq(queue_of(second_port), 0, "a new listener in the namespace: looked at again");
    cr_assert_eq(queue_of(first_port), 1);
    close(client);
    close(first);
    cr_assert_eq(queue_of(first_port), -1, "a closed listener is gone");
    cr_assert_eq(queue_of(second_port), 0);
    close(second);
}
