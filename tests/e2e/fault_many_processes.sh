#!/usr/bin/env bash
# Fault: many traced processes at once under one `ldtap collect`: 200 short-lived ones
# started together and 16 long-lived ones. Every ring is attached and drained (the
# long-lived ones while they still run), every span is exported exactly once, and no ring
# file is left once the processes are gone. Usage: fault_many_processes.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
WORK=$LDTAP_TMP

CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2"
gcc $CFLAGS -pthread -o "$WORK/span_burst" "$LDTAP_ROOT/tests/programs_shim/span_burst.c"
gcc $CFLAGS -I"$LDTAP_ROOT/shim/ring" -o "$WORK/ring_counters" "$LDTAP_ROOT/tests/programs_shim/ring_counters.c"

SHORT=200
LONG=16
# LDTAP_FAULT_SCALE (scripts/reliability.sh) multiplies the exchanges per process.
EXCHANGES=$((5 * ${LDTAP_FAULT_SCALE:-1})) # per process; the long-lived ones make as many again later
RINGS=$WORK/rings
GATE=$WORK/gate # opens the long-lived processes' second round
mkdir -m 0700 "$RINGS"
TRACED=(env LD_PRELOAD="$BUILD/libldtap.so" LDTAP_RUN_DIR="$RINGS" LDTAP_RING_SIZE=65536 LDTAP_HEAP_SAMPLE_BYTES=0)
ring_count() { find "$RINGS" -mindepth 1 | wc -l; }
wait_until() { # seconds command...: polls every 0.1 s
    local tries=$(($1 * 10))
    shift
    while ! "$@"; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.1
    done
}

# A short batch delay: what the collector takes is written (and its ring space released)
# within a fraction of a second.
start_background COLLECTOR_PID "$WORK/collector.log" env OTEL_BSP_SCHEDULE_DELAY=100 \
    "$BUILD/ldtap" collect --run-dir "$RINGS" --output "$WORK/traces.jsonl" --no-prometheus
LONG_PIDS=()
for i in $(seq "$LONG"); do
    start_background long_pid "$WORK/long-$i.out" "${TRACED[@]}" OTEL_SERVICE_NAME=long-lived \
        "$WORK/span_burst" -g "$GATE" "$EXCHANGES"
    LONG_PIDS+=("$long_pid")
done
SHORT_PIDS=()
for i in $(seq "$SHORT"); do
    "${TRACED[@]}" OTEL_SERVICE_NAME=short-lived "$WORK/span_burst" -w "$WORK/go" "$EXCHANGES" \
        >"$WORK/short-$i.out" 2>&1 &
    SHORT_PIDS+=($!)
done
touch "$WORK/go" # all 200 are running: they trace at once
short_ok=0
for pid in "${SHORT_PIDS[@]}"; do wait "$pid" && short_ok=$((short_ok + 1)); done
check "$SHORT short-lived processes ran at once and exited 0 ($short_ok)" test "$short_ok" -eq "$SHORT"
check "their output is right" test "$(cat "$WORK"/short-*.out | grep -cx "exchanges=$EXCHANGES body_bytes=.*")" -eq "$SHORT"

# The long-lived processes wait at the gate: their rings must be drained while they run,
# and every short-lived ring must already be retired.
long_rings_drained() {
    [ "$(ring_count)" -eq "$LONG" ] || return 1
    local ring counters
    for ring in "$RINGS"/*.ring; do
        counters=$("$WORK/ring_counters" "$ring") || return 1
        [ "$(grep -oP 'committed=\K[0-9]+' <<<"$counters")" -gt 0 ] || return 1
        [ "$(grep -oP 'head=\K[0-9]+' <<<"$counters")" = "$(grep -oP 'tail=\K[0-9]+' <<<"$counters")" ] || return 1
    done
}
if wait_until 60 long_rings_drained; then
    pass "short-lived rings retired; the $LONG live rings drained while their processes run"
else
    fail "short-lived rings retired; the $LONG live rings drained while their processes run"
    "$WORK/ring_counters" "$RINGS"/*.ring | sed 's/^/     /' || true
fi

touch "$GATE"
long_ok=0
for pid in "${LONG_PIDS[@]}"; do wait "$pid" && long_ok=$((long_ok + 1)); done
check "$LONG long-lived processes exited 0 ($long_ok)" test "$long_ok" -eq "$LONG"
check "their output is right" \
    test "$(cat "$WORK"/long-*.out | grep -cx "exchanges=$((2 * EXCHANGES)) body_bytes=.*")" -eq "$LONG"

no_rings() { [ "$(ring_count)" -eq 0 ]; }
check "every ring retired once its process is gone: none left" wait_until 60 no_rings
stop_pid "$COLLECTOR_PID" TERM 30
check "ldtap collect exits 0" test "$STOP_STATUS" = 0
check "nothing left in the ring directory after the collector stopped" no_rings
tail -3 "$WORK/collector.log" | sed 's/^/     /'

expected=$((2 * EXCHANGES * (SHORT + 2 * LONG)))
eval "$("$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/export_counts.py" "$WORK/traces.jsonl" short-lived)"
check "every span exported exactly once: $spans spans, $unique_span_ids distinct, $expected made" \
    test "$spans" -eq "$expected" -a "$unique_span_ids" -eq "$expected"
check "spans from all $SHORT short-lived processes ($name_processes), $((2 * EXCHANGES)) each" \
    test "$name_processes" -eq "$SHORT" -a "$name_spans" -eq $((2 * EXCHANGES * SHORT))
eval "$("$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/export_counts.py" "$WORK/traces.jsonl" long-lived)"
check "spans from all $LONG long-lived processes ($name_processes), $((4 * EXCHANGES)) each" \
    test "$name_processes" -eq "$LONG" -a "$name_spans" -eq $((4 * EXCHANGES * LONG))
check "summary: nothing dropped" grep -q "spans written to .*; dropped: 0$" "$WORK/collector.log"
eval "$("$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/export_counts.py" "$WORK/traces.jsonl")"
dropped=$(grep -oP 'spans written to .*; dropped: \K[0-9]+' "$WORK/collector.log" || echo 0)

# One line for scripts/reliability.sh's table.
echo "RELIABILITY fault=\"$SHORT short-lived + $LONG long-lived processes, one collector\" load=\"$EXCHANGES exchanges per process (x2 long-lived)\"" \
    "produced=$expected delivered=$unique_span_ids dropped=$dropped lost=$((expected - unique_span_ids - dropped))" \
    "duplicated=$((spans - unique_span_ids))"

finish_checks
