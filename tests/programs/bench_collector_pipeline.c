/* Collector benchmark: a forked producer writes realistic HTTP and DB span records into a
 * ring while this process runs the real session (drain, decode, metrics, summary, export). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "config.h"
#include "ldtap_ring.h"
#include "session.h"

/*
 * The producer is a separate process, as a traced program is, so this process's
 * getrusage is the collector's cost alone (drain thread and export thread). Modes:
 *   --count N        flat out: write N records as fast as the ring has room (the producer
 *                    waits for room rather than dropping), report the collector's cost;
 *   --rate R --seconds S  paced: R records/s for S seconds; ring-full drops are reported.
 * --prefill writes all N records before the collector starts (for callgrind: the drain
 * is then measured alone). Variety: --routes × --statuses server spans (1,000 × 10 by
 * default, templated paths "/api/svcK/items/{id}"), and --db-percent of the records are
 * PostgreSQL spans with one of a few typical statements whose literals vary, or with
 * --sqlite-loop SQLite spans alternating the two statements of tests/bench/db_sqlite_loop.py
 * (bound parameters: the same two texts over and over, as scripts/bench_db.sh traces them),
 * or with --redis Redis wire spans alternating redis-benchmark's SET and GET.
 */

struct bench_options {
    uint64_t count;
    uint64_t rate;
    double seconds;
    uint32_t routes;
    uint32_t statuses;
    uint32_t db_percent;
    uint64_t ring_size;
    bool prefill;
    bool sqlite_loop;
    bool redis;
    const char *output;
};

static const uint16_t STATUS_CODES[] = {200, 201, 204, 301, 304, 400, 401, 404, 500, 503};
static const char *const STATUS_TEXTS[] = {"OK",           "Created",      "No Content", "Moved Permanently",
                                           "Not Modified", "Bad Request",  "Unauthorized", "Not Found",
                                           "Internal Server Error", "Service Unavailable"};
