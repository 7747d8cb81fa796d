/* Process-level behaviour under the shim (tests/e2e/shim_compat.sh): daemonizing, closing
 * every fd, vfork/posix_spawn, EINTR from the program's own handlers, fork beside threads.
 * Usage: process_games MODE   (exchange|daemon|closeall|spawn|eintr|forkthreads)
 * Each mode checks itself and prints what it saw; exit status 0 means every check held. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loopback_io.h"

extern char **environ;

static const char response_text[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static int failures;

static void expect(int condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "check failed: %s (errno %d)\n", what, errno);
        failures++;
    }
}

/* A connected pair through `listener`: *client from connect(), *server from accept(). */
static int connect_pair(int listener, int *client, int *server) {
    struct sockaddr_in address;
    socklen_t length = sizeof(address);
    if (getsockname(listener, (struct sockaddr *)&address, &length) != 0)
        return -1;
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (*client < 0 || connect(*client, (struct sockaddr *)&address, length) != 0)
        return -1;
    *server = accept(listener, NULL, NULL);
    return *server < 0 ? -1 : 0;
}

/* The client sends a request and the server reads it: an exchange is now in flight. */
static int send_request(int client, int server, const char *path) {
    char request[128], seen[128];
    int length = snprintf(request, sizeof(request), "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    if (write(client, request, (size_t)length) != length || read_exactly(server, seen, (size_t)length) != 0)
        return -1;
    return memcmp(request, seen, (size_t)length) == 0 ? 0 : -1;
}

/* The server answers and the client reads the answer byte for byte. */
static int send_response(int client, int server) {
    char seen[sizeof(response_text)];
    size_t length = sizeof(response_text) - 1;
    if (write(server, response_text, length) != (ssize_t)length || read_exactly(client, seen, length) != 0)
        return -1;
    return memcmp(seen, response_text, length) == 0 ? 0 : -1;
}

/* One whole traced exchange (a client span and a server span), then both ends closed. */
static int exchange(int listener, const char *path) {
    int client = -1, server = -1;
    int result = connect_pair(listener, &client, &server) == 0 && send_request(client, server, path) == 0 &&
                         send_response(client, server) == 0
                     ? 0
                     : -1;
    if (client >= 0)
        close(client);
    if (server >= 0)
        close(server);
    return result;
}

static int exchanges(int count, const char *path) {
    int listener = listen_loopback(&(struct sockaddr_in){0});
    int bad = listener < 0;
    for (int i = 0; i < count && !bad; i++)
        bad = exchange(listener, path) != 0;
    if (listener >= 0)
        close(listener);
    return bad ? -1 : 0;
}

static int mode_exchange(void) {
    expect(exchanges(20, "asan") == 0, "20 exchanges");
    printf("exchange: 20 done\n");
    return 0;
}

/* Classic daemon: fork, setsid, fork again, stdio onto /dev/null; the grandchild traces
 * and reports its pid and result through a pipe. */
static int mode_daemon(void) {
    int report[2];
    expect(pipe(report) == 0, "pipe");
    pid_t first = fork();
    if (first == 0) {
        setsid();
        if (fork() != 0)
            _exit(0);
        int null = open("/dev/null", O_RDWR);
        for (int fd = 0; fd <= 2; fd++)
            dup2(null, fd);
        close(null);
        close(report[0]);
        int message[2] = {(int)getpid(), exchanges(3, "daemon")};
        _exit(write(report[1], message, sizeof(message)) == (ssize_t)sizeof(message) ? 0 : 1);
    }
    close(report[1]);
    int status = -1, message[2] = {0, -1};
    expect(waitpid(first, &status, 0) == first && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "intermediate child exits 0");
    expect(read_exactly(report[0], (char *)message, sizeof(message)) == 0 && message[1] == 0,
           "daemon's exchanges");
    printf("daemon: grandchild %s, exchanges %s\n", message[0] > 1 ? "reported" : "silent",
           message[1] == 0 ? "ok" : "failed");
    return 0;
}

static int is_closed(int fd) { return fcntl(fd, F_GETFD) == -1 && errno == EBADF; }

/* close_range(3, ~0U, 0) and a close() loop with exchanges in flight, then tracing again. */
static int mode_closeall(void) {
    int listener = listen_loopback(&(struct sockaddr_in){0}), client, server;
    expect(connect_pair(listener, &client, &server) == 0 && send_request(client, server, "cut1") == 0,
           "exchange in flight");
    expect(syscall(SYS_close_range, 3u, 3u, CLOSE_RANGE_CLOEXEC) == 0 || errno == ENOSYS, "cloexec");
    int result = close_range(3, ~0U, 0);
    expect(result == 0, "close_range(3, ~0U, 0)");
    expect(is_closed(listener) && is_closed(client) && is_closed(server), "all closed");
    expect(exchanges(2, "after-range") == 0, "exchanges after close_range");

    listener = listen_loopback(&(struct sockaddr_in){0});
    expect(connect_pair(listener, &client, &server) == 0 && send_request(client, server, "cut2") == 0,
           "exchange in flight again");
    int closed = 0, bad_fd = 0;
    for (int fd = 3; fd < 1024; fd++) {
        errno = 0;
        if (close(fd) == 0)
            closed++;
        else if (errno == EBADF)
            bad_fd++;
    }
    expect(closed == 3 && bad_fd == 1021 - 3, "close loop: 3 closed, the rest EBADF");
    expect(exchanges(2, "after-loop") == 0, "exchanges after close loop");
    printf("closeall: close_range=%d loop closed=%d ebadf=%d\n", result, closed, bad_fd);
    return 0;
}

/* vfork() child closing and replacing traced fds (memory shared with us), posix_spawn with
 * file actions: the parent's exchanges in flight must still finish and trace. */
static int mode_spawn(void) {
    int listener = listen_loopback(&(struct sockaddr_in){0}), client, server;
    expect(connect_pair(listener, &client, &server) == 0 && send_request(client, server, "vfork") == 0,
           "exchange in flight");
    pid_t child = vfork();
    if (child == 0) {
        close(client);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, server);
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int status = -1;
    expect(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "vfork child ran /bin/true");
    expect(send_response(client, server) == 0, "exchange finishes after vfork");
    close(client);
    close(server);

    expect(connect_pair(listener, &client, &server) == 0 && send_request(client, server, "spawn") == 0,
           "exchange in flight");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addclose(&actions, client);
    posix_spawn_file_actions_adddup2(&actions, 1, server);
    char *arguments[] = {"echo", "spawned", NULL};
    pid_t spawned;
    expect(posix_spawn(&spawned, "/bin/echo", &actions, NULL, arguments, environ) == 0, "posix_spawn");
    posix_spawn_file_actions_destroy(&actions);
    expect(waitpid(spawned, &status, 0) == spawned && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "spawned echo exits 0");
    expect(send_response(client, server) == 0, "exchange finishes after posix_spawn");
    close(client);
    close(server);
    close(listener);
    printf("spawn: done\n");
    return 0;
}

static volatile sig_atomic_t alarms;

/* Clobbers errno on purpose: the interrupted call's errno is the kernel's, not ours. */
static void on_alarm(int signal_number) {
    (void)signal_number;
    alarms++;
    errno = ENOTTY;
}

static void install_alarm(int flags) {
    struct sigaction action = {.sa_handler = on_alarm, .sa_flags = flags};
    sigemptyset(&action.sa_mask);
    sigaction(SIGALRM, &action, NULL);
}

static void alarm_in_ms(int milliseconds) {
    struct itimerval timer = {.it_value = {0, milliseconds * 1000}};
    setitimer(ITIMER_REAL, &timer, NULL);
}

static void *respond_later(void *pair) {
    const int *fds = pair;
    usleep(300 * 1000);
    (void)!write(fds[1], response_text, sizeof(response_text) - 1);
    return NULL;
}

/* Blocking reads on traced sockets interrupted by the program's own SIGALRM handler. */
static int mode_eintr(void) {
    int listener = listen_loopback(&(struct sockaddr_in){0}), pair[2];
    expect(connect_pair(listener, &pair[0], &pair[1]) == 0 && send_request(pair[0], pair[1], "eintr") == 0,
           "exchange in flight");
    install_alarm(0);
    char buffer[256];
    struct iovec vector = {buffer, sizeof(buffer)};
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1};
    const char *names[] = {"read", "recv", "readv", "recvmsg", "accept"};
    for (int call = 0; call < 5; call++) {
        alarm_in_ms(100);
        errno = 0;
        long result = call == 0   ? read(pair[0], buffer, sizeof(buffer))
                      : call == 1 ? recv(pair[0], buffer, sizeof(buffer), 0)
                      : call == 2 ? readv(pair[0], &vector, 1)
                      : call == 3 ? recvmsg(pair[0], &message, 0)
                                  : accept(listener, NULL, NULL);
        int error = errno;
        printf("eintr: %s returned %ld errno %s\n", names[call], result, error == EINTR ? "EINTR" : "other");
        expect(result == -1 && error == EINTR, names[call]);
    }
    /* With SA_RESTART the interrupted read resumes and gets the whole response. */
    install_alarm(SA_RESTART);
    pthread_t responder;
    pthread_create(&responder, NULL, respond_later, pair);
    alarm_in_ms(100);
    size_t length = sizeof(response_text) - 1;
    ssize_t got = recv(pair[0], buffer, length, MSG_WAITALL);
    pthread_join(responder, NULL);
    expect(got == (ssize_t)length && memcmp(buffer, response_text, length) == 0, "restarted recv");
    printf("eintr: restarted recv got %zd bytes, alarms=%d\n", got, (int)alarms);
    close(pair[0]);
    close(pair[1]);
    close(listener);
    return 0;
}

