/* ThreadSanitizer stress test of the ring (Criterion does not start under TSan): many
 * producer threads write through ldtap_ring_write while one consumer drains with the reader
 * (releasing each record at once, or in batches with defer_release), reattaching now and
 * then; checks every committed record is read exactly once and intact,
 * and that committed + dropped = produced. Built only with -DLDTAP_TSAN=ON (CMakeLists.txt).
 * Usage: ring_stress   (exit 0: passed; TSan reports make it exit 66) */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ldtap_ring.h"

#define MAX_PRODUCERS 8
#define MAX_BODY_BYTES 700u
/* The consumer stops for a moment every this many records, so a small ring fills up. */
#define PAUSE_EVERY_RECORDS 5000u
/* ... and detaches and reattaches every this many, to check tail survives a new reader. */
#define REATTACH_EVERY_RECORDS 7919u
/* With defer_release, records are given back to producers in batches of this many. */
#define RELEASE_EVERY_RECORDS 64u

struct record_prefix {
    uint32_t producer;
    uint32_t body_length;
    uint64_t sequence;
    uint32_t checksum;
    uint32_t unused;
};

struct scenario {
    const char *name;
    int producer_count;
    uint32_t records_per_producer;
    uint64_t data_size;
    bool expect_drops;  /* true: the ring must fill up; false: nothing may be dropped */
    bool defer_release; /* the consumer releases records in batches, as the collector does */
};

struct run {
    const struct scenario *scenario;
    char path[256];
    struct ldtap_ring_writer writer;
    struct ldtap_ring_reader reader;
    /* Per producer: which sequences were written (by the producer) and read (by the consumer). */
    uint8_t *written[MAX_PRODUCERS];
    uint8_t *read[MAX_PRODUCERS];
    uint64_t written_count[MAX_PRODUCERS];
    uint64_t dropped_count[MAX_PRODUCERS];
    int64_t last_sequence[MAX_PRODUCERS];
    uint64_t records_read;
    uint64_t bytes_read;
    uint64_t reattachments;
    int producers_done;
    char failure[256];
};

struct producer {
    struct run *run;
    uint32_t index;
};

static uint32_t checksum_bytes(const uint8_t *bytes, uint32_t length) {
    uint32_t sum = 2166136261u; /* FNV-1a */
    for (uint32_t i = 0; i < length; i++)
        sum = (sum ^ bytes[i]) * 16777619u;
    return sum;
}

static void fail(struct run *run, const char *what, uint32_t producer, uint64_t sequence) {
    if (run->failure[0] == '\0')
        snprintf(run->failure, sizeof run->failure, "%s (producer %u, sequence %llu)", what, producer,
                 (unsigned long long)sequence);
}

