/* GET /metrics with libmicrohttpd: we bind the listening socket ourselves (exact errors,
 * close-on-exec so `ldtap run`'s CMD never inherits it) and hand it to one internal
 * polling thread with a bounded number of connections. */
#include "prometheus_server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buffer.h"
#include "prometheus.h"

/* A scraper or two and a curl by hand; more is a misbehaving client, not a need. */
#define MAX_CONNECTIONS 16
#define CONNECTION_TIMEOUT_SECONDS 10

struct ldtap_prometheus_server {
    struct MHD_Daemon *daemon;
    struct ldtap_metrics *metrics;
};

static enum MHD_Result respond_text(struct MHD_Connection *connection, unsigned int status, const char *text,
                                    const char *allow) {
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!response) {
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (allow) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
    }
    enum MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result respond_metrics(struct ldtap_prometheus_server *server,
                                       struct MHD_Connection *connection) {
    struct ldtap_buffer body;
    ldtap_buffer_init(&body);
    if (!ldtap_prometheus_render(server->metrics, &body)) {
        ldtap_buffer_free(&body);
        return respond_text(connection, MHD_HTTP_INTERNAL_SERVER_ERROR,
                            "ldtap: out of memory rendering metrics\n", NULL);
    }
    struct MHD_Response *response =
        body.length > 0 ? MHD_create_response_from_buffer(body.length, body.data, MHD_RESPMEM_MUST_FREE)
                        : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!response) {
        ldtap_buffer_free(&body);
        return MHD_NO;
    }
    /* From here the response owns body.data (MUST_FREE: released with free()). */
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, LDTAP_PROMETHEUS_CONTENT_TYPE);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result result = MHD_queue_response(connection, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result handle_request(void *context, struct MHD_Connection *connection, const char *url,
                                      const char *method, const char *version, const char *upload_data,
                                      size_t *upload_data_size, void **request_state) {
    (void)version, (void)upload_data, (void)upload_data_size, (void)request_state;
    struct ldtap_prometheus_server *server = context;
    bool readable = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!readable) {
        return respond_text(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "ldtap: only GET and HEAD are served\n",
                            "GET, HEAD");
    }
    if (strcmp(url, "/metrics") == 0) {
        return respond_metrics(server, connection);
    }
    if (strcmp(url, "/") == 0) {
        return respond_text(connection, MHD_HTTP_OK, "ldtap collector: Prometheus metrics are at /metrics\n",
                            NULL);
    }
    return respond_text(connection, MHD_HTTP_NOT_FOUND, "ldtap: not found; metrics are at /metrics\n", NULL);
}

/* A listening socket on exactly host:port. Returns the fd, or -1 with errno set. */
static int listen_on(const char *host, uint16_t port, char *error, size_t error_size) {
    /* getaddrinfo("localhost") may answer ::1 first, while users and `ldtap top` expect
     * http://127.0.0.1:PORT to work. */
    const char *address = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *addresses = NULL;
    int status = getaddrinfo(address, service, &hints, &addresses);
    if (status != 0) {
        snprintf(error, error_size, "cannot resolve '%s': %s", host, gai_strerror(status));
        errno = EADDRNOTAVAIL;
        return -1;
    }
    int fd = -1;
    int failure = EADDRNOTAVAIL;
    for (struct addrinfo *candidate = addresses; candidate && fd < 0; candidate = candidate->ai_next) {
        fd = socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    candidate->ai_protocol);
        if (fd < 0) {
            failure = errno;
            continue;
        }
        int on = 1;
        /* Lets a restarted collector bind while old connections sit in TIME_WAIT; on Linux
         * it never lets two listeners share the port, so collisions are still detected. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (candidate->ai_family == AF_INET6) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
        }
        if (bind(fd, candidate->ai_addr, candidate->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            failure = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(addresses);
    if (fd < 0) {
        snprintf(error, error_size, "cannot listen on %s:%u: %s", host, (unsigned)port, strerror(failure));
        errno = failure;
    }
    return fd;
}

struct ldtap_prometheus_server *ldtap_prometheus_server_start(const char *host, uint16_t port,
                                                              struct ldtap_metrics *metrics,
                                                              int *error_number, char *error,
                                                              size_t error_size) {
    *error_number = 0;
    struct ldtap_prometheus_server *server = calloc(1, sizeof *server);
    if (!server) {
        *error_number = ENOMEM;
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    server->metrics = metrics;
    int fd = listen_on(host, port, error, error_size);
    if (fd < 0) {
        *error_number = errno;
        free(server);
        return NULL;
    }
    /* The server thread inherits this mask: signals stay with the threads that handle them
     * (cli_run forwards them to CMD). */
    sigset_t all_signals, previous;
    sigfillset(&all_signals);
    pthread_sigmask(SIG_SETMASK, &all_signals, &previous);
    server->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, port, NULL, NULL, handle_request, server,
                                      MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
                                      (unsigned int)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                                      (unsigned int)CONNECTION_TIMEOUT_SECONDS, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (!server->daemon) {
        *error_number = EIO;
        snprintf(error, error_size, "cannot start the HTTP server on %s:%u", host, (unsigned)port);
        close(fd);
        free(server);
        return NULL;
    }
    return server;
}

void ldtap_prometheus_server_stop(struct ldtap_prometheus_server *server) {
    if (!server) {
        return;
    }
    /* MHD_stop_daemon closes the listening socket it was given. */
    MHD_stop_daemon(server->daemon);
    free(server);
}
