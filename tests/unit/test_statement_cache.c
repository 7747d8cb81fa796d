/* Tests of collector/statement_cache.c: hits, misses told apart by kind, length and bytes,
 * least-recently-used eviction within a set, and that a decoder using the cache reports
 * exactly what it reports without one. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "decode_db.h"
#include "ldtap_ring_abi.h"
#include "record_fixture.h"
#include "statement_cache.h"

static struct ldtap_statement_cache *cache;

static void setup(void) {
    cache = NULL;
}

static void teardown(void) {
    ldtap_statement_cache_free(cache);
}

TestSuite(statement_cache, .init = setup, .fini = teardown);

/* A description whose every field says which statement it is for. */
static struct ldtap_statement_description described_as(const char *tag) {
    struct ldtap_statement_description description;
    memset(&description, 0x5a, sizeof description); /* bytes past each NUL must not matter */
    description.length = (size_t)snprintf(description.text, sizeof description.text, "text of %s", tag);
    snprintf(description.operation, sizeof description.operation, "OP%s", tag);
    snprintf(description.collection, sizeof description.collection, "table_%s", tag);
    description.cut = tag[0] == 'c';
    return description;
}

static void store(uint32_t kind, const char *raw, const char *tag) {
    struct ldtap_statement_description description = described_as(tag);
    ldtap_statement_cache_store(cache, kind, raw, strlen(raw), &description);
}

/* Whether `raw` is found under `kind`, described as `tag` stored it. */
static bool finds(uint32_t kind, const char *raw, const char *tag) {
    struct ldtap_statement_description found;
    memset(&found, 0, sizeof found);
    if (!ldtap_statement_cache_find(cache, kind, raw, strlen(raw), &found)) {
        return false;
    }
    struct ldtap_statement_description expected = described_as(tag);
    cr_expect_eq(found.length, expected.length, "%s: length", raw);
    cr_expect_str_eq(found.text, expected.text);
    cr_expect_str_eq(found.operation, expected.operation);
    cr_expect_str_eq(found.collection, expected.collection);
    cr_expect_eq(found.cut, expected.cut, "%s: cut", raw);
    return true;
}

Test(statement_cache, set_count_must_be_a_power_of_two) {
    cr_expect_null(ldtap_statement_cache_new(0));
    cr_expect_null(ldtap_statement_cache_new(3));
    cache = ldtap_statement_cache_new(LDTAP_STATEMENT_CACHE_SETS);
    cr_assert_not_null(cache);
}

Test(statement_cache, stored_statement_is_found) {
    cache = ldtap_statement_cache_new(LDTAP_STATEMENT_CACHE_SETS);
    cr_assert_not_null(cache);
    cr_expect(!finds(1, "SELECT 1", "a"), "empty cache");
    store(1, "SELECT 1", "a");
    cr_expect(finds(1, "SELECT 1", "a"));
    cr_expect(finds(1, "SELECT 1", "a"), "a second hit is the same");
    store(1, "", "b");
    cr_expect(finds(1, "", "b"), "the empty statement is a statement too");
}

Test(statement_cache, kind_length_and_bytes_all_decide) {
    cache = ldtap_statement_cache_new(1); /* one set: every statement competes for it */
    cr_assert_not_null(cache);
    store(1, "SELECT a FROM t", "a");
    cr_expect(!finds(2, "SELECT a FROM t", "a"), "another kind");
    cr_expect(!finds(1, "SELECT a FROM t ", "a"), "longer");
    cr_expect(!finds(1, "SELECT a FROM ", "a"), "a prefix");
    cr_expect(!finds(1, "SELECT b FROM t", "a"), "same length, one byte differs");
    cr_expect(!finds(1, "select a from t", "a"), "case counts");
    store(2, "SELECT a FROM t", "b");
    store(1, "SELECT b FROM t", "c");
    cr_expect(finds(1, "SELECT a FROM t", "a"), "colliding entries do not disturb each other");
    cr_expect(finds(2, "SELECT a FROM t", "b"));
    cr_expect(finds(1, "SELECT b FROM t", "c"));
}

