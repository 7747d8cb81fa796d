/* /proc readers for per-process metrics: stat and status for memory, CPU and threads,
 * fd/ for descriptors and socket inodes, and the listeners' accept queues (sock_diag, or
 * net/tcp{,6} for a process in another network namespace). */
#include "process_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "sock_diag.h"

/* /proc/net/tcp of a busy host can be megabytes; past this the rest is not read. */
#define NET_TABLE_MAX_BYTES (32u * 1024u * 1024u)

bool ldtap_parse_proc_stat(const char *text, long ticks_per_second, struct ldtap_process_stats *stats) {
    /* The command name (field 2) may hold spaces and ')': fields start after the last ')'. */
    const char *cursor = strrchr(text, ')');
    if (!cursor || cursor[1] != ' ' || ticks_per_second <= 0) {
        return false;
    }
    cursor += 2;
    unsigned long long values[25] = {0};
    int field = 3;
    for (; field <= 24 && *cursor; field++) {
        if (field > 3) { /* field 3 is the state letter */
            char *end;
            values[field] = strtoull(cursor, &end, 10);
            if (end == cursor) {
                return false;
            }
            cursor = end;
        } else {
            while (*cursor && *cursor != ' ') {
                cursor++;
            }
        }
        while (*cursor == ' ') {
            cursor++;
        }
    }
    if (field <= 24) {
        return false;
    }
    stats->user_seconds = (double)values[14] / (double)ticks_per_second;
    stats->system_seconds = (double)values[15] / (double)ticks_per_second;
    stats->threads = (uint32_t)values[20];
    stats->start_ticks = values[22];
    stats->virtual_bytes = values[23];
    return true;
}

/* The number after "<key>:" at the start of a line of `text`, in its unit; false if absent. */
static bool status_value(const char *text, const char *key, uint64_t *value) {
    size_t key_length = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, key, key_length) == 0 && line[key_length] == ':') {
            char *end;
            unsigned long long number = strtoull(line + key_length + 1, &end, 10);
            if (end == line + key_length + 1) {
                return false;
            }
            *value = number;
            return true;
        }
    }
    return false;
}

bool ldtap_parse_proc_status(const char *text, struct ldtap_process_stats *stats) {
    uint64_t value;
    if (!status_value(text, "VmRSS", &value)) {
        return false;
    }
    stats->rss_bytes = value * 1024; /* the kernel always prints kB here */
    if (stats->virtual_bytes == 0 && status_value(text, "VmSize", &value)) {
        stats->virtual_bytes = value * 1024;
    }
    if (stats->threads == 0 && status_value(text, "Threads", &value)) {
        stats->threads = (uint32_t)value;
    }
    return true;
}

/* Parses "hex:hex" at *cursor; advances past it. */
static bool hex_pair(const char **cursor, unsigned long long *first, unsigned long long *second) {
    char *end;
    *first = strtoull(*cursor, &end, 16);
    if (end == *cursor || *end != ':') {
        return false;
    }
    const char *start = end + 1;
    *second = strtoull(start, &end, 16);
    if (end == start) {
        return false;
    }
    *cursor = end;
    return true;
}

/* One row: "sl: local rem st tx:rx tr:when retrnsmt uid timeout inode ...". */
static bool parse_tcp_row(const char *line, struct ldtap_listen_socket *socket) {
    const char *cursor = strchr(line, ':'); /* after the slot number */
    if (!cursor) {
        return false;
    }
    cursor++;
    while (*cursor == ' ') {
        cursor++;
    }
    const char *colon = strchr(cursor, ' ');
    if (!colon) {
        return false;
    }
    /* local address: hex address, ':', hex port */
    const char *port_text = memchr(cursor, ':', (size_t)(colon - cursor));
    if (!port_text) {
        return false;
    }
    unsigned long port = strtoul(port_text + 1, NULL, 16);
    char *end;
    cursor = colon;
    while (*cursor == ' ') {
        cursor++;
    }
    cursor = strchr(cursor, ' '); /* skip the remote address */
    if (!cursor) {
        return false;
    }
    unsigned long state = strtoul(cursor, &end, 16);
    if (end == cursor || state != 0x0A) {
        return false;
    }
    cursor = end;
    while (*cursor == ' ') {
        cursor++;
    }
    unsigned long long transmit, receive, ignored_first, ignored_second;
    (void)transmit;
    if (!hex_pair(&cursor, &transmit, &receive)) {
        return false;
    }
    while (*cursor == ' ') {
        cursor++;
    }
    if (!hex_pair(&cursor, &ignored_first, &ignored_second)) { /* tr:tm->when */
        return false;
    }
    /* retrnsmt, uid, timeout, then the inode: all decimal except retrnsmt (hex). */
    for (int skipped = 0; skipped < 3; skipped++) {
        while (*cursor == ' ') {
            cursor++;
        }
        while (*cursor && *cursor != ' ' && *cursor != '\n') {
            cursor++;
        }
    }
    unsigned long long inode = strtoull(cursor, &end, 10);
    if (end == cursor || port > 0xffff) {
        return false;
    }
    *socket = (struct ldtap_listen_socket){.inode = inode,
                                           .port = (uint16_t)port,
                                           .accept_queue = (uint32_t)receive};
    return true;
}

