/* Unit tests for the delivery ledger: records stay in the ring until their claims settle,
 * in any order, from any thread; ring pressure waives the oldest pins; a closed ledger
 * outlives its ring until the last claim settles. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ldtap_ring.h"
#include "ledger.h"

static char directory[128];

static void make_directory(void) {
    snprintf(directory, sizeof directory, "/tmp/ldtap-test-ledger-%d", (int)getpid());
}

static void remove_directory(void) {
    char command[192];
    snprintf(command, sizeof command, "rm -rf '%s'", directory);
    cr_assert_eq(system(command), 0);
}

TestSuite(ledger, .init = make_directory, .fini = remove_directory);

struct fixture {
    struct ldtap_ring_writer writer;
    struct ldtap_ring_reader reader;
    struct ldtap_ledger *ledger;
    struct ldtap_ring_record record;
    char path[256];
};

static void open_fixture(struct fixture *fixture, uint64_t data_size) {
    static uint64_t start_time = 1;
    struct ldtap_ring_identity identity = {
        .pid = getpid(), .parent_pid = getppid(), .start_time_ns = start_time++};
    cr_assert_eq(ldtap_ring_create(&fixture->writer, directory, &identity, data_size, fixture->path,
                                   sizeof fixture->path),
                 0);
    char error[256] = "";
    cr_assert_eq(ldtap_ring_reader_open(&fixture->reader, fixture->path, error, sizeof error), 0, "%s",
                 error);
    fixture->ledger = ldtap_ledger_new(&fixture->reader);
    cr_assert_not_null(fixture->ledger);
}

/* A record of `total_bytes` (header included, a multiple of 8) carrying `value`. */
static int write_value(struct fixture *fixture, uint64_t value, uint32_t total_bytes) {
    static uint8_t filler[LDTAP_RECORD_MAX_BYTES];
    struct ldtap_ring_part parts[2] = {
        {&value, sizeof value}, {filler, total_bytes - LDTAP_RECORD_HEADER_BYTES - (uint32_t)sizeof value}};
    return ldtap_ring_write(&fixture->writer, LDTAP_RECORD_HTTP_SPAN, parts, 2);
}

static uint64_t read_value(struct fixture *fixture, struct ldtap_claim *claim) {
    enum ldtap_ring_read_status status = ldtap_ledger_next(fixture->ledger, &fixture->record, true, 1, claim);
    cr_assert_eq(status, LDTAP_RING_READ_RECORD, "status %d", status);
    uint64_t value;
    memcpy(&value, fixture->record.payload, sizeof value);
    return value;
}

static uint64_t published_tail(const struct fixture *fixture) {
    return __atomic_load_n(&fixture->writer.header->tail, __ATOMIC_ACQUIRE);
}

static void close_fixture(struct fixture *fixture) {
    ldtap_ledger_close(fixture->ledger);
    ldtap_ring_forget(&fixture->writer);
}

Test(ledger, tail_stops_at_the_oldest_unsettled_claim) {
    struct fixture fixture;
    open_fixture(&fixture, LDTAP_RING_MIN_DATA_SIZE);
    struct ldtap_claim claims[4];
    for (uint64_t i = 0; i < 4; i++)
        cr_assert_eq(write_value(&fixture, i, 64), 0);
    for (uint64_t i = 0; i < 4; i++)
        cr_assert_eq(read_value(&fixture, &claims[i]), i);
    cr_assert(ldtap_ledger_is_read(fixture.ledger));
    cr_assert(!ldtap_ledger_is_empty(fixture.ledger));
    cr_assert_eq(published_tail(&fixture), 0);

    ldtap_claim_settle(&claims[2]); /* out of order: nothing moves */
    ldtap_claim_settle(&claims[1]);
    cr_assert_eq(published_tail(&fixture), 0);
    cr_assert_null(claims[1].ledger, "a settled claim is cleared");
    ldtap_claim_settle(&claims[1]); /* twice: harmless */
    ldtap_claim_settle(&claims[0]); /* the oldest: the tail jumps past every settled one */
    cr_assert_eq(published_tail(&fixture), 3 * 64);
    ldtap_claim_settle(&claims[3]);
    cr_assert_eq(published_tail(&fixture), 4 * 64);
    cr_assert(ldtap_ledger_is_empty(fixture.ledger));
    cr_assert_eq(ldtap_ledger_waived(fixture.ledger), 0);
    close_fixture(&fixture);
}

Test(ledger, claims_settled_as_a_group_move_the_tail_as_one_by_one_would) {
    struct fixture fixture;
    open_fixture(&fixture, LDTAP_RING_MIN_DATA_SIZE);
    struct ldtap_claim claims[5], zero = {0};
    for (uint64_t i = 0; i < 5; i++)
        cr_assert_eq(write_value(&fixture, i, 64), 0);
    for (uint64_t i = 0; i < 5; i++)
        cr_assert_eq(read_value(&fixture, &claims[i]), i);
    struct ldtap_claim *later[] = {&claims[2], &zero, &claims[1]}; /* a zero claim among them */
    ldtap_claims_settle(later, 3);
    cr_assert_eq(published_tail(&fixture), 0, "the oldest is still owed");
    cr_assert_null(claims[2].ledger);
    cr_assert_null(claims[1].ledger);
    struct ldtap_claim *rest[] = {&claims[0], &claims[3], &claims[1]}; /* [1] again: harmless */
    ldtap_claims_settle(rest, 3);
    cr_assert_eq(published_tail(&fixture), 4 * 64);
    ldtap_claims_settle(NULL, 0);
    struct ldtap_claim *last[] = {&claims[4]};
    ldtap_claims_settle(last, 1);
    cr_assert_eq(published_tail(&fixture), 5 * 64);
    cr_assert(ldtap_ledger_is_empty(fixture.ledger));
    close_fixture(&fixture);
}

