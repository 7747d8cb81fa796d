/* libFuzzer harness for collector/prometheus_parse.c: arbitrary bytes as a scrape; every
 * name and label the parser hands back must lie inside the input or the sample. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus_parse.h"

struct bounds {
    const uint8_t *data;
    size_t size;
};

static void check_inside(const char *start, size_t length, const char *low, size_t size) {
    if (length > size || start < low || start + length > low + size) {
        abort();
    }
    volatile char sink = 0;
    for (size_t i = 0; i < length; i++) {
        sink ^= start[i];
    }
    (void)sink;
}

static void check_sample(void *context, const struct ldtap_prom_sample *sample) {
    const struct bounds *input = context;
    check_inside(sample->name, sample->name_length, (const char *)input->data, input->size);
    if (sample->label_count > LDTAP_PROM_MAX_LABELS) {
        abort();
    }
    for (uint32_t i = 0; i < sample->label_count; i++) {
        const struct ldtap_prom_label *label = &sample->labels[i];
        check_inside(label->name, label->name_length, (const char *)input->data, input->size);
        check_inside(label->value, label->value_length, sample->values, sizeof sample->values);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct ldtap_prom_sample sample;
    struct bounds input = {data, size};
    /* A copy of exactly `size` bytes, so ASan catches a read one past the end. */
    char *copy = malloc(size ? size : 1);
    if (!copy) {
        return 0;
    }
    memcpy(copy, data, size);
    input.data = (const uint8_t *)copy;
    ldtap_prom_parse(copy, size, &sample, check_sample, &input);
    free(copy);
    return 0;
}
