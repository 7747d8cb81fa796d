/* Ring reader: the collector's side of the ring. Attaches to one ring file under an
 * exclusive flock and takes records out of it, treating every byte as hostile. */
#include "ldtap_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* No stdio here: this file is also linked into the shim, which must not use it. */
static int fail(int error, char *message_out, size_t message_size, const char *message) {
    if (message_out != NULL && message_size > 0) {
        size_t length = strnlen(message, message_size - 1);
        memcpy(message_out, message, length);
        message_out[length] = '\0';
    }
    return -error;
}

static bool is_valid_data_size(uint64_t data_size) {
    return data_size >= LDTAP_RING_MIN_DATA_SIZE && data_size <= LDTAP_RING_MAX_DATA_SIZE &&
           (data_size & (data_size - 1)) == 0;
}

/* Checks the header in the mapping. Only fields read once here are trusted afterwards:
 * the traced process can rewrite the header at any time. */
static int validate_header(const struct ldtap_ring_header *header, uint64_t file_size, uint64_t *data_size_out,
                           char *error, size_t error_size) {
    /* Acquire: pairs with the writer's release store of magic at creation, so the fields
     * read below are the ones the writer filled in. */
    uint64_t magic = __atomic_load_n(&header->magic, __ATOMIC_ACQUIRE);
    if (magic == 0)
        return fail(EAGAIN, error, error_size, "ring is still being created (magic not yet published)");
    if (magic != LDTAP_RING_MAGIC) return fail(EPROTO, error, error_size, "not an ldtap ring (bad magic)");
    if (header->abi_version != LDTAP_RING_ABI_VERSION)
        return fail(EPROTO, error, error_size, "unsupported ring ABI version");
    if (header->header_size != LDTAP_RING_HEADER_SIZE)
        return fail(EPROTO, error, error_size, "ring header size does not match this ABI");
    uint64_t data_size = __atomic_load_n(&header->data_size, __ATOMIC_RELAXED);
    if (!is_valid_data_size(data_size))
        return fail(EPROTO, error, error_size, "ring data size is not a power of two within limits");
    if (file_size != LDTAP_RING_HEADER_SIZE + data_size)
        return fail(EPROTO, error, error_size, "ring file size does not match header and data size");
    *data_size_out = data_size;
    return 0;
}

int ldtap_ring_reader_open(struct ldtap_ring_reader *reader, const char *path, char *error, size_t error_size) {
    memset(reader, 0, sizeof *reader);
    reader->fd = -1;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int open_error = errno;
        return fail(open_error, error, error_size, "cannot open ring file");
    }
    int result;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int lock_error = errno;
        result = lock_error == EWOULDBLOCK ? fail(EWOULDBLOCK, error, error_size, "another collector holds this ring")
                                           : fail(lock_error, error, error_size, "cannot lock ring file");
        goto out_close;
    }
    struct stat status;
    if (fstat(fd, &status) != 0) {
        int stat_error = errno;
        result = fail(stat_error, error, error_size, "cannot stat ring file");
        goto out_close;
    }
    /* Bound the size before mapping: a hostile file must not make us map gigabytes. */
    if (!S_ISREG(status.st_mode) || status.st_size < (off_t)(LDTAP_RING_HEADER_SIZE + LDTAP_RING_MIN_DATA_SIZE) ||
        (uint64_t)status.st_size > (uint64_t)LDTAP_RING_HEADER_SIZE + LDTAP_RING_MAX_DATA_SIZE) {
        result = fail(EPROTO, error, error_size, "ring file size is outside the ABI's limits");
        goto out_close;
    }
    size_t mapping_size = (size_t)status.st_size;
    void *mapping = mmap(NULL, mapping_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mapping == MAP_FAILED) {
        int map_error = errno;
        result = fail(map_error, error, error_size, "cannot map ring file");
        goto out_close;
    }
    uint64_t data_size = 0;
    result = validate_header(mapping, (uint64_t)status.st_size, &data_size, error, error_size);
    if (result != 0) {
        munmap(mapping, mapping_size);
        goto out_close;
    }
    /* Where a previous collector left off. Checked against head on every read. */
    uint64_t tail = __atomic_load_n(&((struct ldtap_ring_header *)mapping)->tail, __ATOMIC_ACQUIRE);
    reader->fd = fd; /* kept open: closing it would drop the flock */
    reader->tail = tail;
    reader->read_position = tail;
    reader->header = mapping;
    reader->data = (uint8_t *)mapping + LDTAP_RING_HEADER_SIZE;
    reader->data_size = data_size;
    reader->mapping_size = mapping_size;
    return 0;

