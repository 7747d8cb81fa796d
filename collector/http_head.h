/* Parsing of the HTTP/1.x head copies the shim puts into span records: the request line or
 * status line plus the allow-listed headers. Pure functions over (bytes, length). */
#ifndef LDTAP_HTTP_HEAD_H
#define LDTAP_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A piece of the caller's bytes; {NULL, 0} when absent. Never NUL-terminated. */
struct ldtap_http_slice {
    const char *bytes;
    size_t length;
};

/* Longest method token accepted; anything longer is not a request line we trust. */
#define LDTAP_HTTP_METHOD_MAX_BYTES 32u

/* The allow-listed headers. Values are trimmed of surrounding spaces and tabs. A header
 * line holding a control character (CR, NUL, ...) other than tab, a line without a colon,
 * a continuation line and a final line cut short by truncation are all ignored. When a
 * header repeats, the first valid occurrence wins. */
struct ldtap_http_headers {
    struct ldtap_http_slice host;
    struct ldtap_http_slice user_agent;
    struct ldtap_http_slice content_type;
    struct ldtap_http_slice traceparent;
    bool has_content_length; /* only when the value is 1..19 decimal digits */
    uint64_t content_length;
};

struct ldtap_http_request_head {
    struct ldtap_http_slice method; /* a token, 1..LDTAP_HTTP_METHOD_MAX_BYTES bytes */
    struct ldtap_http_slice target; /* as sent: origin-form, absolute-form, '*' or authority */
    bool has_version;               /* false only when the line was cut before the version */
    uint8_t version_major;
    uint8_t version_minor;
    bool start_line_truncated; /* the copy ended inside the request line */
    struct ldtap_http_headers headers;
};

struct ldtap_http_response_head {
    uint8_t version_major;
    uint8_t version_minor;
    uint16_t status_code; /* 100..999 */
    struct ldtap_http_headers headers;
};

/* Heads in records are complete copies (possibly truncated by the shim), never a stream
 * still arriving, so these return only "parsed" (true) or "not a head we accept" (false).
 * A request line cut by truncation is accepted once its method and the start of its
 * target are there; a complete line must be exactly `METHOD SP target SP HTTP/d.d`. */
bool ldtap_http_parse_request_head(const uint8_t *bytes, size_t length, struct ldtap_http_request_head *head);
/* `HTTP/d.d SP ddd [SP reason]`; a cut line is accepted once the three digits are there. */
bool ldtap_http_parse_response_head(const uint8_t *bytes, size_t length, struct ldtap_http_response_head *head);

/* Splits a Host header value (or an authority) into host and port. Brackets of an IPv6
 * literal are removed. *port is 0 when no port was given. False (outputs untouched) when
 * the value is empty, longer than 255 bytes, has characters a host cannot have, or a bad
 * port. */
bool ldtap_http_split_host(const char *value, size_t length, struct ldtap_http_slice *host, uint16_t *port);

/* Splits a request target into the authority of an absolute-form target ("http://a/b":
 * "a"; empty otherwise) and the path, cut at '?' or '#' (the shim already cuts the query;
 * this is the second line of defence). An absolute-form target without a path has path
 * "/"; that "/" is a static string, not part of `target`. */
void ldtap_http_split_target(const char *target, size_t length, struct ldtap_http_slice *authority,
                             struct ldtap_http_slice *path);

#endif
