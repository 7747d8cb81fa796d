/* Unit tests for the shared-memory ring: writer and reader round trips, wrap-around, drops,
 * concurrency, crash leftovers (uncommitted records) and hostile ring contents. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ldtap_ring.h"

/* ---- helpers ---- */

static char test_root[64];
static char ring_directory[128];

static void make_directories(void) {
    snprintf(test_root, sizeof test_root, "/dev/shm/ldtap-test-XXXXXX");
    cr_assert_not_null(mkdtemp(test_root));
    snprintf(ring_directory, sizeof ring_directory, "%s/rings", test_root);
}

static void remove_directories(void) {
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", test_root);
    cr_assert_eq(system(command), 0);
}

TestSuite(ring, .init = make_directories, .fini = remove_directories);

static struct ldtap_ring_identity test_identity(void) {
    static uint64_t next_start = 1000;
    struct ldtap_ring_identity identity = {
        .pid = getpid(),
        .parent_pid = getppid(),
        .start_time_ns = next_start++,
        .process_start_ticks = 42,
        .executable_name = "test_ring",
        .service_name = "ring-tests",
        .command_line = "test_ring --jobs 1",
        .resource_attributes = "deployment.environment=test",
    };
    return identity;
}

static void create_ring(struct ldtap_ring_writer *writer, uint64_t data_size, char *path, size_t path_size) {
    struct ldtap_ring_identity identity = test_identity();
    int result = ldtap_ring_create(writer, ring_directory, &identity, data_size, path, path_size);
    cr_assert_eq(result, 0, "ldtap_ring_create: %s", strerror(-result));
}

static void open_reader(struct ldtap_ring_reader *reader, const char *path) {
    char error[256] = "";
    int result = ldtap_ring_reader_open(reader, path, error, sizeof error);
    cr_assert_eq(result, 0, "ldtap_ring_reader_open: %d %s", result, error);
}

static uint64_t now_monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* A test record: this prefix, then `body_length` bytes derived from (producer, sequence). */
struct test_record_prefix {
    uint32_t producer;
    uint32_t body_length;
    uint64_t sequence;
    uint64_t checksum;
};

static uint8_t body_byte(uint32_t producer, uint64_t sequence, uint32_t index) {
    return (uint8_t)(producer * 131u + sequence * 7u + index * 13u + (index >> 8));
}

static uint64_t checksum_bytes(const uint8_t *bytes, uint32_t length) {
    uint64_t hash = 1469598103934665603ull;
    for (uint32_t i = 0; i < length; i++) hash = (hash ^ bytes[i]) * 1099511628211ull;
    return hash;
}

static int write_test_record(struct ldtap_ring_writer *writer, uint32_t producer, uint64_t sequence,
                             uint32_t body_length) {
    static __thread uint8_t body[LDTAP_RECORD_MAX_BYTES];
    for (uint32_t i = 0; i < body_length; i++) body[i] = body_byte(producer, sequence, i);
    struct test_record_prefix prefix = {producer, body_length, sequence, checksum_bytes(body, body_length)};
    struct ldtap_ring_part parts[2] = {{&prefix, sizeof prefix}, {body, body_length}};
    return ldtap_ring_write(writer, LDTAP_RECORD_HTTP_SPAN, parts, 2);
}

static uint32_t record_bytes_for_body(uint32_t body_length) {
    return (LDTAP_RECORD_HEADER_BYTES + (uint32_t)sizeof(struct test_record_prefix) + body_length + 7) & ~7u;
}

/* Checks a record's framing and content; returns its prefix. */
static struct test_record_prefix check_test_record(const struct ldtap_ring_record *record) {
    struct test_record_prefix prefix;
    cr_assert_eq(record->type, LDTAP_RECORD_HTTP_SPAN);
    cr_assert_geq(record->payload_length, sizeof prefix);
    memcpy(&prefix, record->payload, sizeof prefix);
    uint32_t expected_payload = record_bytes_for_body(prefix.body_length) - LDTAP_RECORD_HEADER_BYTES;
    cr_assert_eq(record->payload_length, expected_payload, "payload %u, expected %u", record->payload_length,
                 expected_payload);
    const uint8_t *body = record->payload + sizeof prefix;
    cr_assert_eq(checksum_bytes(body, prefix.body_length), prefix.checksum, "checksum mismatch, sequence %llu",
                 (unsigned long long)prefix.sequence);
    for (uint32_t i = 0; i < prefix.body_length; i++)
        cr_assert_eq(body[i], body_byte(prefix.producer, prefix.sequence, i));
    for (uint32_t i = (uint32_t)sizeof prefix + prefix.body_length; i < record->payload_length; i++)
        cr_assert_eq(record->payload[i], 0, "padding not zero");
    return prefix;
}

static struct ldtap_ring_record record_buffer;

static struct test_record_prefix read_expecting_record(struct ldtap_ring_reader *reader) {
    enum ldtap_ring_read_status status = ldtap_ring_reader_next(reader, &record_buffer, true, now_monotonic_ns());
    cr_assert_eq(status, LDTAP_RING_READ_RECORD, "status %d", status);
    return check_test_record(&record_buffer);
}

static enum ldtap_ring_read_status next_status(struct ldtap_ring_reader *reader, bool alive, uint64_t now_ns) {
    return ldtap_ring_reader_next(reader, &record_buffer, alive, now_ns);
}

