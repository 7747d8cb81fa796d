/* Ring writer (used by the shim) and ring reader (used by the collector) over the ABI in
 * ldtap_ring_abi.h. Neither side allocates with malloc: the shim must not, the reader
 * copies records into a caller buffer. */
#ifndef LDTAP_RING_H
#define LDTAP_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldtap_ring_abi.h"

/* ---- writer (shim side) ---- */

struct ldtap_ring_identity {
    int32_t pid;
    int32_t parent_pid;
    uint64_t start_time_ns;
    uint64_t process_start_ticks;
    const char *executable_name;     /* may be NULL */
    const char *service_name;        /* may be NULL */
    const char *command_line;        /* may be NULL */
    const char *resource_attributes; /* may be NULL */
};

struct ldtap_ring_writer {
    struct ldtap_ring_header *header; /* NULL when no ring is open */
    uint8_t *data;
    uint64_t mask; /* data_size - 1 */
    size_t mapping_size;
    /* A value of the header's tail seen before (tail only grows, so it is never more than
     * the real one): room is checked against it first, and the header's tail, on the
     * consumer's cache line, is read only when it says the ring is full. */
    uint64_t known_tail;
};

/* One piece of a record's payload; a record is written from up to a few pieces so the
 * caller need not assemble it in one buffer. */
struct ldtap_ring_part {
    const void *bytes;
    uint32_t length;
};

/* Creates the 0700 directory if needed (refusing a symlink or a directory owned by
 * another user; in a shared directory, see ldtap_ring_abi.h, a process of another user
 * uses its own `uid-<euid>` subdirectory instead, created 0700 and refused unless it is
 * a real directory private to it), then creates `<dir>/<pid>-<start_time_ns>.ring` with
 * O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, sizes and maps it, fills the header and publishes
 * the magic last. `data_size` must be a power of two within the ABI's limits.
 * Returns 0, or -errno. Uses no malloc and no stdio. The path written is returned in
 * `path_out` (may be NULL). */
int ldtap_ring_create(struct ldtap_ring_writer *writer, const char *directory,
                      const struct ldtap_ring_identity *identity, uint64_t data_size,
                      char *path_out, size_t path_out_size);

/* An address range for a later ring of `data_size` bytes (inaccessible, no memory
 * committed), or NULL. The shim takes it at start-up: a ring mapped only when the first
 * record comes lands between the program's own mappings and moves every later one, which
 * changes, run after run, how CPython's obmalloc arenas fall on its 16 KiB pool
 * boundaries and so how many arenas it maps (page faults). Reserved before the program
 * maps anything, the range only shifts the whole layout, as loading a library does. */
void *ldtap_ring_reserve(uint64_t data_size);

/* ldtap_ring_create, mapping the ring over `reservation` (from ldtap_ring_reserve with the
 * same data_size; NULL: anywhere). On failure the reservation is neither used nor released;
 * do not use it again (a failed mapping over it may have unmapped part of it). */
int ldtap_ring_create_in(struct ldtap_ring_writer *writer, void *reservation, const char *directory,
                         const struct ldtap_ring_identity *identity, uint64_t data_size, char *path_out,
                         size_t path_out_size);

/* hot: reserve, copy the parts, commit. Never blocks. Returns 0, or -1 when the record was
 * dropped (ring full or too large; the matching header counter is incremented). */
int ldtap_ring_write(struct ldtap_ring_writer *writer, uint32_t type,
                     const struct ldtap_ring_part *parts, int part_count);

/* Unmaps without touching the file (used in a forked child for the parent's ring). */
void ldtap_ring_forget(struct ldtap_ring_writer *writer);

/* ldtap_ring_forget, but the ring's address range stays reserved (as by ldtap_ring_reserve)
 * and is returned (NULL if there was no ring or it could not be kept): a forked child's
 * own ring then takes the parent's place in the layout. */
void *ldtap_ring_forget_keeping_range(struct ldtap_ring_writer *writer);

/* ---- reader (collector side) ---- */

struct ldtap_ring_reader {
    int fd;
    struct ldtap_ring_header *header;
    uint8_t *data;
    uint64_t data_size;
    size_t mapping_size;
    /* Where the next record is read. Equal to the ring's tail unless `defer_release`. */
    uint64_t read_position;
    /* The ring's tail as we last stored it: the header's copy is writable by the traced
     * process, so it is never read back. */
    uint64_t tail;
    /* false: each record's bytes are released (zeroed, tail advanced) as soon as it is read.
     * true: bytes stay in the ring, unavailable to producers, until the caller releases them
     * with ldtap_ring_reader_release: the collector keeps a record until what it made of
     * it is delivered, so a collector killed meanwhile leaves it for the next one. */
    bool defer_release;
    /* When the record at read_position was first seen uncommitted (0: not stalled). */
    uint64_t stalled_since_ns;
    uint64_t stalled_position;
    /* The header's head as last loaded: records up to it are read without loading it again
     * (each load pulls the producers' cache line away from them). */
    uint64_t known_head;
    /* Records read and not yet added to the header's consumed_records (added with tail). */
    uint64_t unreported_consumed;
};

/* What ldtap_ring_reader_next found. */
enum ldtap_ring_read_status {
    LDTAP_RING_READ_EMPTY = 0,   /* nothing committed at tail yet */
    LDTAP_RING_READ_RECORD = 1,  /* one record copied out */
    LDTAP_RING_READ_SKIPPED = 2, /* an uncommitted or invalid record was skipped and counted: call again */
    LDTAP_RING_READ_CORRUPT = -1 /* the ring cannot be read any further: detach it */
};

struct ldtap_ring_record {
    uint64_t position; /* ring position of the record's header: what ldtap_ring_reader_release takes */
    uint32_t type;
    uint32_t payload_length;              /* bytes in payload (record length minus header) */
    uint8_t payload[LDTAP_RECORD_MAX_BYTES]; /* 8-aligned */
};

/* Opens and maps a ring file and validates its header (magic, ABI version, header size,
 * power-of-two data size within limits, file size matching). Takes flock(LOCK_EX|LOCK_NB)
 * so two collectors never drain one ring. Returns 0, or -errno with a sentence in `error`
 * (EWOULDBLOCK: another collector holds it, or the ring's magic is not yet published —
 * EAGAIN is the same value on Linux — so try again later; EPROTO: not a valid ring). */
int ldtap_ring_reader_open(struct ldtap_ring_reader *reader, const char *path, char *error,
                           size_t error_size);

/* Takes the next record. `writer_alive` says whether the ring's process still runs (the
 * caller checks pid and start ticks); `now_ns` is CLOCK_MONOTONIC, used to bound how long
 * an uncommitted record can stall the reader. Never trusts the ring. */
enum ldtap_ring_read_status ldtap_ring_reader_next(struct ldtap_ring_reader *reader,
                                                   struct ldtap_ring_record *record,
                                                   bool writer_alive, uint64_t now_ns);

/* Gives the bytes before `position` back to producers: zeroes [tail, position) and
 * publishes position as the new tail. `position` must be a record boundary (a record's
 * `position`, or read_position); one outside [tail, read_position] is ignored. Only needed
 * with `defer_release`. */
void ldtap_ring_reader_release(struct ldtap_ring_reader *reader, uint64_t position);

/* True when every reserved byte has been read (with defer_release, maybe not released). */
bool ldtap_ring_reader_is_read(const struct ldtap_ring_reader *reader);

/* True when every reserved byte has been read and released. */
bool ldtap_ring_reader_is_empty(const struct ldtap_ring_reader *reader);

void ldtap_ring_reader_close(struct ldtap_ring_reader *reader);

#endif
