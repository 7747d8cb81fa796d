/* Tests of collector/http_head.c: request and status lines, allow-listed headers, truncated
 * copies, hostile bytes, Host and target splitting. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"

static bool parse_request(const char *text, struct ldtap_http_request_head *head) {
    return ldtap_http_parse_request_head((const uint8_t *)text, strlen(text), head);
}

static bool parse_response(const char *text, struct ldtap_http_response_head *head) {
    return ldtap_http_parse_response_head((const uint8_t *)text, strlen(text), head);
}

static void expect_slice(struct ldtap_http_slice slice, const char *expected) {
    if (expected == NULL) {
        cr_expect_null(slice.bytes);
        cr_expect_eq(slice.length, 0);
        return;
    }
    cr_assert_not_null(slice.bytes, "expected \"%s\", got nothing", expected);
    cr_expect_eq(slice.length, strlen(expected), "expected \"%s\", got \"%.*s\"", expected, (int)slice.length,
                 slice.bytes);
    cr_expect(memcmp(slice.bytes, expected, slice.length) == 0, "expected \"%s\", got \"%.*s\"", expected,
              (int)slice.length, slice.bytes);
}

static const char FULL_REQUEST[] = "POST /orders/42 HTTP/1.1\r\n"
                                   "Host: shop.example:8080\r\n"
                                   "User-Agent: curl/8.5.0\r\n"
                                   "Content-Type: application/json\r\n"
                                   "Content-Length: 17\r\n"
                                   "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
                                   "\r\n";

Test(http_head, full_request) {
    struct ldtap_http_request_head head;
    cr_assert(parse_request(FULL_REQUEST, &head));
    expect_slice(head.method, "POST");
    expect_slice(head.target, "/orders/42");
    cr_expect(head.has_version);
    cr_expect_eq(head.version_major, 1);
    cr_expect_eq(head.version_minor, 1);
    cr_expect_not(head.start_line_truncated);
    expect_slice(head.headers.host, "shop.example:8080");
    expect_slice(head.headers.user_agent, "curl/8.5.0");
    expect_slice(head.headers.content_type, "application/json");
    expect_slice(head.headers.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    cr_expect(head.headers.has_content_length);
    cr_expect_eq(head.headers.content_length, 17);
}

Test(http_head, request_line_only_and_without_final_blank_line) {
    struct ldtap_http_request_head head;
    cr_assert(parse_request("GET / HTTP/1.0\r\n", &head));
    expect_slice(head.method, "GET");
    expect_slice(head.target, "/");
    cr_expect_eq(head.version_minor, 0);
    expect_slice(head.headers.host, NULL);
    expect_slice(head.headers.user_agent, NULL);
    expect_slice(head.headers.content_type, NULL);
    expect_slice(head.headers.traceparent, NULL);
    cr_expect_not(head.headers.has_content_length);
}

Test(http_head, each_header_alone) {
    struct {
        const char *line;
        const char *host, *user_agent, *content_type, *traceparent;
    } cases[] = {
        {"HOST: a\r\n", "a", NULL, NULL, NULL},
        {"user-agent: b c\r\n", NULL, "b c", NULL, NULL},
        {"Content-type:text/html\r\n", NULL, NULL, "text/html", NULL},
        {"TraceParent: x\r\n", NULL, NULL, NULL, "x"},
        {"X-Other: y\r\n", NULL, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "GET /x HTTP/1.1\r\n%s\r\n", cases[i].line);
        struct ldtap_http_request_head head;
        cr_assert(parse_request(text, &head), "case %zu", i);
        expect_slice(head.headers.host, cases[i].host);
        expect_slice(head.headers.user_agent, cases[i].user_agent);
        expect_slice(head.headers.content_type, cases[i].content_type);
        expect_slice(head.headers.traceparent, cases[i].traceparent);
    }
}

Test(http_head, values_trimmed_and_first_wins) {
    struct ldtap_http_request_head head;
    cr_assert(parse_request("GET / HTTP/1.1\r\nHost: \t first \t\r\nHost: second\r\nUser-Agent:\r\n"
                            "User-Agent: ua\r\n\r\n",
                            &head));
    expect_slice(head.headers.host, "first");
    expect_slice(head.headers.user_agent, "ua"); /* an empty value counts as absent */
}

Test(http_head, content_length_forms) {
    struct {
        const char *value;
        bool valid;
        uint64_t length;
    } cases[] = {
        {"0", true, 0},
        {"18446744073709551", true, 18446744073709551ull},
        {"9999999999999999999", true, 9999999999999999999ull},
        {"99999999999999999999", false, 0},
        {"-1", false, 0},
        {"12a", false, 0},
        {"1 2", false, 0},
        {"", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "PUT / HTTP/1.1\r\nContent-Length: %s\r\n\r\n", cases[i].value);
        struct ldtap_http_request_head head;
        cr_assert(parse_request(text, &head));
        cr_expect_eq(head.headers.has_content_length, cases[i].valid, "case %s", cases[i].value);
        if (cases[i].valid) {
            cr_expect_eq(head.headers.content_length, cases[i].length);
        }
    }
}

