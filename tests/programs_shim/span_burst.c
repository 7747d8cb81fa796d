/* Makes a known number of spans for the fault tests (tests/e2e/fault_*.sh): loopback HTTP
 * exchanges, each one client span and one server span, on THREADS threads at once.
 * Usage: span_burst [-t THREADS] [-w START_FILE] [-g GATE_FILE] EXCHANGES   (per thread)
 * With START_FILE nothing starts before that file exists, so that a test can start many
 * processes at once; with GATE_FILE each thread then waits until that file exists and makes
 * EXCHANGES more, so that a test can keep the process alive. Prints "exchanges=N body_bytes=B" and exits 0
 * when every response arrived intact, so its output is the same with and without the shim. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback_io.h"

/* One request and its response over a fresh connection; returns the body length received,
 * or -1 when anything differs from what was sent. */
static long exchange(int listener, const struct sockaddr_in *address, long number) {
    char request[128], seen[128], body[32], response[256], received[256];
    int request_length =
        snprintf(request, sizeof(request), "GET /burst/%ld HTTP/1.1\r\nHost: x\r\n\r\n", number);
    int body_length = snprintf(body, sizeof(body), "exchange %ld", number);
    int response_length = snprintf(response, sizeof(response),
                                   "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", body_length, body);
    long result = -1;
    int server = -1, client = socket(AF_INET, SOCK_STREAM, 0);
    if (client >= 0 && connect(client, (const struct sockaddr *)address, sizeof(*address)) == 0 &&
        (server = accept(listener, NULL, NULL)) >= 0 &&
        write_all(client, request, (size_t)request_length) == 0 &&
        read_exactly(server, seen, (size_t)request_length) == 0 &&
        memcmp(seen, request, (size_t)request_length) == 0 &&
        write_all(server, response, (size_t)response_length) == 0 &&
        read_exactly(client, received, (size_t)response_length) == 0 &&
        memcmp(received, response, (size_t)response_length) == 0)
        result = body_length;
    if (client >= 0)
        close(client);
    if (server >= 0)
        close(server);
    return result;
}

static int run_exchanges(long count, long first, long *body_bytes) {
    struct sockaddr_in address;
    int listener = listen_loopback(&address);
    if (listener < 0) {
        perror("span_burst: listen");
        return -1;
    }
    for (long i = 0; i < count; i++) {
        long received = exchange(listener, &address, first + i);
        if (received < 0) {
            fprintf(stderr, "span_burst: exchange %ld failed\n", first + i);
            close(listener);
            return -1;
        }
        *body_bytes += received;
    }
    close(listener);
    return 0;
}

struct burst {
    long count;
    const char *gate; /* NULL: no second round */
    pthread_t thread;
    long exchanges, body_bytes;
    int result;
};

static void wait_for_file(const char *path) {
    while (access(path, F_OK) != 0)
        usleep(10 * 1000);
}

static void *run_burst(void *argument) {
    struct burst *burst = argument;
    burst->result = run_exchanges(burst->count, 0, &burst->body_bytes);
    burst->exchanges = burst->count;
    if (burst->result == 0 && burst->gate != NULL) {
        wait_for_file(burst->gate);
        burst->result = run_exchanges(burst->count, burst->count, &burst->body_bytes);
        burst->exchanges += burst->count;
    }
    return NULL;
}

int main(int argc, char **argv) {
    long threads = 1;
    const char *gate = NULL, *start = NULL;
    for (int option; (option = getopt(argc, argv, "t:w:g:")) != -1;) {
        if (option == 't')
            threads = strtol(optarg, NULL, 10);
        else if (option == 'w')
            start = optarg;
        else if (option == 'g')
            gate = optarg;
        else
            threads = 0;
    }
    long count = optind + 1 == argc ? strtol(argv[optind], NULL, 10) : 0;
    if (count <= 0 || threads <= 0 || threads > 64) {
        fprintf(stderr, "usage: span_burst [-t THREADS] [-w START_FILE] [-g GATE_FILE] EXCHANGES\n");
        return 2;
    }
    if (start != NULL)
        wait_for_file(start);
    struct burst bursts[64];
    for (long i = 0; i < threads; i++) {
        bursts[i] = (struct burst){.count = count, .gate = gate};
        if (pthread_create(&bursts[i].thread, NULL, run_burst, &bursts[i]) != 0) {
            perror("span_burst: pthread_create");
            return 1;
        }
    }
    long exchanges = 0, body_bytes = 0;
    int failed = 0;
    for (long i = 0; i < threads; i++) {
        pthread_join(bursts[i].thread, NULL);
        exchanges += bursts[i].exchanges;
        body_bytes += bursts[i].body_bytes;
        failed |= bursts[i].result != 0;
    }
    printf("exchanges=%ld body_bytes=%ld\n", exchanges, body_bytes);
    return failed;
}
