/* Test program for crash capture: an HTTP server on 127.0.0.1:PORT that dies while serving
 * its first request, in one of several ways. Prints "listening" when ready and the
 * address of the crashing function ("crash_function=0x...") on stderr.
 * Usage: http_crash PORT MODE   MODE: segv | handler | abort | thread | fork | fill
 *   segv:    NULL dereference in serve_request (default action)
 *   handler: the program's own SIGSEGV handler prints "program handler ran" and _exits 3;
 *            before, prints what sigaction(SIGSEGV, NULL, &old) reports
 *   abort:   abort() in serve_request
 *   thread:  the request is served, and crashes, on a second thread
 *   fork:    a forked child serves the request and crashes; the parent exits with the
 *            child's raw wait status / 256 (its signal number) after printing it
 *   fill:    first fills the ring through 3000 loopback HTTP exchanges, then segv */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *mode;

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, 16) != 0) {
        perror("bind/listen");
        exit(2);
    }
    return fd;
}

/* volatile: the compiler must not prove the dereference undefined and drop it. */
static int *volatile nowhere;

__attribute__((noinline)) static void serve_request(int fd) {
    char request[2048];
    ssize_t length = read(fd, request, sizeof(request));
    if (length <= 0)
        return;
    if (strcmp(mode, "abort") == 0)
        abort();
    *nowhere = 42;
    __asm__ volatile("" ::: "memory");
}

static void *serve_on_thread(void *argument) {
    serve_request(*(int *)argument);
    return NULL;
}

static void program_handler(int signal_number) {
    (void)signal_number;
    static const char message[] = "program handler ran\n";
    write(2, message, sizeof(message) - 1);
    _exit(3);
}

/* A client and a server connection over loopback, each exchange two spans. */
static void fill_ring(void) {
    int listener = listen_on(0);
    struct sockaddr_in address;
    socklen_t length = sizeof(address);
    getsockname(listener, (struct sockaddr *)&address, &length);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    connect(client, (struct sockaddr *)&address, sizeof(address));
    int server = accept(listener, NULL, NULL);
    static const char request[] = "GET /fill HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    char buffer[256];
    for (int i = 0; i < 3000; i++) {
        write(client, request, sizeof(request) - 1);
        read(server, buffer, sizeof(request) - 1);
        write(server, response, sizeof(response) - 1);
        read(client, buffer, sizeof(response) - 1);
    }
    close(client);
    close(server);
    close(listener);
}

int main(int argc, char **argv) {
    if (argc != 3)
        return 2;
    mode = argv[2];
    fprintf(stderr, "crash_function=%p\n", (void *)serve_request);
    if (strcmp(mode, "handler") == 0) {
        signal(SIGSEGV, program_handler);
        struct sigaction current;
        sigaction(SIGSEGV, NULL, &current);
        fprintf(stderr, "sigaction reports %s\n", current.sa_handler == program_handler ? "own handler" : "another");
    }
    if (strcmp(mode, "fill") == 0)
        fill_ring();
    int listener = listen_on(atoi(argv[1]));
    fprintf(stderr, "listening\n");
    int fd = accept(listener, NULL, NULL);
    if (strcmp(mode, "thread") == 0) {
        pthread_t thread;
        pthread_create(&thread, NULL, serve_on_thread, &fd);
        pthread_join(thread, NULL);
    } else if (strcmp(mode, "fork") == 0) {
        pid_t child = fork();
        if (child == 0) {
            serve_request(fd);
            _exit(0);
        }
        int status = 0;
        waitpid(child, &status, 0);
        fprintf(stderr, "child status signal=%d core=%d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                WIFSIGNALED(status) ? WCOREDUMP(status) != 0 : 0);
        return 0;
    } else {
        serve_request(fd);
    }
    return 0;
}
