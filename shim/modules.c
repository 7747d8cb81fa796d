/* Module map snapshots (LDTAP_RECORD_MODULE_MAP) from dl_iterate_phdr: each loaded
 * object's path, load bias, PT_LOAD segments and GNU build id. */
#include "modules.h"

#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"
#include "thread.h"

static unsigned long long snapshot_adds, snapshot_subs; /* loader counters at the last snapshot */
static uint32_t generation;                             /* last generation written */
static int writing;                                     /* 1 while a thread writes a snapshot */
static char executable_path[LDTAP_MODULE_PATH_MAX];      /* /proc/self/exe, read once */
static uint16_t executable_path_length;

struct snapshot {
    struct ldtap_ring_writer *ring;
    unsigned long long adds, subs;
    uint64_t time_ns;
    uint16_t count; /* objects seen (counting pass) or written so far */
    uint16_t total; /* objects in this generation (writing pass) */
};

static int read_counters(struct dl_phdr_info *info, size_t size, void *data) {
    struct snapshot *snapshot = data;
    if (size < offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs))
        return 1;
    snapshot->adds = info->dlpi_adds;
    snapshot->subs = info->dlpi_subs;
    return 1; /* the counters are the same in every callback: stop */
}

static int count_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)info;
    (void)size;
    ((struct snapshot *)data)->count++;
    return 0;
}

/* The NT_GNU_BUILD_ID descriptor of a loaded object, from its PT_NOTE segments (mapped,
 * so readable); length 0 when it has none. */
static uint16_t find_build_id(const struct dl_phdr_info *info, const uint8_t **build_id) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_NOTE)
            continue;
        const uint8_t *cursor = (const uint8_t *)(info->dlpi_addr + segment->p_vaddr);
        const uint8_t *end = cursor + segment->p_memsz;
        while (cursor + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *note = (const ElfW(Nhdr) *)cursor;
            const uint8_t *name = cursor + sizeof *note;
            const uint8_t *descriptor = name + ((note->n_namesz + 3u) & ~3u);
            const uint8_t *next = descriptor + ((note->n_descsz + 3u) & ~3u);
            if (next > end)
                break;
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
                note->n_descsz <= LDTAP_MODULE_BUILD_ID_MAX) {
                *build_id = descriptor;
                return (uint16_t)note->n_descsz;
            }
            cursor = next;
        }
    }
    return 0;
}

static int write_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct snapshot *snapshot = data;
    if (snapshot->count >= snapshot->total)
        return 1; /* an object appeared between the passes: the next refresh sees it */
    struct ldtap_module_map_record record = {
        .load_bias = info->dlpi_addr,
        .time_ns = snapshot->time_ns,
        .generation = generation,
        .module_index = snapshot->count,
        .module_count = snapshot->total,
    };
    struct ldtap_module_segment segments[LDTAP_MODULE_MAX_SEGMENTS];
    for (int i = 0; i < info->dlpi_phnum && record.segment_count < LDTAP_MODULE_MAX_SEGMENTS; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD)
            continue;
        segments[record.segment_count++] = (struct ldtap_module_segment){
            .start = info->dlpi_addr + segment->p_vaddr,
            .size = segment->p_memsz,
            .file_offset = segment->p_offset,
            .flags = segment->p_flags,
        };
    }
    const uint8_t *build_id = NULL;
    record.build_id_length = find_build_id(info, &build_id);
    const char *path = info->dlpi_name != NULL ? info->dlpi_name : "";
    if (snapshot->count == 0 && path[0] == '\0') { /* the executable */
        record.flags |= LDTAP_MODULE_FLAG_MAIN_PROGRAM;
        path = executable_path;
    } else if (path[0] != '/') {
        record.flags |= LDTAP_MODULE_FLAG_NO_FILE; /* linux-vdso.so.1 */
    }
    size_t path_length = strlen(path);
    if (path_length > LDTAP_MODULE_PATH_MAX) {
        path_length = LDTAP_MODULE_PATH_MAX;
        record.flags |= LDTAP_MODULE_FLAG_PATH_TRUNCATED;
    }
    record.path_length = (uint16_t)path_length;
    struct ldtap_ring_part parts[4] = {
        {&record, sizeof record},
        {segments, record.segment_count * (uint32_t)sizeof segments[0]},
        {build_id, record.build_id_length},
        {path, (uint32_t)path_length},
    };
    ldtap_ring_write(snapshot->ring, LDTAP_RECORD_MODULE_MAP, parts, 4);
    snapshot->count++;
    return 0;
}

void ldtap_modules_refresh(struct ldtap_ring_writer *ring) {
    struct snapshot snapshot = {.ring = ring};
    dl_iterate_phdr(read_counters, &snapshot);
    if (__atomic_load_n(&generation, __ATOMIC_ACQUIRE) != 0 &&
        snapshot.adds == __atomic_load_n(&snapshot_adds, __ATOMIC_RELAXED) &&
        snapshot.subs == __atomic_load_n(&snapshot_subs, __ATOMIC_RELAXED))
        return;
    int idle = 0;
    if (!__atomic_compare_exchange_n(&writing, &idle, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return; /* another thread is writing it: never wait in an allocation */
    if (executable_path_length == 0) {
        ssize_t length = readlink("/proc/self/exe", executable_path, sizeof executable_path - 1);
        executable_path_length = length > 0 ? (uint16_t)length : 0;
        executable_path[executable_path_length] = '\0';
    }
    dl_iterate_phdr(count_object, &snapshot);
    snapshot.total = snapshot.count;
    snapshot.count = 0;
    snapshot.time_ns = ldtap_now_ns();
    __atomic_store_n(&generation, generation + 1, __ATOMIC_RELAXED);
    dl_iterate_phdr(write_object, &snapshot);
    __atomic_store_n(&snapshot_adds, snapshot.adds, __ATOMIC_RELAXED);
    __atomic_store_n(&snapshot_subs, snapshot.subs, __ATOMIC_RELAXED);
    /* Release: pairs with the acquire of `generation` above. */
    __atomic_store_n(&writing, 0, __ATOMIC_RELEASE);
}

void ldtap_modules_ensure(struct ldtap_ring_writer *ring) {
    if (LDTAP_UNLIKELY(__atomic_load_n(&generation, __ATOMIC_ACQUIRE) == 0))
        ldtap_modules_refresh(ring);
}

void ldtap_modules_reset_after_fork(void) {
    generation = 0;
    writing = 0;
}
