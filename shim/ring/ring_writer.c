/* Ring writer: creates a process's ring file and appends records to it from any thread.
 * Runs inside arbitrary programs via LD_PRELOAD: no malloc, no stdio, no locks, never waits. */
#include "ldtap_ring.h"

#include "decimal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copies at most capacity - 1 bytes and always terminates; NULL reads as "". */
static void copy_text(char *destination, size_t capacity, const char *source) {
    size_t length = source == NULL ? 0 : strnlen(source, capacity - 1);
    if (length > 0) memcpy(destination, source, length);
    destination[length] = '\0';
}

static bool is_valid_data_size(uint64_t data_size) {
    return data_size >= LDTAP_RING_MIN_DATA_SIZE && data_size <= LDTAP_RING_MAX_DATA_SIZE &&
           (data_size & (data_size - 1)) == 0;
}

static bool is_private_to_us(const struct stat *status) {
    return S_ISDIR(status->st_mode) && status->st_uid == geteuid() && (status->st_mode & 077) == 0;
}

static bool is_shared_directory(const struct stat *status) {
    return S_ISDIR(status->st_mode) && status->st_uid == 0 &&
           (status->st_mode & 07777) == LDTAP_RING_SHARED_DIRECTORY_MODE;
}

/* In a shared directory, a process of another user keeps its ring in `uid-<euid>`, created
 * 0700 if missing and opened without following a symlink. Anyone may create entries in
 * the shared directory, so the name may have been squatted: anything but a directory of
 * ours that only we can enter is refused. `name` receives the subdirectory's name. */
