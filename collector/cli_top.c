/* `ldtap top`: scrapes the Prometheus endpoint every interval with libcurl and redraws a
 * top-like screen (alternate screen, raw keyboard through termios, `q` quits). With stdout
 * not a terminal it prints one snapshot, rates over one interval, and exits. */
#include "cli_top.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "buffer.h"
#include "config.h"
#include "top_view.h"

/* A scrape bigger than this is not a collector's: stop reading rather than grow. */
#define MAX_SCRAPE_BYTES (64u * 1024 * 1024)

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t resized;

/* The terminal as we found it, restored on every way out. */
static struct termios saved_terminal;
static bool terminal_changed;

void ldtap_cli_top_help(FILE *out) {
    fputs("Usage: ldtap top [--url URL] [--interval SECONDS]\n"
          "\n"
          "A live view of the services a collector (`ldtap run` or `ldtap collect`) sees,\n"
          "read from its Prometheus endpoint: per route the requests, rate, error share\n"
          "(5xx) and p50/p95/p99 latency over the last interval; per worker memory, CPU\n"
          "and busy share; each service's accept queue; the slowest database operations.\n"
          "Press q to quit. When stdout is not a terminal, prints one snapshot and exits.\n"
          "\n"
          "Options:\n"
          "  --url URL              the endpoint (default http://127.0.0.1:PORT/metrics, PORT\n"
          "                         from OTEL_EXPORTER_PROMETHEUS_PORT or 9464)\n"
          "  --interval SECONDS     time between scrapes, 0.1 to 3600 (default 1)\n"
          "  -h, --help             show this help\n",
          out);
}

static void request_stop(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

static void note_resize(int signal_number) {
    (void)signal_number;
    resized = 1;
}

static void restore_terminal(void) {
    if (terminal_changed) {
        static const char leave[] = "\033[?25h\033[?1049l";
        ssize_t ignored = write(STDOUT_FILENO, leave, sizeof leave - 1);
        (void)ignored;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_terminal);
        terminal_changed = false;
    }
}

/* Keys without Enter and without echo; ISIG stays on so Ctrl-C still stops us (through
 * the handler, which lets the loop restore the terminal). */
static void enter_terminal(void) {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_terminal) != 0) {
        return;
    }
    struct termios raw = saved_terminal;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) {
        return;
    }
    terminal_changed = true;
    atexit(restore_terminal);
    static const char enter[] = "\033[?1049h\033[?25l";
    ssize_t ignored = write(STDOUT_FILENO, enter, sizeof enter - 1);
    (void)ignored;
}

static double monotonic_seconds(void) { return (double)ldtap_monotonic_ns() / 1e9; }

static size_t collect_body(char *data, size_t size, size_t count, void *context) {
    struct ldtap_buffer *body = context;
    size_t length = size * count;
    if (body->length + length > MAX_SCRAPE_BYTES) {
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    }
    ldtap_buffer_append(body, data, length);
    return body->failed ? 0 : length;
}

/* One scrape into a snapshot; NULL with a sentence in `error` on failure. */
static struct ldtap_top_snapshot *scrape(CURL *curl, const char *url, char *error, size_t error_size) {
    struct ldtap_buffer body;
    ldtap_buffer_init(&body);
    char curl_error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    CURLcode result = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    struct ldtap_top_snapshot *snapshot = NULL;
    if (result != CURLE_OK) {
        snprintf(error, error_size, "cannot scrape %s: %s", url,
                 curl_error[0] ? curl_error : curl_easy_strerror(result));
    } else if (status != 200) {
        snprintf(error, error_size, "cannot scrape %s: HTTP status %ld", url, status);
    } else {
        snapshot = ldtap_top_snapshot_parse(body.data ? (const char *)body.data : "", body.length,
                                            monotonic_seconds());
        if (!snapshot) {
            snprintf(error, error_size, "out of memory");
        }
    }
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    ldtap_buffer_free(&body);
    return snapshot;
}

