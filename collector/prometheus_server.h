/* The collector's Prometheus endpoint: GET /metrics over HTTP (libmicrohttpd, its own
 * thread), rendered from the metric store at each scrape. */
#ifndef LDTAP_PROMETHEUS_SERVER_H
#define LDTAP_PROMETHEUS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct ldtap_prometheus_server;

/* Listens on host:port only ("localhost" means 127.0.0.1; an IPv6 literal binds that
 * address alone) and serves `metrics`, which must outlive the server. NULL on failure,
 * with the errno of the failed step in `*error_number` (EADDRINUSE: the port is taken)
 * and a sentence in `error`. */
struct ldtap_prometheus_server *ldtap_prometheus_server_start(const char *host, uint16_t port,
                                                              struct ldtap_metrics *metrics,
                                                              int *error_number, char *error,
                                                              size_t error_size);

/* Stops serving (waits for the server thread) and frees the server. NULL is a no-op. */
void ldtap_prometheus_server_stop(struct ldtap_prometheus_server *server);

#endif