/* Reserves `length` bytes the way a producer does (protocol steps 1-2), optionally writing
 * the RESERVED header word (step 3), then "dies". */
static void reserve_and_die(struct ldtap_ring_writer *writer, uint32_t length, bool write_word) {
    uint64_t head = writer->header->head;
    cr_assert_leq(head + length - writer->header->tail, writer->mask + 1);
    writer->header->head = head + length;
    if (write_word) {
        uint64_t *word = (uint64_t *)(writer->data + (head & writer->mask));
        *word = ldtap_record_word(length, LDTAP_RECORD_STATE_RESERVED, LDTAP_RECORD_HTTP_SPAN);
    }
}

/* Stores a raw record header word at head and advances head by `reserve` bytes. */
static void put_raw_word(struct ldtap_ring_writer *writer, uint64_t word, uint32_t reserve) {
    uint64_t head = writer->header->head;
    *(uint64_t *)(writer->data + (head & writer->mask)) = word;
    writer->header->head = head + reserve;
}

/* ---- round trips ---- */

Test(ring, single_record_round_trip) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    cr_assert_eq(write_test_record(&writer, 7, 99, 250), 0);
    cr_assert_eq(writer.header->committed_records, 1);

    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    cr_assert_eq(reader.header->pid, getpid());
    cr_assert_str_eq(reader.header->service_name, "ring-tests");
    cr_assert_str_eq(reader.header->executable_name, "test_ring");
    cr_assert(!ldtap_ring_reader_is_empty(&reader));
    struct test_record_prefix prefix = read_expecting_record(&reader);
    cr_assert_eq(prefix.producer, 7);
    cr_assert_eq(prefix.sequence, 99);
    cr_assert_eq(prefix.body_length, 250);
    cr_assert_eq(next_status(&reader, true, now_monotonic_ns()), LDTAP_RING_READ_EMPTY);
    cr_assert(ldtap_ring_reader_is_empty(&reader));
    cr_assert_eq(reader.header->consumed_records, 1);
    /* consumed bytes are zeroed */
    for (uint32_t i = 0; i < record_bytes_for_body(250); i++) cr_assert_eq(reader.data[i], 0);
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

Test(ring, file_layout_and_identity) {
    struct ldtap_ring_writer writer;
    char path[256];
    char long_text[3000];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    struct ldtap_ring_identity identity = test_identity();
    identity.command_line = long_text;
    identity.executable_name = long_text;
    identity.service_name = NULL;
    cr_assert_eq(ldtap_ring_create(&writer, ring_directory, &identity, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path), 0);

    char expected_path[256];
    snprintf(expected_path, sizeof expected_path, "%s/%d-%llu.ring", ring_directory, (int)identity.pid,
             (unsigned long long)identity.start_time_ns);
    cr_assert_str_eq(path, expected_path);
    struct stat status;
    cr_assert_eq(stat(path, &status), 0);
    cr_assert_eq(status.st_mode & 0777, 0600);
    cr_assert_eq((uint64_t)status.st_size, LDTAP_RING_HEADER_SIZE + LDTAP_RING_MIN_DATA_SIZE);
    cr_assert_eq(status.st_blocks * 512, status.st_size, "tmpfs pages were not reserved");
    cr_assert_eq(stat(ring_directory, &status), 0);
    cr_assert_eq(status.st_mode & 0777, 0700);

    struct ldtap_ring_header *header = writer.header;
    cr_assert_eq(header->magic, LDTAP_RING_MAGIC);
    cr_assert_eq(header->abi_version, LDTAP_RING_ABI_VERSION);
    cr_assert_eq(header->data_size, LDTAP_RING_MIN_DATA_SIZE);
    cr_assert_eq(strlen(header->command_line), LDTAP_IDENTITY_TEXT_BYTES - 1);
    cr_assert_eq(strlen(header->executable_name), LDTAP_NAME_BYTES - 1);
    cr_assert_str_eq(header->service_name, "");
    cr_assert_str_eq(header->resource_attributes, "deployment.environment=test");

    /* same identity again: O_EXCL refuses */
    struct ldtap_ring_writer second;
    cr_assert_eq(ldtap_ring_create(&second, ring_directory, &identity, LDTAP_RING_MIN_DATA_SIZE, NULL, 0), -EEXIST);
    /* bad sizes */
    identity.start_time_ns += 1;
    cr_assert_eq(ldtap_ring_create(&second, ring_directory, &identity, 100000, NULL, 0), -EINVAL);
    cr_assert_eq(ldtap_ring_create(&second, ring_directory, &identity, 4096, NULL, 0), -EINVAL);
    char tiny_path[8];
    cr_assert_eq(ldtap_ring_create(&second, ring_directory, &identity, LDTAP_RING_MIN_DATA_SIZE, tiny_path,
                                   sizeof tiny_path),
                 -ENAMETOOLONG);
    ldtap_ring_forget(&writer);
    cr_assert_null(writer.header);
    cr_assert_eq(ldtap_ring_write(&writer, LDTAP_RECORD_HTTP_SPAN, NULL, 0), -1);
}

/* The shim keeps an address range from start-up for its ring (ldtap_ring_reserve); a forked
 * child's ring takes the parent's range. */