size_t ldtap_parse_net_tcp(const char *text, struct ldtap_listen_socket *sockets, size_t capacity) {
    size_t count = 0;
    const char *line = strchr(text, '\n'); /* the first line is the column titles */
    while (line && count < capacity) {
        line++;
        if (*line && parse_tcp_row(line, &sockets[count])) {
            count++;
        }
        line = strchr(line, '\n');
    }
    return count;
}

/* Reads a whole /proc file (NUL-terminated) into a malloc'd buffer; NULL on failure. */
static char *read_text(const char *path, size_t limit) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    size_t capacity = 4096, used = 0;
    char *text = malloc(capacity);
    while (text) {
        if (capacity - used < 2) {
            char *grown = capacity < limit ? realloc(text, capacity * 2) : NULL;
            if (!grown) {
                break; /* at the limit: what was read so far is used */
            }
            text = grown;
            capacity *= 2;
        }
        ssize_t got = read(fd, text + used, capacity - used - 1);
        if (got <= 0) {
            break;
        }
        used += (size_t)got;
    }
    close(fd);
    if (text) {
        text[used] = '\0';
    }
    return text;
}

static void read_listeners(int32_t pid, struct ldtap_listen_socket *table, size_t *count, size_t capacity) {
    /* In our own namespace the kernel dumps just the listeners; /proc/<pid>/net/tcp prints
     * every socket (megabytes on a busy host, every second for every traced process). */
    if (ldtap_shares_network_namespace(pid)) {
        ssize_t found = ldtap_sock_diag_listeners(table, capacity);
        if (found >= 0) {
            *count = (size_t)found;
            return;
        }
    }
    static const char *const files[] = {"tcp", "tcp6"};
    for (size_t i = 0; i < 2 && *count < capacity; i++) {
        char path[64];
        /* The process's own namespace: a containerised program's sockets are not in ours. */
        snprintf(path, sizeof path, "/proc/%d/net/%s", (int)pid, files[i]);
        char *text = read_text(path, NET_TABLE_MAX_BYTES);
        if (text) {
            *count += ldtap_parse_net_tcp(text, table + *count, capacity - *count);
            free(text);
        }
    }
}

/* Adds a matched listener, merging sockets on the same port (tcp and tcp6, SO_REUSEPORT):
 * connections waiting on any of them wait for this process. */
static void add_listener(struct ldtap_process_stats *stats, struct ldtap_listen_socket *socket) {
    for (uint32_t i = 0; i < stats->listen_count; i++) {
        if (stats->listen[i].port == socket->port) {
            stats->listen[i].accept_queue += socket->accept_queue;
            return;
        }
    }
    if (stats->listen_count < LDTAP_PROCESS_MAX_LISTEN) {
        stats->listen[stats->listen_count++] = *socket;
    }
}

/*
 * Which listening sockets a process holds changes rarely, yet finding out takes a readlink
 * of every descriptor it has: thousands a second for a server with thousands of
 * connections. So what a full look found is remembered per process, and the descriptors
 * are read link by link again only when the namespace's set of listeners changed (one was
 * opened or closed anywhere), or after a minute (a listener passed over a socket).
 */
#define HELD_MEMO_SLOTS 64
#define HELD_INODES_MAX 64
#define HELD_RECHECK_NS (60ull * 1000000000ull)

struct held_listeners {
    int32_t pid;
    uint64_t start_ticks;
    uint64_t listeners_signature; /* of the namespace's listeners at the full look */
    uint64_t looked_at_ns;
    uint32_t count;
    uint64_t inodes[HELD_INODES_MAX];
};

static struct held_listeners held_memo[HELD_MEMO_SLOTS];
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;

