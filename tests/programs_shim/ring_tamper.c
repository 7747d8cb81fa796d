/* Damages a ring file the way a hostile or broken traced process could, for
 * tests/e2e/ring_tamper.sh. Works through a shared mapping, so a ring that a live process
 * and a collector have mapped changes under them too.
 * Usage: ring_tamper MODE FILE, MODE one of:
 *   garbage           every byte of the file pseudo-random (the header too)
 *   garbage-records   4 KiB of pseudo-random bytes at tail, head moved past them
 *   length-outside    the record at tail claims a length of 16 MiB - 8 (beyond the ring)
 *   length-past-head  the record at tail claims 4 KiB more than lies between tail and head
 *   head-behind-tail  head set 8 bytes before tail
 *   head-far          head set two ring sizes after tail
 *   data-size         the header's data size doubled (no longer matches the file) */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ldtap_ring_abi.h"

/* Fixed seed: the same damage on every run, so a failure can be reproduced. */
static uint64_t random_state = 0x9e3779b97f4a7c15ull;

static uint8_t next_random_byte(void) {
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return (uint8_t)(random_state >> 24);
}

static void fill_random(uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length; i++)
        bytes[i] = next_random_byte();
}

/* Writes `length` pseudo-random bytes at ring position `position`, wrapping. */
static void fill_ring_random(uint8_t *data, uint64_t data_size, uint64_t position, uint64_t length) {
    for (uint64_t i = 0; i < length; i++)
        data[(position + i) & (data_size - 1)] = next_random_byte();
}

static int tamper(const char *mode, uint8_t *mapping, size_t size) {
    if (strcmp(mode, "garbage") == 0) {
        fill_random(mapping, size);
        return 0;
    }
    if (size < LDTAP_RING_HEADER_SIZE + LDTAP_RING_MIN_DATA_SIZE) {
        fprintf(stderr, "ring_tamper: the file is too small to be a ring\n");
        return 1;
    }
    struct ldtap_ring_header *header = (struct ldtap_ring_header *)mapping;
    uint8_t *data = mapping + LDTAP_RING_HEADER_SIZE;
    uint64_t data_size = size - LDTAP_RING_HEADER_SIZE; /* the file's truth, not the header's */
    uint64_t tail = header->tail, head = header->head;
    uint64_t *word_at_tail = (uint64_t *)(data + (tail & (data_size - 1) & ~7ull));
    if (strcmp(mode, "garbage-records") == 0) {
        fill_ring_random(data, data_size, tail, 4096);
        header->head = tail + 4096;
    } else if (strcmp(mode, "length-outside") == 0) {
        *word_at_tail = ldtap_record_word(0xfffff8u, LDTAP_RECORD_STATE_COMMITTED, LDTAP_RECORD_HTTP_SPAN);
        if (head == tail)
            header->head = tail + 64;
    } else if (strcmp(mode, "length-past-head") == 0) {
        if (head == tail)
            header->head = head = tail + 64;
        uint64_t length = (head - tail + 4096 + 7) & ~7ull;
        *word_at_tail =
            ldtap_record_word((uint32_t)length, LDTAP_RECORD_STATE_COMMITTED, LDTAP_RECORD_HTTP_SPAN);
    } else if (strcmp(mode, "head-behind-tail") == 0) {
        header->head = tail - 8;
    } else if (strcmp(mode, "head-far") == 0) {
        header->head = tail + 2 * data_size;
    } else if (strcmp(mode, "data-size") == 0) {
        header->data_size *= 2;
    } else {
        fprintf(stderr, "ring_tamper: unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: ring_tamper MODE FILE\n");
        return 2;
    }
    int fd = open(argv[2], O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    struct stat status;
    if (fd < 0 || fstat(fd, &status) != 0 || status.st_size <= 0) {
        perror("ring_tamper: open");
        return 1;
    }
    uint8_t *mapping = mmap(NULL, (size_t)status.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (mapping == MAP_FAILED) {
        perror("ring_tamper: mmap");
        return 1;
    }
    int result = tamper(argv[1], mapping, (size_t)status.st_size);
    munmap(mapping, (size_t)status.st_size);
    return result;
}