Test(statement_cache, bytes_past_eight_and_embedded_nul_count) {
    cache = ldtap_statement_cache_new(1);
    cr_assert_not_null(cache);
    const char long_a[] = "SELECT * FROM orders WHERE id = ? AND status = ?x";
    const char long_b[] = "SELECT * FROM orders WHERE id = ? AND status = ?y";
    store(1, long_a, "a");
    cr_expect(!finds(1, long_b, "a"), "the last byte differs");
    const char with_nul[] = "SELECT 1\0 2";
    struct ldtap_statement_description description = described_as("n"), found;
    ldtap_statement_cache_store(cache, 1, with_nul, sizeof with_nul - 1, &description);
    cr_expect(ldtap_statement_cache_find(cache, 1, with_nul, sizeof with_nul - 1, &found));
    cr_expect(!ldtap_statement_cache_find(cache, 1, "SELECT 1\0 3", sizeof with_nul - 1, &found));
}

Test(statement_cache, least_recently_used_is_evicted) {
    cache = ldtap_statement_cache_new(1); /* four entries */
    cr_assert_not_null(cache);
    store(1, "s0", "0");
    store(1, "s1", "1");
    store(1, "s2", "2");
    store(1, "s3", "3");
    cr_expect(finds(1, "s0", "0"), "s0 is now the most recently used");
    store(1, "s4", "4"); /* evicts s1, the least recently used */
    cr_expect(!finds(1, "s1", "1"), "evicted");
    cr_expect(finds(1, "s0", "0"));
    cr_expect(finds(1, "s2", "2"));
    cr_expect(finds(1, "s3", "3"));
    cr_expect(finds(1, "s4", "4"));
    store(1, "s5", "5"); /* s0 was used before s2, s3, s4 were found: it goes */
    cr_expect(!finds(1, "s0", "0"));
    cr_expect(finds(1, "s5", "5"));
}

Test(statement_cache, replacing_reuses_or_grows_the_entry) {
    cache = ldtap_statement_cache_new(1);
    cr_assert_not_null(cache);
    char big[LDTAP_DB_STATEMENT_MAX];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int round = 0; round < 3; round++) {
        char name[8];
        snprintf(name, sizeof name, "r%d", round);
        store(1, "a", name);
        store(1, big, "big");
        store(1, "b", name);
        store(1, "c", name);
        store(1, "d", name); /* evicts "a", then the big one on the next round */
        cr_expect(finds(1, "d", name));
        cr_expect(finds(1, "b", name));
    }
    store(1, "w", "w");
    store(1, "x", "x");
    store(1, "y", "y");
    store(1, "z", "z");
    cr_expect(!finds(1, big, "big"), "small statements took every entry, the big one's too");
    cr_expect(finds(1, "w", "w") && finds(1, "x", "x") && finds(1, "y", "y") && finds(1, "z", "z"));
}

Test(statement_cache, storing_again_replaces_in_place) {
    cache = ldtap_statement_cache_new(1);
    cr_assert_not_null(cache);
    store(1, "s0", "old");
    store(1, "s0", "new");
    store(1, "s1", "1");
    store(1, "s2", "2");
    store(1, "s3", "3"); /* four distinct statements: nothing evicted */
    cr_expect(finds(1, "s0", "new"));
    cr_expect(finds(1, "s1", "1"));
    cr_expect(finds(1, "s3", "3"));
}

Test(statement_cache, many_statements_stay_bounded_and_correct) {
    cache = ldtap_statement_cache_new(4);
    cr_assert_not_null(cache);
    char raw[64], tag[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(raw, sizeof raw, "SELECT v FROM kv WHERE k = %d", i);
        snprintf(tag, sizeof tag, "%d", i);
        store(1, raw, tag);
    }
    int found = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(raw, sizeof raw, "SELECT v FROM kv WHERE k = %d", i);
        snprintf(tag, sizeof tag, "%d", i);
        found += finds(1, raw, tag); /* a hit is always the right statement */
    }
    cr_expect_leq(found, 16, "at most the 16 entries of 4 sets survive, found %d", found);
    cr_expect_geq(found, 1, "the last stored is there");
}

/* ---- through the decoder: the cache changes nothing it reports ---- */

static uint8_t payload[sizeof(struct ldtap_db_span_record) + LDTAP_DB_STATEMENT_MAX + 64];

static uint32_t build(uint16_t system, const char *text, size_t length, uint32_t full_length) {
    struct ldtap_db_span_record record;
    memset(&record, 0, sizeof record);
    fixture_span_common(&record.span, LDTAP_SPAN_KIND_CLIENT, 1000);
    record.system = system;
    record.source = LDTAP_DB_SOURCE_DRIVER;
    record.rows = 3;
    record.statement_length = (uint16_t)length;
    record.statement_full_length = full_length > length ? full_length : (uint32_t)length;
    memcpy(payload, &record, sizeof record);
    memcpy(payload + sizeof record, text, length);
    return (uint32_t)(sizeof record + length);
}