Test(ring, reserved_range_holds_the_ring_and_outlives_it) {
    cr_assert_null(ldtap_ring_reserve(100000));
    void *range = ldtap_ring_reserve(LDTAP_RING_MIN_DATA_SIZE);
    cr_assert_not_null(range);

    struct ldtap_ring_writer writer;
    char path[256];
    struct ldtap_ring_identity identity = test_identity();
    cr_assert_eq(ldtap_ring_create_in(&writer, range, ring_directory, &identity, LDTAP_RING_MIN_DATA_SIZE,
                                      path, sizeof path),
                 0);
    cr_assert_eq((void *)writer.header, range);
    cr_assert_eq(write_test_record(&writer, 1, 7, 100), 0);
    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    cr_assert_eq(read_expecting_record(&reader).sequence, 7, "the range does not map the ring file");
    ldtap_ring_reader_close(&reader);

    cr_assert_eq(ldtap_ring_forget_keeping_range(&writer), range);
    cr_assert_null(writer.header);
    cr_assert_null(ldtap_ring_forget_keeping_range(&writer));
    unsigned char resident;
    cr_assert_eq(mincore(range, 4096, &resident), 0, "the range was unmapped");

    identity = test_identity();
    cr_assert_eq(
        ldtap_ring_create_in(&writer, range, ring_directory, &identity, LDTAP_RING_MIN_DATA_SIZE, NULL, 0),
        0);
    cr_assert_eq((void *)writer.header, range);
    cr_assert_eq(writer.header->start_time_ns, identity.start_time_ns);
    ldtap_ring_forget(&writer);
    cr_assert_eq(mincore(range, 4096, &resident), -1);
    cr_assert_eq(errno, ENOMEM);
}

Test(ring, many_sizes_across_wrap_around) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    struct ldtap_ring_reader reader;
    open_reader(&reader, path);

    uint64_t sequence = 0;
    uint64_t expected = 0;
    uint32_t size_seed = 1;
    /* Alternate bursts and drains, leaving a varying backlog, so records start at every
     * alignment and wrap many times. At most 5 + 2 records of < 4.1 KiB, or one of 16 KiB,
     * are outstanding: the 64 KiB ring never fills. */
    for (int round = 0; round < 2000; round++) {
        int burst = 1 + round % 5;
        for (int i = 0; i < burst; i++) {
            size_seed = size_seed * 1103515245u + 12345u;
            uint32_t body = (size_seed >> 8) % 4000;
            if (round % 50 == 0 && i == 0)
                body = LDTAP_RECORD_MAX_BYTES - LDTAP_RECORD_HEADER_BYTES - (uint32_t)sizeof(struct test_record_prefix);
            cr_assert_eq(write_test_record(&writer, 1, sequence++, body), 0, "round %d", round);
        }
        uint64_t keep = round == 1999 ? 0 : (uint64_t)(round % 3);
        while (sequence - expected > keep) {
            struct test_record_prefix prefix = read_expecting_record(&reader);
            cr_assert_eq(prefix.sequence, expected);
            expected++;
        }
    }
    cr_assert_eq(expected, sequence);
    cr_assert(reader.header->tail > 20 * LDTAP_RING_MIN_DATA_SIZE, "did not wrap often enough");
    cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_EMPTY);
    cr_assert_eq(writer.header->dropped_ring_full, 0);
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

Test(ring, empty_payload_and_odd_parts) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    cr_assert_eq(ldtap_ring_write(&writer, 3, NULL, 0), 0);
    const char *pieces[] = {"a", "", "bcd", "efghijklm"};
    struct ldtap_ring_part parts[4];
    for (int i = 0; i < 4; i++) parts[i] = (struct ldtap_ring_part){pieces[i], (uint32_t)strlen(pieces[i])};
    cr_assert_eq(ldtap_ring_write(&writer, 4, parts, 4), 0);

    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_RECORD);
    cr_assert_eq(record_buffer.type, 3);
    cr_assert_eq(record_buffer.payload_length, 0);
    cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_RECORD);
    cr_assert_eq(record_buffer.type, 4);
    cr_assert_eq(record_buffer.payload_length, 16);
    cr_assert_eq(memcmp(record_buffer.payload, "abcdefghijklm\0\0\0", 16), 0);
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

/* ---- drops ---- */

Test(ring, full_ring_drops_exactly) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    uint32_t body = 1024 - LDTAP_RECORD_HEADER_BYTES - (uint32_t)sizeof(struct test_record_prefix);
    cr_assert_eq(record_bytes_for_body(body), 1024);
    int committed = 0, dropped = 0;
    for (int i = 0; i < 100; i++) {
        if (write_test_record(&writer, 0, (uint64_t)i, body) == 0) committed++;
        else dropped++;
    }
    cr_assert_eq(committed, 64);
    cr_assert_eq(dropped, 36);
    cr_assert_eq(writer.header->committed_records, 64);
    cr_assert_eq(writer.header->dropped_ring_full, 36);
    cr_assert_eq(writer.header->committed_records + writer.header->dropped_ring_full, 100);

    /* too large: counted separately, never reserved */
    cr_assert_eq(write_test_record(&writer, 0, 100, LDTAP_RECORD_MAX_BYTES), -1);
    cr_assert_eq(writer.header->dropped_too_large, 1);

    /* freeing one record's room lets exactly one more in */
    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    cr_assert_eq(read_expecting_record(&reader).sequence, 0);
    cr_assert_eq(write_test_record(&writer, 0, 101, body), 0);
    cr_assert_eq(write_test_record(&writer, 0, 102, body), -1);
    for (uint64_t expected = 1; expected < 64; expected++) cr_assert_eq(read_expecting_record(&reader).sequence, expected);
    cr_assert_eq(read_expecting_record(&reader).sequence, 101);
    cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_EMPTY);
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

