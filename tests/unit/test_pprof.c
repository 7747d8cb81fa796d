/* Criterion tests for collector/pprof.c: encode a small heap profile, read it back with a
 * minimal protobuf reader written here (independent of the encoder) and check the
 * structure: sample types, values, locations -> functions -> strings, mappings; gzip file. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "pprof.h"

__attribute__((noinline)) int ldtap_test_pprof_allocator(int value) { return value + 11; }
__attribute__((noinline)) int ldtap_test_pprof_caller(int value) { return ldtap_test_pprof_allocator(value) * 2; }

/* ---- a minimal reader: fields of one message ---- */
struct field {
    uint32_t number;
    uint32_t wire;
    uint64_t value;        /* varint */
    const uint8_t *bytes;  /* length-delimited */
    size_t length;
};

static bool read_varint(const uint8_t **at, const uint8_t *end, uint64_t *value) {
    *value = 0;
    for (int shift = 0; shift < 64 && *at < end; shift += 7) {
        uint8_t byte = *(*at)++;
        *value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            return true;
        }
    }
    return false;
}

static bool next_field(const uint8_t **at, const uint8_t *end, struct field *field) {
    uint64_t key;
    if (*at >= end || !read_varint(at, end, &key)) {
        return false;
    }
    field->number = (uint32_t)(key >> 3);
    field->wire = (uint32_t)(key & 7);
    if (field->wire == 0) {
        return read_varint(at, end, &field->value);
    }
    cr_assert_eq(field->wire, 2, "only varints and length-delimited fields are used");
    uint64_t length;
    cr_assert(read_varint(at, end, &length));
    cr_assert_leq(length, (uint64_t)(end - *at), "length within the message");
    field->bytes = *at;
    field->length = (size_t)length;
    *at += length;
    return true;
}

/* Value of varint field `number` in a message, 0 when absent. */
static uint64_t varint_of(const uint8_t *bytes, size_t length, uint32_t number) {
    const uint8_t *at = bytes;
    struct field field;
    uint64_t value = 0;
    while (next_field(&at, bytes + length, &field)) {
        if (field.number == number && field.wire == 0) {
            value = field.value;
        }
    }
    return value;
}

/* Packed repeated varints of field `number`. */
static size_t packed_of(const uint8_t *bytes, size_t length, uint32_t number, uint64_t *values, size_t max) {
    const uint8_t *at = bytes;
    struct field field;
    size_t count = 0;
    while (next_field(&at, bytes + length, &field)) {
        if (field.number == number && field.wire == 2) {
            const uint8_t *inner = field.bytes;
            while (inner < field.bytes + field.length && count < max) {
                cr_assert(read_varint(&inner, field.bytes + field.length, &values[count++]));
            }
        }
    }
    return count;
}

struct decoded {
    char *strings[256];
    size_t string_count;
    struct field samples[16], locations[64], functions[64], mappings[16], sample_types[8];
    size_t sample_count, location_count, function_count, mapping_count, sample_type_count;
    uint64_t period, time_nanos, default_sample_type;
};

static void decode(const struct ldtap_buffer *buffer, struct decoded *out) {
    memset(out, 0, sizeof *out);
    const uint8_t *at = buffer->data, *end = buffer->data + buffer->length;
    struct field field;
    while (next_field(&at, end, &field)) {
        switch (field.number) {
        case LDTAP_PPROF_SAMPLE_TYPE: out->sample_types[out->sample_type_count++] = field; break;
        case LDTAP_PPROF_SAMPLE: out->samples[out->sample_count++] = field; break;
        case LDTAP_PPROF_MAPPING: out->mappings[out->mapping_count++] = field; break;
        case LDTAP_PPROF_LOCATION: out->locations[out->location_count++] = field; break;
        case LDTAP_PPROF_FUNCTION: out->functions[out->function_count++] = field; break;
        case LDTAP_PPROF_STRING_TABLE: out->strings[out->string_count++] = strndup((const char *)field.bytes, field.length); break;
        case LDTAP_PPROF_PERIOD: out->period = field.value; break;
        case LDTAP_PPROF_TIME_NANOS: out->time_nanos = field.value; break;
        case LDTAP_PPROF_DEFAULT_SAMPLE_TYPE: out->default_sample_type = field.value; break;
        default: break;
        }
    }
    cr_assert_eq(at, end, "the whole message parses");
}

