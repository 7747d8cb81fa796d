/* Module maps per process and a per-file cache of libdwfl handles: each module file is
 * opened once (however many processes map it) and addresses are translated to the file's
 * own virtual addresses before lookup. Odd, missing or replaced files degrade to
 * "module + offset", never to a crash. */
#include "symbolize.h"

#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One mapped file, shared by every process that maps it. */
struct module {
    char *path;
    Dwfl *dwfl;       /* NULL until first used, or when the file could not be read */
    Dwfl_Module *dwfl_module;
    bool opened;      /* an attempt was made (success or not): never retried */
    struct module *next;
};

struct mapping {
    uint64_t start, limit, file_offset;
    struct module *module;
};

struct ldtap_symbol_process {
    int32_t pid;
    uint64_t start_ticks;
    struct mapping *mappings; /* sorted by start when `sorted` */
    size_t count, capacity;
    bool sorted;
    struct ldtap_symbolizer *owner;
    struct ldtap_symbol_process *next;
};

struct ldtap_symbolizer {
    struct module *modules;
    struct ldtap_symbol_process *processes;
};

/* Debug info is looked up the standard way (.gnu_debuglink, /usr/lib/debug/.build-id). */
static const Dwfl_Callbacks dwfl_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

struct ldtap_symbolizer *ldtap_symbolizer_new(void) {
    elf_version(EV_CURRENT); /* libelf refuses to work before this is called once */
    return calloc(1, sizeof(struct ldtap_symbolizer));
}

static void free_process(struct ldtap_symbol_process *process) {
    free(process->mappings);
    free(process);
}

void ldtap_symbolizer_free(struct ldtap_symbolizer *symbolizer) {
    if (!symbolizer) {
        return;
    }
    while (symbolizer->processes) {
        struct ldtap_symbol_process *process = symbolizer->processes;
        symbolizer->processes = process->next;
        free_process(process);
    }
    while (symbolizer->modules) {
        struct module *module = symbolizer->modules;
        symbolizer->modules = module->next;
        if (module->dwfl) {
            dwfl_end(module->dwfl);
        }
        free(module->path);
        free(module);
    }
    free(symbolizer);
}

struct ldtap_symbol_process *ldtap_symbolizer_process(struct ldtap_symbolizer *symbolizer, int32_t pid,
                                                      uint64_t start_ticks) {
    for (struct ldtap_symbol_process *process = symbolizer->processes; process; process = process->next) {
        if (process->pid == pid && process->start_ticks == start_ticks) {
            return process;
        }
    }
    struct ldtap_symbol_process *process = calloc(1, sizeof *process);
    if (!process) {
        return NULL;
    }
    process->pid = pid;
    process->start_ticks = start_ticks;
    process->sorted = true;
    process->owner = symbolizer;
    process->next = symbolizer->processes;
    symbolizer->processes = process;
    return process;
}

void ldtap_symbolizer_forget(struct ldtap_symbolizer *symbolizer, struct ldtap_symbol_process *process) {
    for (struct ldtap_symbol_process **link = &symbolizer->processes; *link; link = &(*link)->next) {
        if (*link == process) {
            *link = process->next;
            free_process(process);
            return;
        }
    }
}

static struct module *module_for_path(struct ldtap_symbolizer *symbolizer, const char *path) {
    for (struct module *module = symbolizer->modules; module; module = module->next) {
        if (strcmp(module->path, path) == 0) {
            return module;
        }
    }
    struct module *module = calloc(1, sizeof *module);
    if (!module || !(module->path = strdup(path))) {
        free(module);
        return NULL;
    }
    module->next = symbolizer->modules;
    symbolizer->modules = module;
    return module;
}

bool ldtap_symbol_process_add_mapping(struct ldtap_symbol_process *process, const char *path, uint64_t start,
                                      uint64_t limit, uint64_t file_offset) {
    if (!path || path[0] != '/' || limit <= start) {
        return false;
    }
    for (size_t i = 0; i < process->count; i++) {
        const struct mapping *known = &process->mappings[i];
        if (known->start == start && known->limit == limit && strcmp(known->module->path, path) == 0) {
            return true; /* maps are re-sent after dlopen: keep one copy */
        }
    }
    if (process->count == process->capacity) {
        size_t capacity = process->capacity ? process->capacity * 2 : 32;
        struct mapping *grown = realloc(process->mappings, capacity * sizeof *grown);
        if (!grown) {
            return false;
        }
        process->mappings = grown;
        process->capacity = capacity;
    }
    struct module *module = module_for_path(process->owner, path);
    if (!module) {
        return false;
    }
    process->mappings[process->count++] = (struct mapping){start, limit, file_offset, module};
    process->sorted = false;
    return true;
}

int ldtap_symbol_process_load_proc_maps(struct ldtap_symbol_process *process, int32_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *maps = fopen(path, "re");
    if (!maps) {
        return -1;
    }
    int added = 0;
    char line[4096 + 256];
    while (fgets(line, sizeof line, maps)) {
        uint64_t start, limit, offset;
        char permissions[8];
        int path_at = 0;
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n", &start, &limit, permissions, &offset,
                   &path_at) < 4 ||
            path_at == 0 || strchr(permissions, 'x') == NULL) {
            continue;
        }
        char *name = line + path_at;
        name[strcspn(name, "\n")] = '\0';
        char *deleted = strstr(name, " (deleted)"); /* a replaced file: the path is still the best guess */
        if (deleted) {
            *deleted = '\0';
        }
        added += ldtap_symbol_process_add_mapping(process, name, start, limit, offset);
    }
    fclose(maps);
    return added;
}

