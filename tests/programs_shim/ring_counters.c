/* Prints a ring file's header counters without taking anything out of the ring (ring_dump
 * consumes what it prints), for the reliability tests: what the process committed and
 * dropped, and how far a collector has read. Usage: ring_counters FILE...
 * One line per file: "pid=P committed=C dropped_ring_full=D dropped_too_large=L head=H tail=T". */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "ldtap_ring_abi.h"

static int print_counters(const char *path) {
    struct ldtap_ring_header header;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        perror(path);
        return -1;
    }
    ssize_t got = pread(fd, &header, sizeof(header), 0);
    close(fd);
    if (got != (ssize_t)sizeof(header) || header.magic != LDTAP_RING_MAGIC ||
        header.abi_version != LDTAP_RING_ABI_VERSION) {
        fprintf(stderr, "%s: not a ring of ABI version %u\n", path, LDTAP_RING_ABI_VERSION);
        return -1;
    }
    printf("pid=%d committed=%llu dropped_ring_full=%llu dropped_too_large=%llu head=%llu tail=%llu\n",
           (int)header.pid, (unsigned long long)header.committed_records,
           (unsigned long long)header.dropped_ring_full, (unsigned long long)header.dropped_too_large,
           (unsigned long long)header.head, (unsigned long long)header.tail);
    return 0;
}

int main(int argc, char **argv) {
    int failures = 0;
    for (int i = 1; i < argc; i++)
        failures += print_counters(argv[i]) != 0;
    return argc < 2 || failures != 0;
}
