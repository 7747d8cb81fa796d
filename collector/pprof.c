/* profile.proto encoding for heap profiles: each repeated message is encoded into its own
 * buffer as it is first met (mappings, locations and functions deduplicated through hash
 * maps, strings interned), then the Profile is the concatenation of those buffers. */
#include "pprof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "otlp_common.h"
#include "u64_map.h"

struct string_table {
    char **strings;
    size_t count, capacity;
    struct ldtap_u64_map by_hash; /* FNV-1a of the text -> index */
};

struct encoder {
    struct ldtap_symbol_process *symbols;
    struct string_table strings;
    struct ldtap_buffer samples, mappings, locations, functions;
    struct ldtap_buffer message, line; /* scratch for one message and one Line */
    struct ldtap_u64_map location_by_pc, function_by_key, mapping_by_start;
    bool failed;
};

enum { MAPPING_ID = 1, MAPPING_START = 2, MAPPING_LIMIT = 3, MAPPING_OFFSET = 4, MAPPING_FILENAME = 5,
       MAPPING_HAS_FUNCTIONS = 7, MAPPING_HAS_FILENAMES = 8, MAPPING_HAS_LINES = 9 };
enum { LOCATION_ID = 1, LOCATION_MAPPING = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4 };
enum { LINE_FUNCTION = 1, LINE_LINE = 2 };
enum { FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3, FUNCTION_FILENAME = 4 };
enum { SAMPLE_LOCATIONS = 1, SAMPLE_VALUES = 2 };
enum { VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2 };

static uint64_t text_hash(const char *text) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (; *text; text++) {
        hash = (hash ^ (uint8_t)*text) * 0x100000001b3ull;
    }
    return hash;
}

/* The string's index in the table, added when new. Index 0 is "" as profile.proto requires. */
static int64_t intern(struct encoder *encoder, const char *text) {
    struct string_table *table = &encoder->strings;
    uint64_t hash = text_hash(text), index;
    if (ldtap_u64_map_get(&table->by_hash, hash, &index) && strcmp(table->strings[index], text) == 0) {
        return (int64_t)index;
    }
    char *copy = strdup(text);
    if (!copy || !ldtap_array_reserve((void **)&table->strings, table->count, &table->capacity, sizeof *table->strings)) {
        free(copy);
        encoder->failed = true;
        return 0;
    }
    table->strings[table->count] = copy;
    /* A hash collision leaves the newer string out of the map: a duplicate entry in the
     * table is legal, a wrong index is not. */
    if (!ldtap_u64_map_get(&table->by_hash, hash, NULL)) {
        encoder->failed |= !ldtap_u64_map_put(&table->by_hash, hash, table->count);
    }
    return (int64_t)table->count++;
}

static void put_uint(struct ldtap_buffer *out, uint32_t field, uint64_t value) {
    if (value != 0) { /* proto3: a zero scalar is the default and is left out */
        ldtap_protobuf_put_tag(out, field, LDTAP_WIRE_VARINT);
        ldtap_protobuf_put_varint(out, value);
    }
}

/* Appends `message` as length-delimited field `field` of `out`, then empties it. */
static void put_message(struct ldtap_buffer *out, uint32_t field, struct ldtap_buffer *message) {
    ldtap_protobuf_put_length_header(out, field, message->length);
    ldtap_buffer_append(out, message->data, message->length);
    ldtap_buffer_reset(message);
}

static void put_packed(struct ldtap_buffer *out, uint32_t field, const uint64_t *values, size_t count) {
    size_t size = 0;
    for (size_t i = 0; i < count; i++) {
        size += ldtap_protobuf_varint_size(values[i]);
    }
    ldtap_protobuf_put_length_header(out, field, size);
    for (size_t i = 0; i < count; i++) {
        ldtap_protobuf_put_varint(out, values[i]);
    }
}

static uint64_t mapping_id(struct encoder *encoder, const struct ldtap_symbol *symbol) {
    uint64_t id;
    if (!symbol->module || ldtap_u64_map_get(&encoder->mapping_by_start, symbol->module_start, &id)) {
        return symbol->module ? id : 0;
    }
    id = encoder->mapping_by_start.count + 1;
    encoder->failed |= !ldtap_u64_map_put(&encoder->mapping_by_start, symbol->module_start, id);
    struct ldtap_buffer *message = &encoder->message;
    put_uint(message, MAPPING_ID, id);
    put_uint(message, MAPPING_START, symbol->module_start);
    put_uint(message, MAPPING_LIMIT, symbol->module_limit);
    put_uint(message, MAPPING_OFFSET, symbol->module_file_offset);
    put_uint(message, MAPPING_FILENAME, (uint64_t)intern(encoder, symbol->module));
    /* Symbolized here: tells pprof not to look for the binaries itself. */
    put_uint(message, MAPPING_HAS_FUNCTIONS, 1);
    put_uint(message, MAPPING_HAS_FILENAMES, 1);
    put_uint(message, MAPPING_HAS_LINES, 1);
    put_message(&encoder->mappings, LDTAP_PPROF_MAPPING, message);
    return id;
}