Test(http_head, header_lines_with_cr_lf_edge_cases) {
    struct ldtap_http_request_head head;
    /* A bare CR inside a value: the line is ignored, never split into a second header. */
    cr_assert(parse_request("GET / HTTP/1.1\r\nUser-Agent: a\rHost: evil\r\nHost: good\r\n\r\n", &head));
    expect_slice(head.headers.user_agent, NULL);
    expect_slice(head.headers.host, "good");
    /* Bare LF line endings are accepted. */
    cr_assert(parse_request("GET / HTTP/1.1\nHost: lf\n\n", &head));
    expect_slice(head.headers.host, "lf");
    /* A continuation line is not glued to the previous value. */
    cr_assert(parse_request("GET / HTTP/1.1\r\nUser-Agent: a\r\n b\r\n\r\n", &head));
    expect_slice(head.headers.user_agent, "a");
    /* A NUL or other control byte poisons only its line. */
    cr_assert(ldtap_http_parse_request_head((const uint8_t *)"GET / HTTP/1.1\r\nHost: a\0b\r\nUser-Agent: u\r\n\r\n",
                                            44, &head));
    expect_slice(head.headers.host, NULL);
    expect_slice(head.headers.user_agent, "u");
    /* "Name : value" and lines without a colon are ignored. */
    cr_assert(parse_request("GET / HTTP/1.1\r\nHost : a\r\nHost\r\n\r\n", &head));
    expect_slice(head.headers.host, NULL);
    /* Nothing after the blank line is a header. */
    cr_assert(parse_request("GET / HTTP/1.1\r\n\r\nHost: body\r\n", &head));
    expect_slice(head.headers.host, NULL);
    /* A value holding a tab keeps it. */
    cr_assert(parse_request("GET / HTTP/1.1\r\nUser-Agent: a\tb\r\n\r\n", &head));
    expect_slice(head.headers.user_agent, "a\tb");
}

Test(http_head, truncated_heads) {
    struct ldtap_http_request_head head;
    /* The last header line was cut: it is not trusted. */
    cr_assert(parse_request("GET /a HTTP/1.1\r\nHost: h\r\nUser-Agent: Mozilla/5.0 (X11; Lin", &head));
    expect_slice(head.headers.host, "h");
    expect_slice(head.headers.user_agent, NULL);
    /* Cut inside the target. */
    cr_assert(parse_request("GET /very/long/pa", &head));
    cr_expect(head.start_line_truncated);
    cr_expect_not(head.has_version);
    expect_slice(head.target, "/very/long/pa");
    /* Cut inside the version. */
    cr_assert(parse_request("GET /a HTTP/1.", &head));
    cr_expect_not(head.has_version);
    /* Cut between CR and LF. */
    cr_assert(parse_request("GET /a HTTP/1.1\r", &head));
    cr_expect(head.has_version);
    /* Whole line but no line ending. */
    cr_assert(parse_request("GET /a HTTP/1.1", &head));
    cr_expect(head.has_version);
    cr_expect(head.start_line_truncated);
    /* Cut before the target starts, or inside the method: nothing to trust. */
    cr_expect_not(parse_request("GET ", &head));
    cr_expect_not(parse_request("GE", &head));
    cr_expect_not(parse_request("GET", &head));
}

Test(http_head, every_prefix_of_a_head_is_safe) {
    size_t length = strlen(FULL_REQUEST);
    for (size_t cut = 0; cut <= length; cut++) {
        /* A heap copy of exactly `cut` bytes so ASan catches any read past it. */
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, FULL_REQUEST, cut);
        struct ldtap_http_request_head head;
        bool parsed = ldtap_http_parse_request_head(copy, cut, &head);
        cr_expect_eq(parsed, cut >= 6, "cut at %zu", cut); /* "POST /" is the shortest usable */
        if (parsed && cut >= strlen("POST /orders/42 HTTP/1.1\r\nHost: shop.example:8080\r\n")) {
            expect_slice(head.headers.host, "shop.example:8080");
        }
        free(copy);
    }
}

