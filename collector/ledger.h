/* The delivery ledger of one ring: the records whose spans are still owed to a backend stay
 * in the ring (producers cannot overwrite them) until each is delivered or definitively
 * dropped, so a collector killed meanwhile leaves them for the next one to read again.
 * This is what makes a collector restart lose nothing and duplicate nothing. */
#ifndef LDTAP_LEDGER_H
#define LDTAP_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldtap_ring.h"

struct ldtap_ledger;

/* What a span (or log entry) made from a ring record owes the ring: settle it exactly once,
 * when it was delivered or dropped. A zero claim (no ledger) settles as a no-op. A claim is
 * moved with the span that carries it, never copied into two owners. */
struct ldtap_claim {
    struct ldtap_ledger *ledger;
    uint64_t sequence;
};

/* Takes over an open reader (switching it to deferred release). NULL if out of memory:
 * then use the reader directly, with records released as they are read. */
struct ldtap_ledger *ldtap_ledger_new(struct ldtap_ring_reader *reader);

/* ldtap_ring_reader_next under the ledger's lock. A record returned comes with a claim
 * that pins it: hand the claim to whatever carries the record's span or log entry on, or
 * settle it at once. Bytes no claim pins are released as the read position moves; when the
 * unreleased part passes half the ring, the oldest claims stop pinning (their spans are
 * still delivered, but would not survive a collector crash) so that a backend outage never
 * makes producers drop records: see ldtap_ledger_waived. Out of memory for a pin: a zero
 * claim, and the record is simply not pinned. */
enum ldtap_ring_read_status ldtap_ledger_next(struct ldtap_ledger *ledger, struct ldtap_ring_record *record,
                                              bool writer_alive, uint64_t now_ns, struct ldtap_claim *claim);

/* Any thread: the claim's record is done with. Clears the claim. */
void ldtap_claim_settle(struct ldtap_claim *claim);

/* Settles `count` claims as ldtap_claim_settle would, taking a ledger's lock once per run
 * of claims on it (an exporter retiring a batch), not once per claim: the drain thread
 * takes the same lock for every record it reads. */
void ldtap_claims_settle(struct ldtap_claim *const *claims, size_t count);

/* Every reserved byte read (is_read), and released too (is_empty). */
bool ldtap_ledger_is_read(struct ldtap_ledger *ledger);
bool ldtap_ledger_is_empty(struct ldtap_ledger *ledger);

/* Bytes the ring holds that producers cannot use yet: read or not, not yet released. */
uint64_t ldtap_ledger_backlog_bytes(struct ldtap_ledger *ledger, uint64_t *data_size);

/* Claims that stopped pinning their record before they were settled (ring pressure). */
uint64_t ldtap_ledger_waived(struct ldtap_ledger *ledger);

/* Closes the reader (dropping its lock on the ring file) and gives up the ring's hold on the
 * ledger; claims still out settle harmlessly later, and the last one frees the ledger. */
void ldtap_ledger_close(struct ldtap_ledger *ledger);

#endif