/* ---- concurrency ---- */

#define MAX_PRODUCERS 8

struct concurrency_run {
    struct ldtap_ring_writer writer;
    struct ldtap_ring_reader reader;
    int producer_count;
    uint64_t records_per_producer;
    uint64_t dropped[MAX_PRODUCERS];
    uint64_t received[MAX_PRODUCERS];
    int64_t last_sequence[MAX_PRODUCERS];
    int producers_done;
    bool expect_no_loss;
    char failure[256];
};

struct producer_argument {
    struct concurrency_run *run;
    uint32_t index;
};

static void *producer_main(void *opaque) {
    struct producer_argument *argument = opaque;
    struct concurrency_run *run = argument->run;
    uint32_t seed = argument->index * 2654435761u + 1;
    for (uint64_t sequence = 0; sequence < run->records_per_producer; sequence++) {
        seed = seed * 1664525u + 1013904223u;
        uint32_t body = (seed >> 10) % 600;
        if (write_test_record(&run->writer, argument->index, sequence, body) != 0) run->dropped[argument->index]++;
    }
    __atomic_fetch_add(&run->producers_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Checks records without cr_assert (not safe off the main thread); notes the first failure. */
static void consume_checked(struct concurrency_run *run, const struct ldtap_ring_record *record) {
    struct test_record_prefix prefix;
    if (run->failure[0] != '\0') return;
    if (record->payload_length < sizeof prefix) {
        snprintf(run->failure, sizeof run->failure, "short record %u", record->payload_length);
        return;
    }
    memcpy(&prefix, record->payload, sizeof prefix);
    if (prefix.producer >= (uint32_t)run->producer_count || prefix.body_length > 600 ||
        record->payload_length != record_bytes_for_body(prefix.body_length) - LDTAP_RECORD_HEADER_BYTES ||
        checksum_bytes(record->payload + sizeof prefix, prefix.body_length) != prefix.checksum) {
        snprintf(run->failure, sizeof run->failure, "bad record: producer %u sequence %llu", prefix.producer,
                 (unsigned long long)prefix.sequence);
        return;
    }
    int64_t sequence = (int64_t)prefix.sequence;
    int64_t last = run->last_sequence[prefix.producer];
    if (run->expect_no_loss ? sequence != last + 1 : sequence <= last) {
        snprintf(run->failure, sizeof run->failure, "producer %u: sequence %lld after %lld", prefix.producer,
                 (long long)sequence, (long long)last);
        return;
    }
    run->last_sequence[prefix.producer] = sequence;
    run->received[prefix.producer]++;
}

static void *consumer_main(void *opaque) {
    struct concurrency_run *run = opaque;
    static struct ldtap_ring_record record;
    for (;;) {
        bool done = __atomic_load_n(&run->producers_done, __ATOMIC_ACQUIRE) == run->producer_count;
        enum ldtap_ring_read_status status = ldtap_ring_reader_next(&run->reader, &record, true, now_monotonic_ns());
        if (status == LDTAP_RING_READ_RECORD) {
            consume_checked(run, &record);
        } else if (status == LDTAP_RING_READ_EMPTY) {
            if (done && ldtap_ring_reader_is_empty(&run->reader)) break;
            sched_yield();
        } else {
            snprintf(run->failure, sizeof run->failure, "unexpected status %d", status);
            break;
        }
    }
    return NULL;
}

static void run_concurrently(int producer_count, uint64_t records_per_producer, uint64_t data_size,
                             bool expect_no_loss) {
    static struct concurrency_run run;
    memset(&run, 0, sizeof run);
    char path[256];
    create_ring(&run.writer, data_size, path, sizeof path);
    open_reader(&run.reader, path);
    /* The reader reads through the writer's mapping: ThreadSanitizer (LDTAP_TSAN) tracks
     * synchronisation per virtual address and cannot see it across two mappings of one
     * file. The fd and its flock stay the reader's own. */
    munmap(run.reader.header, run.reader.mapping_size);
    run.reader.header = run.writer.header;
    run.reader.data = run.writer.data;
    run.producer_count = producer_count;
    run.records_per_producer = records_per_producer;
    run.expect_no_loss = expect_no_loss;
    for (int i = 0; i < MAX_PRODUCERS; i++) run.last_sequence[i] = -1;

    pthread_t consumer, producers[MAX_PRODUCERS];
    struct producer_argument arguments[MAX_PRODUCERS];
    cr_assert_eq(pthread_create(&consumer, NULL, consumer_main, &run), 0);
    for (int i = 0; i < producer_count; i++) {
        arguments[i] = (struct producer_argument){&run, (uint32_t)i};
        cr_assert_eq(pthread_create(&producers[i], NULL, producer_main, &arguments[i]), 0);
    }
    for (int i = 0; i < producer_count; i++) pthread_join(producers[i], NULL);
    pthread_join(consumer, NULL);
    cr_assert_str_empty(run.failure, "%s", run.failure);

    uint64_t produced = (uint64_t)producer_count * records_per_producer;
    uint64_t received = 0, dropped = 0;
    for (int i = 0; i < producer_count; i++) {
        cr_assert_eq(run.received[i] + run.dropped[i], records_per_producer, "producer %d", i);
        received += run.received[i];
        dropped += run.dropped[i];
    }
    struct ldtap_ring_header *header = run.writer.header;
    cr_assert_eq(header->committed_records, received);
    cr_assert_eq(header->dropped_ring_full, dropped);
    cr_assert_eq(header->committed_records + header->dropped_ring_full, produced);
    cr_assert_eq(header->consumed_records, received);
    cr_assert_eq(header->invalid_records + header->skipped_uncommitted + header->abandoned_bytes, 0);
    if (expect_no_loss) cr_assert_eq(dropped, 0);
    else cr_assert_gt(dropped, 0, "the small ring never filled: the test proves nothing");
    run.reader.header = NULL; /* the mapping is the writer's: unmapped by ldtap_ring_forget */
    ldtap_ring_reader_close(&run.reader);
    ldtap_ring_forget(&run.writer);
}

Test(ring, four_producers_no_loss_when_ring_is_large_enough, .timeout = 120) {
    /* 4 x 20000 records of at most ~640 bytes fit in 64 MiB: no drop whatever the consumer's pace */
    run_concurrently(4, 20000, 64u * 1024 * 1024, true);
}

Test(ring, eight_producers_keeping_up, .timeout = 120) {
    run_concurrently(8, 10000, 64u * 1024 * 1024, true);
}

Test(ring, eight_producers_small_ring_counts_every_drop, .timeout = 120) {
    run_concurrently(8, 20000, LDTAP_RING_MIN_DATA_SIZE, false);
}

/* ---- attach, reattach, exclusivity ---- */

Test(ring, reader_attaching_later_sees_everything) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    for (uint64_t i = 0; i < 10; i++) cr_assert_eq(write_test_record(&writer, 2, i, (uint32_t)i * 37), 0);
    ldtap_ring_forget(&writer); /* the writer may even be gone */
    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    for (uint64_t i = 0; i < 10; i++) cr_assert_eq(read_expecting_record(&reader).sequence, i);
    cr_assert_eq(next_status(&reader, false, 0), LDTAP_RING_READ_EMPTY);
    ldtap_ring_reader_close(&reader);
}

Test(ring, reopened_reader_continues_from_tail) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    for (uint64_t i = 0; i < 10; i++) cr_assert_eq(write_test_record(&writer, 2, i, 100), 0);
    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    for (uint64_t i = 0; i < 5; i++) cr_assert_eq(read_expecting_record(&reader).sequence, i);
    ldtap_ring_reader_close(&reader);
    cr_assert_eq(reader.fd, -1);
    cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_CORRUPT, "a closed reader reads nothing");

    open_reader(&reader, path);
    for (uint64_t i = 5; i < 10; i++) cr_assert_eq(read_expecting_record(&reader).sequence, i);
    cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_EMPTY);
    cr_assert_eq(reader.header->consumed_records, 10);
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