static void expect_same_span(const struct ldtap_span *expected, const struct ldtap_span *actual,
                             const char *what) {
    cr_expect_str_eq(actual->name, expected->name, "%s: name", what);
    cr_expect_eq(actual->status_code, expected->status_code, "%s: status", what);
    cr_assert_eq(actual->attribute_count, expected->attribute_count, "%s: attribute count", what);
    cr_expect_eq(actual->text_used, expected->text_used, "%s: text used", what);
    cr_expect_eq(memcmp(actual->text, expected->text, expected->text_used), 0, "%s: text", what);
    for (uint16_t i = 0; i < expected->attribute_count; i++) {
        const struct ldtap_attribute *a = &expected->attributes[i], *b = &actual->attributes[i];
        cr_expect_str_eq(b->key, a->key, "%s: key %u", what, i);
        cr_expect(b->type == a->type && b->bool_value == a->bool_value && b->int_value == a->int_value &&
                      b->string_offset == a->string_offset && b->string_length == a->string_length,
                  "%s: attribute %s", what, a->key);
    }
}

static void decode_three_ways(uint16_t system, const char *text, size_t length, uint32_t full_length) {
    static struct ldtap_span plain, missed, hit;
    struct ldtap_db_statement plain_statement, missed_statement, hit_statement;
    uint32_t payload_length = build(system, text, length, full_length);
    struct ldtap_db_decode_options options = {.slow_query_ms = 1};
    memset(&plain, 0, sizeof plain);
    bool valid = ldtap_decode_db_span(payload, payload_length, &options, &plain, &plain_statement);
    options.statements = cache;
    memset(&missed, 0, sizeof missed);
    cr_assert_eq(ldtap_decode_db_span(payload, payload_length, &options, &missed, &missed_statement), valid);
    memset(&hit, 0, sizeof hit);
    cr_assert_eq(ldtap_decode_db_span(payload, payload_length, &options, &hit, &hit_statement), valid);
    if (!valid) {
        return;
    }
    expect_same_span(&plain, &missed, "first decode");
    expect_same_span(&plain, &hit, "cached decode");
    cr_expect_str_eq(hit_statement.text, plain_statement.text);
    cr_expect_str_eq(missed_statement.text, plain_statement.text);
}

Test(statement_cache, decoder_reports_the_same_with_and_without_it) {
    cache = ldtap_statement_cache_new(2);
    cr_assert_not_null(cache);
    static const char *const statements[] = {
        "INSERT INTO kv (k, v) VALUES (?, ?)",
        "SELECT v FROM kv WHERE k = ?",
        "SELECT abalance FROM pgbench_accounts WHERE aid = 42;",
        "SELECT \"auth_user\".\"id\" FROM \"auth_user\" WHERE \"auth_user\".\"id\" = 7 LIMIT 21",
        "UPDATE t SET a = 'secret' WHERE b IN (1, 2, 3)",
        "SELECT 'caf\xc3\xa9', 'bad \xff byte' -- comment\n FROM x",
        "BEGIN",
        "",
        "SET k v",
        "GET user:1234",
    };
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof statements / sizeof *statements; i++) {
            const char *text = statements[i];
            uint16_t system = i >= 8 ? LDTAP_DB_REDIS : i % 2 ? LDTAP_DB_POSTGRESQL : LDTAP_DB_SQLITE;
            decode_three_ways(system, text, strlen(text), 0);
            decode_three_ways(LDTAP_DB_MYSQL, text, strlen(text), 0);
            /* The same bytes, cut by the shim: a different description. */
            decode_three_ways(system, text, strlen(text), (uint32_t)strlen(text) + 100);
        }
    }
    /* Longer than db.query.text may be: the cap cuts it, the cache must say so too. */
    static char long_statement[LDTAP_DB_STATEMENT_MAX];
    size_t used = (size_t)snprintf(long_statement, sizeof long_statement, "SELECT ");
    while (used + 16 < sizeof long_statement) {
        used += (size_t)snprintf(long_statement + used, sizeof long_statement - used, "column_%04zu, ", used);
    }
    decode_three_ways(LDTAP_DB_POSTGRESQL, long_statement, used, 0);
    decode_three_ways(LDTAP_DB_POSTGRESQL, long_statement, used, 0);
}