out_close:
    close(fd);
    return result;
}

/* Copies `length` bytes out of ring position `position`, split at the end of the data area. */
static void copy_from_ring(const struct ldtap_ring_reader *reader, uint64_t position, void *out, uint64_t length) {
    uint64_t offset = position & (reader->data_size - 1);
    uint64_t room = reader->data_size - offset;
    if (length <= room) {
        memcpy(out, reader->data + offset, length);
    } else {
        memcpy(out, reader->data + offset, room);
        memcpy((uint8_t *)out + room, reader->data, length - room);
    }
}

static void zero_ring(const struct ldtap_ring_reader *reader, uint64_t position, uint64_t length) {
    uint64_t offset = position & (reader->data_size - 1);
    uint64_t room = reader->data_size - offset;
    if (length <= room) {
        memset(reader->data + offset, 0, length);
    } else {
        memset(reader->data + offset, 0, room);
        memset(reader->data, 0, length - room);
    }
}

/* The consumer counters have one writer (us); the traced process could scribble on them
 * but that only falsifies statistics. */
static void add_to_counter(uint64_t *counter, uint64_t amount) {
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + amount, __ATOMIC_RELAXED);
}

/* The records read since the last report, into the header (one store, beside tail's). */
static void report_consumed(struct ldtap_ring_reader *reader) {
    if (reader->unreported_consumed == 0) return;
    add_to_counter(&reader->header->consumed_records, reader->unreported_consumed);
    reader->unreported_consumed = 0;
}

void ldtap_ring_reader_release(struct ldtap_ring_reader *reader, uint64_t position) {
    if (reader->header == NULL || position - reader->tail > reader->read_position - reader->tail) return;
    report_consumed(reader);
    zero_ring(reader, reader->tail, position - reader->tail);
    /* Release: pairs with the producer's acquire load of tail before it reserves, so no
     * producer writes into these bytes before our zeroing is visible to it. */
    __atomic_store_n(&reader->header->tail, position, __ATOMIC_RELEASE);
    reader->tail = position;
}

/* Moves past `length` bytes at read_position (released at once unless deferred). */
static void consume(struct ldtap_ring_reader *reader, uint64_t length) {
    reader->read_position += length;
    reader->stalled_since_ns = 0;
    reader->stalled_position = 0;
    if (!reader->defer_release) ldtap_ring_reader_release(reader, reader->read_position);
}

static bool is_sane_length(uint32_t length, uint64_t available) {
    return length >= LDTAP_RECORD_HEADER_BYTES && length <= LDTAP_RECORD_MAX_BYTES && length % 8 == 0 &&
           length <= available;
}

static bool is_valid_type(uint64_t word) {
    uint32_t type = ldtap_record_word_type(word);
    return (word >> 48) == 0 && type >= LDTAP_RECORD_TYPE_MIN && type <= LDTAP_RECORD_TYPE_MAX;
}

/* A RESERVED record: skip it once its writer is gone or it has stalled too long. */
static enum ldtap_ring_read_status handle_reserved(struct ldtap_ring_reader *reader, uint64_t position,
                                                   uint32_t length, bool writer_alive, uint64_t now_ns) {
    if (writer_alive) {
        if (reader->stalled_since_ns == 0 || reader->stalled_position != position) {
            reader->stalled_since_ns = now_ns != 0 ? now_ns : 1; /* 0 means "not stalled" */
            reader->stalled_position = position;
            return LDTAP_RING_READ_EMPTY;
        }
        if (now_ns < reader->stalled_since_ns || now_ns - reader->stalled_since_ns < LDTAP_RING_STALL_NS)
            return LDTAP_RING_READ_EMPTY;
    }
    consume(reader, length);
    add_to_counter(&reader->header->skipped_uncommitted, 1);
    return LDTAP_RING_READ_SKIPPED;
}