#define WORKER_THREADS 4
#define WORKER_EXCHANGES 150
#define FORKS 30

static void *worker(void *unused) {
    (void)unused;
    return (void *)(intptr_t)exchanges(WORKER_EXCHANGES, "thread");
}

/* fork() from the main thread while workers move traced bytes: children must trace on
 * their own, nothing may hang, every exchange on every side must complete. */
static int mode_forkthreads(void) {
    pthread_t threads[WORKER_THREADS];
    for (int i = 0; i < WORKER_THREADS; i++)
        pthread_create(&threads[i], NULL, worker, NULL);
    int children_ok = 0;
    for (int i = 0; i < FORKS; i++) {
        pid_t child = fork();
        if (child == 0)
            _exit(exchanges(1, "child") == 0 ? 0 : 1);
        int status = -1;
        if (child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            children_ok++;
        usleep(5000);
    }
    int threads_ok = 0;
    for (int i = 0; i < WORKER_THREADS; i++) {
        void *result;
        pthread_join(threads[i], &result);
        threads_ok += result == NULL;
    }
    expect(children_ok == FORKS && threads_ok == WORKER_THREADS, "every child and thread exchange");
    printf("forkthreads: children ok %d/%d, threads ok %d/%d\n", children_ok, FORKS, threads_ok,
           WORKER_THREADS);
    return 0;
}

int main(int argc, char **argv) {
    static const struct {
        const char *name;
        int (*run)(void);
    } modes[] = {{"exchange", mode_exchange}, {"daemon", mode_daemon},         {"closeall", mode_closeall},
                 {"spawn", mode_spawn},       {"eintr", mode_eintr},           {"forkthreads", mode_forkthreads}};
    setvbuf(stdout, NULL, _IONBF, 0);
    for (size_t i = 0; argc == 2 && i < sizeof(modes) / sizeof(modes[0]); i++)
        if (strcmp(argv[1], modes[i].name) == 0)
            return modes[i].run() != 0 || failures != 0;
    fprintf(stderr, "usage: %s exchange|daemon|closeall|spawn|eintr|forkthreads\n", argv[0]);
    return 2;
}