Test(http_head, bad_request_lines) {
    const char *bad[] = {
        "",
        "\r\n",
        " GET / HTTP/1.1\r\n",
        "GET  / HTTP/1.1\r\n",
        "GET / HTTP/1.1 \r\n",
        "GET / HTTP/1\r\n",
        "GET / http/1.1\r\n",
        "GET / HTTP/1.1x\r\n",
        "GET /\r\n",
        "GET / HTTP/1.1\r\r\n",
        "G(T / HTTP/1.1\r\n",
        "GET /a\x01 HTTP/1.1\r\n",
        "GET\t/ HTTP/1.1\r\n",
        "AVERYLONGMETHODNAMETHATGOESONFOREVERX / HTTP/1.1\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ldtap_http_request_head head;
        cr_expect_not(parse_request(bad[i], &head), "accepted \"%s\"", bad[i]);
    }
    struct ldtap_http_request_head head;
    cr_expect_not(ldtap_http_parse_request_head(NULL, 0, &head));
}

Test(http_head, odd_but_valid_methods) {
    struct ldtap_http_request_head head;
    cr_assert(parse_request("PROPFIND /dav HTTP/1.1\r\n\r\n", &head));
    expect_slice(head.method, "PROPFIND");
    cr_assert(parse_request("get / HTTP/1.1\r\n\r\n", &head));
    expect_slice(head.method, "get");
}

Test(http_head, responses) {
    struct ldtap_http_response_head head;
    cr_assert(parse_response("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\n", &head));
    cr_expect_eq(head.status_code, 404);
    cr_expect_eq(head.version_major, 1);
    cr_expect_eq(head.version_minor, 1);
    expect_slice(head.headers.content_type, "text/plain");
    cr_expect(head.headers.has_content_length);
    cr_expect_eq(head.headers.content_length, 9);

    cr_assert(parse_response("HTTP/1.0 200\r\n\r\n", &head));
    cr_expect_eq(head.status_code, 200);
    cr_expect_eq(head.version_minor, 0);
    cr_assert(parse_response("HTTP/1.1 204 \r\n", &head));
    cr_expect_eq(head.status_code, 204);
    cr_assert(parse_response("HTTP/1.1 503 Service Unav", &head)); /* truncated reason */
    cr_expect_eq(head.status_code, 503);
    cr_assert(parse_response("HTTP/1.1 200", &head));

    const char *bad[] = {"HTTP/1.1 20", "HTTP/1.1 2000 OK\r\n", "HTTP/1.1 099 x\r\n", "HTTP/1.1  200 OK\r\n",
                         "HTTP/1.1 2x0 OK\r\n", "HTTP/1.1 200 O\x7fK\r\n", "ICY 200 OK\r\n", "HTTP/1.1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_not(parse_response(bad[i], &head), "accepted \"%s\"", bad[i]);
    }
}

Test(http_head, split_host) {
    struct ldtap_http_slice host;
    uint16_t port = 1;
    cr_assert(ldtap_http_split_host("example.com", 11, &host, &port));
    expect_slice(host, "example.com");
    cr_expect_eq(port, 0);
    cr_assert(ldtap_http_split_host("example.com:8443", 16, &host, &port));
    expect_slice(host, "example.com");
    cr_expect_eq(port, 8443);
    cr_assert(ldtap_http_split_host("[::1]:80", 8, &host, &port));
    expect_slice(host, "::1");
    cr_expect_eq(port, 80);
    cr_assert(ldtap_http_split_host("[fe80::1%eth0]", 14, &host, &port));
    expect_slice(host, "fe80::1%eth0");
    cr_expect_eq(port, 0);
    cr_assert(ldtap_http_split_host("10.0.0.1:", 9, &host, &port));
    expect_slice(host, "10.0.0.1");
    cr_expect_eq(port, 0);

    const char *bad[] = {"", ":80", "a:0", "a:65536", "a:8x", "a b", "a/b", "[::1", "[]", "[::1]x", "a:1:2",
                         "[::1]:99999", "a\"b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_not(ldtap_http_split_host(bad[i], strlen(bad[i]), &host, &port), "accepted \"%s\"", bad[i]);
    }
    char long_host[300];
    memset(long_host, 'a', sizeof long_host);
    cr_expect_not(ldtap_http_split_host(long_host, sizeof long_host, &host, &port));
}

Test(http_head, split_target) {
    struct ldtap_http_slice authority, path;
    ldtap_http_split_target("/a/b?q=1#f", 10, &authority, &path);
    expect_slice(authority, NULL);
    expect_slice(path, "/a/b");
    ldtap_http_split_target("http://h:1/x?y", 14, &authority, &path);
    expect_slice(authority, "h:1");
    expect_slice(path, "/x");
    ldtap_http_split_target("HTTPS://h", 9, &authority, &path);
    expect_slice(authority, "h");
    expect_slice(path, "/");
    ldtap_http_split_target("*", 1, &authority, &path);
    expect_slice(path, "*");
    ldtap_http_split_target("?only", 5, &authority, &path);
    cr_expect_eq(path.length, 0);
}