enum ldtap_ring_read_status ldtap_ring_reader_next(struct ldtap_ring_reader *reader, struct ldtap_ring_record *record,
                                                   bool writer_alive, uint64_t now_ns) {
    if (reader->header == NULL) return LDTAP_RING_READ_CORRUPT;
    struct ldtap_ring_header *header = reader->header;
    uint64_t position = reader->read_position;
    uint64_t head = reader->known_head;
    /* Loaded again only when everything up to the last value was read. Nothing is
     * published by head itself: each record's word is (acquire below), so the bytes up to
     * an older head value are as good as any. */
    if (head - position - 1 >= reader->data_size) {
        head = __atomic_load_n(&header->head, __ATOMIC_ACQUIRE);
        reader->known_head = head;
    }
    if (head == position) {
        reader->stalled_since_ns = 0;
        return LDTAP_RING_READ_EMPTY;
    }
    /* Huge when head went backwards: caught here too. Measured from our tail, since the
     * unreleased bytes behind read_position are still part of the ring. */
    if (head - reader->tail > reader->data_size || position % 8 != 0) return LDTAP_RING_READ_CORRUPT;
    uint64_t available = head - position;

    /* position is 8-aligned and data is page-aligned, so the word is aligned and inside
     * data. Acquire: pairs with the producer's release store of COMMITTED; the payload we
     * copy below is complete. */
    uint64_t word =
        __atomic_load_n((uint64_t *)(reader->data + (position & (reader->data_size - 1))), __ATOMIC_ACQUIRE);
    if (word == 0) {
        /* A producer is between its CAS and its first header store. If it died there,
         * nothing after position can be framed: give up on all of [position, head). */
        if (writer_alive) return LDTAP_RING_READ_EMPTY;
        consume(reader, available);
        add_to_counter(&header->abandoned_bytes, available);
        return LDTAP_RING_READ_SKIPPED;
    }
    uint32_t length = ldtap_record_word_length(word);
    uint32_t state = ldtap_record_word_state(word);
    if (!is_sane_length(length, available)) {
        if (state != LDTAP_RECORD_STATE_RESERVED) add_to_counter(&header->invalid_records, 1);
        return LDTAP_RING_READ_CORRUPT;
    }
    if (state == LDTAP_RECORD_STATE_RESERVED) return handle_reserved(reader, position, length, writer_alive, now_ns);
    if (state != LDTAP_RECORD_STATE_COMMITTED || !is_valid_type(word)) {
        consume(reader, length);
        add_to_counter(&header->invalid_records, 1);
        return LDTAP_RING_READ_SKIPPED;
    }

    uint32_t payload_length = length - LDTAP_RECORD_HEADER_BYTES;
    copy_from_ring(reader, position + LDTAP_RECORD_HEADER_BYTES, record->payload, payload_length);
    record->position = position;
    record->type = ldtap_record_word_type(word);
    record->payload_length = payload_length;
    reader->unreported_consumed++;
    consume(reader, length);
    return LDTAP_RING_READ_RECORD;
}

bool ldtap_ring_reader_is_read(const struct ldtap_ring_reader *reader) {
    if (reader->header == NULL) return true;
    /* Acquire: as in ldtap_ring_reader_next, pairs with the producers' CAS on head. */
    return __atomic_load_n(&reader->header->head, __ATOMIC_ACQUIRE) == reader->read_position;
}

bool ldtap_ring_reader_is_empty(const struct ldtap_ring_reader *reader) {
    return ldtap_ring_reader_is_read(reader) && (reader->header == NULL || reader->tail == reader->read_position);
}

void ldtap_ring_reader_close(struct ldtap_ring_reader *reader) {
    if (reader->header != NULL) {
        report_consumed(reader);
        munmap(reader->header, reader->mapping_size);
    }
    if (reader->fd >= 0) close(reader->fd); /* releases the flock */
    memset(reader, 0, sizeof *reader);
    reader->fd = -1;
}