static uint64_t function_id(struct encoder *encoder, const char *name, const char *file) {
    int64_t name_index = intern(encoder, name), file_index = file ? intern(encoder, file) : 0;
    uint64_t key = (uint64_t)name_index << 32 | (uint64_t)file_index, id;
    if (ldtap_u64_map_get(&encoder->function_by_key, key, &id)) {
        return id;
    }
    id = encoder->function_by_key.count + 1;
    encoder->failed |= !ldtap_u64_map_put(&encoder->function_by_key, key, id);
    struct ldtap_buffer *message = &encoder->message;
    put_uint(message, FUNCTION_ID, id);
    put_uint(message, FUNCTION_NAME, (uint64_t)name_index);
    put_uint(message, FUNCTION_SYSTEM_NAME, (uint64_t)name_index);
    put_uint(message, FUNCTION_FILENAME, (uint64_t)file_index);
    put_message(&encoder->functions, LDTAP_PPROF_FUNCTION, message);
    return id;
}

/* A location per distinct pc. Stack pcs are return addresses: the location is the call
 * instruction (pc - 1), which is also what file:line describes. pc 0 stands for a site
 * whose stack was never received. */
static uint64_t location_id(struct encoder *encoder, uint64_t pc) {
    uint64_t id;
    if (ldtap_u64_map_get(&encoder->location_by_pc, pc, &id)) {
        return id;
    }
    id = encoder->location_by_pc.count + 1;
    encoder->failed |= !ldtap_u64_map_put(&encoder->location_by_pc, pc, id);
    uint64_t address = pc ? pc - 1 : 0;
    struct ldtap_symbol symbol = {0};
    char name[512];
    if (pc) {
        ldtap_symbolize(encoder->symbols, address, &symbol);
        ldtap_symbol_format(&symbol, address, false, name, sizeof name);
    } else {
        snprintf(name, sizeof name, "[stack not received]");
    }
    uint64_t mapping = mapping_id(encoder, &symbol); /* before `message` is used for the location */
    uint64_t function = function_id(encoder, name, symbol.file);
    put_uint(&encoder->line, LINE_FUNCTION, function);
    put_uint(&encoder->line, LINE_LINE, symbol.line);
    struct ldtap_buffer *message = &encoder->message;
    put_uint(message, LOCATION_ID, id);
    put_uint(message, LOCATION_MAPPING, mapping);
    put_uint(message, LOCATION_ADDRESS, address);
    put_message(message, LOCATION_LINE, &encoder->line);
    put_message(&encoder->locations, LDTAP_PPROF_LOCATION, message);
    return id;
}

static uint64_t rounded(double value) { return value > 0 ? (uint64_t)(value + 0.5) : 0; }

static void encode_site(struct encoder *encoder, const struct ldtap_heap_site *site) {
    uint64_t locations[LDTAP_HEAP_MAX_DEPTH];
    size_t depth = site->pcs ? site->depth : 0;
    depth = depth < LDTAP_HEAP_MAX_DEPTH ? depth : LDTAP_HEAP_MAX_DEPTH;
    for (size_t i = 0; i < depth; i++) {
        locations[i] = location_id(encoder, site->pcs[i]); /* leaf first, as pprof expects */
    }
    if (depth == 0) {
        locations[depth++] = location_id(encoder, 0);
    }
    uint64_t values[LDTAP_PPROF_VALUES] = {
        [LDTAP_PPROF_ALLOC_OBJECTS] = rounded(site->alloc_objects),
        [LDTAP_PPROF_ALLOC_SPACE] = site->alloc_bytes,
        [LDTAP_PPROF_INUSE_OBJECTS] = rounded(site->live_objects),
        [LDTAP_PPROF_INUSE_SPACE] = site->live_bytes,
    };
    struct ldtap_buffer *message = &encoder->message;
    put_packed(message, SAMPLE_LOCATIONS, locations, depth);
    put_packed(message, SAMPLE_VALUES, values, LDTAP_PPROF_VALUES);
    put_message(&encoder->samples, LDTAP_PPROF_SAMPLE, message);
}

