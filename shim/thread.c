/* Thread id cache and the id generator, seeded once per thread from getrandom()
 * (the clocks declared in thread.h live in clock.c). */
#include "thread.h"

#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

static LDTAP_THREAD_LOCAL uint32_t cached_thread_id;
static LDTAP_THREAD_LOCAL bool generator_seeded;
static LDTAP_THREAD_LOCAL uint64_t generator;

uint32_t ldtap_thread_id(void) {
    if (cached_thread_id == 0)
        cached_thread_id = (uint32_t)syscall(SYS_gettid);
    return cached_thread_id;
}

static __attribute__((noinline, cold)) void seed_generator(void) {
    if (getrandom(&generator, sizeof(generator), GRND_NONBLOCK) != (ssize_t)sizeof(generator)) {
        /* Early boot or seccomp: ids only need to be unique, not secret. */
        uint64_t seed = ldtap_now_ns() ^ ((uint64_t)ldtap_thread_id() << 32) ^ (uintptr_t)&seed;
        generator = seed * 0xbf58476d1ce4e5b9ull;
    }
    generator_seeded = true;
}

/*
 * A Weyl sequence (the state steps by an odd constant, so it visits all 2^64 values)
 * scrambled by one 64x64->128 multiply whose halves are folded together: a word costs
 * about five instructions, where xoshiro256** cost 25 with its state moved in and out of
 * thread-local memory, and every span needs one to three words. The output passes the
 * usual statistical batteries, which is all ids need: unique, and not guessable from one
 * another without the per-thread seed.
 */
static inline uint64_t next_random(uint64_t *state) {
    uint64_t value = (*state += 0xa0761d6478bd642full);
    unsigned __int128 product = (unsigned __int128)value * (value ^ 0xe7037ed1a0b428dbull);
    return (uint64_t)(product >> 64) ^ (uint64_t)product;
}

/* `count` words from the thread's generator (inlined with a constant count: straight-line
 * steps). A zero word in an id becomes 1 (an all-zero id is invalid; a zero word is a
 * 2^-64 event). */
static inline void random_words(uint64_t *words, unsigned count) {
    if (LDTAP_UNLIKELY(!generator_seeded))
        seed_generator();
    uint64_t state = generator;
#pragma GCC unroll 4
    for (unsigned i = 0; i < count; i++)
        words[i] = next_random(&state);
    generator = state;
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

void ldtap_thread_reset_after_fork(void) {
    cached_thread_id = 0;
    generator_seeded = false;
}