static const struct field *by_id(const struct field *fields, size_t count, uint64_t id) {
    for (size_t i = 0; i < count; i++) {
        if (varint_of(fields[i].bytes, fields[i].length, 1) == id) {
            return &fields[i];
        }
    }
    cr_assert_fail("id %lu not found", (unsigned long)id);
    return NULL;
}

/* The function name of a location (via its first Line). */
static const char *location_function(const struct decoded *profile, uint64_t location_id, int64_t *line) {
    const struct field *location = by_id(profile->locations, profile->location_count, location_id);
    const uint8_t *at = location->bytes;
    struct field field;
    while (next_field(&at, location->bytes + location->length, &field)) {
        if (field.number == 4) {
            uint64_t function_id = varint_of(field.bytes, field.length, 1);
            *line = (int64_t)varint_of(field.bytes, field.length, 2);
            const struct field *function = by_id(profile->functions, profile->function_count, function_id);
            return profile->strings[varint_of(function->bytes, function->length, 2)];
        }
    }
    return NULL;
}

static void build(struct ldtap_heap_profile *profile) {
    ldtap_heap_profile_init(profile);
    /* "Return addresses" one past each function's start: the encoder looks up pc - 1. */
    uint64_t allocator = (uint64_t)(uintptr_t)&ldtap_test_pprof_allocator + 1;
    uint64_t caller = (uint64_t)(uintptr_t)&ldtap_test_pprof_caller + 1;
    uint64_t stack_a[] = {allocator, caller};
    uint64_t stack_b[] = {caller};
    cr_assert(ldtap_heap_profile_add_stack(profile, 1, stack_a, 2, 0));
    cr_assert(ldtap_heap_profile_add_stack(profile, 2, stack_b, 1, 0));
    cr_assert(ldtap_heap_profile_sample(profile, 0x1000, 100, 1000, 1));
    cr_assert(ldtap_heap_profile_sample(profile, 0x2000, 100, 1000, 1));
    cr_assert(ldtap_heap_profile_sample(profile, 0x3000, 50, 500, 2));
    cr_assert(ldtap_heap_profile_free(profile, 0x2000));
    cr_assert(ldtap_heap_profile_sample(profile, 0x4000, 8, 64, 77)); /* stack never received */
}

