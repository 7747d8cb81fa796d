/* More process-level behaviour under the shim (tests/e2e/compat_exported.sh), beside
 * process_games.c: exec in a loop with traced work in every image, the program's own signal
 * handlers (a SIGCHLD reaper, the self-pipe trick, SIGPIPE, sigwaitinfo, a connect interrupted
 * by SIGALRM, and a timer whose handler makes whole HTTP exchanges while the main loop makes
 * its own), and closing every descriptor up to the real limit with the heap sampler busy
 * afterwards.
 * Usage: compat_games execloop GENERATIONS | signals | closelimit
 * Each mode checks itself and prints only what does not depend on timing; exit status 0
 * means every check held. Request paths (/exec, /child, /main, /handler, /pipe, /queued,
 * /interrupted, /cut, /after) let the test count the exported spans of each part. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loopback_io.h"

static int failures;

static void expect(int condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "check failed: %s (errno %d)\n", what, errno);
        failures++;
    }
}

/* accept() restarted by hand: SIGCHLD and SIGALRM handlers run during these modes. */
static int accept_retrying(int listener) {
    int fd;
    while ((fd = accept(listener, NULL, NULL)) < 0 && errno == EINTR)
        ;
    return fd;
}

static int connect_retrying(int fd, const struct sockaddr_in *address) {
    if (connect(fd, (const struct sockaddr *)address, sizeof(*address)) == 0)
        return 0;
    if (errno != EINTR)
        return -1;
    /* An interrupted connect goes on in the background: wait until it is writable. */
    struct pollfd wait_for = {.fd = fd, .events = POLLOUT};
    int error = 0;
    socklen_t length = sizeof(error);
    while (poll(&wait_for, 1, -1) < 0 && errno == EINTR)
        ;
    return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0 ? 0 : -1;
}

