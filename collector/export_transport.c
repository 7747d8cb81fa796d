/* Delivery of encoded batches: libcurl POST (one easy handle, so the connection is kept
 * alive between batches) with zlib gzip, or O_APPEND writes to the traces file. */
#include "export_transport.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "buffer.h"
#include "otlp_common.h"

#define RESPONSE_SNIPPET_BYTES 160
/* A Retry-After beyond a day is nonsense; the exporter's retry window rejects it anyway. */
#define RETRY_AFTER_MAX_SECONDS 86400

struct ldtap_transport {
    int file_fd; /* >= 0 in file mode */
    char *target; /* URL or file path, for messages */
    bool gzip;
    CURL *curl;
    struct curl_slist *headers;
    z_stream deflater;
    bool deflater_ready;
    struct ldtap_buffer compressed; /* reused across batches */
    int64_t retry_after_ms;         /* from the last response's headers, -1 when absent */
    char response[RESPONSE_SNIPPET_BYTES];
    size_t response_length;
    char curl_error[CURL_ERROR_SIZE];
};

static pthread_once_t curl_global_once = PTHREAD_ONCE_INIT;
static CURLcode curl_global_result;

static void initialise_curl_once(void) {
    curl_global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void set_error(char *error, size_t error_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(char *error, size_t error_size, const char *format, ...) {
    if (error && error_size) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(error, error_size, format, arguments);
        va_end(arguments);
    }
}

static size_t on_response_body(char *data, size_t size, size_t count, void *user) {
    struct ldtap_transport *transport = user;
    size_t length = size * count;
    size_t room = sizeof transport->response - 1 - transport->response_length;
    size_t keep = length < room ? length : room;
    memcpy(transport->response + transport->response_length, data, keep);
    transport->response_length += keep;
    transport->response[transport->response_length] = '\0';
    return length;
}

/* Retry-After is delta-seconds or an HTTP-date (RFC 9110 section 10.2.3). */
static int64_t parse_retry_after(const char *value) {
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    if (isdigit((unsigned char)*value)) {
        char *end;
        long long seconds = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') {
            end++;
        }
        if (*end != '\0') {
            return -1;
        }
        return (seconds > RETRY_AFTER_MAX_SECONDS ? RETRY_AFTER_MAX_SECONDS : seconds) * 1000;
    }
    time_t when = curl_getdate(value, NULL);
    if (when == -1) {
        return -1;
    }
    double seconds = difftime(when, time(NULL));
    if (seconds < 0) {
        seconds = 0;
    }
    return (int64_t)(seconds > RETRY_AFTER_MAX_SECONDS ? RETRY_AFTER_MAX_SECONDS : seconds) * 1000;
}

static size_t on_response_header(char *data, size_t size, size_t count, void *user) {
    struct ldtap_transport *transport = user;
    size_t length = size * count;
    static const char name[] = "retry-after:";
    if (length > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        char value[96];
        size_t value_length = length - (sizeof name - 1);
        if (value_length >= sizeof value) {
            value_length = sizeof value - 1;
        }
        memcpy(value, data + sizeof name - 1, value_length);
        value[value_length] = '\0';
        transport->retry_after_ms = parse_retry_after(value);
    }
    return length;
}

/* A header line must be "Name: value" on one line: a CR or LF would let a configuration
 * value inject further headers. */
static bool valid_header_line(const char *line) {
    const char *colon = strchr(line, ':');
    return colon && colon != line && strpbrk(line, "\r\n") == NULL;
}

static bool open_http(struct ldtap_transport *transport, const struct ldtap_exporter_config *config, char *error,
                      size_t error_size) {
    pthread_once(&curl_global_once, initialise_curl_once);
    if (curl_global_result != CURLE_OK) {
        set_error(error, error_size, "libcurl initialisation failed: %s", curl_easy_strerror(curl_global_result));
        return false;
    }
    const char *content_type = config->protocol == LDTAP_OTLP_HTTP_JSON ? "Content-Type: application/json"
                                                                         : "Content-Type: application/x-protobuf";
    struct curl_slist *list = curl_slist_append(NULL, content_type);
    /* Without this libcurl waits for "100 Continue" before sending large bodies. */
    list = list ? curl_slist_append(list, "Expect:") : NULL;
    if (list && config->gzip) {
        list = curl_slist_append(list, "Content-Encoding: gzip");
    }
    for (size_t i = 0; list && config->headers && config->headers[i]; i++) {
        if (!valid_header_line(config->headers[i])) {
            curl_slist_free_all(list);
            set_error(error, error_size, "exporter header \"%s\" is not a single \"Name: value\" line",
                      config->headers[i]);
            return false;
        }
        struct curl_slist *grown = curl_slist_append(list, config->headers[i]);
        if (!grown) {
            curl_slist_free_all(list);
        }
        list = grown;
    }
    transport->headers = list;
    transport->curl = list ? curl_easy_init() : NULL;
    if (!transport->curl) {
        set_error(error, error_size, "cannot start an HTTP client for %s: out of memory", config->traces_url);
        return false;
    }
    CURL *curl = transport->curl;
    curl_easy_setopt(curl, CURLOPT_URL, config->traces_url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* we are one thread among others */
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, transport->headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "ldtap/" LDTAP_VERSION);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_response_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, transport);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_response_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, transport);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, transport->curl_error);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    return true;
}