/* Independent of the order the kernel lists them in. */
static uint64_t listeners_signature(const struct ldtap_listen_socket *listeners, size_t count) {
    uint64_t signature = count;
    for (size_t i = 0; i < count; i++) {
        uint64_t mixed = (listeners[i].inode + 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
        signature += mixed ^ (mixed >> 31);
    }
    return signature;
}

static struct held_listeners *held_slot_locked(int32_t pid, uint64_t start_ticks) {
    struct held_listeners *oldest = &held_memo[0];
    for (size_t i = 0; i < HELD_MEMO_SLOTS; i++) {
        if (held_memo[i].pid == pid && held_memo[i].start_ticks == start_ticks) {
            return &held_memo[i];
        }
        if (held_memo[i].looked_at_ns < oldest->looked_at_ns) {
            oldest = &held_memo[i];
        }
    }
    return oldest;
}

/* Copies what a full look at `pid` found, if it still holds. */
static bool recall_held(int32_t pid, uint64_t start_ticks, uint64_t signature, uint64_t now_ns,
                        struct held_listeners *out) {
    pthread_mutex_lock(&held_lock);
    struct held_listeners *slot = held_slot_locked(pid, start_ticks);
    bool valid = slot->pid == pid && slot->start_ticks == start_ticks && slot->listeners_signature == signature &&
                 now_ns - slot->looked_at_ns < HELD_RECHECK_NS;
    if (valid) {
        *out = *slot;
    }
    pthread_mutex_unlock(&held_lock);
    return valid;
}

static void remember_held(const struct held_listeners *found) {
    pthread_mutex_lock(&held_lock);
    *held_slot_locked(found->pid, found->start_ticks) = *found;
    pthread_mutex_unlock(&held_lock);
}

static bool is_held(const struct held_listeners *held, uint64_t inode) {
    for (uint32_t i = 0; i < held->count; i++) {
        if (held->inodes[i] == inode) {
            return true;
        }
    }
    return false;
}

/* Counts descriptors and, with `held` non-NULL, matches socket inodes against the
 * listening sockets, noting the matches in `held` (count HELD_INODES_MAX + 1: too many). */
static bool read_descriptors(int32_t pid, struct ldtap_listen_socket *listeners, size_t listener_count,
                             struct ldtap_process_stats *stats, struct held_listeners *held) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *directory = opendir(path);
    if (!directory) {
        return false;
    }
    uint32_t count = 0;
    for (struct dirent *entry; (entry = readdir(directory));) {
        if (entry->d_name[0] == '.') {
            continue;
        }
        count++;
        if (listener_count == 0 || !held) {
            continue;
        }
        char target[64];
        ssize_t length = readlinkat(dirfd(directory), entry->d_name, target, sizeof target - 1);
        if (length <= 8 || strncmp(target, "socket:[", 8) != 0) {
            continue;
        }
        target[length] = '\0';
        unsigned long long inode = strtoull(target + 8, NULL, 10);
        for (size_t i = 0; i < listener_count; i++) {
            if (listeners[i].inode == inode && inode != 0) {
                add_listener(stats, &listeners[i]);
                if (held->count < HELD_INODES_MAX) {
                    held->inodes[held->count] = inode;
                }
                held->count += held->count <= HELD_INODES_MAX;
                listeners[i].inode = 0; /* a dup'ed descriptor must not count it twice */
                break;
            }
        }
    }
    closedir(directory);
    stats->open_descriptors = count;
    return true;
}

bool ldtap_process_stats_read(int32_t pid, uint64_t start_ticks, struct ldtap_process_stats *stats) {
    memset(stats, 0, sizeof *stats);
    if (pid <= 0) {
        return false;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *stat_text = read_text(path, 64 * 1024);
    long ticks_per_second = sysconf(_SC_CLK_TCK);
    bool ok = stat_text && ldtap_parse_proc_stat(stat_text, ticks_per_second, stats);
    free(stat_text);
    if (!ok || (start_ticks != 0 && stats->start_ticks != start_ticks)) {
        return false; /* gone, or the pid now belongs to another process */
    }
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *status_text = read_text(path, 64 * 1024);
    ok = status_text && ldtap_parse_proc_status(status_text, stats);
    free(status_text);
    if (!ok) {
        return false;
    }
    struct timespec boot;
    clock_gettime(CLOCK_BOOTTIME, &boot); /* stat's start time counts from boot */
    double uptime = (double)boot.tv_sec + (double)boot.tv_nsec / 1e9 - (double)stats->start_ticks / ticks_per_second;
    stats->uptime_seconds = uptime > 0 ? uptime : 0;

    enum { MAX_LISTENERS = 256 }; /* the host's listening sockets, not only this process's */
    struct ldtap_listen_socket *listeners = malloc(MAX_LISTENERS * sizeof *listeners);
    size_t listener_count = 0;
    if (listeners) {
        read_listeners(pid, listeners, &listener_count, MAX_LISTENERS);
    }
    uint64_t signature = listeners_signature(listeners, listener_count), now = ldtap_monotonic_ns();
    struct held_listeners held;
    if (listener_count > 0 && recall_held(pid, stats->start_ticks, signature, now, &held)) {
        ok = read_descriptors(pid, NULL, 0, stats, NULL);
        for (size_t i = 0; i < listener_count; i++) {
            if (listeners[i].inode != 0 && is_held(&held, listeners[i].inode)) {
                add_listener(stats, &listeners[i]);
            }
        }
    } else {
        held = (struct held_listeners){
            .pid = pid, .start_ticks = stats->start_ticks, .listeners_signature = signature, .looked_at_ns = now};
        ok = read_descriptors(pid, listeners, listener_count, stats, &held);
        if (ok && listener_count > 0 && held.count <= HELD_INODES_MAX) {
            remember_held(&held);
        }
    }
    free(listeners);
    return ok;
}
