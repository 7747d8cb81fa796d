/* Finds the originals of database client functions by reading the dynamic symbol tables
 * of the loaded objects (dl_iterate_phdr), so that a library Python dlopen()ed with
 * RTLD_LOCAL, whatever its file name (wheels rename theirs), is found like any other. */
#include "late_symbols.h"

#include <errno.h>
#include <link.h>
#include <string.h>

/* Per entry: a stub that resolves the entry on first use and calls through, and one that
 * stands in when no loaded object defines the function (the call then fails cleanly). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define LDTAP_DB_STUBS(type, name, parameters, arguments)                                  \
    static type missing_##name parameters {                                                \
        errno = ENOSYS;                                                                    \
        return (type)0;                                                                    \
    }                                                                                      \
    static type lazy_##name parameters {                                                   \
        resolve_##name();                                                                  \
        return LDTAP_DB_REAL(name) arguments;                                              \
    }
#define LDTAP_DB_RESOLVER(type, name, ...)                                                 \
    static bool resolve_##name(void) {                                                     \
        void *symbol = ldtap_late_symbol(#name);                                           \
        __atomic_store_n(&ldtap_db_originals.name,                                         \
                         symbol != NULL ? (__typeof__(ldtap_db_originals.name))symbol      \
                                        : missing_##name,                                  \
                         __ATOMIC_RELAXED);                                                \
        return symbol != NULL;                                                             \
    }
#define LDTAP_DB_DECLARE_RESOLVER(type, name, ...) static bool resolve_##name(void);
#define LDTAP_DB_LIST_STUBS(library, list)                                                 \
    list(LDTAP_DB_DECLARE_RESOLVER) list(LDTAP_DB_STUBS) list(LDTAP_DB_RESOLVER)
LDTAP_DB_LISTS(LDTAP_DB_LIST_STUBS)
#pragma GCC diagnostic pop

struct ldtap_db_originals ldtap_db_originals = {
#define LDTAP_DB_LAZY_ENTRY(type, name, ...) .name = lazy_##name,
#define LDTAP_DB_LAZY_LIST(library, list) list(LDTAP_DB_LAZY_ENTRY)
    LDTAP_DB_LISTS(LDTAP_DB_LAZY_LIST)
};

int ldtap_late_library_states[LDTAP_LIBRARY_COUNT];

/* One try per library: a hook of it is running, so it is loaded; an entry still missing
 * means a version without that function, and walking the objects again would not help. */
bool ldtap_late_library_resolve(enum ldtap_db_library library) {
    bool complete = true;
#define LDTAP_DB_RESOLVE_ENTRY(type, name, ...) complete &= resolve_##name();
#define LDTAP_DB_RESOLVE_LIST(id, list)                                                    \
    if (library == id) {                                                                   \
        list(LDTAP_DB_RESOLVE_ENTRY)                                                       \
    }
    LDTAP_DB_LISTS(LDTAP_DB_RESOLVE_LIST)
    __atomic_store_n(&ldtap_late_library_states[library], complete ? 1 : 2, __ATOMIC_RELEASE);
    return complete;
}

struct symbol_search {
    const char *name;
    uint32_t gnu_hash;
    uint32_t sysv_hash;
    void *found;
};

static uint32_t gnu_hash_of(const char *name) {
    uint32_t hash = 5381;
    for (const unsigned char *c = (const unsigned char *)name; *c != '\0'; c++)
        hash = hash * 33 + *c;
    return hash;
}

static uint32_t sysv_hash_of(const char *name) {
    uint32_t hash = 0;
    for (const unsigned char *c = (const unsigned char *)name; *c != '\0'; c++) {
        hash = (hash << 4) + *c;
        uint32_t high = hash & 0xf0000000u;
        hash ^= high >> 24;
        hash &= ~high;
    }
    return hash;
}

/* The object holding this very code: its definitions are the hooks, never originals. */
static bool is_this_object(const struct dl_phdr_info *info) {
    uintptr_t here = (uintptr_t)&is_this_object;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + segment->p_vaddr;
        if (segment->p_type == PT_LOAD && here >= start && here - start < segment->p_memsz)
            return true;
    }
    return false;
}

/* glibc relocates the dynamic section's addresses in place; the vDSO's (and other
 * loaders') stay offsets from the load base, which is always above them. */