static int open_user_subdirectory(int shared_fd, char *name) {
    static const char prefix[] = LDTAP_RING_USER_SUBDIRECTORY_PREFIX;
    memcpy(name, prefix, sizeof prefix - 1);
    ldtap_decimal_u64(geteuid(), name + sizeof prefix - 1);
    if (mkdirat(shared_fd, name, 0700) != 0 && errno != EEXIST) return -errno;
    int directory_fd = openat(shared_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (directory_fd < 0) return -errno;
    struct stat status;
    int result = directory_fd;
    if (fstat(directory_fd, &status) != 0)
        result = -errno;
    else if (!is_private_to_us(&status))
        result = -EPERM;
    if (result < 0) close(directory_fd);
    return result;
}

/* Opens (creating it 0700 if missing) the ring directory and checks that it is a real
 * directory (not a symlink) that only we can write into, or a shared directory (then the
 * ring goes to our subdirectory in it, whose name `subdirectory` receives; "" otherwise).
 * The checks run on the opened fd, which keeps the checked directory pinned: a rename or
 * symlink swap after the check cannot redirect the ring file. lstat first only to report
 * a symlink as ELOOP. */
static int open_ring_directory(const char *directory, char *subdirectory) {
    subdirectory[0] = '\0';
    if (mkdir(directory, 0700) != 0 && errno != EEXIST) return -errno;
    struct stat link_status;
    if (lstat(directory, &link_status) != 0) return -errno;
    if (S_ISLNK(link_status.st_mode)) return -ELOOP;
    if (!S_ISDIR(link_status.st_mode)) return -ENOTDIR;
    /* O_PATH: a shared directory grants others no read permission, only search. */
    int directory_fd = open(directory, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (directory_fd < 0) return -errno;
    struct stat status;
    int result = directory_fd;
    if (fstat(directory_fd, &status) != 0)
        result = -errno;
    else if (status.st_dev != link_status.st_dev || status.st_ino != link_status.st_ino)
        result = -ELOOP; /* swapped between lstat and open */
    else if (is_shared_directory(&status) && status.st_uid != geteuid())
        result = open_user_subdirectory(directory_fd, subdirectory);
    else if (!is_private_to_us(&status) && !is_shared_directory(&status))
        result = -EPERM;
    if (result != directory_fd) close(directory_fd);
    return result;
}

/* "<pid>-<start_time_ns>.ring" into name (at least 48 bytes); returns its length. */
static size_t format_ring_name(char *name, const struct ldtap_ring_identity *identity) {
    static const char suffix[] = ".ring";
    size_t length = ldtap_decimal_u64((uint64_t)identity->pid, name);
    name[length++] = '-';
    length += ldtap_decimal_u64(identity->start_time_ns, name + length);
    memcpy(name + length, suffix, sizeof suffix);
    return length + sizeof suffix - 1;
}

static void fill_identity(struct ldtap_ring_header *header, const struct ldtap_ring_identity *identity,
                          uint64_t data_size) {
    header->abi_version = LDTAP_RING_ABI_VERSION;
    header->header_size = LDTAP_RING_HEADER_SIZE;
    header->data_size = data_size;
    header->pid = identity->pid;
    header->parent_pid = identity->parent_pid;
    header->start_time_ns = identity->start_time_ns;
    header->process_start_ticks = identity->process_start_ticks;
    copy_text(header->executable_name, sizeof header->executable_name, identity->executable_name);
    copy_text(header->service_name, sizeof header->service_name, identity->service_name);
    copy_text(header->command_line, sizeof header->command_line, identity->command_line);
    copy_text(header->resource_attributes, sizeof header->resource_attributes, identity->resource_attributes);
}

/* An address range for a ring of `size` bytes that holds no memory: PROT_NONE, not
 * committed. At `at` (MAP_FIXED, replacing what is there) unless NULL. */
static void *reserve_range(void *at, size_t size) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (at != NULL ? MAP_FIXED : 0);
    return mmap(at, size, PROT_NONE, flags, -1, 0);
}

void *ldtap_ring_reserve(uint64_t data_size) {
    if (!is_valid_data_size(data_size))
        return NULL;
    int saved_errno = errno;
    void *range = reserve_range(NULL, (size_t)(LDTAP_RING_HEADER_SIZE + data_size));
    errno = saved_errno;
    return range == MAP_FAILED ? NULL : range;
}

int ldtap_ring_create(struct ldtap_ring_writer *writer, const char *directory,
                      const struct ldtap_ring_identity *identity, uint64_t data_size,
                      char *path_out, size_t path_out_size) {
    return ldtap_ring_create_in(writer, NULL, directory, identity, data_size, path_out, path_out_size);
}

int ldtap_ring_create_in(struct ldtap_ring_writer *writer, void *reservation, const char *directory,
                         const struct ldtap_ring_identity *identity, uint64_t data_size, char *path_out,
                         size_t path_out_size) {
    if (writer == NULL) return -EINVAL;
    memset(writer, 0, sizeof *writer); /* on failure ldtap_ring_write is then a no-op */
    if (directory == NULL || identity == NULL || identity->pid <= 0 || !is_valid_data_size(data_size))
        return -EINVAL;

    char name[2 * LDTAP_DECIMAL_BYTES + 8];
    size_t name_length = format_ring_name(name, identity);
    char subdirectory[sizeof LDTAP_RING_USER_SUBDIRECTORY_PREFIX + LDTAP_DECIMAL_BYTES];
    size_t directory_length = strlen(directory);
    if (path_out != NULL && directory_length + 1 + name_length + 1 > path_out_size) return -ENAMETOOLONG;

    int saved_errno = errno; /* may run from inside a hook: leave the program's errno alone */
    int result = 0;
    int directory_fd = open_ring_directory(directory, subdirectory);
    if (directory_fd < 0) {
        result = directory_fd;
        goto out;
    }
    if (path_out != NULL) {
        size_t subdirectory_length = strlen(subdirectory);
        size_t length = directory_length + 1 + (subdirectory_length ? subdirectory_length + 1 : 0);
        if (length + name_length + 1 > path_out_size) {
            result = -ENAMETOOLONG;
            goto out_directory;
        }
        memcpy(path_out, directory, directory_length);
        path_out[directory_length] = '/';
        if (subdirectory_length) {
            memcpy(path_out + directory_length + 1, subdirectory, subdirectory_length);
            path_out[length - 1] = '/';
        }
        memcpy(path_out + length, name, name_length + 1);
    }
    int fd = openat(directory_fd, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        result = -errno;
        goto out_directory;
    }
    size_t mapping_size = (size_t)(LDTAP_RING_HEADER_SIZE + data_size);
    /* Reserve every tmpfs page now: a page first touched by a record write in a full
     * /dev/shm would otherwise SIGBUS the traced program. */
    int allocate_error = posix_fallocate(fd, 0, (off_t)mapping_size);
    if (allocate_error != 0) {
        result = -allocate_error;
        goto out_unlink;
    }
    /* Never a plain mmap of the file: on ext4 or xfs (large folios) and on huge-page tmpfs
     * the kernel starts a file mapping of 2 MiB or more on a 2 MiB boundary, and every
     * mapping the program makes after it then starts from that boundary rather than from
     * the randomised mmap base (see ldtap_ring_reserve). The ring has no use for huge
     * pages (a record at a time; the default tmpfs has none), so the file replaces an
     * anonymous range, which the kernel places like any other mapping of that size (the
     * header page keeps the length off multiples of 2 MiB). */
    void *mapping = reservation != NULL ? reservation : reserve_range(NULL, mapping_size);
    if (mapping != MAP_FAILED)
        mapping = mmap(mapping, mapping_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    if (mapping == MAP_FAILED) {
        result = -errno;
        goto out_unlink;
    }
    struct ldtap_ring_header *header = mapping;
    fill_identity(header, identity, data_size);
    /* Release: pairs with the reader's acquire load of magic in ldtap_ring_reader_open,
     * so a reader that sees the magic also sees every identity field above. */
    __atomic_store_n(&header->magic, LDTAP_RING_MAGIC, __ATOMIC_RELEASE);
    /* Closed only now that the header is published, so a collector woken by
     * IN_CLOSE_WRITE finds a complete ring. */
    close(fd);

    writer->header = header;
    writer->data = (uint8_t *)mapping + LDTAP_RING_HEADER_SIZE;
    writer->mask = data_size - 1;
    writer->mapping_size = mapping_size;
    writer->known_tail = 0; /* a new ring: nothing consumed yet */
    goto out_directory;

out_unlink:
    unlinkat(directory_fd, name, 0);
    close(fd);
out_directory:
    close(directory_fd);
out:
    errno = saved_errno;
    return result;
}

/* The rare case of a record that wraps around the end of the data area: each part is
 * copied in at most two pieces. Kept out of line so the common path stays small. */
static __attribute__((noinline, cold)) void copy_parts_wrapping(const struct ldtap_ring_writer *writer,
                                                                uint64_t position,
                                                                const struct ldtap_ring_part *parts,
                                                                int part_count) {
    uint64_t data_size = writer->mask + 1;
    for (int i = 0; i < part_count; i++) {
        uint32_t length = parts[i].length;
        if (length == 0) continue;
        uint64_t offset = position & writer->mask;
        uint64_t room = data_size - offset;
        if (length <= room) {
            memcpy(writer->data + offset, parts[i].bytes, length);
        } else {
            memcpy(writer->data + offset, parts[i].bytes, room);
            memcpy(writer->data, (const uint8_t *)parts[i].bytes + room, length - room);
        }
        position += length;
    }
}

/* hot */
int ldtap_ring_write(struct ldtap_ring_writer *writer, uint32_t type,
                     const struct ldtap_ring_part *parts, int part_count) {
    struct ldtap_ring_header *header = writer->header;
    if (header == NULL) return -1;

    uint64_t payload_length = 0;
    for (int i = 0; i < part_count; i++) payload_length += parts[i].length;
    uint64_t length = (LDTAP_RECORD_HEADER_BYTES + payload_length + 7) & ~(uint64_t)7;
    if (length > LDTAP_RECORD_MAX_BYTES) {
        __atomic_fetch_add(&header->dropped_too_large, 1, __ATOMIC_RELAXED);
        return -1;
    }

    uint64_t mask = writer->mask;
    uint64_t head;
    for (;;) {
        /* Acquire: pairs with the release store below (or in another thread), which
         * followed an acquire load of the header's tail, itself paired with the reader's
         * release store of tail made after it zeroed the consumed bytes: we may only write
         * into slots whose zeroing we can see. */
        uint64_t tail = __atomic_load_n(&writer->known_tail, __ATOMIC_ACQUIRE);
        /* Loaded after tail (the acquire above keeps the order), so head >= tail and the
         * subtraction below cannot wrap because of a stale head. */
        head = __atomic_load_n(&header->head, __ATOMIC_RELAXED);
        if (head + length - tail > mask + 1) {
            /* Full by the tail we knew: look at the reader's before calling it full. */
            tail = __atomic_load_n(&header->tail, __ATOMIC_ACQUIRE);
            head = __atomic_load_n(&header->head, __ATOMIC_RELAXED);
            if (head + length - tail > mask + 1) {
                __atomic_fetch_add(&header->dropped_ring_full, 1, __ATOMIC_RELAXED);
                return -1;
            }
            /* Another thread may store an older value meanwhile: still a tail seen, so
             * never past the real one, and the next check looks again. */
            __atomic_store_n(&writer->known_tail, tail, __ATOMIC_RELEASE);
        }
        /* Acquire on success keeps the record-word and payload stores below from moving
         * above the reservation; release pairs with the reader's acquire load of head. */
        if (__atomic_compare_exchange_n(&header->head, &head, head + length, true, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            break;
    }
    /* A statistic nobody synchronises on: counted now so that fewer values stay live
     * across the copies (measured: fewer saved registers). */
    __atomic_fetch_add(&header->committed_records, 1, __ATOMIC_RELAXED);

    uint64_t offset = head & mask;
    uint64_t *word = (uint64_t *)(writer->data + offset);
    uint64_t reserved_word = ldtap_record_word((uint32_t)length, LDTAP_RECORD_STATE_RESERVED, type);
    /* Relaxed: the reader only needs the length to skip us if we die; nothing else is
     * published by this store. */
    __atomic_store_n(word, reserved_word, __ATOMIC_RELAXED);
    if (offset + length <= mask + 1) {
        uint8_t *destination = (uint8_t *)(word + 1);
        for (int i = 0; i < part_count; i++) {
            uint32_t part_length = parts[i].length;
            if (part_length == 0) continue; /* bytes may be NULL then */
            memcpy(destination, parts[i].bytes, part_length);
            destination += part_length;
        }
    } else {
        copy_parts_wrapping(writer, head + LDTAP_RECORD_HEADER_BYTES, parts, part_count);
    }
    /* Release: pairs with the reader's acquire load of this word; a reader that sees
     * COMMITTED sees the whole payload. The xor turns the state byte from RESERVED into
     * COMMITTED. */
    __atomic_store_n(word,
                     reserved_word ^ ((uint64_t)(LDTAP_RECORD_STATE_RESERVED ^ LDTAP_RECORD_STATE_COMMITTED) << 24),
                     __ATOMIC_RELEASE);
    return 0;
}

void ldtap_ring_forget(struct ldtap_ring_writer *writer) {
    if (writer->header != NULL) munmap(writer->header, writer->mapping_size);
    memset(writer, 0, sizeof *writer);
}

void *ldtap_ring_forget_keeping_range(struct ldtap_ring_writer *writer) {
    void *range = NULL;
    if (writer->header != NULL) {
        int saved_errno = errno;
        range = reserve_range(writer->header, writer->mapping_size);
        if (range == MAP_FAILED) {
            munmap(writer->header, writer->mapping_size);
            range = NULL;
        }
        errno = saved_errno;
    }
    memset(writer, 0, sizeof *writer);
    return range;
}
