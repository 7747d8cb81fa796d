/* libFuzzer harness for the ring reader: a valid ring header with fuzzed counters (and
 * sometimes fuzzed identity fields) over a fuzzed data area, drained until empty or corrupt. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ldtap_ring.h"

/* Input layout: control (1 byte), head (8), tail (8), a header override (16 bytes, used
 * when control bit 0 is set), then the data area bytes (repeated to fill the ring when
 * control bit 1 is set, else zero-padded). */
enum {
    CONTROL_OVERRIDE_HEADER = 1 << 0,
    CONTROL_REPEAT_DATA = 1 << 1,
    CONTROL_WRITER_DEAD = 1 << 2,
    CONTROL_TAIL_NEAR_HEAD = 1 << 3,
    CONTROL_BIG_RING = 1 << 4,
    CONTROL_TIME_JUMPS = 1 << 5,
};
#define PREFIX_BYTES (1 + 8 + 8 + 16)
#define MAX_STEPS 100000

static char ring_path[64];
static int ring_fd = -1;
static uint8_t *image;
static size_t image_capacity;
static struct ldtap_ring_record record;

static void prepare_file(void) {
    snprintf(ring_path, sizeof ring_path, "/dev/shm/ldtap-fuzz-%d.ring", (int)getpid());
    ring_fd = open(ring_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (ring_fd < 0) {
        perror("ldtap fuzz: cannot create ring file");
        abort();
    }
    /* The reader opens by path, so the image goes through a real tmpfs file each run. */
    image_capacity = LDTAP_RING_HEADER_SIZE + 4 * LDTAP_RING_MIN_DATA_SIZE;
    image = calloc(1, image_capacity);
    if (image == NULL) abort();
}

static void cleanup(void) {
    if (ring_fd >= 0) unlink(ring_path);
}

static uint64_t read_u64(const uint8_t *bytes) {
    uint64_t value;
    memcpy(&value, bytes, sizeof value);
    return value;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size) {
    if (ring_fd < 0) {
        prepare_file();
        atexit(cleanup);
    }
    if (size < PREFIX_BYTES) return 0;
    uint8_t control = input[0];
    uint64_t head = read_u64(input + 1);
    uint64_t tail = read_u64(input + 9);
    const uint8_t *override = input + 17;
    const uint8_t *data_bytes = input + PREFIX_BYTES;
    size_t data_length = size - PREFIX_BYTES;

    uint64_t data_size = control & CONTROL_BIG_RING ? 4 * LDTAP_RING_MIN_DATA_SIZE : LDTAP_RING_MIN_DATA_SIZE;
    size_t file_size = LDTAP_RING_HEADER_SIZE + data_size;
    memset(image, 0, file_size);
    struct ldtap_ring_header *header = (struct ldtap_ring_header *)image;
    header->magic = LDTAP_RING_MAGIC;
    header->abi_version = LDTAP_RING_ABI_VERSION;
    header->header_size = LDTAP_RING_HEADER_SIZE;
    header->data_size = data_size;
    header->pid = 1;
    if (control & CONTROL_TAIL_NEAR_HEAD) tail = head - (tail % (data_size + 16));
    header->head = head;
    header->tail = tail;
    if (control & CONTROL_OVERRIDE_HEADER) {
        /* one of the validated fields, chosen and valued by the input */
        switch (override[0] % 4) {
        case 0: header->magic = read_u64(override + 8); break;
        case 1: memcpy(&header->abi_version, override + 8, 4); break;
        case 2: memcpy(&header->header_size, override + 8, 4); break;
        default: header->data_size = read_u64(override + 8); break;
        }
    }
    uint8_t *data = image + LDTAP_RING_HEADER_SIZE;
    if (data_length > 0) {
        if (control & CONTROL_REPEAT_DATA) {
            for (size_t offset = 0; offset < data_size; offset += data_length) {
                size_t chunk = data_size - offset < data_length ? data_size - offset : data_length;
                memcpy(data + offset, data_bytes, chunk);
            }
        } else {
            /* start at tail so the bytes are what the reader looks at first, wrapping once */
            size_t start = (size_t)(tail & (data_size - 1) & ~(uint64_t)7);
            size_t first = data_length < data_size - start ? data_length : data_size - start;
            memcpy(data + start, data_bytes, first);
            size_t rest = data_length - first < start ? data_length - first : start;
            memcpy(data, data_bytes + first, rest);
        }
    }
    if (ftruncate(ring_fd, 0) != 0 || pwrite(ring_fd, image, file_size, 0) != (ssize_t)file_size) abort();

    struct ldtap_ring_reader reader;
    char error[128];
    if (ldtap_ring_reader_open(&reader, ring_path, error, sizeof error) != 0) return 0;
    bool writer_alive = (control & CONTROL_WRITER_DEAD) == 0;
    uint64_t now_ns = 1;
    for (int step = 0; step < MAX_STEPS; step++) {
        enum ldtap_ring_read_status status = ldtap_ring_reader_next(&reader, &record, writer_alive, now_ns);
        if (status == LDTAP_RING_READ_CORRUPT) break;
        if (status == LDTAP_RING_READ_EMPTY) {
            /* let a stalled record time out once, then stop */
            if (!(control & CONTROL_TIME_JUMPS) || now_ns > LDTAP_RING_STALL_NS) break;
            now_ns += LDTAP_RING_STALL_NS;
            continue;
        }
        if (status == LDTAP_RING_READ_RECORD &&
            (record.payload_length > LDTAP_RECORD_MAX_BYTES - LDTAP_RECORD_HEADER_BYTES || record.type == 0))
            abort();
    }
    (void)ldtap_ring_reader_is_empty(&reader);
    ldtap_ring_reader_close(&reader);
    return 0;
}
