/* Thread id cache, xoshiro256** generator seeded once per thread from getrandom(), and
 * the clocks: span times are derived from one monotonic read. */
#include "thread.h"

#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#define NS_PER_SECOND 1000000000ull

static LDTAP_THREAD_LOCAL uint32_t cached_thread_id;
static LDTAP_THREAD_LOCAL bool generator_seeded;
static LDTAP_THREAD_LOCAL uint64_t generator[4];

uint32_t ldtap_thread_id(void) {
    if (cached_thread_id == 0)
        cached_thread_id = (uint32_t)syscall(SYS_gettid);
    return cached_thread_id;
}

/* splitmix64: spreads a weak fallback seed over the generator state. */
static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void seed_generator(void) {
    if (getrandom(generator, sizeof(generator), GRND_NONBLOCK) != (ssize_t)sizeof(generator)) {
        /* Early boot or seccomp: ids only need to be unique, not secret. */
        uint64_t seed = ldtap_now_ns() ^ ((uint64_t)ldtap_thread_id() << 32) ^ (uintptr_t)&seed;
        for (int i = 0; i < 4; i++)
            generator[i] = splitmix64(&seed);
    }
    if ((generator[0] | generator[1] | generator[2] | generator[3]) == 0)
        generator[0] = 1; /* the one state xoshiro never leaves */
    generator_seeded = true;
}

static uint64_t rotate_left(uint64_t value, int bits) {
    return (value << bits) | (value >> (64 - bits));
}

/* xoshiro256** step on a copy of the state held in registers; the caller seeds first. */
static inline uint64_t next_random(uint64_t state[4]) {
    uint64_t result = rotate_left(state[1] * 5, 7) * 9;
    uint64_t shifted = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= shifted;
    state[3] = rotate_left(state[3], 45);
    return result;
}

/* `count` words from the thread's generator, made on a register copy of its state that
 * is stored back once. Inlined with a constant count: straight-line steps, no loop. A zero
 * word in an id becomes 1 (an all-zero id is invalid; a zero word is a 2^-64 event). */
static inline void random_words(uint64_t *words, unsigned count) {
    if (LDTAP_UNLIKELY(!generator_seeded))
        seed_generator();
    uint64_t state[4];
    memcpy(state, generator, sizeof(state));
    for (unsigned i = 0; i < count; i++)
        words[i] = next_random(state);
    memcpy(generator, state, sizeof(state));
}

uint64_t ldtap_random_u64(void) {
    uint64_t word;
    random_words(&word, 1);
    return word;
}

void ldtap_random_span_id(uint8_t id[8]) {
    uint64_t word;
    random_words(&word, 1);
    word |= word == 0;
    memcpy(id, &word, 8);
}

void ldtap_random_trace_id(uint8_t id[16]) {
    uint64_t words[2];
    random_words(words, 2);
    words[1] |= (words[0] | words[1]) == 0;
    memcpy(id, words, 16);
}

/* Both at once, for a client span that starts a trace: one pass over the generator. */
void ldtap_random_span_and_trace_id(uint8_t span_id[8], uint8_t trace_id[16]) {
    uint64_t words[3];
    random_words(words, 3);
    words[0] |= words[0] == 0;
    words[2] |= (words[1] | words[2]) == 0;
    memcpy(span_id, &words[0], 8);
    memcpy(trace_id, &words[1], 16);
}

static uint64_t read_clock(clockid_t clock) {
    struct timespec now;
    clock_gettime(clock, &now);
    return (uint64_t)now.tv_sec * NS_PER_SECOND + (uint64_t)now.tv_nsec;
}

uint64_t ldtap_monotonic_ns(void) {
    return read_clock(CLOCK_MONOTONIC);
}

/*
 * CLOCK_REALTIME minus CLOCK_MONOTONIC, so that one monotonic read serves both as an
 * interval clock and as a span time. NTP's slewing changes both clocks alike; a step of the
 * wall clock (settimeofday, an NTP step) does not move the monotonic one, so the offset is
 * measured again once it is a second old: span times follow a step within a second.
 * Threads racing to measure it store equally good values; a reader may mix an old offset
 * with a new expiry, which only delays the next measurement.
 */
static uint64_t realtime_offset_ns;
static uint64_t offset_expires_ns; /* monotonic; 0: never measured */

static __attribute__((noinline, cold)) uint64_t measure_realtime_offset(void) {
    uint64_t before = read_clock(CLOCK_MONOTONIC);
    uint64_t realtime = read_clock(CLOCK_REALTIME);
    uint64_t after = read_clock(CLOCK_MONOTONIC);
    uint64_t offset = realtime - (before + (after - before) / 2);
    __atomic_store_n(&realtime_offset_ns, offset, __ATOMIC_RELAXED);
    __atomic_store_n(&offset_expires_ns, after + NS_PER_SECOND, __ATOMIC_RELAXED);
    return offset;
}

uint64_t ldtap_realtime_at(uint64_t monotonic_ns) {
    if (LDTAP_UNLIKELY(monotonic_ns >= __atomic_load_n(&offset_expires_ns, __ATOMIC_RELAXED)))
        return monotonic_ns + measure_realtime_offset();
    return monotonic_ns + __atomic_load_n(&realtime_offset_ns, __ATOMIC_RELAXED);
}

uint64_t ldtap_now_ns(void) {
    return ldtap_realtime_at(ldtap_monotonic_ns());
}

void ldtap_thread_reset_after_fork(void) {
    cached_thread_id = 0;
    generator_seeded = false;
}