static void put_value_type(struct encoder *encoder, struct ldtap_buffer *out, uint32_t field, const char *type,
                           const char *unit) {
    struct ldtap_buffer *message = &encoder->message;
    put_uint(message, VALUE_TYPE_TYPE, (uint64_t)intern(encoder, type));
    put_uint(message, VALUE_TYPE_UNIT, (uint64_t)intern(encoder, unit));
    put_message(out, field, message);
}

static void release(struct encoder *encoder) {
    for (size_t i = 0; i < encoder->strings.count; i++) {
        free(encoder->strings.strings[i]);
    }
    free(encoder->strings.strings);
    ldtap_u64_map_free(&encoder->strings.by_hash);
    struct ldtap_buffer *buffers[] = {&encoder->samples, &encoder->mappings, &encoder->locations,
                                      &encoder->functions, &encoder->message, &encoder->line};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) {
        ldtap_buffer_free(buffers[i]);
    }
    ldtap_u64_map_free(&encoder->location_by_pc);
    ldtap_u64_map_free(&encoder->function_by_key);
    ldtap_u64_map_free(&encoder->mapping_by_start);
}

bool ldtap_pprof_encode(const struct ldtap_heap_profile *profile, struct ldtap_symbol_process *symbols,
                        const struct ldtap_pprof_options *options, struct ldtap_buffer *out) {
    struct encoder encoder = {.symbols = symbols};
    intern(&encoder, "");
    struct ldtap_buffer header;
    ldtap_buffer_init(&header);
    static const char *const sample_types[LDTAP_PPROF_VALUES][2] = {
        {"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
    for (size_t i = 0; i < LDTAP_PPROF_VALUES; i++) {
        put_value_type(&encoder, &header, LDTAP_PPROF_SAMPLE_TYPE, sample_types[i][0], sample_types[i][1]);
    }
    for (size_t i = 0; i < profile->site_count; i++) {
        if (profile->sites[i].alloc_bytes > 0) {
            encode_site(&encoder, &profile->sites[i]);
        }
    }
    struct ldtap_buffer trailer;
    ldtap_buffer_init(&trailer);
    put_uint(&trailer, LDTAP_PPROF_TIME_NANOS, options->time_ns);
    put_uint(&trailer, LDTAP_PPROF_DURATION_NANOS, options->duration_ns);
    put_value_type(&encoder, &trailer, LDTAP_PPROF_PERIOD_TYPE, "space", "bytes");
    put_uint(&trailer, LDTAP_PPROF_PERIOD, options->sample_interval);
    put_uint(&trailer, LDTAP_PPROF_DEFAULT_SAMPLE_TYPE, (uint64_t)intern(&encoder, "inuse_space"));
    /* Every string is interned by now: the table can be written. */
    const struct ldtap_buffer *parts[] = {&header, &encoder.samples, &encoder.mappings, &encoder.locations,
                                          &encoder.functions};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        ldtap_buffer_append(out, parts[i]->data, parts[i]->length);
        encoder.failed |= parts[i]->failed;
    }
    for (size_t i = 0; i < encoder.strings.count; i++) {
        const char *text = encoder.strings.strings[i];
        size_t length = strlen(text);
        ldtap_protobuf_put_string(out, LDTAP_PPROF_STRING_TABLE, text, length, ldtap_utf8_sanitized_length(text, length));
    }
    ldtap_buffer_append(out, trailer.data, trailer.length);
    bool ok = !encoder.failed && !trailer.failed && !header.failed && !out->failed;
    ldtap_buffer_free(&header);
    ldtap_buffer_free(&trailer);
    release(&encoder);
    return ok;
}

int ldtap_write_gzip_file(const char *path, const uint8_t *data, size_t length) {
    char temporary[4096];
    if (snprintf(temporary, sizeof temporary, "%s.tmp", path) >= (int)sizeof temporary) {
        return -ENAMETOOLONG;
    }
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    gzFile file = gzdopen(fd, "wb6");
    if (!file) {
        close(fd);
        unlink(temporary);
        return -ENOMEM;
    }
    int result = 0;
    while (length > 0 && result == 0) {
        unsigned chunk = length > (1u << 30) ? (1u << 30) : (unsigned)length;
        if (gzwrite(file, data, chunk) != (int)chunk) {
            result = -EIO;
        }
        data += chunk;
        length -= chunk;
    }
    if (gzclose(file) != Z_OK && result == 0) {
        result = -EIO;
    }
    if (result == 0 && rename(temporary, path) != 0) {
        result = -errno;
    }
    if (result != 0) {
        unlink(temporary);
    }
    return result;
}
