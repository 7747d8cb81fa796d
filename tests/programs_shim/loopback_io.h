/* Blocking socket helpers shared by the shim's test programs: whole reads and writes that
 * restart after EINTR (async-signal-safe: signal handlers use them), and a listener on an
 * ephemeral loopback port. */
#ifndef LDTAP_TEST_LOOPBACK_IO_H
#define LDTAP_TEST_LOOPBACK_IO_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

/* Reads exactly `length` bytes; -1 on error or early end of stream. */
static inline int read_exactly(int fd, char *buffer, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t count = read(fd, buffer + done, length - done);
        if (count < 0 && errno == EINTR)
            continue;
        if (count <= 0)
            return -1;
        done += (size_t)count;
    }
    return 0;
}

/* Writes all `length` bytes; -1 on error. */
static inline int write_all(int fd, const char *text, size_t length) {
    while (length > 0) {
        ssize_t count = write(fd, text, length);
        if (count < 0 && errno == EINTR)
            continue;
        if (count <= 0)
            return -1;
        text += count;
        length -= (size_t)count;
    }
    return 0;
}

/* A close-on-exec listener on 127.0.0.1 at a port the kernel picks, written to `address`;
 * -1 on failure. Never inlined: a caller that vforks would have its locals clobbered. */
static __attribute__((noinline, unused)) int listen_loopback(struct sockaddr_in *address) {
    socklen_t length = sizeof(*address);
    *address = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)address, sizeof(*address)) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)address, &length) != 0)
        return -1;
    return fd;
}

#endif