Test(pprof, encodes_a_profile_that_decodes_back) {
    struct ldtap_symbolizer *symbolizer = ldtap_symbolizer_new();
    struct ldtap_symbol_process *self = ldtap_symbolizer_process(symbolizer, getpid(), 0);
    cr_assert_gt(ldtap_symbol_process_load_proc_maps(self, getpid()), 0);
    struct ldtap_heap_profile profile;
    build(&profile);
    struct ldtap_buffer buffer;
    ldtap_buffer_init(&buffer);
    struct ldtap_pprof_options options = {.time_ns = 1700000000000000000ull, .duration_ns = 5, .sample_interval = 4096};
    cr_assert(ldtap_pprof_encode(&profile, self, &options, &buffer));

    struct decoded decoded;
    decode(&buffer, &decoded);
    cr_assert_str_eq(decoded.strings[0], "", "string 0 is empty");
    cr_assert_eq(decoded.sample_type_count, 4);
    static const char *const names[] = {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"};
    for (size_t i = 0; i < 4; i++) {
        const struct field *type = &decoded.sample_types[i];
        cr_assert_str_eq(decoded.strings[varint_of(type->bytes, type->length, 1)], names[i]);
    }
    cr_assert_str_eq(decoded.strings[decoded.default_sample_type], "inuse_space");
    cr_assert_eq(decoded.period, 4096);
    cr_assert_eq(decoded.time_nanos, options.time_ns);
    cr_assert_eq(decoded.sample_count, 3);
    cr_assert_geq(decoded.mapping_count, 1);

    bool saw_two_frames = false;
    for (size_t i = 0; i < decoded.sample_count; i++) {
        uint64_t locations[8], values[8];
        size_t depth = packed_of(decoded.samples[i].bytes, decoded.samples[i].length, 1, locations, 8);
        cr_assert_eq(packed_of(decoded.samples[i].bytes, decoded.samples[i].length, 2, values, 8), 4);
        int64_t line = 0;
        const char *leaf = location_function(&decoded, locations[0], &line);
        if (depth == 2) {
            saw_two_frames = true;
            cr_assert_str_eq(leaf, "ldtap_test_pprof_allocator");
            cr_assert_gt(line, 0, "the test is built with -g");
            cr_assert_str_eq(location_function(&decoded, locations[1], &line), "ldtap_test_pprof_caller");
            uint64_t expected[] = {20, 2000, 10, 1000}; /* alloc objects/space, inuse objects/space */
            cr_assert_arr_eq(values, expected, sizeof expected);
        } else if (values[1] == 64) {
            cr_assert_str_eq(leaf, "[stack not received]");
        } else {
            cr_assert_str_eq(leaf, "ldtap_test_pprof_caller");
            cr_assert_eq(values[3], 500);
        }
    }
    cr_assert(saw_two_frames);
    cr_assert_eq(decoded.function_count, 3, "functions deduplicated");
    for (size_t i = 0; i < decoded.string_count; i++) {
        for (size_t j = i + 1; j < decoded.string_count; j++) {
            cr_assert_str_neq(decoded.strings[i], decoded.strings[j], "strings interned once");
        }
        free(decoded.strings[i]);
    }

    char path[] = "/tmp/ldtap-pprof-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(ldtap_write_gzip_file(path, buffer.data, buffer.length), 0);
    gzFile file = gzopen(path, "rb");
    cr_assert_not_null(file);
    uint8_t *copy = malloc(buffer.length + 16);
    cr_assert_eq(gzread(file, copy, (unsigned)buffer.length + 16), (int)buffer.length);
    cr_assert_arr_eq(copy, buffer.data, buffer.length);
    gzclose(file);
    unlink(path);
    free(copy);
    ldtap_buffer_free(&buffer);
    ldtap_heap_profile_release(&profile);
    ldtap_symbolizer_free(symbolizer);
}

Test(pprof, empty_profile_and_no_symbols) {
    struct ldtap_heap_profile profile;
    ldtap_heap_profile_init(&profile);
    cr_assert(ldtap_heap_profile_sample(&profile, 0x10, 10, 10, 5));
    static const uint64_t pcs[] = {0x1234};
    cr_assert(ldtap_heap_profile_add_stack(&profile, 5, pcs, 1, 0));
    struct ldtap_buffer buffer;
    ldtap_buffer_init(&buffer);
    struct ldtap_pprof_options options = {0};
    cr_assert(ldtap_pprof_encode(&profile, NULL, &options, &buffer));
    struct decoded decoded;
    decode(&buffer, &decoded);
    cr_assert_eq(decoded.sample_count, 1);
    cr_assert_eq(decoded.mapping_count, 0);
    int64_t line;
    uint64_t location;
    cr_assert_eq(packed_of(decoded.samples[0].bytes, decoded.samples[0].length, 1, &location, 1), 1);
    cr_assert_str_eq(location_function(&decoded, location, &line), "0x1233", "an address when nothing maps it");
    for (size_t i = 0; i < decoded.string_count; i++) {
        free(decoded.strings[i]);
    }
    ldtap_buffer_free(&buffer);
    ldtap_heap_profile_release(&profile);
}