struct ldtap_transport *ldtap_transport_open(const struct ldtap_exporter_config *config, char *error,
                                             size_t error_size) {
    struct ldtap_transport *transport = calloc(1, sizeof *transport);
    const char *target = config->traces_url ? config->traces_url : config->file_path;
    if (!transport || !target || !(transport->target = strdup(target))) {
        set_error(error, error_size, "%s", target ? "out of memory" : "no traces URL and no traces file path");
        free(transport);
        return NULL;
    }
    transport->file_fd = -1;
    transport->gzip = config->gzip;
    ldtap_buffer_init(&transport->compressed);
    if (!config->traces_url) {
        transport->file_fd = open(config->file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (transport->file_fd < 0) {
            set_error(error, error_size, "cannot open traces file %s for appending: %s", config->file_path,
                      strerror(errno));
            ldtap_transport_close(transport);
            return NULL;
        }
        return transport;
    }
    if (!open_http(transport, config, error, error_size)) {
        ldtap_transport_close(transport);
        return NULL;
    }
    return transport;
}

bool ldtap_transport_is_file(const struct ldtap_transport *transport) {
    return transport->file_fd >= 0;
}

static enum ldtap_send_result append_line(struct ldtap_transport *transport, const uint8_t *body, size_t length,
                                          char *message, size_t message_size) {
    struct iovec parts[2] = {{(void *)body, length}, {"\n", 1}};
    struct iovec *next = parts;
    int remaining = 2;
    while (remaining > 0) {
        ssize_t written = writev(transport->file_fd, next, remaining);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            snprintf(message, message_size, "cannot append to %s: %s", transport->target, strerror(errno));
            return LDTAP_SEND_FATAL;
        }
        while (remaining > 0 && (size_t)written >= next->iov_len) {
            written -= (ssize_t)next->iov_len;
            next++;
            remaining--;
        }
        if (remaining > 0) {
            next->iov_base = (uint8_t *)next->iov_base + written;
            next->iov_len -= (size_t)written;
        }
    }
    return LDTAP_SEND_OK;
}

static bool gzip_body(struct ldtap_transport *transport, const uint8_t *body, size_t length) {
    z_stream *stream = &transport->deflater;
    if (length > UINT_MAX) {
        return false;
    }
    if (!transport->deflater_ready) {
        memset(stream, 0, sizeof *stream);
        /* 15 + 16: the largest window, wrapped in a gzip header and trailer. */
        if (deflateInit2(stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            return false;
        }
        transport->deflater_ready = true;
    } else if (deflateReset(stream) != Z_OK) {
        return false;
    }
    struct ldtap_buffer *out = &transport->compressed;
    ldtap_buffer_reset(out);
    if (!ldtap_buffer_reserve(out, deflateBound(stream, (uLong)length))) {
        return false;
    }
    stream->next_in = (Bytef *)body;
    stream->avail_in = (uInt)length;
    for (;;) {
        size_t room = out->capacity - out->length;
        stream->next_out = out->data + out->length;
        stream->avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        int status = deflate(stream, Z_FINISH);
        out->length = (size_t)(stream->next_out - out->data);
        if (status == Z_STREAM_END) {
            return true;
        }
        if ((status != Z_OK && status != Z_BUF_ERROR) || !ldtap_buffer_reserve(out, 4096)) {
            return false;
        }
    }
}

/* Errors that the same request will hit again however long we wait. */
static bool permanent_curl_error(CURLcode code) {
    switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_LOGIN_DENIED:
        return true;
    default:
        return false;
    }
}

static bool retryable_status(long status) {
    return status == 429 || status == 502 || status == 503 || status == 504;
}

static enum ldtap_send_result post(struct ldtap_transport *transport, const uint8_t *body, size_t length,
                                   uint32_t timeout_ms, char *message, size_t message_size) {
    if (transport->gzip) {
        if (!gzip_body(transport, body, length)) {
            snprintf(message, message_size, "gzip compression of a %zu-byte batch failed", length);
            return LDTAP_SEND_FATAL;
        }
        body = transport->compressed.data;
        length = transport->compressed.length;
    }
    transport->response_length = 0;
    transport->response[0] = '\0';
    transport->curl_error[0] = '\0';
    CURL *curl = transport->curl;
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
    /* 0 would mean "no timeout" to libcurl. */
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(timeout_ms ? timeout_ms : 1));
    CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
        snprintf(message, message_size, "POST %s: %s", transport->target,
                 transport->curl_error[0] ? transport->curl_error : curl_easy_strerror(code));
        return permanent_curl_error(code) ? LDTAP_SEND_FATAL : LDTAP_SEND_RETRYABLE;
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        return LDTAP_SEND_OK;
    }
    for (size_t i = 0; i < transport->response_length; i++) {
        if (!isprint((unsigned char)transport->response[i])) {
            transport->response[i] = ' ';
        }
    }
    snprintf(message, message_size, "POST %s: HTTP %ld%s%s", transport->target, status,
             transport->response_length ? ": " : "", transport->response);
    return retryable_status(status) ? LDTAP_SEND_RETRYABLE : LDTAP_SEND_FATAL;
}

enum ldtap_send_result ldtap_transport_send(struct ldtap_transport *transport, const uint8_t *body, size_t length,
                                            uint32_t timeout_ms, int64_t *retry_after_ms, char *message,
                                            size_t message_size) {
    transport->retry_after_ms = -1;
    enum ldtap_send_result result = transport->file_fd >= 0
                                        ? append_line(transport, body, length, message, message_size)
                                        : post(transport, body, length, timeout_ms, message, message_size);
    *retry_after_ms = transport->retry_after_ms;
    return result;
}

void ldtap_transport_close(struct ldtap_transport *transport) {
    if (!transport) {
        return;
    }
    if (transport->file_fd >= 0) {
        close(transport->file_fd);
    }
    if (transport->curl) {
        curl_easy_cleanup(transport->curl);
    }
    curl_slist_free_all(transport->headers);
    if (transport->deflater_ready) {
        deflateEnd(&transport->deflater);
    }
    ldtap_buffer_free(&transport->compressed);
    free(transport->target);
    free(transport);
}