static int compare_mappings(const void *left, const void *right) {
    const struct mapping *a = left, *b = right;
    return a->start < b->start ? -1 : a->start > b->start;
}

static const struct mapping *find_mapping(struct ldtap_symbol_process *process, uint64_t address) {
    if (!process->sorted) {
        qsort(process->mappings, process->count, sizeof *process->mappings, compare_mappings);
        process->sorted = true;
    }
    size_t low = 0, high = process->count; /* the last mapping starting at or below address */
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (process->mappings[middle].start <= address) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    /* Overlaps (a stale map next to a newer one) are possible: look back a little. */
    for (size_t i = low; i > 0 && low - i < 4; i--) {
        const struct mapping *mapping = &process->mappings[i - 1];
        if (address >= mapping->start && address < mapping->limit) {
            return mapping;
        }
    }
    return NULL;
}

/* Opens the file once. With base 0 and add_p_vaddr, libdwfl's addresses for the module are
 * the file's own virtual addresses whether it is an executable or a shared object. */
static Dwfl_Module *open_module(struct module *module) {
    if (module->opened) {
        return module->dwfl_module;
    }
    module->opened = true;
    module->dwfl = dwfl_begin(&dwfl_callbacks);
    if (!module->dwfl) {
        return NULL;
    }
    dwfl_report_begin(module->dwfl);
    module->dwfl_module = dwfl_report_elf(module->dwfl, ldtap_symbol_basename(module->path), module->path, -1, 0, true);
    dwfl_report_end(module->dwfl, NULL, NULL);
    if (!module->dwfl_module) {
        dwfl_end(module->dwfl);
        module->dwfl = NULL;
    }
    return module->dwfl_module;
}

/* Runtime address -> the file's virtual address: find the PT_LOAD segment the mapping's
 * file offset falls in; within a segment, vaddr - offset is constant. */
static bool file_address(Dwfl_Module *dwfl_module, const struct mapping *mapping, uint64_t address,
                         uint64_t *result) {
    Dwarf_Addr bias;
    Elf *elf = dwfl_module_getelf(dwfl_module, &bias);
    size_t count;
    if (!elf || elf_getphdrnum(elf, &count) != 0) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        GElf_Phdr header;
        if (!gelf_getphdr(elf, (int)i, &header) || header.p_type != PT_LOAD) {
            continue;
        }
        uint64_t page_start = header.p_offset & ~(uint64_t)4095;
        if (mapping->file_offset >= page_start && mapping->file_offset < header.p_offset + header.p_filesz) {
            *result = address - mapping->start + mapping->file_offset - header.p_offset + header.p_vaddr + bias;
            return true;
        }
    }
    return false;
}

bool ldtap_symbolize(struct ldtap_symbol_process *process, uint64_t address, struct ldtap_symbol *symbol) {
    *symbol = (struct ldtap_symbol){0};
    const struct mapping *mapping = process ? find_mapping(process, address) : NULL;
    if (!mapping) {
        return false;
    }
    symbol->module = mapping->module->path;
    symbol->module_start = mapping->start;
    symbol->module_limit = mapping->limit;
    symbol->module_file_offset = mapping->file_offset;
    symbol->module_address = address - mapping->start + mapping->file_offset;
    Dwfl_Module *dwfl_module = open_module(mapping->module);
    uint64_t elf_address;
    if (!dwfl_module || !file_address(dwfl_module, mapping, address, &elf_address)) {
        return true;
    }
    symbol->module_address = elf_address;
    GElf_Off offset = 0;
    GElf_Sym elf_symbol;
    const char *name = dwfl_module_addrinfo(dwfl_module, elf_address, &offset, &elf_symbol, NULL, NULL, NULL);
    if (name && name[0]) {
        symbol->function = name;
        symbol->offset = offset;
    }
    Dwfl_Line *line = dwfl_module_getsrc(dwfl_module, elf_address);
    int line_number = 0;
    const char *file = line ? dwfl_lineinfo(line, NULL, &line_number, NULL, NULL, NULL) : NULL;
    if (file && line_number > 0) {
        symbol->file = file;
        symbol->line = (uint32_t)line_number;
    }
    return true;
}

const char *ldtap_symbol_basename(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

char *ldtap_symbol_format(const struct ldtap_symbol *symbol, uint64_t address, bool with_location, char *out,
                          size_t size) {
    int length;
    if (symbol->function) {
        length = snprintf(out, size, "%s", symbol->function);
    } else if (symbol->module) {
        length = snprintf(out, size, "%s+0x%" PRIx64, ldtap_symbol_basename(symbol->module), symbol->module_address);
    } else {
        length = snprintf(out, size, "0x%" PRIx64, address);
    }
    if (with_location && symbol->file && length >= 0 && (size_t)length < size) {
        snprintf(out + length, size - (size_t)length, " (%s:%u)", ldtap_symbol_basename(symbol->file), symbol->line);
    }
    return out;
}