Test(ring, second_reader_refused_while_first_holds_lock) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    struct ldtap_ring_reader first, second;
    open_reader(&first, path);
    char error[256] = "";
    cr_assert_eq(ldtap_ring_reader_open(&second, path, error, sizeof error), -EWOULDBLOCK);
    cr_assert(strstr(error, "another collector") != NULL, "%s", error);
    cr_assert_null(second.header);
    ldtap_ring_reader_close(&first);
    open_reader(&second, path);
    ldtap_ring_reader_close(&second);
    ldtap_ring_forget(&writer);
}

/* ---- crash leftovers ---- */

Test(ring, reserved_record_of_dead_writer_is_skipped) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    cr_assert_eq(write_test_record(&writer, 1, 0, 64), 0);
    reserve_and_die(&writer, 200, true);
    cr_assert_eq(write_test_record(&writer, 1, 1, 64), 0);

    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    cr_assert_eq(read_expecting_record(&reader).sequence, 0);
    cr_assert_eq(next_status(&reader, true, 1000), LDTAP_RING_READ_EMPTY, "a live writer gets time");
    cr_assert_eq(next_status(&reader, true, 2000), LDTAP_RING_READ_EMPTY);
    cr_assert_eq(next_status(&reader, false, 3000), LDTAP_RING_READ_SKIPPED);
    cr_assert_eq(reader.header->skipped_uncommitted, 1);
    cr_assert_eq(read_expecting_record(&reader).sequence, 1);
    cr_assert_eq(next_status(&reader, false, 4000), LDTAP_RING_READ_EMPTY);
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

Test(ring, reserved_record_stalled_too_long_is_skipped) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    reserve_and_die(&writer, 64, true);
    cr_assert_eq(write_test_record(&writer, 1, 5, 10), 0);

    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    uint64_t start = 5000;
    cr_assert_eq(next_status(&reader, true, start), LDTAP_RING_READ_EMPTY);
    cr_assert_eq(next_status(&reader, true, start + LDTAP_RING_STALL_NS - 1), LDTAP_RING_READ_EMPTY);
    cr_assert_eq(next_status(&reader, true, start - 10), LDTAP_RING_READ_EMPTY, "a clock going back skips nothing");
    cr_assert_eq(next_status(&reader, true, start + LDTAP_RING_STALL_NS), LDTAP_RING_READ_SKIPPED);
    cr_assert_eq(reader.header->skipped_uncommitted, 1);
    cr_assert_eq(read_expecting_record(&reader).sequence, 5);
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

