/* A small traceable program for tests/e2e/security.sh: one HTTP/1.1 exchange with itself
 * over loopback (a server span and a client span when the shim is active), then one line
 * saying whether the process runs in secure-execution mode (AT_SECURE: setuid/setgid) and
 * which object `connect` resolves to (libldtap.so when the shim is loaded and interposing).
 * Usage: secure_probe   (exit 0 when the exchange worked) */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <unistd.h>

static const char request[] = "GET /probe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* Reads until `expected` bytes arrived or the peer closed; returns the byte count. */
static size_t read_all(int fd, char *buffer, size_t expected) {
    size_t total = 0;
    while (total < expected) {
        ssize_t count = read(fd, buffer + total, expected - total);
        if (count <= 0)
            break;
        total += (size_t)count;
    }
    return total;
}

static int exchange(void) {
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t address_length = sizeof address;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(listener, 1) != 0 || getsockname(listener, (struct sockaddr *)&address, &address_length) != 0)
        return -1;
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (client < 0 || connect(client, (struct sockaddr *)&address, sizeof address) != 0)
        return -1;
    int server = accept(listener, NULL, NULL);
    char buffer[256];
    int result = -1;
    if (server >= 0 && write(client, request, sizeof request - 1) == (ssize_t)(sizeof request - 1) &&
        read_all(server, buffer, sizeof request - 1) == sizeof request - 1 &&
        write(server, response, sizeof response - 1) == (ssize_t)(sizeof response - 1) &&
        read_all(client, buffer, sizeof response - 1) == sizeof response - 1 &&
        memcmp(buffer, response, sizeof response - 1) == 0)
        result = 0;
    close(client);
    if (server >= 0)
        close(server);
    close(listener);
    return result;
}

int main(void) {
    int result = exchange();
    Dl_info connect_origin = {0};
    /* The address `connect` has in this program: the first object in lookup order that
     * defines it, i.e. libldtap.so when it is interposed before libc. */
    if (dladdr((void *)connect, &connect_origin) == 0 || connect_origin.dli_fname == NULL)
        connect_origin.dli_fname = "?";
    printf("at_secure=%lu connect_from=%s exchange=%s\n", getauxval(AT_SECURE), connect_origin.dli_fname,
           result == 0 ? "ok" : "failed");
    return result == 0 ? 0 : 1;
}
