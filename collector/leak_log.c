/* Builds the leak-suspect log record (see leak_log.h) in a log entry's fixed buffers:
 * strings are appended to entry->text after the body and referred to by offset. */
#include "leak_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "flamegraph.h"
#include "log_severity.h"

/* Bounds what one name may take of the entry's text: the body and the others need room too. */
#define NAME_MAX_BYTES 1024u

bool ldtap_leak_site_frame(struct ldtap_symbol_process *symbols, const struct ldtap_heap_site *site,
                           struct ldtap_symbol *symbol, uint64_t *address) {
    if (!site || !site->pcs || site->depth == 0) {
        return false;
    }
    for (uint32_t i = 0; i < site->depth; i++) {
        *address = site->pcs[i] - 1;
        ldtap_symbolize(symbols, *address, symbol);
        const char *module = symbol->module ? ldtap_symbol_basename(symbol->module) : "";
        bool runtime = strncmp(module, "libc.so", 7) == 0 || strncmp(module, "libstdc++", 9) == 0;
        if (!runtime) {
            return true;
        }
    }
    return true; /* every frame is the runtime's: the outermost names it */
}

static struct ldtap_attribute *next_attribute(struct ldtap_log_entry *entry, const char *key, uint8_t type) {
    if (entry->attribute_count >= LDTAP_LOG_ENTRY_MAX_ATTRIBUTES) {
        return NULL;
    }
    struct ldtap_attribute *attribute = &entry->attributes[entry->attribute_count++];
    *attribute = (struct ldtap_attribute){.key = key, .type = type};
    return attribute;
}

static void add_string(struct ldtap_log_entry *entry, const char *key, const char *value) {
    size_t length = strnlen(value, NAME_MAX_BYTES);
    if (entry->text_used + length > sizeof entry->text) {
        return;
    }
    struct ldtap_attribute *attribute = next_attribute(entry, key, LDTAP_VALUE_STRING);
    if (attribute) {
        memcpy(entry->text + entry->text_used, value, length);
        attribute->string_offset = entry->text_used;
        attribute->string_length = (uint16_t)length;
        entry->text_used = (uint16_t)(entry->text_used + length);
    }
}

static void add_int(struct ldtap_log_entry *entry, const char *key, int64_t value) {
    struct ldtap_attribute *attribute = next_attribute(entry, key, LDTAP_VALUE_INT);
    if (attribute) {
        attribute->int_value = value;
    }
}

static void add_double(struct ldtap_log_entry *entry, const char *key, double value) {
    struct ldtap_attribute *attribute = next_attribute(entry, key, LDTAP_VALUE_DOUBLE);
    if (attribute) {
        attribute->double_value = value;
    }
}

static void add_bool(struct ldtap_log_entry *entry, const char *key, bool value) {
    struct ldtap_attribute *attribute = next_attribute(entry, key, LDTAP_VALUE_BOOL);
    if (attribute) {
        attribute->bool_value = value;
    }
}

static int64_t clamp_int(uint64_t value) {
    return value > INT64_MAX ? INT64_MAX : (int64_t)value;
}

static const char *opening(enum ldtap_leak_report reason) {
    switch (reason) {
    case LDTAP_LEAK_REPORT_GREW:
        return "leak suspect still growing";
    case LDTAP_LEAK_REPORT_RANK:
        return "leak suspect moved up";
    default:
        return "new leak suspect";
    }
}

static void write_body(struct ldtap_log_entry *entry, const struct ldtap_leak_suspect *suspect, uint32_t rank,
                       enum ldtap_leak_report reason, const char *label) {
    char live[32], growth[32], rate[32];
    ldtap_format_bytes(suspect->live_bytes, live, sizeof live);
    ldtap_format_bytes(suspect->growth_bytes, growth, sizeof growth);
    ldtap_format_bytes((uint64_t)suspect->growth_per_second, rate, sizeof rate);
    size_t room = NAME_MAX_BYTES + 256;
    int length =
        snprintf(entry->text, room, "%s in pid %d: %s holds ~%s, +%s at %s/s, rank %u in its process",
                 opening(reason), (int)suspect->pid, label, live, growth, rate, rank);
    size_t written = length < 0 ? 0 : (size_t)length < room ? (size_t)length : room - 1;
    entry->body_length = (uint16_t)written;
    entry->text_used = (uint16_t)written;
}

void ldtap_leak_log_entry(struct ldtap_log_entry *entry, const struct ldtap_leak_suspect *suspect,
                          uint32_t rank, enum ldtap_leak_report reason, struct ldtap_symbol_process *symbols,
                          const struct ldtap_heap_site *site, uint64_t time_ns) {
    _Static_assert(3 * NAME_MAX_BYTES + 512 <= LDTAP_LOG_ENTRY_TEXT_BYTES, "room for the body and two names");
    memset(entry, 0, offsetof(struct ldtap_log_entry, text));
    entry->time_ns = time_ns;
    entry->observed_time_ns = time_ns;
    entry->severity_number = LDTAP_SEVERITY_WARN;
    memcpy(entry->severity_text, "WARN", sizeof "WARN");
    entry->event_name = LDTAP_LEAK_EVENT_NAME;

    struct ldtap_symbol symbol = {0};
    uint64_t address = 0;
    bool known = symbols && ldtap_leak_site_frame(symbols, site, &symbol, &address);
    char label[NAME_MAX_BYTES];
    if (known) {
        ldtap_symbol_format(&symbol, address, true, label, sizeof label);
    } else {
        snprintf(label, sizeof label, "[stack not received]");
    }
    write_body(entry, suspect, rank, reason, label);

    /* The deprecated attribute as well as the field: backends older than the field read it. */
    add_string(entry, "event.name", LDTAP_LEAK_EVENT_NAME);
    if (known && symbol.function) {
        add_string(entry, "code.function.name", symbol.function);
    }
    if (known && symbol.file) {
        add_string(entry, "code.file.path", symbol.file);
        if (symbol.line) {
            add_int(entry, "code.line.number", symbol.line);
        }
    }
    add_int(entry, "process.pid", suspect->pid);
    add_int(entry, "ldtap.heap.live_bytes", clamp_int(suspect->live_bytes));
    add_int(entry, "ldtap.heap.growth_bytes", clamp_int(suspect->growth_bytes));
    add_double(entry, "ldtap.heap.growth_rate", suspect->growth_per_second);
    add_int(entry, "ldtap.heap.leak_rank", rank);
    if (suspect->flat_peers || suspect->growing_peers) {
        add_int(entry, "ldtap.heap.flat_workers", suspect->flat_peers);
        add_int(entry, "ldtap.heap.growing_workers", suspect->growing_peers);
    }
    if (suspect->widespread) {
        add_bool(entry, "ldtap.heap.widespread_growth", true);
    }
}