static void terminal_size(int *width, int *height) {
    struct winsize size = {0};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
        *width = size.ws_col;
        *height = size.ws_row;
    } else {
        *width = 80;
        *height = 24;
    }
}

static void write_all(const void *data, size_t length) {
    const char *bytes = data;
    while (length > 0) {
        ssize_t written = write(STDOUT_FILENO, bytes, length);
        if (written < 0 && errno == EINTR) {
            continue;
        }
        if (written <= 0) {
            return;
        }
        bytes += written;
        length -= (size_t)written;
    }
}

/* Draws a frame over the previous one: home, each line cleared to its end, then the rest
 * of the screen cleared, so nothing flickers and nothing stale stays. */
static void draw(const struct ldtap_top_snapshot *previous, const struct ldtap_top_snapshot *current,
                 const char *title, const char *problem) {
    int width = 80, height = 24;
    terminal_size(&width, &height);
    struct ldtap_buffer frame, screen;
    ldtap_buffer_init(&frame);
    ldtap_buffer_init(&screen);
    if (current) {
        ldtap_top_render(previous, current, title, width, height - (problem ? 1 : 0), &frame);
    } else {
        ldtap_buffer_append_cstring(&frame, title);
        ldtap_buffer_append_byte(&frame, '\n');
    }
    ldtap_buffer_append_cstring(&screen, "\033[H");
    for (size_t start = 0; start < frame.length;) {
        const uint8_t *newline = memchr(frame.data + start, '\n', frame.length - start);
        size_t end = newline ? (size_t)(newline - frame.data) : frame.length;
        ldtap_buffer_append(&screen, frame.data + start, end - start);
        ldtap_buffer_append_cstring(&screen, "\033[K\r\n");
        start = end + 1;
    }
    if (problem) {
        ldtap_buffer_append_cstring(&screen, "\033[7m");
        ldtap_buffer_append(&screen, problem, strnlen(problem, (size_t)(width > 0 ? width : 80)));
        ldtap_buffer_append_cstring(&screen, "\033[0m\033[K");
    }
    ldtap_buffer_append_cstring(&screen, "\033[J");
    if (!screen.failed) {
        write_all(screen.data, screen.length);
    }
    ldtap_buffer_free(&frame);
    ldtap_buffer_free(&screen);
}

/* Waits up to `seconds` for a key; true when it was q (or Q). */
static bool wait_for_quit(double seconds) {
    double deadline = monotonic_seconds() + seconds;
    while (!stop_requested && !resized) {
        double left = deadline - monotonic_seconds();
        if (left <= 0) {
            return false;
        }
        struct pollfd keyboard = {.fd = STDIN_FILENO, .events = POLLIN};
        int ready = poll(&keyboard, terminal_changed ? 1 : 0, (int)ceil(left * 1000));
        if (ready > 0) {
            char keys[32];
            ssize_t count = read(STDIN_FILENO, keys, sizeof keys);
            if (count == 0) {
                return false; /* stdin closed: keep drawing until a signal */
            }
            if (count > 0 && (memchr(keys, 'q', (size_t)count) || memchr(keys, 'Q', (size_t)count))) {
                return true;
            }
        }
    }
    return false;
}

static int run_live(CURL *curl, const char *url, double interval) {
    char title[1024];
    snprintf(title, sizeof title, "ldtap top - %s - every %gs - q quits", url, interval);
    /* The last two good scrapes: a failed scrape redraws them with the problem underneath. */
    struct ldtap_top_snapshot *before = NULL, *latest = NULL;
    enter_terminal();
    while (!stop_requested) {
        char error[512] = "";
        struct ldtap_top_snapshot *current = scrape(curl, url, error, sizeof error);
        if (current) {
            ldtap_top_snapshot_free(before);
            before = latest;
            latest = current;
        }
        draw(before, latest, title, error[0] ? error : NULL);
        resized = 0;
        if (wait_for_quit(interval)) {
            break;
        }
    }
    ldtap_top_snapshot_free(before);
    ldtap_top_snapshot_free(latest);
    restore_terminal();
    return 0;
}