Test(ring, zero_word_of_dead_writer_abandons_the_rest) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    cr_assert_eq(write_test_record(&writer, 1, 0, 8), 0);
    reserve_and_die(&writer, 128, false);
    cr_assert_eq(write_test_record(&writer, 1, 1, 24), 0);

    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    cr_assert_eq(read_expecting_record(&reader).sequence, 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(next_status(&reader, true, (uint64_t)i * LDTAP_RING_STALL_NS * 2), LDTAP_RING_READ_EMPTY,
                     "a live writer between reserve and header is waited for");
    cr_assert_eq(next_status(&reader, false, 0), LDTAP_RING_READ_SKIPPED);
    cr_assert_eq(reader.header->abandoned_bytes, 128 + record_bytes_for_body(24));
    cr_assert(ldtap_ring_reader_is_empty(&reader));
    cr_assert_eq(next_status(&reader, false, 0), LDTAP_RING_READ_EMPTY);
    /* the ring is usable again and zeroed */
    cr_assert_eq(write_test_record(&writer, 1, 2, 24), 0);
    cr_assert_eq(read_expecting_record(&reader).sequence, 2);
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

/* ---- hostile rings ---- */

static void create_ring_file_then_forget(char *path, size_t path_size) {
    struct ldtap_ring_writer writer;
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, path_size);
    ldtap_ring_forget(&writer);
}

static int open_after_patch(const char *path, size_t offset, const void *bytes, size_t length) {
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, bytes, length, (off_t)offset), (ssize_t)length);
    close(fd);
    struct ldtap_ring_reader reader;
    char error[256] = "";
    int result = ldtap_ring_reader_open(&reader, path, error, sizeof error);
    if (result == 0) ldtap_ring_reader_close(&reader);
    else cr_assert_neq(error[0], '\0', "no message for %d", result);
    return result;
}

Test(ring, corrupt_headers_are_rejected) {
    char path[256];
    uint64_t bad_magic = 0x1122334455667788ull, zero = 0, bad_size = 100000, huge_size = 1ull << 40;
    uint32_t bad_version = 99, bad_header_size = 8192;

    create_ring_file_then_forget(path, sizeof path);
    cr_assert_eq(open_after_patch(path, 0, &bad_magic, sizeof bad_magic), -EPROTO);
    create_ring_file_then_forget(path, sizeof path);
    cr_assert_eq(open_after_patch(path, 0, &zero, sizeof zero), -EAGAIN);
    create_ring_file_then_forget(path, sizeof path);
    cr_assert_eq(open_after_patch(path, offsetof(struct ldtap_ring_header, abi_version), &bad_version, 4), -EPROTO);
    create_ring_file_then_forget(path, sizeof path);
    cr_assert_eq(open_after_patch(path, offsetof(struct ldtap_ring_header, header_size), &bad_header_size, 4),
                 -EPROTO);
    create_ring_file_then_forget(path, sizeof path);
    cr_assert_eq(open_after_patch(path, offsetof(struct ldtap_ring_header, data_size), &bad_size, 8), -EPROTO);
    create_ring_file_then_forget(path, sizeof path);
    cr_assert_eq(open_after_patch(path, offsetof(struct ldtap_ring_header, data_size), &huge_size, 8), -EPROTO);
    uint64_t bigger = 2 * LDTAP_RING_MIN_DATA_SIZE; /* valid power of two, file too small */
    create_ring_file_then_forget(path, sizeof path);
    cr_assert_eq(open_after_patch(path, offsetof(struct ldtap_ring_header, data_size), &bigger, 8), -EPROTO);

    /* file longer than header + data */
    create_ring_file_then_forget(path, sizeof path);
    cr_assert_eq(truncate(path, LDTAP_RING_HEADER_SIZE + LDTAP_RING_MIN_DATA_SIZE + 4096), 0);
    cr_assert_eq(open_after_patch(path, 0, "", 0), -EPROTO);
    /* file too short to hold a header */
    create_ring_file_then_forget(path, sizeof path);
    cr_assert_eq(truncate(path, 100), 0);
    cr_assert_eq(open_after_patch(path, 0, "", 0), -EPROTO);

    /* not a regular file; a symlink to a valid ring */
    char link_path[300];
    struct ldtap_ring_reader reader;
    cr_assert_eq(ldtap_ring_reader_open(&reader, ring_directory, NULL, 0), -EISDIR);
    create_ring_file_then_forget(path, sizeof path);
    snprintf(link_path, sizeof link_path, "%s/link.ring", ring_directory);
    cr_assert_eq(symlink(path, link_path), 0);
    cr_assert_eq(ldtap_ring_reader_open(&reader, link_path, NULL, 0), -ELOOP);
    cr_assert_eq(ldtap_ring_reader_open(&reader, "/nonexistent/ring", NULL, 0), -ENOENT);
}

