/* Benchmark for callgrind (scripts/bench.sh): N send+recv pairs of 64 bytes on an untracked
 * socketpair, or N HTTP/1.1 keep-alive exchanges on a traced 127.0.0.1 TCP connection where
 * this one process is both the client and the server. Usage: bench_socket_calls N untracked|http */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char request[] = "GET /bench/items HTTP/1.1\r\n"
                              "Host: 127.0.0.1\r\n"
                              "User-Agent: ldtap-bench\r\n"
                              "\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 2\r\n"
                               "\r\n"
                               "ok";

static void fail(const char *what) {
    perror(what);
    exit(1);
}

static void send_all(int fd, const char *bytes, size_t length) {
    while (length > 0) {
        ssize_t sent = send(fd, bytes, length, 0);
        if (sent <= 0)
            fail("send");
        bytes += sent;
        length -= (size_t)sent;
    }
}

/* Blocking sockets and messages far smaller than the socket buffers: one process can play
 * both sides without deadlock, and each side reads exactly what the other wrote. */
static void recv_exactly(int fd, char *buffer, size_t length) {
    size_t received = 0;
    while (received < length) {
        ssize_t got = recv(fd, buffer + received, length - received, 0);
        if (got <= 0)
            fail("recv");
        received += (size_t)got;
    }
}

static void run_untracked(long iterations) {
    int pair[2];
    char payload[64], buffer[64];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
        fail("socketpair");
    memset(payload, 'x', sizeof payload);
    for (long i = 0; i < iterations; i++) {
        send_all(pair[0], payload, sizeof payload);
        recv_exactly(pair[1], buffer, sizeof buffer);
    }
    close(pair[0]);
    close(pair[1]);
}

static void run_http(long iterations) {
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t address_length = sizeof address;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(listener, 1) != 0 || getsockname(listener, (struct sockaddr *)&address, &address_length) != 0)
        fail("listen");
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (client < 0 || connect(client, (struct sockaddr *)&address, sizeof address) != 0)
        fail("connect");
    int server = accept(listener, NULL, NULL);
    if (server < 0)
        fail("accept");

    char buffer[sizeof request + sizeof response];
    for (long i = 0; i < iterations; i++) {
        send_all(client, request, sizeof request - 1);
        recv_exactly(server, buffer, sizeof request - 1);
        send_all(server, response, sizeof response - 1);
        recv_exactly(client, buffer, sizeof response - 1);
    }
    close(client);
    close(server);
    close(listener);
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    if (argc != 3 || iterations <= 0) {
        fprintf(stderr, "usage: %s N untracked|http\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[2], "untracked") == 0)
        run_untracked(iterations);
    else if (strcmp(argv[2], "http") == 0)
        run_http(iterations);
    else {
        fprintf(stderr, "unknown mode %s\n", argv[2]);
        return 2;
    }
    return 0;
}