Test(ledger, a_collector_restarted_before_settling_reads_the_records_again) {
    struct fixture fixture;
    open_fixture(&fixture, LDTAP_RING_MIN_DATA_SIZE);
    struct ldtap_claim claims[3];
    for (uint64_t i = 0; i < 3; i++)
        cr_assert_eq(write_value(&fixture, 10 + i, 128), 0);
    for (uint64_t i = 0; i < 3; i++)
        read_value(&fixture, &claims[i]);
    ldtap_claim_settle(&claims[0]); /* delivered; the other two were in flight at the crash */
    ldtap_ledger_close(fixture.ledger);

    char error[256] = "";
    struct ldtap_ring_reader second;
    cr_assert_eq(ldtap_ring_reader_open(&second, fixture.path, error, sizeof error), 0, "%s", error);
    fixture.ledger = ldtap_ledger_new(&second);
    struct ldtap_claim again;
    cr_assert_eq(read_value(&fixture, &again), 11, "the first unsettled record comes back");
    ldtap_claim_settle(&again);
    cr_assert_eq(read_value(&fixture, &again), 12);
    ldtap_claim_settle(&again);
    cr_assert_eq(ldtap_ledger_next(fixture.ledger, &fixture.record, true, 1, &again), LDTAP_RING_READ_EMPTY);
    cr_assert_null(again.ledger);
    /* The first collector's late settlements touch neither the ring nor freed memory. */
    ldtap_claim_settle(&claims[1]);
    ldtap_claim_settle(&claims[2]);
    cr_assert(ldtap_ledger_is_empty(fixture.ledger));
    close_fixture(&fixture);
}

Test(ledger, pressure_waives_the_oldest_pins_so_producers_never_starve) {
    struct fixture fixture;
    open_fixture(&fixture, LDTAP_RING_MIN_DATA_SIZE);
    enum { RECORD = 1024, COUNT = 3 * LDTAP_RING_MIN_DATA_SIZE / RECORD };
    static struct ldtap_claim claims[COUNT];
    /* A backend that never answers: nothing settles, yet writing never fails. */
    for (uint64_t i = 0; i < COUNT; i++) {
        cr_assert_eq(write_value(&fixture, i, RECORD), 0, "record %llu dropped", (unsigned long long)i);
        cr_assert_eq(read_value(&fixture, &claims[i]), i);
        cr_assert_leq(fixture.reader.read_position - published_tail(&fixture),
                      LDTAP_RING_MIN_DATA_SIZE / 2 + RECORD);
    }
    cr_assert_eq(fixture.writer.header->dropped_ring_full, 0);
    uint64_t waived = ldtap_ledger_waived(fixture.ledger);
    cr_assert_gt(waived, COUNT / 2, "waived %llu", (unsigned long long)waived);
    cr_assert_lt(waived, COUNT);
    for (uint64_t i = 0; i < COUNT; i++)
        ldtap_claim_settle(&claims[i]); /* waived ones are no-ops */
    cr_assert(ldtap_ledger_is_empty(fixture.ledger));
    close_fixture(&fixture);
}

Test(ledger, records_that_owe_nothing_are_released_as_they_are_read) {
    struct fixture fixture;
    open_fixture(&fixture, LDTAP_RING_MIN_DATA_SIZE);
    for (uint64_t i = 0; i < 1000; i++) {
        cr_assert_eq(write_value(&fixture, i, 512), 0);
        struct ldtap_claim claim;
        cr_assert_eq(read_value(&fixture, &claim), i);
        ldtap_claim_settle(&claim);
        cr_assert(ldtap_ledger_is_empty(fixture.ledger));
    }
    cr_assert_gt(published_tail(&fixture), LDTAP_RING_MIN_DATA_SIZE, "wrapped around");
    close_fixture(&fixture);
}

struct settler {
    struct ldtap_claim *claims;
    size_t count;
};

static void *settle_all(void *argument) {
    struct settler *settler = argument;
    for (size_t i = 0; i < settler->count; i++)
        ldtap_claim_settle(&settler->claims[i]);
    return NULL;
}

Test(ledger, claims_settle_from_other_threads_after_close) {
    struct fixture fixture;
    open_fixture(&fixture, LDTAP_RING_MIN_DATA_SIZE);
    enum { COUNT = 200 };
    static struct ldtap_claim claims[COUNT];
    for (uint64_t i = 0; i < COUNT; i++) {
        cr_assert_eq(write_value(&fixture, i, 64), 0);
        read_value(&fixture, &claims[i]);
    }
    struct settler halves[2] = {{claims, COUNT / 2}, {claims + COUNT / 2, COUNT / 2}};
    pthread_t threads[2];
    cr_assert_eq(pthread_create(&threads[0], NULL, settle_all, &halves[0]), 0);
    ldtap_ledger_close(fixture.ledger); /* the ring goes while claims are still out */
    cr_assert_eq(pthread_create(&threads[1], NULL, settle_all, &halves[1]), 0);
    pthread_join(threads[0], NULL);
    pthread_join(threads[1], NULL);
    for (size_t i = 0; i < COUNT; i++)
        cr_assert_null(claims[i].ledger);
    ldtap_ring_forget(&fixture.writer); /* the last settle freed the ledger: ASan checks */
}
