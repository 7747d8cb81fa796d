/* Symbolization in the collector: per-process module maps (kept after the process exits)
 * and address -> {module, function, offset, file, line} from ELF symbol tables (libelf)
 * and DWARF line tables (libdw), cached per module file. Used by heap profiles and, later,
 * crash reports. */
#ifndef LDTAP_SYMBOLIZE_H
#define LDTAP_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ldtap_symbolizer;
struct ldtap_symbol_process;

/* What is known about one address. Strings stay valid until ldtap_symbolizer_free; a field
 * that could not be found is NULL (names) or 0 (numbers). */
struct ldtap_symbol {
    const char *module;         /* the mapped file's path; NULL: no mapping covers the address */
    uint64_t module_start;      /* the mapping that covers the address: [start, limit) */
    uint64_t module_limit;
    uint64_t module_file_offset;
    uint64_t module_address;    /* the address as a virtual address in the ELF file */
    const char *function;       /* from .symtab or .dynsym */
    uint64_t offset;            /* address - function start */
    const char *file;           /* source file from DWARF, when debug info exists */
    uint32_t line;
};

struct ldtap_symbolizer *ldtap_symbolizer_new(void);
void ldtap_symbolizer_free(struct ldtap_symbolizer *symbolizer);

/* The module map of the process (pid, start_ticks), created empty on first use; NULL when
 * out of memory. The same process always gets the same map, also after it exits. */
struct ldtap_symbol_process *ldtap_symbolizer_process(struct ldtap_symbolizer *symbolizer, int32_t pid,
                                                      uint64_t start_ticks);
/* Drops a process's map (when nothing will ask about its addresses any more). */
void ldtap_symbolizer_forget(struct ldtap_symbolizer *symbolizer, struct ldtap_symbol_process *process);

/* Records that `path` is mapped at [start, limit) from `file_offset` of the file. Paths
 * that are not absolute ("[vdso]", anonymous) are ignored. Returns false when out of memory
 * or the range is empty. */
bool ldtap_symbol_process_add_mapping(struct ldtap_symbol_process *process, const char *path, uint64_t start,
                                      uint64_t limit, uint64_t file_offset);
/* Adds the executable mappings listed in /proc/<pid>/maps (a live process without module
 * map records, and the tests). Returns how many were added, -1 if the file can't be read. */
int ldtap_symbol_process_load_proc_maps(struct ldtap_symbol_process *process, int32_t pid);

/* Fills `symbol` for `address`. Returns false when no mapping covers it (symbol->module is
 * NULL then); true with whatever the module's symbols and debug info could tell. For a
 * return address taken from a stack, pass address - 1 so that file:line is the call's. */
bool ldtap_symbolize(struct ldtap_symbol_process *process, uint64_t address, struct ldtap_symbol *symbol);

/* Writes a display name for a frame: "function", "module+0xoffset" or "0xaddress", then
 * " (file:line)" with the file's basename when `with_location` and known. Returns `out`. */
char *ldtap_symbol_format(const struct ldtap_symbol *symbol, uint64_t address, bool with_location, char *out,
                          size_t size);

/* The basename of a path (the part after the last '/'), for display. */
const char *ldtap_symbol_basename(const char *path);

#endif
