/* Cost probe for the hot path: N iterations of send + recv of one byte on a socketpair
 * (an untracked fd). Run under callgrind at N and 2N, with and without LD_PRELOAD, to get
 * the instructions the shim adds per call. Usage: untracked_loop N */
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 1000;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
        return 1;
    char byte = 'x';
    for (long i = 0; i < iterations; i++)
        if (send(pair[0], &byte, 1, 0) != 1 || recv(pair[1], &byte, 1, 0) != 1)
            return 1;
    return 0;
}