Test(ring, bad_record_lengths_never_crash_and_are_counted) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    struct ldtap_ring_reader reader;
    open_reader(&reader, path);

    /* committed, but longer than what was reserved */
    put_raw_word(&writer, ldtap_record_word(4096, LDTAP_RECORD_STATE_COMMITTED, 1), 16);
    cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_CORRUPT);
    cr_assert_eq(reader.header->invalid_records, 1);
    /* not a multiple of 8, too short, too long */
    uint32_t bad_lengths[] = {12, 4, 0xffffff, LDTAP_RECORD_MAX_BYTES + 8};
    for (size_t i = 0; i < sizeof bad_lengths / sizeof bad_lengths[0]; i++) {
        *(uint64_t *)(writer.data + (reader.header->tail & writer.mask)) =
            ldtap_record_word(bad_lengths[i], LDTAP_RECORD_STATE_COMMITTED, 1);
        writer.header->head = reader.header->tail + LDTAP_RING_MIN_DATA_SIZE;
        cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_CORRUPT, "length %u", bad_lengths[i]);
    }
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

Test(ring, invalid_committed_records_are_skipped_by_length) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    put_raw_word(&writer, ldtap_record_word(32, LDTAP_RECORD_STATE_COMMITTED, 0), 32);   /* type 0 */
    put_raw_word(&writer, ldtap_record_word(32, LDTAP_RECORD_STATE_COMMITTED, 999), 32); /* type too high */
    put_raw_word(&writer, ldtap_record_word(16, 0x7f, 1), 16);                             /* unknown state */
    put_raw_word(&writer, ldtap_record_word(16, LDTAP_RECORD_STATE_COMMITTED, 1) | (1ull << 60), 16);
    cr_assert_eq(write_test_record(&writer, 3, 77, 33), 0);

    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    for (int i = 0; i < 4; i++) cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_SKIPPED, "record %d", i);
    cr_assert_eq(reader.header->invalid_records, 4);
    cr_assert_eq(read_expecting_record(&reader).sequence, 77);
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

/* Reopens `reader` on `path`: the reader takes the header's tail once, at open. */
static void reopen_reader(struct ldtap_ring_reader *reader, const char *path) {
    ldtap_ring_reader_close(reader);
    open_reader(reader, path);
}

Test(ring, insane_head_and_tail_are_corrupt) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    writer.header->head = LDTAP_RING_MIN_DATA_SIZE + 8; /* more than data_size ahead of tail */
    cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_CORRUPT);
    writer.header->head = 64;
    writer.header->tail = 128; /* tail ahead of head */
    reopen_reader(&reader, path);
    cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_CORRUPT);
    writer.header->tail = 3; /* misaligned */
    reopen_reader(&reader, path);
    cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_CORRUPT);
    writer.header->head = writer.header->tail = UINT64_MAX - 7; /* counters about to wrap */
    reopen_reader(&reader, path);
    cr_assert_eq(next_status(&reader, true, 0), LDTAP_RING_READ_EMPTY);
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

Test(ring, tail_rewritten_by_the_process_is_ignored) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    write_test_record(&writer, 0, 5, 100);
    writer.header->tail = 4096; /* a hostile or buggy process moves the consumer's counter */
    cr_assert_eq(read_expecting_record(&reader).sequence, 5);
    cr_assert_eq(writer.header->tail, record_bytes_for_body(100), "the reader publishes its own tail");
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

Test(ring, random_garbage_in_data_area, .timeout = 120) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    uint64_t state = 88172645463325252ull;
#define NEXT_RANDOM() (state ^= state << 13, state ^= state >> 7, state ^= state << 17, state)
    for (int trial = 0; trial < 300; trial++) {
        uint64_t *words = (uint64_t *)writer.data;
        for (uint64_t i = 0; i < LDTAP_RING_MIN_DATA_SIZE / 8; i++) {
            uint64_t value = NEXT_RANDOM();
            /* sometimes plausible words so the validation paths past the state byte run */
            if (trial % 3 == 0 && i % 4 == 0)
                value = ldtap_record_word((uint32_t)(value % 2048) & ~7u,
                                          value & 1 ? LDTAP_RECORD_STATE_COMMITTED : LDTAP_RECORD_STATE_RESERVED,
                                          (uint32_t)(value >> 40) % 4);
            words[i] = value;
        }
        uint64_t tail = NEXT_RANDOM();
        if (trial % 2 == 0) tail &= ~7ull;
        writer.header->tail = tail;
        writer.header->head = tail + NEXT_RANDOM() % (trial % 4 == 0 ? UINT64_MAX : LDTAP_RING_MIN_DATA_SIZE + 1);
        for (int step = 0; step < 100000; step++) {
            enum ldtap_ring_read_status status = next_status(&reader, trial % 5 != 0, (uint64_t)step * 1000000000ull);
            if (status == LDTAP_RING_READ_EMPTY || status == LDTAP_RING_READ_CORRUPT) break;
            if (status == LDTAP_RING_READ_RECORD) cr_assert_leq(record_buffer.payload_length, LDTAP_RECORD_MAX_BYTES);
        }
    }
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}

/* ---- directory safety ---- */

Test(ring, directory_symlink_refused) {
    char target[200], link_path[200];
    snprintf(target, sizeof target, "%s/real", test_root);
    snprintf(link_path, sizeof link_path, "%s/link", test_root);
    cr_assert_eq(mkdir(target, 0700), 0);
    cr_assert_eq(symlink(target, link_path), 0);
    struct ldtap_ring_writer writer;
    struct ldtap_ring_identity identity = test_identity();
    cr_assert_eq(ldtap_ring_create(&writer, link_path, &identity, LDTAP_RING_MIN_DATA_SIZE, NULL, 0), -ELOOP);
    cr_assert_null(writer.header);
    /* a symlink to a file is refused too */
    char file_link[200];
    snprintf(file_link, sizeof file_link, "%s/filelink", test_root);
    cr_assert_eq(symlink("/etc/passwd", file_link), 0);
    cr_assert_lt(ldtap_ring_create(&writer, file_link, &identity, LDTAP_RING_MIN_DATA_SIZE, NULL, 0), 0);
}

