/* libFuzzer harness for collector/decode_db.c: records whose header fields, statement and
 * namespace bytes and payload length the fuzzer chooses; decoded again through a statement
 * cache (collector/statement_cache.c), which must change nothing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode_db.h"
#include "fuzz_payload.h"
#include "ldtap_ring_abi.h"
#include "statement_cache.h"

static void check_span(const struct ldtap_span *span, const struct ldtap_db_statement *statement) {
    if (span->kind != LDTAP_SPAN_KIND_CLIENT || memchr(statement->text, '\0', sizeof statement->text) == NULL) {
        abort();
    }
    fuzz_check_span(span, "db.system.name");
}

static bool same_span(const struct ldtap_span *a, const struct ldtap_span *b) {
    if (strcmp(a->name, b->name) != 0 || a->status_code != b->status_code ||
        a->attribute_count != b->attribute_count || a->text_used != b->text_used ||
        memcmp(a->text, b->text, a->text_used) != 0) {
        return false;
    }
    for (uint16_t i = 0; i < a->attribute_count; i++) {
        const struct ldtap_attribute *x = &a->attributes[i], *y = &b->attributes[i];
        if (strcmp(x->key, y->key) != 0 || x->type != y->type || x->bool_value != y->bool_value ||
            x->int_value != y->int_value || x->string_offset != y->string_offset ||
            x->string_length != y->string_length) {
            return false;
        }
    }
    return true;
}

/* A miss then a hit through one small cache (two sets: inputs keep evicting each other)
 * give the span and statement text of the plain decode. */
static void check_cached(const uint8_t *payload, uint32_t payload_length,
                         struct ldtap_db_decode_options options, const struct ldtap_span *plain,
                         const struct ldtap_db_statement *plain_statement) {
    static struct ldtap_statement_cache *cache;
    static struct ldtap_span cached;
    static struct ldtap_db_statement cached_statement;
    if (!cache && !(cache = ldtap_statement_cache_new(2))) {
        abort();
    }
    options.statements = cache;
    for (int pass = 0; pass < 2; pass++) {
        memset(&cached, 0, sizeof cached);
        if (!ldtap_decode_db_span(payload, payload_length, &options, &cached, &cached_statement) ||
            !same_span(plain, &cached) || strcmp(plain_statement->text, cached_statement.text) != 0 ||
            plain_statement->slow != cached_statement.slow) {
            abort();
        }
    }
}

/*
 * Byte 0 picks the mode. Odd: the rest is the payload as a hostile ring would hand it
 * over. Even: the header's kind, system, source, times and lengths are repaired so most
 * inputs reach the sanitisers; bits 1-2 pick raw statements and the slow threshold, and
 * bit 3 claims a shorter payload than the lengths need (must be rejected).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1u << 16) {
        return 0;
    }
    uint8_t mode = data[0];
    data++;
    size--;
    uint8_t *payload = malloc(size ? size : 1);
    memcpy(payload, data, size);
    uint32_t payload_length = (uint32_t)size;
    struct ldtap_db_decode_options options = {.raw_statements = mode & 2,
                                              .slow_query_ms = (mode & 4) ? 1 : 0};

    if ((mode & 1) == 0 && size >= sizeof(struct ldtap_db_span_record)) {
        struct ldtap_db_span_record record;
        memcpy(&record, payload, sizeof record);
        size_t rest = size - sizeof record;
        record.span.kind = LDTAP_SPAN_KIND_CLIENT;
        if (record.span.end_time_ns < record.span.start_time_ns) {
            record.span.end_time_ns = record.span.start_time_ns;
        }
        record.system = (uint16_t)(1 + record.system % 5);
        record.source = (uint16_t)(1 + record.source % 2);
        record.statement_length = (uint16_t)(record.statement_length % (rest + 1));
        if (record.statement_length > LDTAP_DB_STATEMENT_MAX) {
            record.statement_length = LDTAP_DB_STATEMENT_MAX;
        }
        record.namespace_length = (uint16_t)(record.namespace_length % (rest - record.statement_length + 1));
        if (record.namespace_length > LDTAP_DB_NAMESPACE_MAX) {
            record.namespace_length = LDTAP_DB_NAMESPACE_MAX;
        }
        if (record.statement_full_length < record.statement_length) {
            record.statement_full_length = record.statement_length;
        }
        memcpy(payload, &record, sizeof record);
        if ((mode & 8) && payload_length > 0) {
            payload_length -= (uint32_t)(mode >> 4) % payload_length;
        }
    }
    if (payload_length < size) {
        fuzz_shrink_payload(&payload, payload_length);
    }
    struct ldtap_span span;
    struct ldtap_db_statement statement;
    memset(&span, 0, sizeof span);
    if (ldtap_decode_db_span(payload, payload_length, &options, &span, &statement)) {
        check_span(&span, &statement);
        check_cached(payload, payload_length, options, &span, &statement);
    }
    free(payload);
    return 0;
}
