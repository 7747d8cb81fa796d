/* One delivery attempt of an encoded OTLP batch: an HTTP POST through libcurl (gzip and
 * user headers applied) or one line appended to the traces file. Used only by the
 * exporter's thread; retry policy lives in exporter.c. */
#ifndef LDTAP_EXPORT_TRANSPORT_H
#define LDTAP_EXPORT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter.h"

enum ldtap_send_result {
    LDTAP_SEND_OK,
    LDTAP_SEND_RETRYABLE, /* 429, 502, 503, 504 or a network failure */
    LDTAP_SEND_FATAL,     /* any other answer, or an error retrying cannot fix */
};

struct ldtap_transport;

/* NULL with a sentence in `error` when the file cannot be opened for appending, a header
 * line is not "Name: value", or libcurl cannot start. */
struct ldtap_transport *ldtap_transport_open(const struct ldtap_exporter_config *config, char *error,
                                             size_t error_size);
/* True for file mode, whose body must be OTLP-JSON. */
bool ldtap_transport_is_file(const struct ldtap_transport *transport);
/* Sends `body`, giving up after `timeout_ms`. On failure `message` says why and
 * `*retry_after_ms` holds the server's Retry-After (-1 when it sent none). */
enum ldtap_send_result ldtap_transport_send(struct ldtap_transport *transport, const uint8_t *body, size_t length,
                                            uint32_t timeout_ms, int64_t *retry_after_ms, char *message,
                                            size_t message_size);
void ldtap_transport_close(struct ldtap_transport *transport);

#endif