static uintptr_t dynamic_address(const struct dl_phdr_info *info, ElfW(Addr) value) {
    return value < info->dlpi_addr ? info->dlpi_addr + value : value;
}

struct dynamic_tables {
    const ElfW(Sym) *symbols;
    const char *strings;
    const uint32_t *gnu_hash;
    const uint32_t *sysv_hash;
};

static bool read_dynamic_tables(const struct dl_phdr_info *info, struct dynamic_tables *tables) {
    memset(tables, 0, sizeof(*tables));
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC)
            continue;
        const ElfW(Dyn) *entry = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
        for (; entry->d_tag != DT_NULL; entry++) {
            uintptr_t address = dynamic_address(info, entry->d_un.d_ptr);
            if (entry->d_tag == DT_SYMTAB)
                tables->symbols = (const ElfW(Sym) *)address;
            else if (entry->d_tag == DT_STRTAB)
                tables->strings = (const char *)address;
            else if (entry->d_tag == DT_GNU_HASH)
                tables->gnu_hash = (const uint32_t *)address;
            else if (entry->d_tag == DT_HASH)
                tables->sysv_hash = (const uint32_t *)address;
        }
    }
    return tables->symbols != NULL && tables->strings != NULL &&
           (tables->gnu_hash != NULL || tables->sysv_hash != NULL);
}

/* A function this object defines (not merely references) under that name. Versioned
 * definitions (libmariadb's mysql_*@libmysqlclient_18) match whatever their version. */
static bool defines(const struct dynamic_tables *tables, uint32_t index, const char *name) {
    const ElfW(Sym) *symbol = &tables->symbols[index];
    int type = ELF64_ST_TYPE(symbol->st_info); /* ELF32_ST_TYPE is the same */
    return symbol->st_shndx != SHN_UNDEF && symbol->st_value != 0 &&
           (type == STT_FUNC || type == STT_NOTYPE) &&
           strcmp(tables->strings + symbol->st_name, name) == 0;
}

/* Index of the definition of `search->name` in the tables, or 0 (STN_UNDEF). */
static uint32_t lookup(const struct dynamic_tables *tables, const struct symbol_search *search) {
    if (tables->gnu_hash != NULL) {
        /* [nbuckets, symoffset, bloom_size, bloom_shift, bloom words…, buckets…, chain…] */
        uint32_t bucket_count = tables->gnu_hash[0], first_hashed = tables->gnu_hash[1];
        const ElfW(Addr) *bloom = (const ElfW(Addr) *)(tables->gnu_hash + 4);
        const uint32_t *buckets = (const uint32_t *)(bloom + tables->gnu_hash[2]);
        const uint32_t *chain = buckets + bucket_count;
        if (bucket_count == 0)
            return 0;
        uint32_t index = buckets[search->gnu_hash % bucket_count];
        if (index < first_hashed)
            return 0;
        for (;; index++) {
            uint32_t link = chain[index - first_hashed]; /* low bit set: last of its bucket */
            if ((link | 1) == (search->gnu_hash | 1) && defines(tables, index, search->name))
                return index;
            if (link & 1)
                return 0;
        }
    }
    /* [nbucket, nchain, buckets…, chain…] */
    uint32_t bucket_count = tables->sysv_hash[0], chain_length = tables->sysv_hash[1];
    const uint32_t *buckets = tables->sysv_hash + 2, *chain = buckets + bucket_count;
    if (bucket_count == 0)
        return 0;
    for (uint32_t index = buckets[search->sysv_hash % bucket_count]; index != 0 && index < chain_length;
         index = chain[index])
        if (defines(tables, index, search->name))
            return index;
    return 0;
}

static int visit_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct symbol_search *search = data;
    struct dynamic_tables tables;
    if (is_this_object(info) || !read_dynamic_tables(info, &tables))
        return 0;
    uint32_t index = lookup(&tables, search);
    if (index == 0)
        return 0;
    search->found = (void *)(info->dlpi_addr + tables.symbols[index].st_value);
    return 1; /* the first definition in load order, as the dynamic linker would bind */
}

void *ldtap_late_symbol(const char *name) {
    int saved_errno = errno;
    ldtap_nesting++;
    struct symbol_search search = {name, gnu_hash_of(name), sysv_hash_of(name), NULL};
    dl_iterate_phdr(visit_object, &search);
    ldtap_nesting--;
    errno = saved_errno;
    return search.found;
}
