/* Tests of severity guessing for the log formats of Python servers. */
#include <criterion/criterion.h>
#include <string.h>

#include "log_severity.h"

static void expect(const char *line, enum ldtap_severity number, const char *text) {
    struct ldtap_log_severity severity = ldtap_log_severity_guess(line, strlen(line));
    cr_assert_eq(severity.number, number, "\"%s\": %d, expected %d", line, severity.number, number);
    if (text) {
        cr_assert_eq(severity.text_length, strlen(text), "\"%s\"", line);
        cr_assert(memcmp(severity.text, text, severity.text_length) == 0, "\"%s\"", line);
    } else {
        cr_assert_null(severity.text, "\"%s\"", line);
    }
}

Test(log_severity, python_logging_default) {
    expect("ERROR:root:something broke", LDTAP_SEVERITY_ERROR, "ERROR");
    expect("WARNING:django.request:Not Found: /x", LDTAP_SEVERITY_WARN, "WARNING");
    expect("DEBUG:asyncio:Using selector: EpollSelector", LDTAP_SEVERITY_DEBUG, "DEBUG");
    expect("CRITICAL:app:disk full", LDTAP_SEVERITY_FATAL, "CRITICAL");
}

Test(log_severity, asctime_formats) {
    expect("2024-05-01 10:00:00,123 INFO shop.views: order 42 placed", LDTAP_SEVERITY_INFO, "INFO");
    expect("2024-05-01 10:00:00,123 - app - ERROR - boom", LDTAP_SEVERITY_ERROR, "ERROR");
    expect("[2024-05-01 10:00:00,123] ERROR in app: Exception on / [GET]", LDTAP_SEVERITY_ERROR, "ERROR");
}

Test(log_severity, gunicorn) {
    expect("[2024-05-01 10:00:00 +0000] [4242] [INFO] Booting worker with pid: 4242", LDTAP_SEVERITY_INFO, "INFO");
    expect("[2024-05-01 10:00:00 +0000] [4242] [ERROR] Error handling request /x", LDTAP_SEVERITY_ERROR, "ERROR");
    expect("[2024-05-01 10:00:00 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:7)", LDTAP_SEVERITY_FATAL, "CRITICAL");
}

Test(log_severity, uvicorn) {
    expect("INFO:     127.0.0.1:50000 - \"GET / HTTP/1.1\" 200 OK", LDTAP_SEVERITY_INFO, "INFO");
    expect("ERROR:    Exception in ASGI application", LDTAP_SEVERITY_ERROR, "ERROR");
    expect("WARNING:  Invalid HTTP request received.", LDTAP_SEVERITY_WARN, "WARNING");
}

Test(log_severity, bracketed_lower_case_and_none) {
    expect("2024/05/01 10:00:00 [error] 12#12: *1 connect() failed", LDTAP_SEVERITY_ERROR, "error");
    expect("an error occurred in the request", LDTAP_SEVERITY_UNSPECIFIED, NULL);
    expect("GET /items HTTP/1.1", LDTAP_SEVERITY_UNSPECIFIED, NULL);
    expect("ERRORS: 3", LDTAP_SEVERITY_UNSPECIFIED, NULL); /* not a level word on its own */
    expect("", LDTAP_SEVERITY_UNSPECIFIED, NULL);
}

Test(log_severity, names) {
    cr_assert_str_eq(ldtap_severity_name(LDTAP_SEVERITY_ERROR), "ERROR");
    cr_assert_str_eq(ldtap_severity_name(LDTAP_SEVERITY_INFO2), "INFO");
    cr_assert_str_eq(ldtap_severity_name(LDTAP_SEVERITY_UNSPECIFIED), "");
}
