/* Tests of collector/db_rollup.c: query counts and time attached to server spans, and the
 * table's bounds (age, size) with their eviction count. */
#include <criterion/criterion.h>
#include <string.h>

#include "db_rollup.h"
#include "ldtap_ring_abi.h"

#define SECOND 1000000000ull

static void set_id(uint8_t id[8], uint64_t value) {
    for (int i = 0; i < 8; i++) {
        id[i] = (uint8_t)(value >> (8 * i));
    }
}

static struct ldtap_span database_span(uint64_t parent, uint64_t duration_ns) {
    struct ldtap_span span;
    memset(&span, 0, sizeof span);
    span.kind = LDTAP_SPAN_KIND_CLIENT;
    set_id(span.span_id, parent * 1000 + 1);
    set_id(span.parent_span_id, parent);
    span.start_time_ns = 1000;
    span.end_time_ns = 1000 + duration_ns;
    ldtap_span_add_string(&span, "db.system.name", "sqlite", 6);
    return span;
}

static struct ldtap_span server_span(uint64_t id) {
    struct ldtap_span span;
    memset(&span, 0, sizeof span);
    span.kind = LDTAP_SPAN_KIND_SERVER;
    set_id(span.span_id, id);
    return span;
}

/* Feeds a server span; returns its query count (-1 when it got no rollup). */
static int64_t finish_request(struct ldtap_db_rollup *rollup, uint64_t id, uint64_t now, double *seconds) {
    struct ldtap_span span = server_span(id);
    ldtap_db_rollup_observe(rollup, &span, now);
    const struct ldtap_attribute *count = ldtap_span_find(&span, "ldtap.db.query_count");
    const struct ldtap_attribute *duration = ldtap_span_find(&span, "ldtap.db.duration");
    cr_assert_eq(count == NULL, duration == NULL);
    if (!count) {
        return -1;
    }
    cr_expect_eq(duration->type, LDTAP_VALUE_DOUBLE);
    if (seconds) {
        *seconds = duration->double_value;
    }
    return count->int_value;
}

Test(db_rollup, counts_queries_per_request) {
    struct ldtap_db_rollup *rollup = ldtap_db_rollup_new();
    cr_assert_not_null(rollup);
    for (int i = 0; i < 12; i++) { /* an N+1 pattern */
        struct ldtap_span query = database_span(7, 2000000);
        ldtap_db_rollup_observe(rollup, &query, SECOND);
    }
    struct ldtap_span other = database_span(8, 5000000);
    ldtap_db_rollup_observe(rollup, &other, SECOND);
    double seconds = 0;
    cr_expect_eq(finish_request(rollup, 7, SECOND, &seconds), 12);
    cr_expect_float_eq(seconds, 0.024, 1e-9);
    cr_expect_eq(finish_request(rollup, 7, SECOND, NULL), -1, "the entry was removed");
    cr_expect_eq(finish_request(rollup, 8, SECOND, &seconds), 1);
    cr_expect_float_eq(seconds, 0.005, 1e-9);
    cr_expect_eq(finish_request(rollup, 9, SECOND, NULL), -1, "no queries: no attributes");
    cr_expect_eq(ldtap_db_rollup_evictions(rollup), 0);
    ldtap_db_rollup_free(rollup);
}

Test(db_rollup, ignores_unparented_and_non_database_spans) {
    struct ldtap_db_rollup *rollup = ldtap_db_rollup_new();
    struct ldtap_span root_query = database_span(0, 1000);
    ldtap_db_rollup_observe(rollup, &root_query, SECOND);
    struct ldtap_span http_client = database_span(5, 1000);
    http_client.attribute_count = 0; /* no db.system.name */
    ldtap_db_rollup_observe(rollup, &http_client, SECOND);
    cr_expect_eq(finish_request(rollup, 5, SECOND, NULL), -1);
    cr_expect_eq(finish_request(rollup, 0, SECOND, NULL), -1);
    ldtap_db_rollup_observe(NULL, &root_query, SECOND); /* no table: nothing happens */
    ldtap_db_rollup_free(rollup);
}

Test(db_rollup, entries_age_out) {
    struct ldtap_db_rollup *rollup = ldtap_db_rollup_new();
    struct ldtap_span query = database_span(3, 1000);
    ldtap_db_rollup_observe(rollup, &query, SECOND);
    uint64_t later = SECOND + LDTAP_DB_ROLLUP_MAX_AGE_NS + 61 * SECOND;
    struct ldtap_span unrelated = database_span(4, 1000);
    ldtap_db_rollup_observe(rollup, &unrelated, later); /* the periodic sweep runs first */
    cr_expect_eq(ldtap_db_rollup_evictions(rollup), 1);
    cr_expect_eq(finish_request(rollup, 3, later, NULL), -1);
    cr_expect_eq(finish_request(rollup, 4, later, NULL), 1);
    ldtap_db_rollup_free(rollup);
}

Test(db_rollup, full_table_evicts_the_stalest) {
    struct ldtap_db_rollup *rollup = ldtap_db_rollup_new();
    uint64_t requests = LDTAP_DB_ROLLUP_MAX_ENTRIES + 10;
    for (uint64_t id = 1; id <= requests; id++) {
        struct ldtap_span query = database_span(id, 1000);
        ldtap_db_rollup_observe(rollup, &query, SECOND + id); /* older ids are staler */
    }
    cr_expect_eq(ldtap_db_rollup_evictions(rollup), 10);
    for (uint64_t id = 1; id <= 10; id++) {
        cr_expect_eq(finish_request(rollup, id, 2 * SECOND, NULL), -1, "id %llu", (unsigned long long)id);
    }
    for (uint64_t id = 11; id <= requests; id++) {
        cr_expect_eq(finish_request(rollup, id, 2 * SECOND, NULL), 1, "id %llu", (unsigned long long)id);
    }
    /* Every entry is gone: the table works again from empty (deletion kept probing intact). */
    for (uint64_t id = 1; id <= requests; id++) {
        cr_expect_eq(finish_request(rollup, id, 2 * SECOND, NULL), -1);
    }
    ldtap_db_rollup_free(rollup);
}
