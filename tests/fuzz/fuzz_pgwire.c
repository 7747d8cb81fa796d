/* libFuzzer harness for the PostgreSQL wire framer: conversations fed whole and in random
 * pieces must give the same events; every event is checked against the contract. */
#include "pgwire.h"
#include "wire_fuzz.h"

static void init(void *state, uint8_t *buffer, uint16_t capacity) {
    ldtap_pgwire_init(state, buffer, capacity);
}

static enum ldtap_wire_event feed(void *state, enum ldtap_wire_direction direction, const uint8_t *bytes,
                                  size_t length, size_t *consumed) {
    return ldtap_pgwire_feed(state, direction, bytes, length, consumed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    (void)ldtap_pgwire_recognise(data, size);
    return wire_fuzz_one(init, feed, data, size);
}
