/* libFuzzer harness for collector/sql_sanitize.c and collector/redis_command.c: any bytes
 * in every dialect, output sizes the fuzzer picks, checked for bounds and for literals
 * that survive. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redis_command.h"
#include "sql_sanitize.h"

static void check_terminated(const char *text, size_t length, size_t capacity) {
    if (length >= capacity || text[length] != '\0') {
        abort();
    }
}

/*
 * Byte 0: dialect (bits 0-1), truncated flag (bit 2), output capacity choice (bits 3-7);
 * the rest is the statement, copied to an exact-size heap buffer so ASan sees overreads.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1u << 16) {
        return 0;
    }
    uint8_t control = data[0];
    size_t length = size - 1;
    char *input = malloc(length ? length : 1);
    memcpy(input, data + 1, length);
    enum ldtap_sql_dialect dialect = (enum ldtap_sql_dialect)((control & 3) % 3);
    size_t capacity = (control >> 3) == 31 ? 4 * length + 64 : (size_t)(control >> 3) + 1;
    char *out = malloc(capacity);

    struct ldtap_sql_result result;
    ldtap_sql_sanitize(input, length, dialect, control & 4, out, capacity, &result);
    check_terminated(out, result.length, capacity);
    if (memchr(result.operation, '\0', sizeof result.operation) == NULL ||
        memchr(result.collection, '\0', sizeof result.collection) == NULL) {
        abort();
    }
    /* With room for everything, a quote character only survives inside a kept name: a
     * lone ' in the output would mean a string literal leaked. */
    if (!result.output_full && memchr(out, '\'', result.length) != NULL &&
        memchr(input, '"', length) == NULL && memchr(input, '`', length) == NULL) {
        abort();
    }

    struct ldtap_redis_result redis;
    ldtap_redis_sanitize(input, length, out, capacity, &redis);
    check_terminated(out, redis.length, capacity);
    if (memchr(redis.operation, '\0', sizeof redis.operation) == NULL) {
        abort();
    }
    free(out);
    free(input);
    return 0;
}
