/* Criterion tests for collector/symbolize.c: addresses in the test binary and in libc,
 * through the test's own module map from /proc/self/maps; odd files and unmapped addresses. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize.h"

static int symbolize_target_line; /* set from __LINE__ inside the function below */

/* noinline: the test needs a real function with its own address and line table. */
__attribute__((noinline)) int ldtap_test_symbolize_target(int value) {
    symbolize_target_line = __LINE__;
    return value * 3 + 1;
}

static struct ldtap_symbolizer *symbolizer;
static struct ldtap_symbol_process *self;

static void setup(void) {
    symbolizer = ldtap_symbolizer_new();
    cr_assert_not_null(symbolizer);
    self = ldtap_symbolizer_process(symbolizer, getpid(), 0);
    cr_assert_not_null(self);
    cr_assert_gt(ldtap_symbol_process_load_proc_maps(self, getpid()), 1);
}

static void teardown(void) { ldtap_symbolizer_free(symbolizer); }

TestSuite(symbolize, .init = setup, .fini = teardown);

Test(symbolize, function_in_test_binary_with_file_and_line) {
    ldtap_test_symbolize_target(1);
    uint64_t address = (uint64_t)(uintptr_t)&ldtap_test_symbolize_target;
    struct ldtap_symbol symbol;
    cr_assert(ldtap_symbolize(self, address + 4, &symbol));
    cr_assert_str_eq(symbol.function, "ldtap_test_symbolize_target");
    cr_assert_eq(symbol.offset, 4);
    cr_assert_str_eq(ldtap_symbol_basename(symbol.module), "test_symbolize");
    cr_assert_not_null(symbol.file, "built with -g: DWARF gives the file");
    cr_assert_str_eq(ldtap_symbol_basename(symbol.file), "test_symbolize.c");
    cr_assert(symbol.line >= (uint32_t)symbolize_target_line - 3 && symbol.line <= (uint32_t)symbolize_target_line + 1,
              "line %u near %d", symbol.line, symbolize_target_line);
}

/* getpid: a libc function AddressSanitizer does not intercept, so the address is libc's
 * own in sanitizer builds too (qsort, malloc … resolve to libasan there). */
Test(symbolize, function_in_libc) {
    uint64_t address = (uint64_t)(uintptr_t)&getpid;
    struct ldtap_symbol symbol;
    cr_assert(ldtap_symbolize(self, address, &symbol));
    cr_assert_not_null(strstr(ldtap_symbol_basename(symbol.module), "libc"), "module %s", symbol.module);
    cr_assert_not_null(symbol.function);
    cr_assert_not_null(strstr(symbol.function, "getpid"), "function %s", symbol.function);
    cr_assert_eq(symbol.offset, 0);
}

Test(symbolize, same_module_cached_across_processes) {
    struct ldtap_symbol_process *other = ldtap_symbolizer_process(symbolizer, 999999, 7);
    cr_assert_neq(other, self);
    cr_assert_eq(ldtap_symbolizer_process(symbolizer, getpid(), 0), self, "same identity, same map");
    /* The other "process" maps the test binary somewhere else: its own translation applies. */
    struct ldtap_symbol here;
    uint64_t address = (uint64_t)(uintptr_t)&ldtap_test_symbolize_target;
    cr_assert(ldtap_symbolize(self, address, &here));
    uint64_t shift = 0x100000000ull;
    cr_assert(ldtap_symbol_process_add_mapping(other, here.module, here.module_start + shift, here.module_limit + shift,
                                               here.module_file_offset));
    struct ldtap_symbol there;
    cr_assert(ldtap_symbolize(other, address + shift, &there));
    cr_assert_str_eq(there.function, "ldtap_test_symbolize_target");
    cr_assert_eq(there.function, here.function, "one cached module: the same string");
    ldtap_symbolizer_forget(symbolizer, other);
}

Test(symbolize, unmapped_address) {
    struct ldtap_symbol symbol;
    cr_assert_not(ldtap_symbolize(self, 16, &symbol));
    cr_assert_null(symbol.module);
    cr_assert_not(ldtap_symbolize(NULL, 16, &symbol));
}

/* Truncated ELF, garbage, an empty file and a missing file: module + offset, no crash. */
Test(symbolize, odd_files_degrade_to_module_and_offset) {
    char directory[] = "/tmp/ldtap-symbolize-XXXXXX";
    cr_assert_not_null(mkdtemp(directory));
    static const char *const contents[] = {"\x7f" "ELF\x02\x01\x01", "not an elf file at all", "", NULL};
    struct ldtap_symbol_process *odd = ldtap_symbolizer_process(symbolizer, 1, 1);
    char path[4][128];
    for (int i = 0; i < 4; i++) {
        snprintf(path[i], sizeof path[i], "%s/odd%d.so", directory, i);
        if (contents[i]) {
            FILE *file = fopen(path[i], "w");
            cr_assert_not_null(file);
            fputs(contents[i], file);
            fclose(file);
        }
        uint64_t start = 0x10000ull * (uint64_t)(i + 1);
        cr_assert(ldtap_symbol_process_add_mapping(odd, path[i], start, start + 0x1000, 0));
        struct ldtap_symbol symbol;
        cr_assert(ldtap_symbolize(odd, start + 0x10, &symbol));
        cr_assert_str_eq(symbol.module, path[i]);
        cr_assert_null(symbol.function);
        cr_assert_eq(symbol.module_address, 0x10);
        if (contents[i]) {
            unlink(path[i]);
        }
    }
    rmdir(directory);
    cr_assert_not(ldtap_symbol_process_add_mapping(odd, "[vdso]", 1, 2, 0), "not a file");
}