static const char *const METHODS[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE"};
/* Statement shapes as ORMs and pgbench send them; %u is a varying literal. */
static const char *const STATEMENTS[] = {
    "SELECT abalance FROM pgbench_accounts WHERE aid = %u;",
    "SELECT \"auth_user\".\"id\", \"auth_user\".\"username\", \"auth_user\".\"email\" FROM \"auth_user\" "
    "WHERE \"auth_user\".\"id\" = %u LIMIT 21",
    "UPDATE pgbench_tellers SET tbalance = tbalance + %u WHERE tid = 7;",
    "INSERT INTO orders (customer_id, total, status) VALUES (%u, 19.99, 'new') RETURNING id",
    "SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id = %u "
    "AND o.status IN ('new', 'paid') ORDER BY o.created_at DESC LIMIT 50",
};

static uint64_t realtime_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static uint64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static uint64_t next_random(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static void fill_common(struct ldtap_span_common *common, uint64_t *random, uint16_t kind) {
    uint64_t words[3] = {next_random(random), next_random(random), next_random(random)};
    memcpy(common->trace_id, words, 16);
    memcpy(common->span_id, &words[2], 8);
    uint64_t end = realtime_ns();
    common->start_time_ns = end - 1000000 - next_random(random) % 50000000;
    common->end_time_ns = end;
    common->thread_id = 1234;
    common->kind = kind;
    common->flags = 0;
}

static void fill_endpoints(struct ldtap_net_endpoints *endpoints, uint16_t peer_port, uint16_t local_port) {
    endpoints->family = AF_INET;
    endpoints->peer_port = peer_port;
    endpoints->local_port = local_port;
    inet_pton(AF_INET, "10.1.2.3", endpoints->peer_address);
    inet_pton(AF_INET, "10.1.2.4", endpoints->local_address);
}

static int write_http(struct ldtap_ring_writer *writer, const struct bench_options *options, uint64_t *random) {
    struct ldtap_http_span_record record = {0};
    char request[512], response[256];
    uint64_t pick = next_random(random);
    uint32_t route = (uint32_t)(pick % options->routes);
    uint32_t status = (uint32_t)((pick >> 20) % options->statuses);
    const char *method = METHODS[(pick >> 40) % (sizeof METHODS / sizeof *METHODS)];
    int request_length = snprintf(request, sizeof request,
                                  "%s /api/svc%u/items/%u HTTP/1.1\r\nHost: shop.example.com:8000\r\n"
                                  "User-Agent: Mozilla/5.0 (X11; Linux x86_64) bench/1.0\r\n"
                                  "Content-Type: application/json\r\n",
                                  method, route, (unsigned)(pick >> 44));
    int response_length = snprintf(response, sizeof response,
                                   "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: 512\r\n",
                                   STATUS_CODES[status], STATUS_TEXTS[status]);
    fill_common(&record.span, random, LDTAP_SPAN_KIND_SERVER);
    fill_endpoints(&record.endpoints, 40000 + (uint16_t)(pick % 20000), 8000);
    record.request_body_bytes = method[0] == 'P' ? 128 : 0;
    record.response_body_bytes = 512;
    record.status_code = STATUS_CODES[status];
    record.request_head_length = (uint16_t)request_length;
    record.response_head_length = (uint16_t)response_length;
    struct ldtap_ring_part parts[] = {{&record, sizeof record},
                                      {request, (uint32_t)request_length},
                                      {response, (uint32_t)response_length}};
    return ldtap_ring_write(writer, LDTAP_RECORD_HTTP_SPAN, parts, 3);
}

static int write_db(struct ldtap_ring_writer *writer, uint64_t *random) {
    struct ldtap_db_span_record record = {0};
    char statement[512];
    static const char database[] = "shop";
    uint64_t pick = next_random(random);
    const char *shape = STATEMENTS[pick % (sizeof STATEMENTS / sizeof *STATEMENTS)];
    int length = snprintf(statement, sizeof statement, shape, (unsigned)(pick >> 32) % 100000);
    fill_common(&record.span, random, LDTAP_SPAN_KIND_CLIENT);
    fill_endpoints(&record.endpoints, 5432, 50000);
    record.system = LDTAP_DB_POSTGRESQL;
    record.source = LDTAP_DB_SOURCE_DRIVER;
    record.statement_length = (uint16_t)length;
    record.statement_full_length = (uint32_t)length;
    record.namespace_length = sizeof database - 1;
    record.rows = 1;
    struct ldtap_ring_part parts[] = {{&record, sizeof record},
                                      {statement, (uint32_t)length},
                                      {database, sizeof database - 1}};
    return ldtap_ring_write(writer, LDTAP_RECORD_DB_SPAN, parts, 3);
}

/* What the shim records for db_sqlite_loop.py: an INSERT (one change) then a point SELECT. */
static int write_sqlite_loop(struct ldtap_ring_writer *writer, uint64_t *random, uint64_t index) {
    static const char *const loop_statements[] = {"INSERT INTO kv (k, v) VALUES (?, ?)",
                                                  "SELECT v FROM kv WHERE k = ?"};
    static const char database[] = "/tmp/ldtap-bench/loop.sqlite3";
    struct ldtap_db_span_record record = {0};
    const char *statement = loop_statements[index % 2];
    uint16_t length = (uint16_t)strlen(statement);
    fill_common(&record.span, random, LDTAP_SPAN_KIND_CLIENT);
    record.system = LDTAP_DB_SQLITE;
    record.source = LDTAP_DB_SOURCE_DRIVER;
    record.statement_length = length;
    record.statement_full_length = length;
    record.namespace_length = sizeof database - 1;
    record.rows = 1;
    struct ldtap_ring_part parts[] = {
        {&record, sizeof record}, {statement, length}, {database, sizeof database - 1}};
    return ldtap_ring_write(writer, LDTAP_RECORD_DB_SPAN, parts, 3);
}

/* What the shim records for `redis-benchmark -t set,get`: its key is the same literal text
 * on every command; SET's value is 3 bytes. */
static int write_redis(struct ldtap_ring_writer *writer, uint64_t *random, uint64_t index) {
    static const char *const commands[] = {"SET key:__rand_int__ xxx", "GET key:__rand_int__"};
    struct ldtap_db_span_record record = {0};
    const char *statement = commands[index % 2];
    uint16_t length = (uint16_t)strlen(statement);
    fill_common(&record.span, random, LDTAP_SPAN_KIND_CLIENT);
    fill_endpoints(&record.endpoints, 6379, 50000);
    record.system = LDTAP_DB_REDIS;
    record.source = LDTAP_DB_SOURCE_WIRE;
    record.statement_length = length;
    record.statement_full_length = length;
    record.rows = -1;
    struct ldtap_ring_part parts[] = {{&record, sizeof record}, {statement, length}};
    return ldtap_ring_write(writer, LDTAP_RECORD_DB_SPAN, parts, 2);
}

static int write_one(struct ldtap_ring_writer *writer, const struct bench_options *options, uint64_t *random,
                     uint64_t index) {
    if (index % 100 >= options->db_percent) {
        return write_http(writer, options, random);
    }
    if (options->redis) {
        return write_redis(writer, random, index);
    }
    return options->sqlite_loop ? write_sqlite_loop(writer, random, index) : write_db(writer, random);
}

/* Flat out without dropping: wait while the ring has less than a large record's room. */
static void wait_for_room(struct ldtap_ring_writer *writer) {
    const uint64_t room = 4096;
    for (;;) {
        uint64_t head = __atomic_load_n(&writer->header->head, __ATOMIC_RELAXED);
        uint64_t tail = __atomic_load_n(&writer->header->tail, __ATOMIC_ACQUIRE);
        if (head - tail + room <= writer->header->data_size) {
            return;
        }
        nanosleep(&(struct timespec){0, 20000}, NULL);
    }
}

/* The child: one ring, then the records; exits when done (the collector sees it gone). */
static int produce(const char *directory, const struct bench_options *options, int ready_fd) {
    struct ldtap_ring_writer writer;
    struct ldtap_ring_identity identity = {.pid = getpid(),
                                           .parent_pid = getppid(),
                                           .start_time_ns = realtime_ns(),
                                           .executable_name = "bench-producer",
                                           .service_name = "bench"};
    int result = ldtap_ring_create(&writer, directory, &identity, options->ring_size, NULL, 0);
    if (result != 0) {
        fprintf(stderr, "ldtap_ring_create: %s\n", strerror(-result));
        return 1;
    }
    uint64_t random = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    uint64_t written = 0;
    if (options->rate == 0) {
        for (uint64_t i = 0; i < options->count; i++) {
            if (!options->prefill) {
                wait_for_room(&writer);
            }
            written += write_one(&writer, options, &random, i) == 0;
        }
    } else {
        /* Paced in 1 ms slices; a full ring drops, as the shim does. */
        uint64_t start = monotonic_ns(), total = (uint64_t)(options->rate * options->seconds);
        for (uint64_t i = 0; i < total;) {
            uint64_t due = (monotonic_ns() - start) * options->rate / 1000000000ull;
            for (; i < due && i < total; i++) {
                written += write_one(&writer, options, &random, i) == 0;
            }
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
    }
    if (ready_fd >= 0) {
        (void)!write(ready_fd, "x", 1);
    }
    fprintf(stderr, "producer: %" PRIu64 " records written, %" PRIu64 " dropped (ring full)\n", written,
            (uint64_t)writer.header->dropped_ring_full);
    return 0;
}

static bool parse_arguments(int argc, char **argv, struct bench_options *options) {
    *options = (struct bench_options){.count = 1000000, .routes = 1000, .statuses = 10, .db_percent = 0,
                                      .seconds = 3, .ring_size = 8u << 20, .output = "/dev/null"};
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--prefill") == 0) {
            options->prefill = true;
            continue;
        }
        if (strcmp(argv[i], "--sqlite-loop") == 0) {
            options->sqlite_loop = true;
            continue;
        }
        if (strcmp(argv[i], "--redis") == 0) {
            options->redis = true;
            continue;
        }
        if (!value) {
            return false;
        }
        if (strcmp(argv[i], "--count") == 0) {
            options->count = strtoull(value, NULL, 10);
        } else if (strcmp(argv[i], "--rate") == 0) {
            options->rate = strtoull(value, NULL, 10);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            options->seconds = strtod(value, NULL);
        } else if (strcmp(argv[i], "--routes") == 0) {
            options->routes = (uint32_t)strtoul(value, NULL, 10);
        } else if (strcmp(argv[i], "--statuses") == 0) {
            options->statuses = (uint32_t)strtoul(value, NULL, 10);
        } else if (strcmp(argv[i], "--db-percent") == 0) {
            options->db_percent = (uint32_t)strtoul(value, NULL, 10);
        } else if (strcmp(argv[i], "--ring-size") == 0) {
            options->ring_size = strtoull(value, NULL, 10) << 20;
        } else if (strcmp(argv[i], "--output") == 0) {
            options->output = value;
        } else {
            return false;
        }
        i++;
    }
    return options->routes > 0 && options->statuses > 0 && options->statuses <= 10 && options->db_percent <= 100;
}

static double seconds_of(struct timeval value) { return (double)value.tv_sec + (double)value.tv_usec / 1e6; }

int main(int argc, char **argv) {
    struct bench_options options;
    if (!parse_arguments(argc, argv, &options)) {
        fprintf(stderr,
                "usage: %s [--count N | --rate R --seconds S] [--prefill] [--routes 1000] [--statuses 10] "
                "[--db-percent 0] [--sqlite-loop | --redis] [--ring-size MiB] [--output PATH]\n",
                argv[0]);
        return 2;
    }
    char directory[] = "/dev/shm/ldtap-bench-XXXXXX";
    if (!mkdtemp(directory)) {
        perror("mkdtemp");
        return 1;
    }
    /* Prefill: the ring is complete before the collector looks, so drain cost is alone. */
    int ready[2] = {-1, -1};
    if (options.prefill && pipe(ready) != 0) {
        perror("pipe");
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        _exit(produce(directory, &options, ready[1]));
    }
    if (options.prefill) {
        char byte;
        (void)!read(ready[0], &byte, 1);
    }
    char *config_argv[] = {"--output", (char *)options.output, "--no-prometheus", "--no-summary", NULL};
    struct ldtap_config config;
    char error[1024] = "";
    struct ldtap_session session;
    if (ldtap_config_load(&config, LDTAP_COMMAND_COLLECT, 4, config_argv, NULL, error, sizeof error) != 0 ||
        ldtap_session_start(&session, &config, directory, "bench", error, sizeof error) != 0) {
        fprintf(stderr, "bench: %s\n", error);
        kill(child, SIGKILL);
        return 1;
    }
    struct rusage before, after, child_usage;
    getrusage(RUSAGE_SELF, &before);
    uint64_t start = monotonic_ns();
    int status = 0;
    pid_t reaped = 0;
    while (reaped != child) {
        ldtap_session_drain_round(&session);
        if (reaped == 0) {
            reaped = waitpid(child, &status, WNOHANG) == child ? child : 0;
        }
    }
    ldtap_drain_finish(session.drain, 0);
    uint64_t drained = monotonic_ns();
    struct ldtap_summary_totals totals = {0};
    ldtap_drain_totals(session.drain, &totals);
    struct ldtap_export_stats stats = {0};
    ldtap_exporter_flush(session.exporter, 10000);
    ldtap_exporter_get_stats(session.exporter, &stats);
    uint64_t exported = monotonic_ns();
    getrusage(RUSAGE_SELF, &after);
    getrusage(RUSAGE_CHILDREN, &child_usage);
    ldtap_session_finish(&session, 0);
    ldtap_config_free(&config);
    rmdir(directory);

    double cpu = seconds_of(after.ru_utime) - seconds_of(before.ru_utime) + seconds_of(after.ru_stime) -
                 seconds_of(before.ru_stime);
    double wall = (double)(exported - start) / 1e9;
    uint64_t spans = totals.decoded;
    /* One machine-readable line for scripts/bench_collector.sh. */
    printf("spans=%" PRIu64 " wall_s=%.3f drain_wall_s=%.3f collector_cpu_s=%.3f cpu_s_per_10k=%.5f "
           "spans_per_cpu_s=%.0f spans_per_wall_s=%.0f maxrss_kb=%ld producer_cpu_s=%.3f "
           "dropped_ring_full=%" PRIu64 " dropped_queue_full=%" PRIu64 " exported=%" PRIu64 " ring_mib=%" PRIu64
           "\n",
           spans, wall, (double)(drained - start) / 1e9, cpu, spans ? cpu * 10000.0 / (double)spans : 0.0,
           cpu > 0 ? (double)spans / cpu : 0.0, wall > 0 ? (double)spans / wall : 0.0, after.ru_maxrss,
           seconds_of(child_usage.ru_utime) + seconds_of(child_usage.ru_stime), totals.dropped_ring_full,
           stats.dropped_queue_full, stats.exported_spans, options.ring_size >> 20);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
