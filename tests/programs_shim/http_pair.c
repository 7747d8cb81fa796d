/* Exercises the shim in one process over loopback: errno preservation, pipelined
 * requests through writev/recvmsg, byte-at-a-time reads, sendfile, 100-continue, dup,
 * close_range, a request left unanswered, non-HTTP bytes, and a forked child's own ring.
 * Usage: http_pair PORT. Exits non-zero on a failed check; tests/e2e/shim_basics.sh then
 * inspects the rings. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(condition)                                                                   \
    do {                                                                                   \
        if (!(condition)) {                                                                \
            fprintf(stderr, "http_pair: line %d: check failed: %s\n", __LINE__, #condition); \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

static int listener;
static struct sockaddr_in address;

/* A connected pair: *server accepted, *client connected (non-blocking connect). */
static void connect_pair(int *server, int *client) {
    *client = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    errno = 0;
    int result = connect(*client, (struct sockaddr *)&address, sizeof(address));
    CHECK(result == 0 || errno == EINPROGRESS);
    *server = accept4(listener, NULL, NULL, 0);
    CHECK(*server >= 0);
    fcntl(*client, F_SETFL, 0);
}

static void send_all(int fd, const char *text) {
    size_t length = strlen(text);
    while (length > 0) {
        ssize_t sent = send(fd, text, length, 0);
        if (sent <= 0)
            return;
        text += sent;
        length -= (size_t)sent;
    }
}

/* Reads the bytes `expected` one at a time (partial reads) and compares them. */
static void expect(int fd, const char *expected) {
    char got[512];
    size_t length = strlen(expected);
    for (size_t i = 0; i < length; i++)
        CHECK(read(fd, got + i, 1) == 1);
    CHECK(memcmp(got, expected, length) == 0);
}

static void pipelined(void) {
    int server, client;
    connect_pair(&server, &client);
    const char *first = "GET /one?secret=1 HTTP/1.1\r\nHost: a\r\nAuthorization: x\r\n\r\n";
    const char *second = "GET /two HTTP/1.1\r\nHost: a\r\n\r\n";
    struct iovec requests[2] = {{(void *)first, strlen(first)}, {(void *)second, strlen(second)}};
    CHECK(writev(client, requests, 2) == (ssize_t)(strlen(first) + strlen(second)));
    char buffer[512];
    size_t wanted = strlen(first) + strlen(second), got = 0;
    while (got < wanted) {
        struct iovec piece = {buffer + got, 7}; /* odd sizes split lines */
        struct msghdr message = {.msg_iov = &piece, .msg_iovlen = 1};
        ssize_t count = recvmsg(server, &message, 0);
        CHECK(count > 0);
        if (count <= 0)
            break;
        got += (size_t)count;
    }
    const char *response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    send_all(server, response);
    send_all(server, response);
    expect(client, response);
    expect(client, response);
    /* errno untouched by a successful close of a tracked fd */
    errno = ENOTTY;
    CHECK(close(client) == 0 && errno == ENOTTY);
    /* EAGAIN from a tracked non-blocking socket reaches the program intact */
    fcntl(server, F_SETFL, O_NONBLOCK);
    errno = 0;
    CHECK(recv(server, buffer, sizeof(buffer), 0) == 0 || errno == 0);
    close(server);
}

static void with_sendfile(void) {
    int server, client;
    connect_pair(&server, &client);
    send_all(client, "GET /file HTTP/1.1\r\nHost: a\r\n\r\n");
    char buffer[256];
    CHECK(recv(server, buffer, sizeof(buffer), 0) > 0);
    char path[] = "/tmp/http_pair_XXXXXX";
    int file = mkstemp(path);
    CHECK(write(file, "0123456789", 10) == 10);
    unlink(path);
    send_all(server, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    off_t offset = 0;
    CHECK(sendfile(server, file, &offset, 10) == 10);
    close(file);
    expect(client, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
    close(client);
    close(server);
}

static void with_continue(void) {
    int server, client;
    connect_pair(&server, &client);
    send_all(client, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    char buffer[256];
    CHECK(recv(server, buffer, sizeof(buffer), 0) > 0);
    send_all(server, "HTTP/1.1 100 Continue\r\n\r\n");
    expect(client, "HTTP/1.1 100 Continue\r\n\r\n");
    send_all(client, "abc");
    expect(server, "abc");
    send_all(server, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    expect(client, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    close(client);
    close(server);
}

/* A dup'd connection is no longer traced: no span for the request below. */
static void duplicated(void) {
    int server, client;
    connect_pair(&server, &client);
    int copy = dup(server);
    send_all(client, "GET /dup HTTP/1.1\r\nHost: a\r\n\r\n");
    char buffer[256];
    CHECK(recv(server, buffer, sizeof(buffer), 0) > 0);
    send_all(server, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    expect(client, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    close(copy);
    close(client);
    close(server);
}

/* Requests never answered: closed by close_range. Both sides report NO_RESPONSE. */
static void unanswered(void) {
    int server, client;
    connect_pair(&server, &client);
    send_all(client, "GET /unanswered HTTP/1.1\r\nHost: a\r\n\r\n");
    char buffer[256];
    CHECK(recv(server, buffer, sizeof(buffer), 0) > 0);
    int low = server < client ? server : client, high = server < client ? client : server;
    CHECK(close_range((unsigned)low, (unsigned)high, 0) == 0);
}

static void not_http(void) {
    int server, client;
    connect_pair(&server, &client);
    send_all(client, "\x16\x03\x01 this is not http at all\r\n\r\n");
    char buffer[256];
    CHECK(recv(server, buffer, sizeof(buffer), 0) > 0);
    close(client);
    close(server);
}

/* The child of fork() writes its span to its own ring. */
static void forked(void) {
    pid_t child = fork();
    if (child == 0) {
        failures = 0;
        int server, client;
        connect_pair(&server, &client);
        send_all(client, "GET /child HTTP/1.1\r\nHost: a\r\n\r\n");
        char buffer[256];
        CHECK(recv(server, buffer, sizeof(buffer), 0) > 0);
        send_all(server, "HTTP/1.1 204 No Content\r\n\r\n");
        expect(client, "HTTP/1.1 204 No Content\r\n\r\n");
        close(client);
        close(server);
        _exit(failures != 0);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)atoi(argv[1]));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(listener, 16) != 0) {
        perror("http_pair: listen");
        return 2;
    }
    pipelined();
    with_sendfile();
    with_continue();
    duplicated();
    unanswered();
    not_http();
    forked();
    return failures != 0;
}