Test(ring, directory_with_group_or_other_access_refused) {
    char directory[200];
    snprintf(directory, sizeof directory, "%s/open", test_root);
    cr_assert_eq(mkdir(directory, 0700), 0);
    cr_assert_eq(chmod(directory, 0755), 0);
    struct ldtap_ring_writer writer;
    struct ldtap_ring_identity identity = test_identity();
    cr_assert_eq(ldtap_ring_create(&writer, directory, &identity, LDTAP_RING_MIN_DATA_SIZE, NULL, 0), -EPERM);
    cr_assert_eq(chmod(directory, 0710), 0);
    cr_assert_eq(ldtap_ring_create(&writer, directory, &identity, LDTAP_RING_MIN_DATA_SIZE, NULL, 0), -EPERM);
    cr_assert_eq(chmod(directory, 0700), 0);
    cr_assert_eq(ldtap_ring_create(&writer, directory, &identity, LDTAP_RING_MIN_DATA_SIZE, NULL, 0), 0);
    ldtap_ring_forget(&writer);
}

Test(ring, directory_owned_by_another_user_refused) {
    char directory[200];
    snprintf(directory, sizeof directory, "%s/theirs", test_root);
    cr_assert_eq(mkdir(directory, 0700), 0);
    struct passwd *nobody = getpwnam("nobody");
    if (geteuid() != 0 || nobody == NULL) cr_skip_test("needs root and a 'nobody' user to chown");
    cr_assert_eq(chown(directory, nobody->pw_uid, nobody->pw_gid), 0);
    struct ldtap_ring_writer writer;
    struct ldtap_ring_identity identity = test_identity();
    cr_assert_eq(ldtap_ring_create(&writer, directory, &identity, LDTAP_RING_MIN_DATA_SIZE, NULL, 0), -EPERM);
}

Test(ring, missing_parent_is_an_error_not_a_crash) {
    struct ldtap_ring_writer writer;
    struct ldtap_ring_identity identity = test_identity();
    cr_assert_eq(ldtap_ring_create(&writer, "/nonexistent/ldtap/rings", &identity, LDTAP_RING_MIN_DATA_SIZE, NULL, 0),
                 -ENOENT);
    cr_assert_eq(ldtap_ring_create(&writer, ring_directory, NULL, LDTAP_RING_MIN_DATA_SIZE, NULL, 0), -EINVAL);
}

Test(ring, deferred_release_keeps_records_from_producers_until_released) {
    struct ldtap_ring_writer writer;
    char path[256];
    create_ring(&writer, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path);
    struct ldtap_ring_reader reader;
    open_reader(&reader, path);
    reader.defer_release = true;
    uint32_t record_bytes = record_bytes_for_body(1000);
    uint32_t fitting = LDTAP_RING_MIN_DATA_SIZE / record_bytes;
    for (uint32_t i = 0; i < fitting; i++) cr_assert_eq(write_test_record(&writer, 0, i, 1000), 0);
    uint64_t second_record = 0;
    for (uint32_t i = 0; i < fitting; i++) {
        cr_assert_eq(read_expecting_record(&reader).sequence, i);
        if (i == 1) second_record = record_buffer.position;
    }
    cr_assert(ldtap_ring_reader_is_read(&reader));
    cr_assert(!ldtap_ring_reader_is_empty(&reader), "read but not released");
    cr_assert_eq(writer.header->tail, 0, "nothing released yet");
    cr_assert_eq(write_test_record(&writer, 0, 99, 1000), -1, "read but unreleased bytes are not free");
    cr_assert_eq(writer.header->dropped_ring_full, 1);

    ldtap_ring_reader_release(&reader, second_record); /* the first record only */
    cr_assert_eq(writer.header->tail, record_bytes);
    for (uint32_t i = 0; i < record_bytes; i++) cr_assert_eq(reader.data[i], 0, "released bytes are zeroed");
    uint64_t second_word;
    memcpy(&second_word, reader.data + record_bytes, sizeof second_word);
    cr_assert_neq(second_word, 0, "unreleased bytes are kept");
    ldtap_ring_reader_release(&reader, reader.read_position + 8); /* past what was read: refused */
    cr_assert_eq(writer.header->tail, record_bytes);
    cr_assert_eq(write_test_record(&writer, 0, 100, 1000), 0, "the released room is reused");

    /* A second collector after the first one died: it starts at the released tail and
     * reads again what was never released. */
    ldtap_ring_reader_close(&reader);
    open_reader(&reader, path);
    for (uint32_t i = 1; i < fitting; i++) cr_assert_eq(read_expecting_record(&reader).sequence, i);
    cr_assert_eq(read_expecting_record(&reader).sequence, 100);
    cr_assert(ldtap_ring_reader_is_empty(&reader));
    ldtap_ring_reader_close(&reader);
    ldtap_ring_forget(&writer);
}