static const char response_text[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* A request for `path` (a fixed string) on a connection of its own, answered and checked. */
static int exchange(int listener, const struct sockaddr_in *address, const char *request,
                    size_t request_length) {
    char seen[128];
    size_t response_length = sizeof(response_text) - 1;
    int server = -1, client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int result = client >= 0 && connect_retrying(client, address) == 0 &&
                         (server = accept_retrying(listener)) >= 0 &&
                         write_all(client, request, request_length) == 0 &&
                         read_exactly(server, seen, request_length) == 0 &&
                         memcmp(seen, request, request_length) == 0 &&
                         write_all(server, response_text, response_length) == 0 &&
                         read_exactly(client, seen, response_length) == 0 &&
                         memcmp(seen, response_text, response_length) == 0
                     ? 0
                     : -1;
    if (client >= 0)
        close(client);
    if (server >= 0)
        close(server);
    return result;
}

#define REQUEST(path) "GET " path " HTTP/1.1\r\nHost: x\r\n\r\n"

static int exchanges(int count, const char *request) {
    struct sockaddr_in address;
    int listener = listen_loopback(&address), bad = listener < 0;
    for (int i = 0; i < count && !bad; i++)
        bad = exchange(listener, &address, request, strlen(request)) != 0;
    if (listener >= 0)
        close(listener);
    return bad ? -1 : 0;
}

/* One exchange per image, then exec of ourselves with one generation fewer. */
static int mode_execloop(const char *generations) {
    int left = atoi(generations);
    expect(exchanges(1, REQUEST("/exec")) == 0, "exchange in this image");
    if (failures != 0)
        return 1;
    if (left > 0) {
        char next[16];
        snprintf(next, sizeof(next), "%d", left - 1);
        execl("/proc/self/exe", "compat_games", "execloop", next, (char *)NULL);
        perror("execl");
        return 1;
    }
    printf("execloop: the last image ran; every image made its exchange\n");
    return 0;
}

static volatile sig_atomic_t children_reaped, children_failed, pipe_signals, timer_exchanges, timer_failures;
static int self_pipe[2] = {-1, -1};
static int timer_listener = -1;
static struct sockaddr_in timer_address;

static void on_child(int signal_number) {
    (void)signal_number;
    int saved_errno = errno, status;
    pid_t child;
    while ((child = waitpid(-1, &status, WNOHANG)) > 0) {
        children_reaped++;
        children_failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    errno = saved_errno;
}

static void on_user1(int signal_number) {
    int saved_errno = errno;
    char byte = (char)signal_number;
    (void)!write(self_pipe[1], &byte, 1);
    errno = saved_errno;
}

static void on_pipe(int signal_number) {
    (void)signal_number;
    pipe_signals++;
}

/* A whole traced exchange from inside a signal handler, interrupting the main loop's. */
static void on_timer(int signal_number) {
    (void)signal_number;
    int saved_errno = errno;
    static const char request[] = REQUEST("/handler");
    if (exchange(timer_listener, &timer_address, request, sizeof(request) - 1) == 0)
        timer_exchanges++;
    else
        timer_failures++;
    errno = saved_errno;
}

static void install(int signal_number, void (*handler)(int), int flags) {
    struct sigaction action = {.sa_handler = handler, .sa_flags = flags};
    sigemptyset(&action.sa_mask);
    expect(sigaction(signal_number, &action, NULL) == 0, "sigaction");
}

#define CHILDREN 10

/* Children that make an exchange each and are reaped by the program's SIGCHLD handler. */
static void reaped_children(void) {
    install(SIGCHLD, on_child, SA_RESTART | SA_NOCLDSTOP);
    sigset_t child_signal, previous;
    sigemptyset(&child_signal);
    sigaddset(&child_signal, SIGCHLD);
    for (int i = 0; i < CHILDREN; i++) {
        pid_t child = fork();
        if (child == 0)
            _exit(exchanges(1, REQUEST("/child")) == 0 ? 0 : 1);
        expect(child > 0, "fork");
    }
    sigprocmask(SIG_BLOCK, &child_signal, &previous);
    while (children_reaped < CHILDREN)
        sigsuspend(&previous);
    sigprocmask(SIG_SETMASK, &previous, NULL);
    expect(children_failed == 0, "children's exchanges");
    printf("signals: SIGCHLD handler reaped %d children, %d failed\n", (int)children_reaped,
           (int)children_failed);
    install(SIGCHLD, SIG_DFL, 0);
}

/* The self-pipe trick: the handler writes a byte, the main loop polls for it. */
static void self_pipe_signals(void) {
    expect(pipe2(self_pipe, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2");
    install(SIGUSR1, on_user1, SA_RESTART);
    int woken = 0;
    for (int i = 0; i < 5; i++) {
        expect(kill(getpid(), SIGUSR1) == 0, "kill SIGUSR1");
        struct pollfd readable = {.fd = self_pipe[0], .events = POLLIN};
        char byte = 0;
        if (poll(&readable, 1, 5000) == 1 && read(self_pipe[0], &byte, 1) == 1 && byte == SIGUSR1)
            woken++;
        expect(exchanges(1, REQUEST("/main")) == 0, "exchange between signals");
    }
    expect(woken == 5, "every signal woke the loop");
    printf("signals: self-pipe woke the loop %d times\n", woken);
    close(self_pipe[0]);
    close(self_pipe[1]);
}

/* Writing on a traced connection the peer has closed: EPIPE and the program's SIGPIPE
 * handler. The request announces a body that the writes then carry, so the connection
 * stays well-formed HTTP to the end. */
static void broken_pipe(void) {
    install(SIGPIPE, on_pipe, 0);
    struct sockaddr_in address;
    int listener = listen_loopback(&address);
    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    expect(listener >= 0 && client >= 0 && connect(client, (struct sockaddr *)&address, sizeof(address)) == 0,
           "connect");
    int server = accept(listener, NULL, NULL);
    static const char head[] = "POST /pipe HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
    char seen[sizeof(head)];
    expect(write_all(client, head, sizeof(head) - 1) == 0 &&
               read_exactly(server, seen, sizeof(head) - 1) == 0,
           "request head read");
    close(server);
    int error = 0;
    for (int i = 0; i < 100 && error != EPIPE; i++) {
        errno = 0;
        if (write(client, "body", 4) < 0)
            error = errno;
        else
            usleep(10 * 1000);
    }
    expect(error == EPIPE && pipe_signals > 0, "EPIPE and SIGPIPE");
    printf("signals: writing to a closed peer gave %s and the SIGPIPE handler ran\n",
           error == EPIPE ? "EPIPE" : "something else");
    close(client);
    close(listener);
    install(SIGPIPE, SIG_DFL, 0);
}

/* A blocked signal taken with sigwaitinfo, sent by a child. */
static void waited_signal(void) {
    sigset_t user2;
    sigemptyset(&user2);
    sigaddset(&user2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &user2, NULL);
    pid_t child = fork();
    if (child == 0)
        _exit(kill(getppid(), SIGUSR2) == 0 ? 0 : 1);
    siginfo_t info;
    int taken;
    while ((taken = sigwaitinfo(&user2, &info)) < 0 && errno == EINTR)
        ;
    int status = -1;
    waitpid(child, &status, 0);
    expect(taken == SIGUSR2 && info.si_pid == child, "sigwaitinfo");
    printf("signals: sigwaitinfo took SIGUSR2 from the child\n");
    sigprocmask(SIG_UNBLOCK, &user2, NULL);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int signal_number) {
    (void)signal_number;
    alarms++;
}

/* A blocking connect interrupted by the program's SIGALRM handler: the kernel goes on
 * connecting in the background (POSIX), the program polls for it and uses it. The listener's
 * accept queue (backlog 0: one connection) is full, so the SYN waits for its first
 * retransmission, about a second, while the alarm fires after 100 ms. */
static void interrupted_connect(void) {
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    expect(listener >= 0 && bind(listener, (struct sockaddr *)&address, sizeof(address)) == 0 &&
               listen(listener, 0) == 0 && getsockname(listener, (struct sockaddr *)&address, &length) == 0,
           "listener with a full queue");
    int queued = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    expect(connect(queued, (struct sockaddr *)&address, sizeof(address)) == 0, "the queued connection");
    install(SIGALRM, on_alarm, 0);
    struct itimerval in_100_ms = {.it_value = {0, 100 * 1000}};
    setitimer(ITIMER_REAL, &in_100_ms, NULL);
    int waiting = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    errno = 0;
    int result = connect(waiting, (struct sockaddr *)&address, sizeof(address));
    int error = errno;
    expect(result == -1 && error == EINTR && alarms == 1, "connect interrupted");
    static const char first[] = REQUEST("/queued"), second[] = REQUEST("/interrupted");
    int server = accept(listener, NULL, NULL), outcome = -1;
    char seen[128];
    size_t response_length = sizeof(response_text) - 1;
    if (server >= 0 && write_all(queued, first, sizeof(first) - 1) == 0 &&
        read_exactly(server, seen, sizeof(first) - 1) == 0 &&
        write_all(server, response_text, response_length) == 0 &&
        read_exactly(queued, seen, response_length) == 0) {
        close(server);
        struct pollfd writable = {.fd = waiting, .events = POLLOUT};
        int socket_error = -1;
        socklen_t error_length = sizeof(socket_error);
        if (poll(&writable, 1, 10000) == 1 &&
            getsockopt(waiting, SOL_SOCKET, SO_ERROR, &socket_error, &error_length) == 0 &&
            socket_error == 0 && (server = accept(listener, NULL, NULL)) >= 0 &&
            write_all(waiting, second, sizeof(second) - 1) == 0 &&
            read_exactly(server, seen, sizeof(second) - 1) == 0 &&
            write_all(server, response_text, response_length) == 0 &&
            read_exactly(waiting, seen, response_length) == 0 &&
            memcmp(seen, response_text, response_length) == 0)
            outcome = 0;
    }
    expect(outcome == 0, "exchange on the interrupted connection");
    printf("signals: connect interrupted by SIGALRM (%s), connected in the background, exchange %s\n",
           error == EINTR ? "EINTR" : "no EINTR", outcome == 0 ? "ok" : "failed");
    install(SIGALRM, SIG_DFL, 0);
    close(server);
    close(waiting);
    close(queued);
    close(listener);
}

#define MAIN_EXCHANGES 300

/* A 1 ms interval timer whose handler makes an exchange while the main loop makes its own. */
static void handler_exchanges(void) {
    timer_listener = listen_loopback(&timer_address);
    expect(timer_listener >= 0, "timer listener");
    install(SIGALRM, on_timer, 0); /* no SA_RESTART: the main loop sees EINTR and retries */
    struct itimerval every_millisecond = {.it_interval = {0, 1000}, .it_value = {0, 1000}};
    setitimer(ITIMER_REAL, &every_millisecond, NULL);
    int main_ok = exchanges(MAIN_EXCHANGES, REQUEST("/main")) == 0;
    struct itimerval stop = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &stop, NULL);
    install(SIGALRM, SIG_DFL, 0);
    expect(main_ok && timer_failures == 0, "main and handler exchanges");
    printf("signals: %d main-loop exchanges %s; handler exchanges %s\n", MAIN_EXCHANGES,
           main_ok ? "ok" : "failed", timer_failures == 0 ? "ok" : "failed");
    close(timer_listener);
}

static int mode_signals(void) {
    reaped_children();
    self_pipe_signals();
    broken_pipe();
    waited_signal();
    interrupted_connect();
    handler_exchanges();
    return 0;
}

/* Allocation churn of many sizes, so that a heap sampler takes stacks. */
static unsigned long churn(void) {
    unsigned long checksum = 0;
    for (int round = 0; round < 2000; round++) {
        size_t size = 64 + (size_t)(round % 97) * 331;
        unsigned char *block = malloc(size);
        if (block == NULL)
            return 0;
        memset(block, round & 0xff, size);
        checksum += block[size - 1];
        free(block);
    }
    return checksum;
}

/* Closes every descriptor up to the real limit (where the shim parks its own), with an
 * exchange in flight, then uses the heap and the network again. */
static int mode_closelimit(void) {
    struct sockaddr_in address;
    int listener = listen_loopback(&address);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    expect(listener >= 0 && client >= 0 && connect(client, (struct sockaddr *)&address, sizeof(address)) == 0,
           "connect");
    int server = accept(listener, NULL, NULL);
    static const char request[] = REQUEST("/cut");
    char seen[sizeof(request)];
    expect(write_all(client, request, sizeof(request) - 1) == 0 &&
               read_exactly(server, seen, sizeof(request) - 1) == 0,
           "request in flight");
    long limit = sysconf(_SC_OPEN_MAX);
    for (long fd = 3; fd < limit; fd++)
        close((int)fd);
    expect(fcntl(listener, F_GETFD) == -1 && fcntl(server, F_GETFD) == -1, "all closed");
    int first = open("/dev/null", O_RDONLY);
    expect(first == 3, "the lowest free descriptor is 3");
    close(first);
    unsigned long checksum = churn();
    int again = open("/dev/null", O_RDONLY);
    expect(again == 3, "still 3 after heap churn");
    close(again);
    expect(exchanges(3, REQUEST("/after")) == 0, "exchanges after closing everything");
    printf("closelimit: closed every descriptor below the limit; next open got %s twice; churn %lu; "
           "3 exchanges after\n",
           first == 3 && again == 3 ? "3" : "another number", checksum);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int result = 2;
    if (argc == 3 && strcmp(argv[1], "execloop") == 0)
        result = mode_execloop(argv[2]);
    else if (argc == 2 && strcmp(argv[1], "signals") == 0)
        result = mode_signals();
    else if (argc == 2 && strcmp(argv[1], "closelimit") == 0)
        result = mode_closelimit();
    else
        fprintf(stderr, "usage: %s execloop GENERATIONS | signals | closelimit\n", argv[0]);
    return result != 0 || failures != 0;
}