/* Not a terminal: two scrapes one interval apart, one plain snapshot. */
static int run_once(CURL *curl, const char *url, double interval) {
    char error[512] = "";
    struct ldtap_top_snapshot *first = scrape(curl, url, error, sizeof error);
    struct ldtap_top_snapshot *second = NULL;
    if (first) {
        struct timespec pause = {(time_t)interval, (long)((interval - floor(interval)) * 1e9)};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR && !stop_requested) {
        }
        second = scrape(curl, url, error, sizeof error);
    }
    int status = 0;
    if (second) {
        char title[1024];
        snprintf(title, sizeof title, "ldtap top - %s - rates over %gs", url, interval);
        struct ldtap_buffer out;
        ldtap_buffer_init(&out);
        ldtap_top_render(first, second, title, 80, 0, &out);
        if (!out.failed) {
            write_all(out.data, out.length);
        }
        ldtap_buffer_free(&out);
    } else {
        fprintf(stderr, "ldtap: top: %s\n", error);
        status = 1;
    }
    ldtap_top_snapshot_free(first);
    ldtap_top_snapshot_free(second);
    return status;
}

static bool parse_interval(const char *text, double *interval) {
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(value >= 0.1 && value <= 3600)) {
        return false;
    }
    *interval = value;
    return true;
}

static void default_url(char *url, size_t size) {
    const char *port = getenv("OTEL_EXPORTER_PROMETHEUS_PORT");
    snprintf(url, size, "http://127.0.0.1:%s/metrics", port && port[0] ? port : "9464");
}

int ldtap_cli_top(int argc, char **argv) {
    char url_buffer[512];
    default_url(url_buffer, sizeof url_buffer);
    const char *url = url_buffer;
    double interval = 1.0;
    for (int i = 0; i < argc; i++) {
        const char *argument = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argument, "-h") == 0 || strcmp(argument, "--help") == 0) {
            ldtap_cli_top_help(stdout);
            return 0;
        }
        bool is_url = strncmp(argument, "--url", 5) == 0 && (argument[5] == '\0' || argument[5] == '=');
        bool is_interval =
            strncmp(argument, "--interval", 10) == 0 && (argument[10] == '\0' || argument[10] == '=');
        if (!is_url && !is_interval) {
            fprintf(stderr, "ldtap: top: unknown option '%s'; see 'ldtap help top'\n", argument);
            return 2;
        }
        const char *equals = strchr(argument, '=');
        if (equals) {
            value = equals + 1;
        } else if (!value) {
            fprintf(stderr, "ldtap: top: %s needs a value\n", argument);
            return 2;
        } else {
            i++;
        }
        if (is_url && !ldtap_url_is_valid(value)) {
            fprintf(stderr, "ldtap: top: --url: '%s' is not a valid URL; use http://HOST:PORT/metrics\n",
                    value);
            return 2;
        }
        if (is_interval && !parse_interval(value, &interval)) {
            fprintf(stderr, "ldtap: top: --interval: '%s' is not valid; use seconds from 0.1 to 3600\n",
                    value);
            return 2;
        }
        if (is_url) {
            url = value;
        }
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "ldtap: top: cannot initialise libcurl\n");
        return 1;
    }
    CURL *curl = curl_easy_init();
    if (!curl) {
        fprintf(stderr, "ldtap: top: out of memory\n");
        curl_global_cleanup();
        return 1;
    }
    struct sigaction action = {0};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    action.sa_handler = note_resize;
    sigaction(SIGWINCH, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
    int status = isatty(STDOUT_FILENO) ? run_live(curl, url, interval) : run_once(curl, url, interval);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return status;
}