static void *producer_main(void *opaque) {
    struct producer *self = opaque;
    struct run *run = self->run;
    uint8_t body[MAX_BODY_BYTES];
    uint32_t seed = self->index * 2654435761u + 7;
    /* One record too large for any ring first: it must be counted in dropped_too_large. */
    static uint8_t oversized[LDTAP_RECORD_MAX_BYTES];
    struct ldtap_ring_part too_large = {oversized, sizeof oversized};
    if (ldtap_ring_write(&run->writer, LDTAP_RECORD_HTTP_SPAN, &too_large, 1) == 0)
        fail(run, "an oversized record was accepted", self->index, 0);
    for (uint32_t sequence = 0; sequence < run->scenario->records_per_producer; sequence++) {
        seed = seed * 1664525u + 1013904223u;
        uint32_t length = (seed >> 8) % MAX_BODY_BYTES;
        for (uint32_t i = 0; i < length; i++)
            body[i] = (uint8_t)(seed >> (i % 24)) ^ (uint8_t)i;
        struct record_prefix prefix = {self->index, length, sequence, checksum_bytes(body, length), 0};
        /* Three pieces, split at a varying point: exercises the writer's part copies on both
         * sides of the wrap-around. */
        uint32_t split = length == 0 ? 0 : (seed >> 3) % length;
        struct ldtap_ring_part parts[3] = {
            {&prefix, sizeof prefix}, {body, split}, {body + split, length - split}};
        if (ldtap_ring_write(&run->writer, 1 + sequence % 8, parts, 3) == 0) {
            run->written[self->index][sequence] = 1;
            run->written_count[self->index]++;
        } else {
            run->dropped_count[self->index]++;
        }
    }
    __atomic_fetch_add(&run->producers_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void check_record(struct run *run, const struct ldtap_ring_record *record) {
    struct record_prefix prefix;
    if (record->payload_length < sizeof prefix) {
        fail(run, "short record", 0, 0);
        return;
    }
    memcpy(&prefix, record->payload, sizeof prefix);
    if (prefix.producer >= (uint32_t)run->scenario->producer_count ||
        prefix.sequence >= run->scenario->records_per_producer) {
        fail(run, "record names no producer or sequence", prefix.producer, prefix.sequence);
        return;
    }
    const uint8_t *body = record->payload + sizeof prefix;
    uint32_t expected_payload = (uint32_t)sizeof prefix + prefix.body_length;
    /* Records are padded to 8 bytes: the payload is the parts rounded up. */
    if (record->payload_length < expected_payload || record->payload_length > expected_payload + 7 ||
        record->type != 1 + prefix.sequence % 8 ||
        checksum_bytes(body, prefix.body_length) != prefix.checksum) {
        fail(run, "record damaged", prefix.producer, prefix.sequence);
        return;
    }
    /* One producer's records are reserved in its own order, so they are read in that order. */
    if ((int64_t)prefix.sequence <= run->last_sequence[prefix.producer]) {
        fail(run, "record read twice or out of order", prefix.producer, prefix.sequence);
        return;
    }
    run->last_sequence[prefix.producer] = (int64_t)prefix.sequence;
    run->read[prefix.producer][prefix.sequence] = 1;
    run->records_read++;
    run->bytes_read += record->payload_length + LDTAP_RECORD_HEADER_BYTES;
}

/* ThreadSanitizer tracks synchronisation per virtual address and cannot see it across two
 * mappings of one file, so the reader reads through the writer's mapping; the fd and its
 * flock stay the reader's own. */
static int attach_reader(struct run *run) {
    char error[256] = "";
    int result = ldtap_ring_reader_open(&run->reader, run->path, error, sizeof error);
    if (result != 0) {
        fprintf(stderr, "ring_stress: cannot open the ring: %s\n", error);
        return result;
    }
    munmap(run->reader.header, run->reader.mapping_size);
    run->reader.header = run->writer.header;
    run->reader.data = run->writer.data;
    run->reader.defer_release = run->scenario->defer_release;
    return 0;
}

/* Gives everything read so far back to the producers (a no-op without defer_release). */
static void release_read_records(struct run *run) {
    if (run->scenario->defer_release)
        ldtap_ring_reader_release(&run->reader, run->reader.read_position);
}

static void detach_reader(struct run *run) {
    release_read_records(run); /* unreleased records would be read again by the next reader */
    run->reader.header = NULL; /* the writer's mapping: ldtap_ring_forget unmaps it */
    ldtap_ring_reader_close(&run->reader);
}

static void *consumer_main(void *opaque) {
    struct run *run = opaque;
    static struct ldtap_ring_record record;
    for (;;) {
        bool done = __atomic_load_n(&run->producers_done, __ATOMIC_ACQUIRE) == run->scenario->producer_count;
        /* now_ns stays 1: a reserved record of a live writer is then never skipped as
         * stalled, however slowly TSan lets its producer run. */
        enum ldtap_ring_read_status status = ldtap_ring_reader_next(&run->reader, &record, true, 1);
        if (status == LDTAP_RING_READ_RECORD) {
            check_record(run, &record);
            if (run->records_read % RELEASE_EVERY_RECORDS == 0)
                release_read_records(run);
            if (run->records_read % PAUSE_EVERY_RECORDS == 0)
                usleep(2000);
            if (run->records_read % REATTACH_EVERY_RECORDS == 0) {
                detach_reader(run);
                if (attach_reader(run) != 0) {
                    fail(run, "reattaching failed", 0, run->records_read);
                    break;
                }
                run->reattachments++;
            }
        } else if (status == LDTAP_RING_READ_EMPTY) {
            release_read_records(run);
            if (done && ldtap_ring_reader_is_empty(&run->reader))
                break;
            sched_yield();
        } else {
            fail(run, status == LDTAP_RING_READ_SKIPPED ? "a record was skipped" : "the ring read as corrupt",
                 0, run->records_read);
            break;
        }
    }
    return NULL;
}

/* Compares what the producers wrote, what the reader read and the header's counters. */
static bool check_totals(struct run *run) {
    const struct scenario *scenario = run->scenario;
    const struct ldtap_ring_header *header = run->writer.header;
    uint64_t written = 0, dropped = 0;
    for (int p = 0; p < scenario->producer_count; p++) {
        written += run->written_count[p];
        dropped += run->dropped_count[p];
        for (uint32_t s = 0; s < scenario->records_per_producer; s++) {
            if (run->written[p][s] != run->read[p][s]) {
                fail(run,
                     run->written[p][s] ? "a committed record was never read" : "a dropped record was read",
                     (uint32_t)p, s);
                return false;
            }
        }
    }
    uint64_t produced = (uint64_t)scenario->producer_count * (scenario->records_per_producer + 1);
    uint64_t too_large = (uint64_t)scenario->producer_count;
    printf("%s: %d producers, ring %llu KiB: produced %llu, committed %llu, dropped %llu (ring full) + %llu "
           "(too "
           "large), read %llu (%.1f ring laps), reader reattached %llu times\n",
           scenario->name, scenario->producer_count, (unsigned long long)(scenario->data_size / 1024),
           (unsigned long long)produced, (unsigned long long)header->committed_records,
           (unsigned long long)header->dropped_ring_full, (unsigned long long)header->dropped_too_large,
           (unsigned long long)run->records_read, (double)run->bytes_read / (double)scenario->data_size,
           (unsigned long long)run->reattachments);
    bool ok = true;
#define EXPECT(condition)                                                                                    \
    do {                                                                                                     \
        if (!(condition)) {                                                                                  \
            fprintf(stderr, "ring_stress: %s: not true: %s\n", scenario->name, #condition);                  \
            ok = false;                                                                                      \
        }                                                                                                    \
    } while (0)
    EXPECT(header->committed_records + header->dropped_ring_full + header->dropped_too_large == produced);
    EXPECT(header->committed_records == written && run->records_read == written);
    EXPECT(header->consumed_records == written);
    EXPECT(header->dropped_ring_full == dropped && header->dropped_too_large == too_large);
    EXPECT(header->invalid_records + header->skipped_uncommitted + header->abandoned_bytes == 0);
    EXPECT(header->head == header->tail);
    EXPECT(run->bytes_read >= 4 * scenario->data_size || !scenario->expect_drops); /* wrapped around */
    EXPECT(scenario->expect_drops ? header->dropped_ring_full > 0 : header->dropped_ring_full == 0);
    EXPECT(run->reattachments > 0);
#undef EXPECT
    return ok;
}

static bool run_scenario(const struct scenario *scenario, const char *directory) {
    static struct run run;
    memset(&run, 0, sizeof run);
    run.scenario = scenario;
    for (int p = 0; p < scenario->producer_count; p++) {
        run.written[p] = calloc(scenario->records_per_producer, 1);
        run.read[p] = calloc(scenario->records_per_producer, 1);
        run.last_sequence[p] = -1;
        if (run.written[p] == NULL || run.read[p] == NULL)
            return false;
    }
    struct ldtap_ring_identity identity = {.pid = getpid(),
                                           .start_time_ns = (uint64_t)time(NULL) + (uint64_t)rand(),
                                           .service_name = scenario->name};
    int result =
        ldtap_ring_create(&run.writer, directory, &identity, scenario->data_size, run.path, sizeof run.path);
    if (result != 0) {
        fprintf(stderr, "ring_stress: cannot create a ring in %s: %s\n", directory, strerror(-result));
        return false;
    }
    bool ok = attach_reader(&run) == 0;
    pthread_t consumer, producers[MAX_PRODUCERS];
    struct producer arguments[MAX_PRODUCERS];
    if (ok) {
        pthread_create(&consumer, NULL, consumer_main, &run);
        for (int p = 0; p < scenario->producer_count; p++) {
            arguments[p] = (struct producer){&run, (uint32_t)p};
            pthread_create(&producers[p], NULL, producer_main, &arguments[p]);
        }
        for (int p = 0; p < scenario->producer_count; p++)
            pthread_join(producers[p], NULL);
        pthread_join(consumer, NULL);
        ok = run.failure[0] == '\0' && check_totals(&run);
        if (run.failure[0] != '\0')
            fprintf(stderr, "ring_stress: %s: %s\n", scenario->name, run.failure);
        detach_reader(&run);
    }
    ldtap_ring_forget(&run.writer);
    unlink(run.path);
    for (int p = 0; p < scenario->producer_count; p++) {
        free(run.written[p]);
        free(run.read[p]);
    }
    return ok;
}

int main(void) {
    static const struct scenario scenarios[] = {
        /* A 64 KiB ring holds ~150 records: it wraps hundreds of times and fills up. */
        {"small ring", 6, 20000, LDTAP_RING_MIN_DATA_SIZE, true, false},
        /* The same with records held until released in batches: producers see less room. */
        {"small ring, deferred release", 6, 20000, LDTAP_RING_MIN_DATA_SIZE, true, true},
        /* Everything fits: nothing may be dropped whatever the consumer's pace. */
        {"large ring", 4, 10000, 32u * 1024 * 1024, false, false},
    };
    char directory[] = "/dev/shm/ldtap-ring-stress-XXXXXX";
    if (mkdtemp(directory) == NULL) {
        fprintf(stderr, "ring_stress: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    bool ok = true;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        ok &= run_scenario(&scenarios[i], directory);
    rmdir(directory);
    puts(ok ? "ring_stress: passed" : "ring_stress: FAILED");
    return ok ? 0 : 1;
}
