/* libFuzzer harness for traceparent parsing: no out-of-bounds reads on any input, and
 * whatever parses formats back to a value that parses to the same context. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traceparent.h"

#define REQUIRE(condition)                                                                         \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #condition, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A private copy so that ASan catches a read one past the given length. */
    char *value = malloc(size == 0 ? 1 : size);
    if (value == NULL) {
        return 0;
    }
    memcpy(value, data, size);
    struct ldtap_trace_context context;
    if (ldtap_traceparent_parse(value, size, &context)) {
        char formatted[56];
        ldtap_traceparent_format(context.trace_id, context.parent_span_id, context.trace_flags, formatted);
        REQUIRE(strlen(formatted) == 55);
        struct ldtap_trace_context again;
        REQUIRE(ldtap_traceparent_parse(formatted, 55, &again));
        REQUIRE(memcmp(&context, &again, sizeof context) == 0);
        /* An exact version-00 value formats back to itself. */
        if (size == 55 && value[0] == '0' && value[1] == '0') {
            REQUIRE(memcmp(formatted, value, 55) == 0);
        }
    }
    free(value);
    return 0;
}
