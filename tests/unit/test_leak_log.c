/* Criterion tests for collector/leak_log.c: the log record of a leak suspect names the
 * site's function, file and line (skipping libc frames), carries WARN, the event name and
 * the numbers; an unknown stack still gives a record, without code attributes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "leak_log.h"
#include "symbolize.h"

#define MIB (1024u * 1024u)

static int target_line; /* set from __LINE__ inside the function below */

/* noinline: a real function with its own address and line table stands for the leak. */
__attribute__((noinline)) int ldtap_test_leak_target(int value) {
    target_line = __LINE__;
    return value * 5 + 2;
}

static struct ldtap_symbolizer *symbolizer;
static struct ldtap_symbol_process *self;
static struct ldtap_log_entry entry;

static void setup(void) {
    symbolizer = ldtap_symbolizer_new();
    cr_assert_not_null(symbolizer);
    self = ldtap_symbolizer_process(symbolizer, getpid(), 0);
    cr_assert_not_null(self);
    cr_assert_gt(ldtap_symbol_process_load_proc_maps(self, getpid()), 1);
}
static void teardown(void) {
    ldtap_symbolizer_free(symbolizer);
}

TestSuite(leak_log, .init = setup, .fini = teardown);

static const struct ldtap_attribute *attribute(const char *key) {
    return ldtap_log_entry_find(&entry, key);
}

static void assert_string(const char *key, const char *expected) {
    const struct ldtap_attribute *found = attribute(key);
    cr_assert_not_null(found, "no %s", key);
    cr_assert_eq(found->type, LDTAP_VALUE_STRING);
    cr_assert_eq(found->string_length, strlen(expected), "%s: %.*s", key, (int)found->string_length,
                 ldtap_log_entry_string(&entry, found));
    cr_assert(memcmp(ldtap_log_entry_string(&entry, found), expected, found->string_length) == 0);
}

static int64_t int_of(const char *key) {
    const struct ldtap_attribute *found = attribute(key);
    cr_assert_not_null(found, "no %s", key);
    cr_assert_eq(found->type, LDTAP_VALUE_INT, "%s is an int", key);
    return found->int_value;
}

static const struct ldtap_leak_suspect suspect = {
    .pid = 4242,
    .site = 9,
    .live_bytes = 40 * MIB,
    .growth_bytes = 32 * MIB,
    .growth_per_second = 2.0 * MIB,
    .flat_peers = 1,
    .flat_peer_pid = 4243,
};

Test(leak_log, names_the_leaking_function_past_libc_frames) {
    ldtap_test_leak_target(1);
    /* Return addresses, innermost first: a libc frame (malloc's place), then the caller. */
    uint64_t pcs[] = {(uint64_t)(uintptr_t)&getpid + 5, (uint64_t)(uintptr_t)&ldtap_test_leak_target + 5};
    struct ldtap_heap_site site = {.stack_id = 9, .pcs = pcs, .depth = 2};
    ldtap_leak_log_entry(&entry, &suspect, 2, LDTAP_LEAK_REPORT_NEW, self, &site, 123456789);

    cr_assert_eq(entry.time_ns, 123456789);
    cr_assert_eq(entry.severity_number, 13);
    cr_assert_str_eq(entry.severity_text, "WARN");
    cr_assert_str_eq(entry.event_name, "ldtap.heap.leak_suspect");
    cr_assert_null(entry.resource, "the caller's to set");
    assert_string("event.name", "ldtap.heap.leak_suspect");
    assert_string("code.function.name", "ldtap_test_leak_target");
    const struct ldtap_attribute *file = attribute("code.file.path");
    cr_assert_not_null(file, "built with -g: DWARF gives the file");
    char path[512];
    snprintf(path, sizeof path, "%.*s", (int)file->string_length, ldtap_log_entry_string(&entry, file));
    cr_assert_str_eq(ldtap_symbol_basename(path), "test_leak_log.c");
    int64_t line = int_of("code.line.number");
    cr_assert(line >= target_line - 3 && line <= target_line + 1, "line %lld near %d", (long long)line,
              target_line);
    cr_assert_eq(int_of("process.pid"), 4242);
    cr_assert_eq(int_of("ldtap.heap.live_bytes"), 40 * MIB);
    cr_assert_eq(int_of("ldtap.heap.growth_bytes"), 32 * MIB);
    cr_assert_eq(int_of("ldtap.heap.leak_rank"), 2);
    cr_assert_eq(int_of("ldtap.heap.flat_workers"), 1);
    cr_assert_eq(int_of("ldtap.heap.growing_workers"), 0);
    const struct ldtap_attribute *rate = attribute("ldtap.heap.growth_rate");
    cr_assert_not_null(rate);
    cr_assert_float_eq(rate->double_value, 2.0 * MIB, 1e-6);
    cr_assert_null(attribute("ldtap.heap.widespread_growth"), "said only when true");

    char body[512];
    snprintf(body, sizeof body, "%.*s", (int)entry.body_length, entry.text);
    char expected[128];
    snprintf(expected, sizeof expected,
             "new leak suspect in pid 4242: ldtap_test_leak_target (test_leak_log.c:%lld)", (long long)line);
    cr_assert_eq(strncmp(body, expected, strlen(expected)), 0, "%s", body);
    cr_assert(strstr(body, " holds ~40.0 MiB, +32.0 MiB at 2.0 MiB/s, rank 2 in its process"), "%s", body);
    cr_assert_null(strchr(body, '\n'), "one line");
}

Test(leak_log, unknown_stack_still_reports_without_code_attributes) {
    struct ldtap_leak_suspect widespread = suspect;
    widespread.flat_peers = 0;
    widespread.widespread = true;
    ldtap_leak_log_entry(&entry, &widespread, 1, LDTAP_LEAK_REPORT_GREW, self, NULL, 1);
    cr_assert_null(attribute("code.function.name"));
    cr_assert_null(attribute("code.file.path"));
    cr_assert_null(attribute("code.line.number"));
    cr_assert_null(attribute("ldtap.heap.flat_workers"), "no sibling was compared");
    const struct ldtap_attribute *flag = attribute("ldtap.heap.widespread_growth");
    cr_assert_not_null(flag);
    cr_assert_eq(flag->type, LDTAP_VALUE_BOOL);
    cr_assert(flag->bool_value);
    char body[512];
    snprintf(body, sizeof body, "%.*s", (int)entry.body_length, entry.text);
    cr_assert(strstr(body, "leak suspect still growing in pid 4242: [stack not received] holds"), "%s", body);
}
