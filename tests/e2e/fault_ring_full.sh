#!/usr/bin/env bash
# Fault: no collector while a program writes far more spans than its ring holds. The
# program must behave exactly as without the shim, the ring header must account for every
# span (committed + dropped = produced, exactly, with 4 threads racing for the ring), and a
# collector started afterwards must export every committed one.
# Usage: fault_ring_full.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
WORK=$LDTAP_TMP

CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2"
gcc $CFLAGS -pthread -o "$WORK/span_burst" "$LDTAP_ROOT/tests/programs_shim/span_burst.c"
gcc $CFLAGS -I"$LDTAP_ROOT/shim/ring" -o "$WORK/ring_counters" "$LDTAP_ROOT/tests/programs_shim/ring_counters.c"
gcc $CFLAGS -I"$LDTAP_ROOT/shim/ring" -o "$WORK/ring_dump" "$LDTAP_ROOT/tests/programs_shim/ring_dump.c" \
    "$LDTAP_ROOT/shim/ring/ring_reader.c"

# LDTAP_FAULT_SCALE (scripts/reliability.sh) multiplies the load.
THREADS=4
EXCHANGES=$((2000 * ${LDTAP_FAULT_SCALE:-1})) # per thread
PRODUCED=$((THREADS * EXCHANGES * 2)) # a client and a server span per exchange
RINGS=$WORK/rings
mkdir -m 0700 "$RINGS"

run_burst() { # label [env assignments...]: output and exit status of one run, and its time
    local label=$1 start=${EPOCHREALTIME/./}
    shift
    (env "$@" "$WORK/span_burst" -t "$THREADS" "$EXCHANGES" 2>&1; echo "status=$?") >"$WORK/$label.out"
    echo "     $label: $(head -1 "$WORK/$label.out"), $(((${EPOCHREALTIME/./} - start) / 1000)) ms (information only)"
}
run_burst plain
# The smallest ring the ABI allows (64 KiB: about 170 span records) and no collector.
run_burst traced LD_PRELOAD="$BUILD/libldtap.so" LDTAP_RUN_DIR="$RINGS" LDTAP_RING_SIZE=65536 \
    LDTAP_HEAP_SAMPLE_BYTES=0
check "program output and exit status identical with a full ring" cmp -s "$WORK/plain.out" "$WORK/traced.out"
check "program completed every exchange" grep -qx "exchanges=$((THREADS * EXCHANGES)) body_bytes=.*" "$WORK/traced.out"

RING=$(ls "$RINGS"/*.ring)
read -r committed dropped too_large < <("$WORK/ring_counters" "$RING" |
    sed -E 's/.*committed=([0-9]+) dropped_ring_full=([0-9]+) dropped_too_large=([0-9]+).*/\1 \2 \3/')
# Committed records by type, from a copy (reading the ring itself would consume them).
cp "$RING" "$WORK/copy.ring"
dump=$("$WORK/ring_dump" "$WORK/copy.ring")
ring_spans=$(grep -c '^span ' <<<"$dump" || true)
modules=$(grep -c '^module ' <<<"$dump" || true)
echo "     ring: committed=$committed ($ring_spans spans, $modules module records) dropped_ring_full=$dropped" \
    "dropped_too_large=$too_large; produced $PRODUCED spans"
check "the ring filled up: spans were dropped" test "$dropped" -gt 0 -a "$ring_spans" -gt 0
check "every committed record is a span or the module map" test "$committed" -eq $((ring_spans + modules))
# The shim also writes one module-map record per loaded object, once, after the first
# span; with the ring full some of those are dropped (and counted) too. How many the
# process writes: a run of one exchange with room for everything.
mkdir -m 0700 "$WORK/roomy"
LD_PRELOAD="$BUILD/libldtap.so" LDTAP_RUN_DIR="$WORK/roomy" LDTAP_HEAP_SAMPLE_BYTES=0 \
    "$WORK/span_burst" -t 1 1 >/dev/null
module_records=$("$WORK/ring_dump" "$(ls "$WORK"/roomy/*.ring)" | grep -c '^module ' || true)
dropped_spans=$((dropped - (module_records - modules)))
check "committed + dropped == produced: $ring_spans spans + $modules module records + $dropped + $too_large == $PRODUCED spans + $module_records module records" \
    test $((ring_spans + modules + dropped + too_large)) -eq $((PRODUCED + module_records))

# A collector started now finds the ring of the exited process, exports it and removes it.
start_background COLLECTOR_PID "$WORK/collector.log" "$BUILD/ldtap" collect --run-dir "$RINGS" \
    --output "$WORK/traces.jsonl" --no-prometheus
for _ in $(seq 200); do [ -e "$RING" ] || break; sleep 0.1; done
check "ring drained and removed" test ! -e "$RING"
stop_pid "$COLLECTOR_PID" TERM 30
check "ldtap collect exits 0" test "$STOP_STATUS" = 0
eval "$("$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/export_counts.py" "$WORK/traces.jsonl")"
check "every committed span exported ($spans exported, $logs log records)" \
    test "$spans" -eq "$ring_spans" -a "$logs" -eq 0
check "no span exported twice" test "$unique_span_ids" -eq "$spans"
reported=$(grep -oP 'dropped \(ring full\): \K[0-9]+' "$WORK/collector.log" || echo none)
check "summary reports the ring's drops ($reported)" test "$reported" = "$dropped"

# One line for scripts/reliability.sh's table: what was committed is what could be delivered.
echo "RELIABILITY fault=\"ring full, no collector (64 KiB ring)\" load=\"1 process, $THREADS threads x $EXCHANGES exchanges\"" \
    "produced=$PRODUCED delivered=$unique_span_ids dropped=$((dropped_spans + too_large))" \
    "lost=$((PRODUCED - unique_span_ids - dropped_spans - too_large)) duplicated=$((spans - unique_span_ids))"
finish_checks
