/* Builds test conversations for the wire framers' unit tests: messages appended to an arena,
 * consecutive messages in one direction merged into one write as a driver would send them. */
#ifndef LDTAP_TEST_WIRE_SCRIPT_H
#define LDTAP_TEST_WIRE_SCRIPT_H

#include "wire_harness.h"

enum { SCRIPT_ARENA_BYTES = 1 << 25, SCRIPT_CHUNKS_MAX = 64 };

struct script {
    struct chunk chunks[SCRIPT_CHUNKS_MAX];
    size_t count;
    size_t used;
    bool separate; /* the next bytes start a new write even in the same direction */
};

static char script_arena[SCRIPT_ARENA_BYTES];

static void script_reset(struct script *script) {
    memset(script, 0, sizeof *script);
}

static void script_add(struct script *script, enum ldtap_wire_direction direction, const void *bytes, size_t length) {
    cr_assert_leq(script->used + length, SCRIPT_ARENA_BYTES);
    char *at = script_arena + script->used;
    memcpy(at, bytes, length);
    script->used += length;
    struct chunk *last = script->count > 0 ? &script->chunks[script->count - 1] : NULL;
    if (last != NULL && last->direction == direction && !script->separate) {
        last->length += length;
        return;
    }
    cr_assert_lt(script->count, SCRIPT_CHUNKS_MAX);
    script->chunks[script->count++] = (struct chunk){direction, at, length};
    script->separate = false;
}

#define ADD(script, direction, literal) script_add(script, direction, literal, sizeof literal - 1)

#endif
